import Foundation
import STUN
import Testing
import Traversal

@Suite struct ICEAgentTests {
  typealias F = ICEFixture

  static func selected(_ wire: ICEWire, _ k: Int) -> CandidatePair? { wire.agents[k].selectedPair }

  @Test func twoAgentsConnectWithRegularNomination() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    #expect(wire.agents[0].state == .completed)
    #expect(wire.agents[1].state == .completed)
    let a = try #require(Self.selected(wire, 0))
    let b = try #require(Self.selected(wire, 1))
    #expect(a.local.address == b.remote.address && a.remote.address == b.local.address)
    // Checks (10 ms each way): connected after one round trip, completed after the
    // nomination's round trip.
    let connected = try #require(wire.time(0, reached: .connected))
    let completed = try #require(wire.time(0, reached: .completed))
    // The nominating check leaves as soon as the pair succeeds, without waiting for Ta.
    #expect(connected == .zero + .milliseconds(20))
    #expect(completed == .zero + .milliseconds(40))
    // Exactly one check carried USE-CANDIDATE, after the pair had succeeded.
    let nominating = wire.eventList(0).filter {
      if case .checkSent(_, _, _, _, true, _) = $0 { true } else { false }
    }
    #expect(nominating.count == 1)
    #expect(
      !wire.eventList(1).contains {
        if case .checkSent(_, _, _, _, true, _) = $0 { true } else { false }
      })
    #expect(a.stats.rttSamples >= 1 && a.stats.minRTTMs == 20)
    #expect(a.nominated)
  }

  @Test func aggressiveNomination() throws {
    var cfg = F.fast
    cfg.nomination = .aggressive
    let wire = F.pair(configuration: cfg)
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(1))
    #expect(wire.agents[0].state == .completed)
    #expect(wire.agents[1].state == .completed)
    let sent = wire.eventList(0).compactMap { e -> Bool? in
      if case .checkSent(_, _, _, _, let u, _) = e { return u }
      return nil
    }
    #expect(!sent.isEmpty && sent.allSatisfy { $0 })
    #expect(wire.time(0, reached: .completed) == .zero + .milliseconds(20))
  }

  @Test func triggeredCheckGoesFirst() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .milliseconds(500))
    // B was not started but answered A's check and queued a triggered check on that pair.
    #expect(wire.agents[0].state == .connected || wire.agents[0].state == .completed)
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(2))
    let first = wire.eventList(1).first {
      if case .checkSent = $0 { true } else { false }
    }
    guard case .checkSent(_, _, _, _, _, let triggered) = first else {
      Issue.record("B sent no check")
      return
    }
    #expect(triggered)
    #expect(wire.agents[1].state == .completed)
  }

  @Test func peerReflexiveCandidatesOnBothSides() throws {
    // A sits behind a static NAT and only signals its unreachable host address.
    let wire = F.pair(aHosts: ["10.0.0.1:1000"], bHosts: ["198.51.100.2:2000"])
    wire.nat[F.address("10.0.0.1:1000")] = F.address("203.0.113.1:5000")
    wire.drop = { _, to, _ in to == F.address("10.0.0.1:1000") }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    #expect(wire.agents[0].state == .completed)
    #expect(wire.agents[1].state == .completed)
    // A learnt its own mapping from the response (local prflx) …
    let localPrflx = try #require(wire.agents[0].localCandidates.first { $0.type == .prflx })
    #expect(localPrflx.address == F.address("203.0.113.1:5000"))
    #expect(localPrflx.base == F.address("10.0.0.1:1000"))
    #expect(localPrflx.priority >> 24 == 110)
    // … and B learnt it from the check's source, with the PRIORITY A sent.
    let remotePrflx = try #require(wire.agents[1].remoteCandidates.first { $0.type == .prflx })
    #expect(remotePrflx.address == F.address("203.0.113.1:5000"))
    #expect(remotePrflx.priority == localPrflx.priority)
    #expect(Self.selected(wire, 0)?.local.type == .prflx)
    #expect(Self.selected(wire, 1)?.remote.type == .prflx)
    #expect(Self.selected(wire, 1)?.remote.address == F.address("203.0.113.1:5000"))
  }

  @Test(arguments: [ICERole.controlling, .controlled])
  func roleConflictIsResolvedByTieBreaker(role: ICERole) throws {
    let wire = F.pair(aRole: role, bRole: role)
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    let roles = Set(wire.agents.map(\.role))
    #expect(roles == [.controlling, .controlled])
    let winner = wire.agents[0].tieBreaker > wire.agents[1].tieBreaker ? 0 : 1
    #expect(wire.agents[winner].role == .controlling)
    let changed = wire.agents.indices.filter { k in
      wire.eventList(k).contains { if case .roleChanged = $0 { true } else { false } }
    }
    #expect(changed.count == 1)
    #expect(wire.agents.allSatisfy { $0.state == .completed })
    #expect(
      Self.selected(wire, 0)?.local.address == Self.selected(wire, 1)?.remote.address)
  }

  @Test func everyPairFailsFast() throws {
    let wire = F.pair(aHosts: ["10.0.0.1:1000", "10.0.1.1:1000"], bHosts: ["10.0.0.2:2000"])
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(10))
    for k in 0..<2 {
      #expect(wire.agents[k].state == .failed)
      let failed = try #require(wire.time(k, reached: .failed))
      #expect(failed <= .zero + .milliseconds(2500))
      #expect(wire.agents[k].checkList.allSatisfy { $0.failureReason == .timeout(attempts: 7) })
    }
    let reason = wire.eventList(0).compactMap { e -> String? in
      if case .agentStateChanged(_, .failed, let r) = e { return r }
      return nil
    }.first
    #expect(reason?.contains("2 × timeout(attempts: 7)") == true, "\(reason ?? "")")
  }

  @Test func withoutEndOfCandidatesTheAgentKeepsWaiting() {
    let wire = F.pair(exchange: false)
    for c in wire.agents[1].localCandidates { wire.with(0) { $0.addRemoteCandidate(c, at: $1) } }
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .seconds(5))
    #expect(wire.agents[0].state == .checking)
    // One call at a time, so the wire checks each call's final timeout against the deadline.
    wire.with(0) { $0.endOfRemoteCandidates(at: $1) }
    wire.with(0) { $0.endOfLocalCandidates(at: $1) }
    #expect(wire.agents[0].state == .failed)
  }

  @Test func consentLossGoesDisconnectedThenFailed() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    #expect(wire.agents[0].state == .completed)
    let pair = try #require(Self.selected(wire, 0))
    #expect(pair.stats.consentResponsesReceived >= 3)
    let cut = wire.now
    wire.drop = { _, _, _ in true }
    wire.run(for: .seconds(10))
    let disconnected = try #require(wire.time(0, reached: .disconnected))
    let failed = try #require(wire.time(0, reached: .failed))
    // Consent every ~0.5 s, disconnected after 2 s and failed after 4 s of silence.
    #expect(disconnected > cut + .milliseconds(1400) && disconnected <= cut + .seconds(2))
    #expect(failed > cut + .milliseconds(3400) && failed <= cut + .seconds(4))
    #expect(
      wire.eventList(0).contains { if case .consentLost = $0 { true } else { false } })
  }

  @Test func consentRecoversFromAShortOutage() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    wire.drop = { _, _, _ in true }
    wire.run(for: .milliseconds(2500))
    #expect(wire.agents[0].state == .disconnected)
    wire.drop = { _, _, _ in false }
    wire.run(for: .seconds(2))
    #expect(wire.agents[0].state == .completed)
    #expect(wire.eventList(0).contains { if case .consentRestored = $0 { true } else { false } })
  }

  @Test func keepalivesWhenConsentIsOff() throws {
    var cfg = F.fast
    cfg.consentInterval = nil
    let wire = F.pair(configuration: cfg)
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .milliseconds(5500))
    let pair = try #require(Self.selected(wire, 0))
    #expect(pair.stats.keepalivesSent >= 4)
    #expect(wire.agents[0].state == .completed)
  }

  @Test func wrongPasswordsNeverSucceed() throws {
    let wire = F.pair(exchange: false)
    let bad = ICECredentials(ufrag: "zzzz", password: "wrongwrongwrongwrongwrong")
    let ca = wire.agents[0].localCredentials
    let cb = wire.agents[1].localCredentials
    wire.with(0) {
      $0.setRemoteCredentials(ICECredentials(ufrag: cb.ufrag, password: bad.password), at: $1)
    }
    wire.with(1) {
      $0.setRemoteCredentials(ICECredentials(ufrag: ca.ufrag, password: bad.password), at: $1)
    }
    for c in wire.agents[1].localCandidates { wire.with(0) { $0.addRemoteCandidate(c, at: $1) } }
    for c in wire.agents[0].localCandidates { wire.with(1) { $0.addRemoteCandidate(c, at: $1) } }
    for k in 0..<2 {
      wire.with(k) { $0.endOfLocalCandidates(at: $1) + $0.endOfRemoteCandidates(at: $1) }
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(5))
    for k in 0..<2 {
      #expect(wire.agents[k].validPairs.isEmpty)
      #expect(wire.agents[k].state == .failed)
      #expect(wire.agents[k].rejectedMessages > 0)
      #expect(
        wire.agents[k].checkList.allSatisfy {
          if case .errorCode(401, _) = $0.failureReason { true } else { false }
        })
    }
  }

  @Test func oneWrongPasswordFailsOneDirectionOnly() {
    let wire = F.pair(exchange: false)
    let cb = wire.agents[1].localCredentials
    let ca = wire.agents[0].localCredentials
    wire.with(0) {
      $0.setRemoteCredentials(ICECredentials(ufrag: cb.ufrag, password: "x" + cb.password), at: $1)
    }
    wire.with(1) { $0.setRemoteCredentials(ca, at: $1) }
    for c in wire.agents[1].localCandidates { wire.with(0) { $0.addRemoteCandidate(c, at: $1) } }
    for c in wire.agents[0].localCandidates { wire.with(1) { $0.addRemoteCandidate(c, at: $1) } }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    // A's checks carry the wrong key, so B answers 401 and A never gets a valid pair; B's
    // checks are fine, so B's side succeeds and waits for a nomination that cannot come.
    #expect(!wire.agents[1].validPairs.isEmpty)
    #expect(wire.agents[0].validPairs.isEmpty)
    #expect(wire.agents[0].state == .checking)
  }

  @Test func garbageIsDroppedAndCounted() {
    var a = ICEAgent(role: .controlled, generator: SeededGenerator(seed: 9))
    let base = F.address("10.0.0.1:1000")
    _ = a.addHostCandidate(base, at: .zero)
    _ = a.handleInput([1, 2, 3], from: F.address("10.0.0.2:9"), to: base, at: .zero)
    _ = a.handleInput(
      Array(repeating: 0, count: 40), from: F.address("10.0.0.2:9"), to: base, at: .zero)
    #expect(a.malformedDropped == 2)
    // A Binding request without FINGERPRINT is refused silently.
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 2))
    b.add(Username("\(a.localCredentials.ufrag):x"))
    let out = a.handleInput(b.bytes, from: F.address("10.0.0.2:9"), to: base, at: .zero)
    #expect(!out.contains { if case .transmit = $0 { true } else { false } })
    #expect(a.rejectedMessages == 1)
    // One without MESSAGE-INTEGRITY gets 400.
    var c = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 3))
    c.add(Username("\(a.localCredentials.ufrag):x"))
    c.addFingerprint()
    let out2 = a.handleInput(c.bytes, from: F.address("10.0.0.2:9"), to: base, at: .zero)
    let reply = out2.compactMap { o -> Message? in
      if case .transmit(let t) = o { return try? Message(bytes: t.bytes) }
      return nil
    }.first
    #expect((try? reply?.get(ErrorCodeAttribute.self))??.code == .badRequest)
  }

  @Test func noPasswordInEventsDescriptionsOrJSON() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    let passwords = wire.agents.map(\.localCredentials.password)
    let encoder = JSONEncoder()
    for k in 0..<2 {
      let events = wire.eventList(k)
      #expect(events.count > 10)
      let json = String(decoding: try encoder.encode(events), as: UTF8.self)
      let pairsJSON = String(decoding: try encoder.encode(wire.agents[k].pairs), as: UTF8.self)
      var dumped = ""
      dump(wire.agents[k], to: &dumped)
      let texts = [
        json, pairsJSON, "\(wire.agents[k])", String(reflecting: wire.agents[k]), dumped,
        events.map { "\($0)" }.joined(),
      ]
      for t in texts {
        for p in passwords { #expect(!t.contains(p)) }
      }
      // Events round-trip through JSON.
      #expect(try JSONDecoder().decode([ICEEvent].self, from: try encoder.encode(events)) == events)
    }
  }

  @Test func perPairStatisticsAndHistory() throws {
    let wire = F.pair()
    wire.drop = { from, _, _ in
      from == F.address("10.0.0.1:1000") && wire.now < .zero + .milliseconds(300)
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(2))
    let p = try #require(Self.selected(wire, 0))
    #expect(p.stats.history.map(\.state).first == .frozen)
    #expect(p.stats.history.map(\.state).contains(.succeeded))
    #expect(p.stats.requestsSent >= 1)
    #expect(p.stats.responsesReceived >= 1)
    #expect(p.stats.requestsReceived >= 1)
    #expect(p.stats.responsesSent >= 1)
    #expect(p.stats.retransmissions >= 1)
    #expect(p.stats.meanRTTMs != nil && p.stats.lastRTTMs != nil)
  }
}

