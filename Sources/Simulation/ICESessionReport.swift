import STUN
import Traversal

/// Builds a `ConnectReport` from two `ICESession`s that ran against each other on one
/// simulated network, seen from `local`'s side: the candidates both gathered, the outcome of
/// each of `local`'s pairs, the selected pair and the timings.
///
/// (The two-host demo uses it; `natscope connect` builds its report from its own session.)
enum ICESessionReport {
  /// The report. `startedAt` is when the sessions started (timings count from there).
  static func build(
    local: ICESession, remote: ICESession, localProfile: NATProfile?,
    remoteProfile: NATProfile?, turn: [SignaledCandidate.Transport], startedAt: Instant
  ) -> ConnectReport {
    var builder = ConnectReportBuilder(
      local: .init(
        profile: localProfile, candidates: local.localCandidates.map(signaled), turn: turn),
      remote: .init(
        profile: remoteProfile, candidates: remote.localCandidates.map(signaled), turn: turn))
    let selected = local.selectedPair != nil
    builder.pairs = local.agent.pairs.map { outcome($0, selected: selected) }
    if let p = local.selectedPair {
      builder.selectedPair = ConnectReport.SelectedPair(
        local: endpoint(p.local), remote: endpoint(p.remote),
        rttMs: p.stats.minRTTMs
          // A valid pair built from a peer-reflexive mapping has no checks of its own: take
          // the round trip of the pair whose check produced it.
          ?? local.agent.pairs.filter { $0.validPairID == p.id }.compactMap(\.stats.minRTTMs)
          .min())
    }
    func ms(_ at: Instant?) -> Double? { at.map { ($0 - startedAt).milliseconds } }
    let log = local.log
    builder.timings = ConnectReport.Timings(
      gatheringMs: ms(log.first { if case .gatheringDone = $0.event { true } else { false } }?.at),
      firstCheckMs: ms(log.first { if case .checkSent = $0.event { true } else { false } }?.at),
      connectedMs: ms(
        log.first { if case .selectedPairChanged = $0.event { true } else { false } }?.at))
    var report = builder.build()
    // Pairs stopped because a better path won say nothing about their own path when other
    // pairs of that path failed on their own: explain the path from those.
    let stopped = builder.pairs.filter { $0.failure == .cancelled && $0.detail == stoppedDetail }
    let informative = builder.pairs.filter { p in
      !stopped.contains(p)
        || !builder.pairs.contains { $0.kind == p.kind && $0.checked && !stopped.contains($0) }
    }
    if informative.count != builder.pairs.count {
      report.paths = ConnectReportBuilder.paths(
        informative, local: builder.local, remote: builder.remote, connected: selected)
    }
    // A path whose every checked pair was stopped: say it had no answer yet, and why it
    // would not have had one when that was the prediction.
    let winner =
      report.selectedPair.map {
        "the \(ConnectReport.PathKind.of($0.local.type, $0.remote.type).rawValue) path"
      } ?? "another path"
    for kind in ConnectReport.PathKind.allCases {
      let checked = builder.pairs.filter { $0.kind == kind && $0.checked }
      guard !checked.isEmpty, checked.allSatisfy({ stopped.contains($0) }) else { continue }
      let requests = checked.map(\.requests).max() ?? 0
      var reason =
        "No answer to \(requests) request\(requests == 1 ? "" : "s") before \(winner) connected and the checks stopped."
      let predicted = report.prediction[kind]
      if predicted.outcome == .fails { reason += " " + predicted.reason }
      switch kind {
      case .direct: report.paths.direct.reason = reason
      case .reflexive: report.paths.reflexive.reason = reason
      case .relay: report.paths.relay.reason = reason
      }
    }
    return report
  }

  static let stoppedDetail = "another path was selected first"

  static func kind(_ t: CandidateType) -> SignaledCandidate.Kind {
    switch t {
    case .host: .host
    case .srflx: .srflx
    case .prflx: .prflx
    case .relay: .relay
    }
  }

  static func signaled(_ c: Candidate) -> SignaledCandidate {
    SignaledCandidate(
      foundation: c.foundation, component: c.component, transport: .udp, priority: c.priority,
      address: .ip(c.address.ip), port: c.address.port, kind: kind(c.type),
      relatedAddress: c.relatedAddress.map { .ip($0.ip) }, relatedPort: c.relatedAddress?.port)
  }

  static func endpoint(_ c: Candidate) -> ConnectReport.Endpoint {
    ConnectReport.Endpoint(
      type: kind(c.type), address: c.address.ip.description, port: c.address.port)
  }

  /// A pair's outcome; `selected` says whether the agent selected some pair (pairs still being
  /// checked then were stopped because a better path won).
  static func outcome(_ p: CandidatePair, selected: Bool) -> ConnectReport.PairOutcome {
    let succeeded = p.isValid || p.state == .succeeded
    var failure: ConnectReport.PairOutcome.Failure?
    var detail: String?
    let stopped = stoppedDetail
    if !succeeded, p.state != .failed, selected {
      failure = .cancelled
      detail = stopped
    } else if p.state == .failed {
      switch p.failureReason {
      case .errorCode(let code, let reason)?:
        failure = .errorResponse
        detail = "\(code) \(reason)"
      case .unreachable?:
        failure = .unreachable
      case .cancelled?:
        failure = .cancelled
        detail = selected ? stopped : nil
      case .pruned?:
        failure = .cancelled
        detail = p.failureReason?.description
      case .nonSymmetric?:
        failure = .timeout
        detail = ICEPairReason.nonSymmetric.description
      default:
        failure = .timeout
      }
    }
    return ConnectReport.PairOutcome(
      local: endpoint(p.local), remote: endpoint(p.remote), succeeded: succeeded,
      failure: failure, detail: detail,
      requests: p.stats.requestsSent + p.stats.retransmissions,
      rttMs: p.stats.minRTTMs, checked: p.stats.requestsSent > 0 || succeeded)
  }
}
