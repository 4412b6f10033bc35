import Report
import Runtime
import Traversal

/// One line monitor mode writes (`--every` with `--json`, one JSON document a line): which
/// run, when, what it measured, what changed since the last run, and the run's own report.
public struct MonitorLine<Document: Encodable & Sendable>: Encodable, Sendable {
  /// The command repeated: `probe`, `binding` or `turn`.
  public var command: String
  /// 1 for the first run.
  public var run: Int
  /// When the run started (RFC 3339, UTC).
  public var timestamp: String
  /// What the monitor compares, as measured in this run (absent: not measured).
  public var observation: MonitorObservation
  /// ``MonitorFindings``: what changed since the last run, failing streaks.
  public var changes: [Finding]
  /// The run's report, as the command without `--every` prints it.
  public var report: Document
  /// The run's text line (not in the JSON).
  public var text: String

  public init(
    command: String, run: Int, timestamp: String, observation: MonitorObservation,
    changes: [Finding], report: Document, text: String
  ) {
    self.command = command
    self.run = run
    self.timestamp = timestamp
    self.observation = observation
    self.changes = changes
    self.report = report
    self.text = text
  }

  private enum CodingKeys: String, CodingKey {
    case command, run, timestamp, observation, changes, report
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(command, forKey: .command)
    try c.encode(run, forKey: .run)
    try c.encode(timestamp, forKey: .timestamp)
    try c.encode(observation, forKey: .observation)
    try c.encode(changes, forKey: .changes)
    try c.encode(report, forKey: .report)
  }
}

/// Monitor mode's loop: run the check, compare with the last run, emit a line, wait, again;
/// `count` runs, or until ``stop()``. Runs on any runtime (the real one, or the simulated
/// network in tests): the check is a closure that starts a session on it. Touch it only on
/// the runtime's loop.
public final class MonitorLoop<Document: Encodable & Sendable>: @unchecked Sendable {
  /// Starts one run of the check; calls `done` once with its report and what it measured, or
  /// with nil when the check could not run at all (no socket): the loop then ends.
  public typealias Check = (_ done: @escaping ((Document, MonitorObservation)?) -> Void) -> Void

  /// The wall-clock time of a run: RFC 3339 for JSON, and the short form lines use.
  public typealias WallClock = () -> (timestamp: String, short: String)

  public let command: String
  public let every: Duration
  public let count: Int?
  let runtime: any NetworkRuntime
  let wallClock: WallClock
  let check: Check
  /// Each line, as soon as its run is done.
  public var onLine: (MonitorLine<Document>) -> Void = { _ in }
  public private(set) var history = MonitorHistory()
  private var timer: (any TimerHandle)?
  private var running = false
  private var stopped = false
  private var finished: ((String) -> Void)?

  public init(
    command: String, runtime: any NetworkRuntime, every: Duration, count: Int?,
    wallClock: @escaping WallClock, check: @escaping Check
  ) {
    self.command = command
    self.runtime = runtime
    self.every = every
    self.count = count
    self.wallClock = wallClock
    self.check = check
  }

  /// Starts the first run now; `finished` gets the closing summary after the last run or
  /// after ``stop()``.
  public func start(finished: @escaping (String) -> Void) {
    self.finished = finished
    runOnce()
  }

  /// Ends the loop: at once when waiting between runs, after the run otherwise.
  public func stop() {
    guard !stopped else { return }
    stopped = true
    timer?.cancel()
    timer = nil
    if !running { finish(ended: .stopped) }
  }

  private func runOnce() {
    let started = runtime.now
    let clock = wallClock()
    running = true
    check { [self] result in
      running = false
      guard let (document, observation) = result else {
        finish(ended: .checkFailed)
        return
      }
      let changes = history.record(observation, time: clock.short)
      let text = MonitorFindings.runLine(
        run: history.runs, time: clock.short, observation, changes: changes)
      onLine(
        MonitorLine(
          command: command, run: history.runs, timestamp: clock.timestamp,
          observation: observation, changes: changes, report: document, text: text))
      if stopped {
        finish(ended: .stopped)
      } else if let count, history.runs >= count {
        finish(ended: .done)
      } else {
        let next = max(started + every, runtime.now)
        timer = runtime.schedule(at: next) { [weak self] in
          self?.timer = nil
          self?.runOnce()
        }
      }
    }
  }

  private func finish(ended: MonitorEnd) {
    guard let finished else { return }
    self.finished = nil
    finished(
      MonitorFindings.summary(
        runs: history.runs, changes: history.changeCount, ended: ended,
        failing: history.failingNow))
  }
}