@Suite struct ICEAgentEdgeTests {
  typealias F = ICEFixture

  @Test func unreachableFailsThePairAtOnce() throws {
    let wire = F.pair()
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .milliseconds(100))
    wire.with(0) {
      $0.handleUnreachable(F.address("10.0.0.2:2000"), from: F.address("10.0.0.1:1000"), at: $1)
    }
    #expect(wire.agents[0].checkList[0].failureReason == .unreachable)
    #expect(wire.agents[0].state == .failed)
    #expect(wire.time(0, reached: .failed) == .zero + .milliseconds(100))
  }

  @Test func aResponseFromTheWrongAddressFailsThePair() throws {
    let wire = F.pair()
    // B's answers leave through a NAT that rewrites their source: not symmetric.
    wire.nat[F.address("10.0.0.2:2000")] = F.address("10.0.0.99:2000")
    wire.drop = { from, _, bytes in
      // Only B's responses (class bits 0x0100) are rewritten; drop B's own requests.
      from == F.address("10.0.0.99:2000") && bytes[0] & 0x01 == 0 && bytes[1] & 0x10 == 0
    }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .seconds(1))
    #expect(wire.agents[0].checkList.contains { $0.failureReason == .nonSymmetric })
  }

  @Test func unknownComprehensionRequiredAttributesGet420() throws {
    var a = ICEAgent(role: .controlled, generator: SeededGenerator(seed: 9))
    let base = F.address("10.0.0.1:1000")
    _ = a.addHostCandidate(base, at: .zero)
    let key = try IntegrityKey.shortTerm(password: a.localCredentials.password)
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 5, low: 6))
    b.add(Username("\(a.localCredentials.ufrag):peer"))
    b.add(Priority(1_845_501_695))
    b.add(type: AttributeType(rawValue: 0x0030), value: [0, 0, 0, 0])
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    let out = a.handleInput(b.bytes, from: F.address("10.0.0.2:9"), to: base, at: .zero)
    let reply = try #require(
      out.compactMap { o -> Message? in
        if case .transmit(let t) = o { return try? Message(bytes: t.bytes) }
        return nil
      }.first)
    #expect(try reply.get(ErrorCodeAttribute.self)?.code == .unknownAttribute)
    #expect(try reply.get(UnknownAttributes.self)?.types == [AttributeType(rawValue: 0x0030)])
    #expect(reply.verifyMessageIntegrity(key: key))
    #expect(a.remoteCandidates.isEmpty)
  }

  @Test func closeStopsEverything() {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(0) { $0.close(at: $1) }
    #expect(wire.agents[0].state == .closed)
    wire.with(0) { $0.handleTimeout(at: $1 + .seconds(1)) }
    #expect(wire.agents[0].state == .closed)
  }
}

