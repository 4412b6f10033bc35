import ArgumentParser
import Logging
import Report
import Runtime
import Sessions

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Log verbosity on standard error: trace, debug, info, notice, warning, error or critical. debug shows every socket, every STUN message sent and received (type, transaction ID, attribute names; never a password) and each session's state changes; trace adds timers and non-STUN datagrams.",
      valueName: "level"),
    completion: .list(Completions.logLevels))
  var logLevel: LogLevelArgument = .init(.warning)

  /// Installs the log handler. Logs go to standard error, never to standard output, so `--json`
  /// output stays machine-readable.
  func bootstrapLogging() {
    let level = logLevel.level
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
  }
}

extension GlobalOptions {
  /// `runtime`, logging what it does under `label` when `--log-level` is debug or trace.
  func logged(_ runtime: any NetworkRuntime, _ label: String) -> any NetworkRuntime {
    guard logLevel.level <= .debug else { return runtime }
    return LoggingRuntime(runtime, logger: Logger(label: label))
  }
}

/// `Logger.Level` as a command-line value.
struct LogLevelArgument: ExpressibleByArgument, Sendable {
  var level: Logger.Level

  init(_ level: Logger.Level) { self.level = level }

  init?(argument: String) {
    guard let level = Logger.Level(rawValue: argument.lowercased()) else { return nil }
    self.level = level
  }

  static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
  var defaultValueDescription: String { level.rawValue }
}
