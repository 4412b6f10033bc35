import STUN
import Testing
import Traversal

/// The usage example from the ICE agent's hand-over report, kept compiling and passing: two
/// agents, candidates exchanged as SDP lines, checks delivered by hand until both complete.
@Suite struct ICEUsageExampleTests {
  @Test func example() throws {
    var now = Instant.zero
    var alice = ICEAgent(role: .controlling)
    var bob = ICEAgent(role: .controlled)
    let aliceBase = try #require(TransportAddress("192.0.2.1:40000"))
    let bobBase = try #require(TransportAddress("192.0.2.2:40000"))

    // Gathering (a session does this from its sockets and STUN servers).
    var toDo: [(to: Int, output: ICEAgentOutput)] = []
    func queue(_ k: Int, _ outs: [ICEAgentOutput]) { toDo += outs.map { (k, $0) } }
    queue(0, alice.addHostCandidate(aliceBase, at: now) + alice.endOfLocalCandidates(at: now))
    queue(1, bob.addHostCandidate(bobBase, at: now) + bob.endOfLocalCandidates(at: now))

    // Signalling: credentials and a=candidate lines, both ways.
    queue(0, alice.setRemoteCredentials(bob.localCredentials, at: now))
    queue(1, bob.setRemoteCredentials(alice.localCredentials, at: now))
    for c in bob.localCandidates {
      queue(0, alice.addRemoteCandidate(try #require(Candidate(SignaledCandidate(c))), at: now))
    }
    for c in alice.localCandidates {
      queue(1, bob.addRemoteCandidate(try #require(Candidate(SignaledCandidate(c))), at: now))
    }
    queue(0, alice.endOfRemoteCandidates(at: now) + alice.start(at: now))
    queue(1, bob.endOfRemoteCandidates(at: now) + bob.start(at: now))

    // A driver: deliver sends at once, honour the latest wake of each agent.
    var wakes: [Instant?] = [nil, nil]
    var log: [String] = []
    while now < .zero + .seconds(2) {
      while !toDo.isEmpty {
        let (k, o) = toDo.removeFirst()
        switch o {
        case .transmit(let t):
          let (bytes, from, to) = (t.bytes, t.from ?? t.to, t.to)
          if to == bobBase { queue(1, bob.handleInput(bytes, from: from, to: to, at: now)) }
          if to == aliceBase { queue(0, alice.handleInput(bytes, from: from, to: to, at: now)) }
        case .timeout(let at): wakes[k] = at
        case .event(let e): log.append("\(k == 0 ? "alice" : "bob"): \(e)")
        }
      }
      guard let next = wakes.compactMap({ $0 }).min() else { break }
      now = Swift.max(now, next)
      if let w = wakes[0], w <= now { wakes[0] = nil; queue(0, alice.handleTimeout(at: now)) }
      if let w = wakes[1], w <= now { wakes[1] = nil; queue(1, bob.handleTimeout(at: now)) }
    }

    #expect(alice.state == .completed && bob.state == .completed)
    #expect(alice.selectedPair?.remote.address == bobBase)
    #expect(bob.selectedPair?.remote.address == aliceBase)
    #expect(log.contains { $0.hasPrefix("alice: selected pair #1: host 192.0.2.1:40000") })
  }
}

/// Whatever arrives, the agent neither traps nor answers garbage.
@Suite struct ICERobustnessTests {
  @Test func randomAndMutatedDatagramsAreDroppedAndCounted() throws {
    var g = SeededGenerator(seed: 42)
    var agent = ICEAgent(role: .controlled, generator: SeededGenerator(seed: 1))
    let base = try #require(TransportAddress("10.0.0.1:1000"))
    let peer = try #require(TransportAddress("10.0.0.2:2000"))
    _ = agent.addHostCandidate(base, at: .zero)
    let key = try IntegrityKey.shortTerm(password: agent.localCredentials.password)
    var valid = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 1))
    valid.add(Username("\(agent.localCredentials.ufrag):peer"))
    valid.add(Priority(1_845_501_695))
    valid.add(ICEControlling(7))
    valid.addMessageIntegrity(key: key)
    valid.addFingerprint()
    var answered = 0
    for k in 0..<5000 {
      var bytes: [UInt8]
      if k % 2 == 0 {
        bytes = (0..<Int(g.next() % 120)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        if k % 4 == 0, bytes.count >= 20 {
          bytes[0] = 0
          bytes[1] = 1
          bytes[4...7] = [0x21, 0x12, 0xA4, 0x42]
        }
      } else {
        bytes = valid.bytes
        let flips = Int(g.next() % 3) + 1
        for _ in 0..<flips {
          let at = Int(g.next() % UInt64(bytes.count))
          bytes[at] ^= UInt8(truncatingIfNeeded: g.next() | 1)
        }
      }
      let out = agent.handleInput(bytes, from: peer, to: base, at: .zero + .milliseconds(Int64(k)))
      for case .transmit(let reply) in out {
        let m = try Message(bytes: reply.bytes)
        if m.messageClass == .successResponse { answered += 1 }
      }
    }
    // A single bit flip anywhere breaks FINGERPRINT or MESSAGE-INTEGRITY: nothing succeeds.
    #expect(answered == 0)
    #expect(agent.malformedDropped + agent.rejectedMessages > 2500)
    #expect(agent.validPairs.isEmpty)
  }
}
