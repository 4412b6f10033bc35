import Foundation
import Traversal

extension ConnectEvent {
  /// One log line for this event, without its time: what `natscope connect -v` prints and the
  /// console's event log shows. Never contains a password.
  public var logLine: String {
    switch self {
    case .phaseChanged(let p): "phase \(p.rawValue)"
    case .probeStarted(let s): "probe started: \(s.map(\.description).joined(separator: ", "))"
    case .probeFinished(let p, let r):
      "probe finished: " + (p.map { $0.summary } ?? (r ?? "no profile"))
    case .ice(let e): "ice \(e)"
    case .relay(let s, let e): "turn \(s): \(e)"
    case .relayUnavailable(let s, let r): "turn \(s) unavailable: \(r)"
    case .localDescriptionReady(let d):
      "local description ready: \(d.candidates.count) candidates"
    case .remoteDescriptionSet(let n, let u):
      "remote description set: \(n) candidates, \(u) usable"
    case .finished(let r): "finished: \(r.state.rawValue)"
    case .waitingForPeer(let w, let waited, let limit):
      w.waitingText(waitedMs: waited, limitMs: limit)
    case .peerWaitEnded(let w, let waited): w.endedText(waitedMs: waited)
    }
  }
}

extension ConnectLogEntry {
  /// The event's log line stamped with the milliseconds since `start`, the number
  /// right-aligned in `width` characters (`   420.0 ms  phase checking`).
  public func logLine(since start: Instant, width: Int = 8) -> String {
    let ms = max(0, (at - start).milliseconds)
    return String(format: "%\(width).1f ms  ", ms) + event.logLine
  }
}
