import Report
import Runtime
import STUN
import Traversal

/// A ``ConnectSession``'s wait for the person at the other end: the offerer for the pasted
/// answer, the answerer for the offerer's first check (which shows the offerer has the
/// answer). It records the wait's start and, every `reportInterval`, how long it has lasted;
/// it ends when what it waits for comes, when the session ends it, or after `limit`
/// (``expired`` is then set and `onExpired` called).
///
/// All calls and callbacks happen on the runtime's serial context.
final class ConnectPeerWaiting {
  private let runtime: any NetworkRuntime
  private let limit: Duration
  private let reportInterval: Duration
  private let record: (ConnectEvent) -> Void
  /// Whether the session still waits for a verdict (a wait neither starts nor expires after).
  private let live: () -> Bool
  private let onExpired: () -> Void
  private var current: (kind: ConnectPeerWait, since: Instant)?
  private var timer: (any TimerHandle)?
  private var tick: (any TimerHandle)?
  /// How long the last wait lasted, once it ended.
  private(set) var waited: Duration?
  /// Whether what the last wait was for came.
  private(set) var came = false
  /// Set when the verdict came because what the wait was for did not come within the limit.
  private(set) var expired: ConnectPeerWait?

  init(
    runtime: any NetworkRuntime, limit: Duration, reportInterval: Duration,
    record: @escaping (ConnectEvent) -> Void, live: @escaping () -> Bool,
    onExpired: @escaping () -> Void
  ) {
    self.runtime = runtime
    self.limit = limit
    self.reportInterval = reportInterval
    self.record = record
    self.live = live
    self.onExpired = onExpired
  }

  /// What is waited for now; nil when no wait is under way.
  var kind: ConnectPeerWait? { current?.kind }

  func start(_ kind: ConnectPeerWait) {
    guard current == nil, live() else { return }
    let since = runtime.now
    current = (kind, since)
    record(.waitingForPeer(kind, waitedMs: 0, limitMs: limit.milliseconds))
    timer = runtime.schedule(at: since + limit) { [weak self] in
      guard let self, self.current?.kind == kind, self.live() else { return }
      self.expired = kind
      self.end(record: false, came: false)
      self.onExpired()
    }
    scheduleTick()
  }

  /// Ends the wait under way, if any: `came` says whether what it waited for came; `record`
  /// whether to record its end.
  func end(record report: Bool = true, came: Bool) {
    guard let w = current else { return }
    current = nil
    self.came = came
    stopTimers()
    let waited = runtime.now - w.since
    self.waited = waited
    if report { record(.peerWaitEnded(w.kind, waitedMs: waited.milliseconds)) }
  }

  /// Stops the wait without ending it (the session closes).
  func cancel() {
    current = nil
    stopTimers()
  }

  private func scheduleTick() {
    guard let w = current else { return }
    tick = runtime.schedule(at: runtime.now + reportInterval) { [weak self] in
      guard let self, let now = self.current, now.kind == w.kind, self.live() else { return }
      self.record(
        .waitingForPeer(
          w.kind, waitedMs: (self.runtime.now - w.since).milliseconds,
          limitMs: self.limit.milliseconds))
      self.scheduleTick()
    }
  }

  private func stopTimers() {
    timer?.cancel()
    tick?.cancel()
    timer = nil
    tick = nil
  }
}
