import STUN
import Testing
import Traversal

@Suite struct ICEChecklistTests {
  typealias F = ICEFixture

  @Test func candidatePriorityFormula() {
    // RFC 8445 §5.1.2.1: 2^24·type + 2^8·local + (256 − component).
    #expect(ICEPriority.candidate(typePreference: 126, localPreference: 65535) == 2_130_706_431)
    #expect(
      ICEPriority.candidate(typePreference: 100, localPreference: 65535, component: 2)
        == (100 << 24 | 65535 << 8 | 254))
    #expect(ICEPriority.candidate(typePreference: 0, localPreference: 0) == 255)
    let policy = LocalPreferencePolicy()
    let v6 = policy.preference(for: IPAddress("2001:db8::1") ?? .anyV6, index: 0)
    let v4 = policy.preference(for: IPAddress("10.0.0.1") ?? .anyV4, index: 0)
    let v4second = policy.preference(for: IPAddress("10.0.0.2") ?? .anyV4, index: 1)
    #expect(v6 > v4 && v4 > v4second)
  }

  @Test func pairPriorityFormula() {
    let g: UInt32 = 2_130_706_431
    let d: UInt32 = 1_694_498_815
    #expect(
      ICEPriority.pair(controlling: g, controlled: d) == (UInt64(d) << 32) + 2 * UInt64(g) + 1)
    #expect(ICEPriority.pair(controlling: d, controlled: g) == (UInt64(d) << 32) + 2 * UInt64(g))
    #expect(ICEPriority.pair(controlling: g, controlled: g) == (UInt64(g) << 32) + 2 * UInt64(g))
  }

  @Test func checkListIsOrderedByThePairFormulaForEitherRole() throws {
    for role in [ICERole.controlling, .controlled] {
      var a = ICEAgent(role: role, generator: SeededGenerator(seed: 3))
      _ = a.addHostCandidate(F.address("10.0.0.1:1000"), interfaceIndex: 0, at: .zero)
      _ = a.addHostCandidate(F.address("10.0.1.1:1000"), interfaceIndex: 1, at: .zero)
      for (k, prio) in [UInt32(2_130_706_431), 1_694_498_815, 16_777_215].enumerated() {
        _ = a.addRemoteCandidate(
          Candidate(
            foundation: "r\(k)", priority: prio, address: F.address("10.9.0.\(k + 1):9"),
            type: .host), at: .zero)
      }
      let list = a.checkList
      #expect(list.count == 6)
      for p in list {
        let expected =
          role == .controlling
          ? ICEPriority.pair(controlling: p.local.priority, controlled: p.remote.priority)
          : ICEPriority.pair(controlling: p.remote.priority, controlled: p.local.priority)
        #expect(p.priority == expected)
      }
      #expect(list.map(\.priority) == list.map(\.priority).sorted(by: >))
    }
  }

  @Test func foundations() {
    var a = ICEAgent(role: .controlling, generator: SeededGenerator(seed: 3))
    let stun1 = F.address("203.0.113.10:3478")
    let stun2 = F.address("203.0.113.20:3478")
    _ = a.addHostCandidate(F.address("10.0.0.1:1000"), at: .zero)
    _ = a.addHostCandidate(F.address("10.0.0.1:1001"), at: .zero)
    _ = a.addHostCandidate(F.address("10.0.0.2:1000"), interfaceIndex: 1, at: .zero)
    _ = a.addServerReflexiveCandidate(
      F.address("198.51.100.1:5000"), base: F.address("10.0.0.1:1000"), server: stun1, at: .zero)
    _ = a.addServerReflexiveCandidate(
      F.address("198.51.100.1:5001"), base: F.address("10.0.0.1:1001"), server: stun1, at: .zero)
    _ = a.addServerReflexiveCandidate(
      F.address("198.51.100.1:5002"), base: F.address("10.0.0.1:1000"), server: stun2, at: .zero)
    let f = a.localCandidates.map(\.foundation)
    #expect(f[0] == f[1])  // host, same base IP
    #expect(f[0] != f[2])  // host, other IP
    #expect(f[3] == f[4])  // srflx, same base IP and server
    #expect(f[3] != f[0])  // other type
    #expect(f[3] != f[5])  // other server
    #expect(a.localCandidates[3].relatedAddress == F.address("10.0.0.1:1000"))
    #expect(a.localCandidates[3].priority >> 24 == 100)
  }

  @Test func serverReflexiveCandidatesArePrunedToTheirBase() {
    var a = ICEAgent(role: .controlling, generator: SeededGenerator(seed: 3))
    let base = F.address("10.0.0.1:1000")
    _ = a.addHostCandidate(base, at: .zero)
    _ = a.addRemoteCandidate(
      Candidate(foundation: "1", priority: 100, address: F.address("10.9.0.1:9"), type: .host),
      at: .zero)
    let out = a.addServerReflexiveCandidate(
      F.address("198.51.100.1:5000"), base: base, server: F.address("203.0.113.10:3478"),
      at: .zero)
    #expect(a.localCandidates.count == 2)
    #expect(a.checkList.count == 1)
    #expect(a.checkList[0].local.type == .host)
    #expect(!out.contains { if case .event(.pairAdded) = $0 { true } else { false } })
    // A server-reflexive address equal to its base (no NAT) is redundant.
    let same = a.addServerReflexiveCandidate(
      base, base: base, server: F.address("203.0.113.10:3478"), at: .zero)
    #expect(same.contains { if case .event(.candidateRedundant) = $0 { true } else { false } })
    #expect(a.localCandidates.count == 2)
  }

  @Test func initialUnfreezingIsOnePairPerFoundation() {
    var a = ICEAgent(role: .controlling, generator: SeededGenerator(seed: 3))
    _ = a.addHostCandidate(F.address("10.0.0.1:1000"), at: .zero)
    _ = a.setRemoteCredentials(
      ICECredentials(ufrag: "abcd", password: "0123456789012345678901"), at: .zero)
    for (k, f) in ["a", "a", "b"].enumerated() {
      _ = a.addRemoteCandidate(
        Candidate(
          foundation: f, priority: UInt32(1000 - k), address: F.address("10.9.0.\(k + 1):9"),
          type: .host), at: .zero)
    }
    let out = a.start(at: .zero)
    let changes = out.compactMap { o -> (Int, CandidatePairState, CandidatePairState)? in
      if case .event(.pairStateChanged(let id, let from, let to, _, _)) = o {
        return (id, from, to)
      }
      return nil
    }
    // Two foundations: two pairs unfrozen (then the best one is checked at once).
    #expect(changes.filter { $0.1 == .frozen && $0.2 == .waiting }.count == 2)
    #expect(a.checkList.filter { $0.state == .frozen }.count == 1)
    #expect(a.checkList.first { $0.state == .frozen }?.remote.address == F.address("10.9.0.2:9"))
  }

  @Test func checksArePacedByTa() {
    for ta in [50, 20] {
      var cfg = F.fast
      cfg.pacing = .milliseconds(Int64(ta))
      let wire = F.pair(bHosts: (1...5).map { "10.0.0.\($0 + 1):2000" }, configuration: cfg)
      wire.drop = { _, _, _ in true }
      wire.with(0) { $0.start(at: $1) }
      wire.run(for: .seconds(1))
      let firsts = wire.events[0].compactMap { e -> Instant? in
        if case .checkSent(_, _, _, 1, _, _) = e.event { return e.at }
        return nil
      }
      #expect(firsts == (0..<5).map { Instant.zero + .milliseconds(Int64(ta * $0)) })
    }
  }

  @Test func retransmissionsFollowTheCheckPolicy() {
    let wire = F.pair()
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .seconds(5))
    let attempts = wire.events[0].compactMap { e -> (Int, Instant)? in
      if case .checkSent(_, _, _, let n, _, _) = e.event { return (n, e.at) }
      return nil
    }
    #expect(attempts.map(\.0) == Array(1...7))
    #expect(attempts.map(\.1) == (0..<7).map { Instant.zero + .milliseconds(Int64(250 * $0)) })
    let pair = wire.agents[0].checkList[0]
    #expect(pair.failureReason == .timeout(attempts: 7))
    #expect(pair.stats.retransmissions == 6)
    #expect(pair.stats.history.last?.at == Instant.zero + .seconds(2))
  }

  @Test func aHundredPairList() {
    var a = ICEAgent(role: .controlling, generator: SeededGenerator(seed: 3))
    for k in 0..<10 {
      _ = a.addHostCandidate(F.address("10.0.\(k).1:1000"), interfaceIndex: k, at: .zero)
    }
    var pruned = 0
    for k in 0..<11 {
      let out = a.addRemoteCandidate(
        Candidate(
          foundation: "r\(k)", priority: UInt32(2_000_000 - k * 1000),
          address: F.address("10.9.0.\(k + 1):9"), type: .host), at: .zero)
      pruned += out.filter { if case .event(.pairPruned) = $0 { true } else { false } }.count
    }
    #expect(a.checkList.count == 100)
    #expect(a.prunedPairs == 10)
    #expect(pruned == 10)
    // The lowest-priority pairs went: every kept pair outranks every dropped one.
    #expect(a.checkList.allSatisfy { $0.remote.address != F.address("10.9.0.11:9") })
  }
}