@Suite struct ICEFoundationPacingTests {
  typealias F = ICEFixture

  /// Two remote candidates with one foundation: the second pair stays Frozen while the first
  /// is In-Progress (and the agent does not spin on it), then is unfrozen when it fails.
  @Test func sharedFoundationWaitsItsTurnWithoutSpinning() throws {
    let wire = F.pair(exchange: false)
    for (k, port) in [2000, 2001].enumerated() {
      wire.with(0) {
        $0.addRemoteCandidate(
          Candidate(
            foundation: "same", priority: UInt32(2000 - k), address: F.address("10.0.0.2:\(port)"),
            type: .host), at: $1)
      }
    }
    wire.with(0) { $0.endOfLocalCandidates(at: $1) + $0.endOfRemoteCandidates(at: $1) }
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .seconds(10))
    #expect(wire.iterations < 100)
    let list = wire.agents[0].checkList
    #expect(list.count == 2)
    let second = try #require(list.first { $0.remote.address == F.address("10.0.0.2:2001") })
    // Unfrozen only when the first pair failed at 2 s, so it fails at 4 s.
    #expect(second.stats.history.first { $0.state == .waiting }?.at == .zero + .seconds(2))
    #expect(wire.time(0, reached: .failed) == .zero + .seconds(4))
  }
}

