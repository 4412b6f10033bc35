import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// How the two-host demo turns host A's `ConnectSession` report into the demo's connect
/// report: with both hosts' full probe profiles (the sessions skip their quick probe), with
/// paths explained by the pairs that failed on their own rather than by pairs stopped when
/// another path won, and with blocked UDP named as the reason where it is one.
enum TwoHostDemoExplanations {
  /// Host A's report rebuilt with both probe profiles; an empty failed report when A's session
  /// never reached a verdict.
  static func report(
    _ report: ConnectReport?, local: SessionDescription?, remote: SessionDescription?,
    localProfile: NATProfile?, remoteProfile: NATProfile?,
    localTURN: [SignaledCandidate.Transport], remoteTURN: [SignaledCandidate.Transport]
  ) -> ConnectReport {
    var b = ConnectReportBuilder(
      local: .init(profile: localProfile, candidates: local?.candidates ?? [], turn: localTURN),
      remote: .init(
        profile: remoteProfile, candidates: remote?.candidates ?? [], turn: remoteTURN))
    // Host A offers: it is the controlling side.
    b.role = .controlling
    guard let report else { return b.build() }
    b.pairs = report.pairs
    b.selectedPair = report.selectedPair
    b.timings = report.timings
    var r = b.build()
    explainStoppedPaths(&r, builder: b)
    return r
  }

  /// Pairs still being checked when another path won (`cancelled`) say nothing about their
  /// own path. A path explains itself by its other checked pairs when it has some; when every
  /// checked pair of a path was stopped, it says so, with the prediction's reason when that
  /// was "fails".
  static func explainStoppedPaths(_ r: inout ConnectReport, builder: ConnectReportBuilder) {
    guard r.state == .connected else { return }
    func stopped(_ p: ConnectReport.PairOutcome) -> Bool { p.failure == .cancelled }
    let pairs = builder.pairs
    let informative = pairs.filter { p in
      !stopped(p) || !pairs.contains { $0.kind == p.kind && $0.checked && !stopped($0) }
    }
    if informative.count != pairs.count {
      r.paths = ConnectReportBuilder.paths(
        informative, local: builder.local, remote: builder.remote, selected: r.selectedPair)
    }
    let winner =
      r.selectedPair.map {
        "the \(ConnectReport.PathKind.of($0.local.type, $0.remote.type).rawValue) path"
      } ?? "another path"
    for kind in ConnectReport.PathKind.allCases {
      let checked = pairs.filter { $0.kind == kind && $0.checked }
      guard !checked.isEmpty, !checked.contains(where: \.succeeded),
        checked.allSatisfy(stopped)
      else { continue }
      let requests = checked.map(\.requests).max() ?? 0
      var reason =
        "No answer to \(requests) request\(requests == 1 ? "" : "s") before \(winner) connected and the checks stopped."
      let predicted = r.prediction[kind]
      if predicted.outcome == .fails { reason += " " + predicted.reason }
      r.paths[kind].reason = reason
    }
  }

  /// When a host's UDP is blocked, say so for the UDP paths instead of the generic reasons
  /// ("no pair could be formed"). The relay keeps its own reason: the blocked host reaches the
  /// relay over TCP.
  static func explainBlockedUDP(
    _ r: inout ConnectReport, a: NATProfile?, b: NATProfile?, turn: Bool
  ) {
    guard a?.udpBlocked == true || b?.udpBlocked == true else { return }
    let who =
      a?.udpBlocked == true && b?.udpBlocked == true
      ? "both hosts' networks"
      : (a?.udpBlocked == true ? "this host's network" : "the peer's network")
    let noUDP =
      turn
      ? "UDP is blocked on \(who), so no UDP path can work; only the TURN relay, reached over TCP, can connect these hosts."
      : "UDP is blocked on \(who), so no UDP path can work; only a TURN relay over TCP or TLS could connect these hosts."
    if !r.paths.direct.succeeded { r.paths.direct.reason = noUDP }
    if !r.paths.reflexive.succeeded { r.paths.reflexive.reason = noUDP }
  }
}
