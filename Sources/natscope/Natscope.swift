import ArgumentParser
import Foundation

@main
struct Natscope: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "natscope",
    abstract: "See why two machines can or cannot connect directly: NAT behaviour, STUN, ICE.",
    discussion: """
      natscope speaks STUN (RFC 8489), TURN (RFC 8656) and ICE (RFC 8445) with its own engine, \
      classifies your NAT (RFC 5780), and runs the same protocol code on real sockets or on a \
      simulated network of NATs.

      Start with `natscope demo` (offline, no privileges), then `natscope probe SERVER`; to \
      test the real path between two hosts, run `natscope connect` on one and \
      `natscope connect --answer` on the other.

      Exit status: 0 success, 1 usage or internal error, 2 no server reachable, no answer, or \
      no path, 3 ended before a verdict (quit in the console before the probe finished or the \
      connect verdict was in); 130 or 143 when interrupted by SIGINT (Ctrl-C) or SIGTERM \
      outside the console; in the console, SIGTERM and SIGHUP print what q prints, then exit \
      143 or 129.
      """,
    version: NatscopeVersion.current,
    subcommands: [
      DemoCommand.self, ProbeCommand.self, ConnectCommand.self, BindingCommand.self,
      ServeCommand.self, TURNCommand.self, ExplainCommand.self, ExporterCommand.self,
    ]
  )

  /// Parses, runs, and exits with natscope's documented codes: usage errors exit 1 (not
  /// ArgumentParser's 64), with one clear message on standard error.
  static func main() {
    // `natscope help NAME` with a NAME that is no command: ArgumentParser would print the root
    // help and exit 0, which reads as success in a script.
    let args = Array(CommandLine.arguments.dropFirst())
    if args.first == "help", args.count >= 2, !args[1].hasPrefix("-") {
      let known = configuration.subcommands.compactMap { $0.configuration.commandName }
      if !known.contains(args[1]) {
        FileHandle.standardError.write(
          Data(
            "natscope: there is no command \(args[1]); the commands are \(known.joined(separator: ", ")).\n"
              .utf8))
        Foundation.exit(1)
      }
    }
    // `natscope` alone is a usage error: the help goes to standard error, exit 1 (not the
    // help on standard output with exit 0 that ArgumentParser gives a command without `run`).
    if args.isEmpty {
      FileHandle.standardError.write(Data((UsageText.wrap(helpMessage()) + "\n").utf8))
      Foundation.exit(NatscopeExit.usage.rawValue)
    }
    do {
      var command = try parseAsRoot()
      try command.run()
      exitAfterConsoleSignal()
    } catch let error as UserFacingError {
      FileHandle.standardError.write(Data(("natscope: " + error.message + "\n").utf8))
      exitAfterConsoleSignal()
      Foundation.exit(error.code.rawValue)
    } catch {
      exitAfterConsoleSignal()
      let code = exitCode(for: error)
      var message = fullMessage(for: error)
      if args.contains("--generate-completion-script") {
        message = CompletionScript.amend(message)
      } else {
        message = UsageText.wrap(message)
      }
      if code == .success {
        if !message.isEmpty { print(message) }
        Foundation.exit(0)
      }
      if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
      Foundation.exit(code == .validationFailure ? 1 : code.rawValue)
    }
  }

  /// A console stopped by SIGTERM or SIGHUP has printed what `q` prints: now the exit status
  /// says the signal (128 + its number), as outside the console.
  static func exitAfterConsoleSignal() {
    guard let sig = ConsoleStop.signal else { return }
    Foundation.exit(InterruptExit.status(for: sig))
  }
}

enum NatscopeVersion {
  static let current = "0.1.0"
}

/// Exit codes natscope documents.
enum NatscopeExit {
  static let usage = ExitCode(1)
  /// No server reachable, no answer, UDP blocked, or (connect) no path worked.
  static let unreachable = ExitCode(2)
  /// The session ended before a verdict: `q`, Ctrl-C (or, in the console, SIGTERM/SIGHUP,
  /// which then exit 128 + signal) before the probe finished or the connect verdict was in.
  static let endedEarly = ExitCode(3)
  /// (turn) No server is broken, but relaying was not tested on some: the verdict `unverified`.
  static let unverified = ExitCode(4)
}

/// Prints one sentence to standard error and exits with `code`.
struct UserFacingError: Error, CustomStringConvertible {
  var message: String
  var code: ExitCode
  var description: String { message }
}

func fail(_ message: String, code: ExitCode = NatscopeExit.usage) -> UserFacingError {
  UserFacingError(message: message, code: code)
}