@Suite struct ICENominationRecoveryTests {
  typealias F = ICEFixture

  /// The nominating check on the best pair goes unanswered: that pair fails and the
  /// controlling agent nominates the next valid pair.
  @Test func aFailedNominationMovesToTheNextValidPair() throws {
    let wire = F.pair(bHosts: ["10.0.0.2:2000", "10.0.0.3:2000"])
    let best = F.address("10.0.0.2:2000")
    // Every check to the best pair that carries USE-CANDIDATE is lost.
    wire.drop = { _, to, bytes in
      to == best && (try? Message(bytes: bytes))?.contains(.useCandidate) == true
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(5))
    #expect(wire.agents[0].state == .completed)
    let selected = try #require(wire.agents[0].selectedPair)
    #expect(selected.remote.address == F.address("10.0.0.3:2000"))
    let failedBest = try #require(wire.agents[0].checkList.first { $0.remote.address == best })
    #expect(failedBest.failureReason == .timeout(attempts: 7))
    #expect(wire.agents[1].selectedPair?.local.address == F.address("10.0.0.3:2000"))
    // The nominating check gives up after 2 s; the next nomination takes one round trip.
    let completed = try #require(wire.time(0, reached: .completed))
    #expect(completed > .zero + .seconds(2) && completed < .zero + .milliseconds(2200))
  }
}

