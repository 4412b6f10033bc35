import Report
import Traversal

/// What the ICE session's agent recorded of the pairs, as the connect report's evidence:
/// each pair's outcome (with the ICMP that failed it and the address its answer showed), the
/// selected pair with its best round trip, and the loss the checks saw.
struct ICEPairEvidence {
  var pairs: [ConnectReport.PairOutcome]
  var selected: ConnectReport.SelectedPair?
  var loss: ConnectReport.Loss?
}

extension ICESession {
  /// How many checks came from the peer: 0 when none did.
  var peerChecksReceived: Int {
    agent.peerCheckReceived ? max(1, agent.pairs.map(\.stats.requestsReceived).reduce(0, +)) : 0
  }

  /// The pairs, the selected pair and the loss, as the report module takes them.
  func pairEvidence() -> ICEPairEvidence {
    let selected = agent.selectedPair
    let pairs = agent.pairs.map { p in
      var o = ConnectReport.PairOutcome(p, anotherSelected: selected != nil)
      // A check answered with another address than the local candidate went through this
      // host's NAT: its valid pair's local candidate is that address (server-reflexive when
      // STUN had already shown it, else peer-reflexive).
      if o.succeeded, let v = p.validPairID, v != p.id,
        let valid = agent.pair(id: v), valid.local.address != p.local.address
      {
        o.peerReflexive = ConnectReport.Endpoint(valid.local)
      }
      if o.failure == .unreachable,
        let u = unreachable[
          PairKey(base: p.local.base ?? p.local.address, remote: p.remote.address)]
      {
        o.detail = u.description
        o.icmp = u.kind
      }
      return o
    }
    var evidence = ICEPairEvidence(pairs: pairs)
    if let s = selected {
      // A valid pair learnt from a check (peer-reflexive local) has no checks of its own: the
      // round trip is that of the checks that produced it.
      let rtts = agent.pairs.filter { $0.id == s.id || $0.validPairID == s.id }.compactMap {
        $0.stats.minRTTMs
      }
      evidence.selected = ConnectReport.SelectedPair(
        local: ConnectReport.Endpoint(s.local), remote: ConnectReport.Endpoint(s.remote),
        rttMs: rtts.min().map { $0.rounded(toPlaces: 2) })
    }
    let stats = agent.pairs.map(\.stats)
    let checks = stats.map(\.requestsSent).reduce(0, +)
    if checks > 0 {
      evidence.loss = ConnectReport.Loss(
        checks: checks, checksRetransmitted: stats.map(\.checksRetransmitted).reduce(0, +),
        answersLost: stats.map(\.requestsRepeatedByPeer).reduce(0, +),
        provenChecks: stats.map(\.checksOnProvenPath).reduce(0, +),
        provenChecksRetransmitted: stats.map(\.checksOnProvenPathRetransmitted).reduce(0, +))
    }
    return evidence
  }
}

extension Double {
  /// Rounded to `n` decimal places, as reports show times.
  func rounded(toPlaces n: Int) -> Double {
    var f = 1.0
    for _ in 0..<n { f *= 10 }
    return (self * f).rounded() / f
  }
}
