import ArgumentParser
import Dispatch
import Foundation
import Network
import Report
import Runtime
import Sessions

/// `--every DURATION` and `--count N`: monitor mode for probe, binding and turn.
struct MonitorArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Repeat the check every DURATION (e.g. 30s, 5m, 1h; a bare number is seconds) and say what changed since the last run; with --json one JSON document a line.",
      valueName: "duration"))
  var every: MonitorDuration?

  @Option(
    help: ArgumentHelp(
      "With --every: stop after this many runs (default: until SIGINT or SIGTERM).",
      valueName: "n"))
  var count: Int?

  var enabled: Bool { every != nil }

  func check() throws {
    if count != nil && every == nil {
      throw ValidationError("--count applies to monitor mode; give --every DURATION too.")
    }
    if let count, count < 1 {
      throw ValidationError("--count must be at least 1.")
    }
  }
}

/// A duration as `--every` takes it: `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds.
struct MonitorDuration: ExpressibleByArgument, Sendable {
  var duration: Duration

  init?(argument: String) {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    var text = argument.trimmingCharacters(in: .whitespaces)
    var scale = 1.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
      text.removeLast(suffix.count)
      scale = factor
      break
    }
    guard let value = Double(text), value.isFinite, value > 0 else { return nil }
    let seconds = value * scale
    guard seconds >= 0.1, seconds <= 7 * 86400 else { return nil }
    duration = .milliseconds(Int64((seconds * 1000).rounded()))
  }

  static var defaultCompletionKind: CompletionKind { .default }
}

/// Runs a monitor loop on the real runtime until `--count` runs or SIGINT/SIGTERM, printing a
/// line per run (text or JSON) and the closing summary (text: standard output; JSON: standard
/// error, so standard output stays one document a line).
enum MonitorRunner {
  static func run<Document: Encodable & Sendable>(
    command: String, arguments: MonitorArguments, json: Bool, schema: JSONSchemaID,
    runtime: NIORuntime, perRun: Duration, interrupt: @escaping @Sendable () -> Void = {},
    check:
      @escaping @Sendable (NIORuntime, @escaping ((Document, MonitorObservation)?) -> Void)
      -> Void
  ) throws {
    guard let every = arguments.every?.duration else { return }
    let box = MonitorLoopBox<Document>()
    let signalQueue = DispatchQueue(label: "natscope.monitor.signals")
    var sources: [any DispatchSourceSignal] = []
    defer { sources.forEach { $0.cancel() } }
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler {
        interrupt()
        _ = try? runtime.onLoop { _ in box.loop?.stop() }
      }
      source.resume()
      sources.append(source)
    }
    // Bounded: each run within its own limit, and the waits between them.
    let limit: Duration =
      arguments.count.map { (every + perRun) * $0 + .seconds(10) } ?? .seconds(86400 * 365)
    let summary: String = try runtime.run(timeout: limit) { rt, done in
      let loop = MonitorLoop<Document>(
        command: command, runtime: rt, every: every, count: arguments.count,
        wallClock: wallClock, check: { finished in check(rt, finished) })
      loop.onLine = { line in
        if json {
          let tagged = MonitorLine(
            command: line.command, run: line.run, timestamp: line.timestamp,
            observation: line.observation, changes: line.changes,
            report: SchemaTaggedDocument(line.report, schema: schema), text: line.text)
          if let text = try? ReportJSON.encode(
            SchemaTaggedDocument(tagged, schema: .monitor, addsVersion: true), pretty: false)
          {
            FileHandle.standardOutput.write(text)
          }
        } else {
          print(line.text)
        }
        fflush(nil)
      }
      box.loop = loop
      loop.start { done.succeed($0) }
    }
    if json {
      FileHandle.standardError.write(Data((summary + "\n").utf8))
    } else {
      print(summary)
    }
  }

  /// Now, as RFC 3339 in UTC and as the local time of day.
  @Sendable static func wallClock() -> (timestamp: String, short: String) {
    let now = Date()
    let iso = ISO8601DateFormatter()
    iso.formatOptions = [.withInternetDateTime]
    let short = DateFormatter()
    short.dateFormat = "HH:mm:ss"
    return (iso.string(from: now), short.string(from: now))
  }
}

/// The running loop, reachable from the signal handler (touched only on the loop).
final class MonitorLoopBox<Document: Encodable & Sendable>: @unchecked Sendable {
  var loop: MonitorLoop<Document>?
}