/// When the controlling agent nominates under regular nomination (RFC 8445 §8.1.1: it may pick
/// any valid pair, once it judges that checks have run long enough).
@Suite struct ICERegularNominationTimingTests {
  typealias F = ICEFixture

  /// A better host pair that stays silent (a host address the peer cannot reach) holds
  /// nomination back only for four round trips of the working path, not the whole delay.
  @Test func aSilentHostPairStopsHoldingNominationBackAfterFourRoundTrips() throws {
    let wire = F.pair(bHosts: ["10.0.0.2:2000", "10.0.0.3:2000"])
    let silent = F.address("10.0.0.2:2000")
    wire.drop = { from, to, _ in from == silent || to == silent }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(1))
    let selected = try #require(wire.agents[0].selectedPair)
    #expect(selected.remote.address == F.address("10.0.0.3:2000"))
    // The silent pair's check left at 0 and the working pair's at 50 ms (Ta), valid at 70 ms
    // with a 20 ms RTT: nomination leaves at 0 + 4 × 20 ms and is answered 20 ms later.
    #expect(wire.time(0, reached: .connected) == .zero + .milliseconds(70))
    #expect(wire.time(0, reached: .completed) == .zero + .milliseconds(100))
    let silentPair = try #require(wire.agents[0].checkList.first { $0.remote.address == silent })
    #expect(silentPair.state == .inProgress)
  }

  /// A better pair that needs hole punching (a server-reflexive remote) may still succeed once
  /// the peer's checks open its NAT, so it holds nomination back for the whole delay.
  @Test func aPendingReflexivePairHoldsNominationForTheDelay() throws {
    let wire = F.pair(bHosts: [], exchange: false)
    let bBase = F.address("10.0.0.2:2000")
    let bMapped = F.address("203.0.113.2:2000")
    let bRelay = F.address("198.51.100.9:3000")
    wire.owner[bBase] = 1
    wire.owner[bRelay] = 1
    wire.with(1) { b, now in
      b.addHostCandidate(bBase, at: now)
        + b.addServerReflexiveCandidate(
          bMapped, base: bBase, server: F.address("192.0.2.1:3478"), at: now)
        + b.addRelayedCandidate(
          bRelay, mappedAddress: bMapped, server: F.address("192.0.2.1:3478"), at: now)
    }
    // B's NAT never lets anything through to its mapping, and its host address is private.
    wire.drop = { from, to, _ in from == bBase || to == bBase || to == bMapped }
    for c in wire.agents[1].localCandidates where c.type != .host {
      wire.with(0) { $0.addRemoteCandidate(c, at: $1) }
    }
    for c in wire.agents[0].localCandidates { wire.with(1) { $0.addRemoteCandidate(c, at: $1) } }
    for k in 0..<2 {
      wire.with(k) { $0.endOfLocalCandidates(at: $1) + $0.endOfRemoteCandidates(at: $1) }
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(1))
    let selected = try #require(wire.agents[0].selectedPair)
    #expect(selected.remote.type == .relay)
    let connected = try #require(wire.time(0, reached: .connected))
    let completed = try #require(wire.time(0, reached: .completed))
    #expect(completed >= connected + .milliseconds(500))
    #expect(completed <= connected + .milliseconds(520))
    let reflexive = try #require(wire.agents[0].checkList.first { $0.remote.address == bMapped })
    #expect(reflexive.state == .inProgress)
  }
}
