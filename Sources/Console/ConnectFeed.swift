import Report
import STUN
import Sessions
import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Turns a ``ConnectSession``'s events into ``ConnectScreen/Event``s, on the front's thread:
/// it folds each event into a ``ConnectProgress`` (the session module's reducer) and maps what
/// changed onto the screen. It never sees the session.
public struct ConnectFeed: Sendable {
  /// Elapsed times and log stamps count from here; nil: from the first event (the session's
  /// start).
  public private(set) var start: Instant?
  /// Everything the events said so far.
  public private(set) var progress = ConnectProgress()
  /// What this side waits for from the person at the other end, while it waits: the pasted
  /// answer, or (an answerer) the offerer's first check. The title then says "waiting", not
  /// the ICE agent's state: an answerer's own checks may succeed before the offerer has even
  /// read the answer, and that is no connection.
  public private(set) var waitingFor: ConnectPeerWait?

  public init(start: Instant? = nil) { self.start = start }

  /// The screen events for the next session event (feed every event, in order).
  public mutating func events(for entry: ConnectLogEntry) -> [ConnectScreen.Event] {
    let origin = start ?? entry.at
    start = origin
    let hadReport = progress.report != nil
    progress.apply(entry)
    let ms = max(0, (entry.at - origin).milliseconds)
    var out: [ConnectScreen.Event] = [.elapsed(ms), .log(entry.logLine(since: origin))]
    switch entry.event {
    case .phaseChanged(let phase):
      switch phase {
      case .gathering: out.append(.agentState(.gathering))
      case .waitingForRemote: out.append(.agentState(.waiting))
      case .checking: out.append(.agentState(.checking))
      case .new, .finished, .closed: break
      }
    case .waitingForPeer(let w, _, _):
      waitingFor = w
      out.append(.agentState(.waiting))
    case .peerWaitEnded:
      waitingFor = nil
      if !hadReport, let s = Self.state(progress.agentState) { out.append(.agentState(s)) }
    case .localDescriptionReady(let d):
      // In-process events carry the password the peer needs (encoded ones never do).
      out.append(.localToken(d.token))
    case .finished(let report):
      waitingFor = nil
      out.append(.pairs(Self.pairs(progress)))
      // The panel renders it to its width; `j` writes it as `natscope connect --json` does.
      out.append(.finalReport(report))
      if let d = report.dtls, let word = Self.dtlsWord(d.state) { out.append(.dtls(word)) }
      out.append(
        .report(
          lines: report.text.split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init),
          connected: report.state == .connected))
    case .dtls(let d):
      if let word = Self.dtlsWord(d.state) { out.append(.dtls(word)) }
    case .ice(let e):
      switch e {
      case .candidateGathered(let c): out.append(.candidate(Self.candidate(c, side: .local)))
      case .remoteCandidateAdded(let c): out.append(.candidate(Self.candidate(c, side: .remote)))
      case .agentStateChanged(_, let to, _):
        if let s = Self.state(to), !hadReport, waitingFor == nil { out.append(.agentState(s)) }
      case .roleChanged(_, let to, _, _): out.append(.role(to.rawValue))
      case .pairAdded, .pairPruned, .pairStateChanged, .checkSent, .checkReceived, .pairValid,
        .pairNominated, .selectedPairChanged, .consentLost, .consentRestored:
        out.append(.pairs(Self.pairs(progress)))
      default: break
      }
    default: break
    }
    return out
  }

  /// The title's DTLS word for a state.
  static func dtlsWord(_ s: ConnectReport.DTLS.State) -> String? {
    switch s {
    case .handshaking: "dtls running"
    case .connected: "dtls ok"
    case .failed: "dtls failed"
    case .off: "dtls off"
    case .peerOfferedNone: "no dtls"
    case .notRun: nil
    }
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

  /// The pairs as the events left them (check list and valid list), in the agent's order.
  public static func pairs(_ progress: ConnectProgress) -> [ConnectViewModel.Pair] {
    progress.pairs.map { p in
      let state: ConnectViewModel.Pair.State =
        switch p.state {
        case .frozen: .frozen
        case .waiting: .waiting
        case .inProgress: .inProgress
        case .succeeded: .succeeded
        case .failed: .failed
        }
      var pair = ConnectViewModel.Pair(
        id: String(p.id), local: p.local.address.description,
        remote: p.remote.address.description, localKind: p.local.type.rawValue,
        remoteKind: p.remote.type.rawValue, state: state, nominated: p.nominated,
        selected: p.selected, rttMs: p.rttMs, checksSent: p.checksSent,
        checksAnswered: p.checksAnswered, failureReason: p.failureReason?.phrase,
        priority: p.priority)
      pair.producedBy = p.producedBy.map { String($0) }
      return pair
    }
  }
}
