import Foundation
import Report
import Traversal

extension ConnectEvent {
  /// One log line for this event, without its time: what `natscope connect -v` prints and the
  /// console's event log shows. Never contains a password.
  public var logLine: String {
    switch self {
    case .phaseChanged(let p): "phase: \(p.words)"
    case .probeStarted(let s): "probe started: \(s.map(\.description).joined(separator: ", "))"
    case .probeFinished(let p, let r):
      "probe finished: " + (p.map { $0.summary } ?? (r?.explanation ?? "no profile"))
    // A pair's reason is typed; the event log words it as the check list does.
    case .ice(.pairStateChanged(let id, let from, let to, let reason?, _)):
      "ice pair #\(id) \(from.rawValue) -> \(to.rawValue): \(reason.phrase)"
    case .ice(.pairPruned(let id, let reason)): "ice pair #\(id) \(reason.phrase)"
    case .ice(let e): "ice \(e)"
    case .gathering(let e): "ice \(e)"
    case .relay(let s, let e): "turn \(s): \(e)"
    case .relayUnavailable(let s, let r): "turn \(s) unavailable: \(r.explanation)"
    case .relayCertificate(let s, let c): "turns \(s): TLS handshake done, \(c.summary)"
    case .localDescriptionReady(let d):
      "local description ready: \(counted(d.candidates.count, "candidate"))"
    case .remoteDescriptionSet(let n, let u):
      "remote description set: \(counted(n, "candidate")), \(u) usable"
    case .finished(let r): "finished: \(r.state.rawValue)"
    case .waitingForPeer(let w, let waited, let limit):
      w.waitingText(waitedMs: waited, limitMs: limit)
    case .peerWaitEnded(let w, let waited): w.endedText(waitedMs: waited)
    case .portMapping(let m): "port mapping: \(m.line)"
    case .dtls(let d):
      d.state == .handshaking
        ? "dtls: handshake started as the \(d.role ?? "?") on the selected pair"
        : "dtls: " + DTLSFindings.derive(d).map(\.text).joined(separator: " ")
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

extension ConnectPhase {
  /// The phase in words, for log lines.
  public var words: String {
    switch self {
    case .new: "not started"
    case .gathering: "gathering candidates"
    case .waitingForRemote: "waiting for the peer's description"
    case .checking: "checking"
    case .finished: "finished (keeping the selected pair alive briefly)"
    case .closed: "closed"
    }
  }
}
