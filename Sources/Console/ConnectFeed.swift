import Foundation
import STUN
import Sessions
import Traversal

/// Turns a ``ConnectSession``'s events into ``ConnectScreen/Event``s. Call `events(for:session:)`
/// from the session's `onEvent`, on the session's context (it reads the agent's pairs for live
/// states, RTTs and check counts); hand the result to the UI thread.
public struct ConnectFeed: Sendable {
  /// Elapsed times and log stamps count from here (the session's creation).
  public let start: Instant

  public init(start: Instant) { self.start = start }

  public func events(for entry: ConnectLogEntry, session: ConnectSession) -> [ConnectScreen.Event] {
    let ms = max(0, (entry.at - start).milliseconds)
    var out: [ConnectScreen.Event] = [
      .elapsed(ms), .log(String(format: "%8.1f ms  ", ms) + Self.line(entry.event)),
    ]
    switch entry.event {
    case .phaseChanged(let phase):
      switch phase {
      case .gathering: out.append(.agentState(.gathering))
      case .waitingForRemote: out.append(.agentState(.waiting))
      case .checking: out.append(.agentState(.checking))
      case .new, .finished, .closed: break
      }
    case .waitingForPeer: out.append(.agentState(.waiting))
    case .localDescriptionReady(let d):
      // The event's description has no password; the session's has.
      out.append(.localToken(session.localDescription?.token ?? d.token))
    case .finished(let report):
      out.append(.pairs(Self.pairs(session.ice.agent)))
      out.append(
        .report(
          lines: report.text.split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init),
          connected: report.state == .connected))
    case .ice(let e):
      switch e {
      case .candidateGathered(let c): out.append(.candidate(Self.candidate(c, side: .local)))
      case .remoteCandidateAdded(let c): out.append(.candidate(Self.candidate(c, side: .remote)))
      case .agentStateChanged(_, let to, _):
        if let s = Self.state(to), session.report == nil { out.append(.agentState(s)) }
      case .roleChanged(_, let to, _): out.append(.role(to.rawValue))
      case .pairAdded, .pairPruned, .pairStateChanged, .checkSent, .checkReceived, .pairValid,
        .pairNominated, .selectedPairChanged, .consentLost, .consentRestored:
        out.append(.pairs(Self.pairs(session.ice.agent)))
      default: break
      }
    default: break
    }
    return out
  }

  static func state(_ s: ICEAgentState) -> ConnectViewModel.AgentState? {
    switch s {
    case .new, .closed: nil
    case .checking: .checking
    case .connected: .connected
    case .completed: .completed
    case .disconnected: .disconnected
    case .failed: .failed
    }
  }

  static func candidate(_ c: Candidate, side: ConnectViewModel.Candidate.Side)
    -> ConnectViewModel.Candidate
  {
    ConnectViewModel.Candidate(
      side: side, kind: c.type.rawValue, address: c.address.description,
      related: c.relatedAddress?.description, priority: c.priority, foundation: c.foundation)
  }

  /// The agent's pairs (check list and valid list), in its order.
  public static func pairs(_ agent: ICEAgent) -> [ConnectViewModel.Pair] {
    agent.pairs.map { p in
      let state: ConnectViewModel.Pair.State =
        switch p.state {
        case .frozen: .frozen
        case .waiting: .waiting
        case .inProgress: .inProgress
        case .succeeded: .succeeded
        case .failed: .failed
        }
      return ConnectViewModel.Pair(
        id: String(p.id), local: p.local.address.description,
        remote: p.remote.address.description, localKind: p.local.type.rawValue,
        remoteKind: p.remote.type.rawValue, state: state, nominated: p.nominated,
        selected: agent.selectedPairID == p.id, rttMs: p.stats.lastRTTMs,
        checksSent: p.stats.requestsSent, checksAnswered: p.stats.responsesReceived,
        failureReason: p.failureReason?.description, priority: p.priority)
    }
  }

  /// One log line per event (as `natscope connect -v` prints them, without the time).
  public static func line(_ event: ConnectEvent) -> String {
    switch event {
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
