import Foundation
import STUN
import Testing
import Traversal

/// The agent while a person carries the tokens, and against peers that do not trickle, on a
/// manual clock.
@Suite struct HumanSpeedAgentTests {
  typealias F = ICEFixture

  static func pairKeepalives(_ wire: ICEWire, _ k: Int) -> [Instant] {
    wire.events[k].compactMap {
      if case .keepaliveSent = $0.event { return $0.at }
      return nil
    }
  }

  /// The answerer (B) holds the offer; the offerer (A) does not have the answer yet, so B's
  /// checks go nowhere. B's pairs fail but it does not: until A's first check it sends a
  /// Binding indication on them every keepalive interval. When A starts a minute later, its
  /// check gets through, B answers with a triggered check, and both complete; the keepalives
  /// then stop.
  @Test func pairsAreKeptOpenUntilThePeersFirstCheck() throws {
    let wire = F.pair(aRole: .controlling, bRole: .controlled, exchange: false)
    for c in wire.agents[0].localCandidates { wire.with(1) { $0.addRemoteCandidate(c, at: $1) } }
    wire.with(0) { $0.endOfLocalCandidates(at: $1) }
    wire.with(1) { $0.endOfLocalCandidates(at: $1) }
    wire.drop = { from, _, _ in
      from == F.address("10.0.0.2:2000") && wire.now < .zero + .seconds(60)
    }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(60))
    #expect(wire.agents[1].state == .checking)
    #expect(!wire.agents[1].peerCheckReceived)
    #expect(wire.agents[1].checkList.allSatisfy { $0.state == .failed })
    let kept = Self.pairKeepalives(wire, 1)
    // The pair failed 2 s after its check; keepalives every 1 s (the fixture's interval) since.
    #expect(kept.count >= 55 && kept.count <= 59)
    for (x, y) in zip(kept, kept.dropFirst()) { #expect(y - x == .seconds(1)) }
    // The offerer gets the answer and checks.
    for c in wire.agents[1].localCandidates { wire.with(0) { $0.addRemoteCandidate(c, at: $1) } }
    wire.with(0) { $0.endOfRemoteCandidates(at: $1) }
    wire.with(0) { $0.start(at: $1) }
    let checksFrom = wire.now
    wire.run(for: .seconds(3))
    #expect(wire.agents[1].peerCheckReceived)
    wire.with(1) { $0.endOfRemoteCandidates(at: $1) }
    wire.run(for: .seconds(2))
    #expect(wire.agents[0].state == .completed)
    #expect(wire.agents[1].state == .completed)
    #expect(Self.pairKeepalives(wire, 1).allSatisfy { $0 <= checksFrom })
  }

  /// A peer whose checks already came needs no such keepalives, and the offerer (which
  /// checks at once with the answer in hand) sends none.
  @Test func noPairKeepalivesOnceBothCheck() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(20))
    #expect(wire.agents.allSatisfy { $0.state == .completed })
    #expect(Self.pairKeepalives(wire, 0).isEmpty && Self.pairKeepalives(wire, 1).isEmpty)
  }

  /// An aioice or libnice peer writes SDP without `a=ice-options:trickle` and without
  /// `a=end-of-candidates`: the description is complete (RFC 8838 §3), so when every pair
  /// has failed the agent fails at that moment (RFC 8445 §7.2.5.3.3), not at some timeout.
  @Test func aCompleteNonTrickleDescriptionFailsWhenTheLastPairFails() throws {
    let wire = F.pair(aHosts: ["10.0.0.1:1000", "10.0.1.1:1000"], exchange: false)
    let b = wire.agents[1]
    let sdp =
      [
        "a=ice-ufrag:\(b.localCredentials.ufrag)", "a=ice-pwd:\(b.localCredentials.password)",
      ] + b.localCandidates.map { "a=" + SignaledCandidate($0).sdpAttribute }
    let d = try SessionDescription(sdpLines: sdp, assumedRole: .answer)
    #expect(d.endOfCandidates)
    for c in d.candidates {
      let candidate = try #require(Candidate(c))
      wire.with(0) { $0.addRemoteCandidate(candidate, at: $1) }
    }
    wire.with(0) { $0.endOfLocalCandidates(at: $1) }
    if d.endOfCandidates { wire.with(0) { $0.endOfRemoteCandidates(at: $1) } }
    wire.drop = { _, _, _ in true }
    wire.with(0) { $0.start(at: $1) }
    wire.run(for: .seconds(20))
    #expect(wire.agents[0].state == .failed)
    let failed = try #require(wire.time(0, reached: .failed))
    let lastPair = try #require(
      wire.events[0].last {
        if case .pairStateChanged(_, _, .failed, _, _) = $0.event { return true }
        return false
      }?.at)
    #expect(failed == lastPair)
    #expect(failed <= .zero + .milliseconds(2500))
  }

  @Test func trickleOptionMeansMoreMayCome() throws {
    let base = ["a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl"]
    let plain = try SessionDescription(sdpLines: base, assumedRole: .offer)
    #expect(plain.endOfCandidates)
    let trickle = try SessionDescription(
      sdpLines: base + ["a=ice-options:ice2 trickle"], assumedRole: .offer)
    #expect(!trickle.endOfCandidates)
    let ended = try SessionDescription(
      sdpLines: base + ["a=ice-options:trickle", "a=end-of-candidates"], assumedRole: .offer)
    #expect(ended.endOfCandidates)
    // A description with more to come says so in its SDP, and reads back the same.
    let back = try SessionDescription(sdp: trickle.sdp, assumedRole: .offer)
    #expect(trickle.sdp.contains("a=ice-options:trickle"))
    #expect(!back.endOfCandidates)
    #expect(!plain.sdp.contains("ice-options"))
  }

  @Test func stunKeepalivesEvery15Seconds() {
    let base = F.address("10.0.0.1:1000")
    let other = F.address("10.0.0.1:1001")
    let server = F.address("203.0.113.1:3478")
    var k = STUNKeepaliveSchedule(interval: .seconds(15))
    #expect(k.nextWake == nil)
    k.add(.init(base: base, server: server), at: .zero)
    k.add(.init(base: other, server: server), at: .zero + .seconds(2))
    k.add(.init(base: base, server: server), at: .zero + .seconds(5))  // known: unchanged
    #expect(k.nextWake == .zero + .seconds(15))
    #expect(k.due(at: .zero + .seconds(14)).isEmpty)
    #expect(k.due(at: .zero + .seconds(15)) == [.init(base: base, server: server)])
    #expect(k.nextWake == .zero + .seconds(17))
    #expect(k.due(at: .zero + .seconds(17)) == [.init(base: other, server: server)])
    // A late wake sends once and reschedules from then: no burst.
    #expect(k.due(at: .zero + .seconds(40)).count == 2)
    #expect(k.due(at: .zero + .seconds(41)).isEmpty)
    #expect(k.nextWake == .zero + .seconds(55))
    // Under 30 s apart: Linux keeps an idle UDP mapping 30 s.
    #expect(k.interval < .seconds(30))
    k.removeAll()
    #expect(k.nextWake == nil && k.targets.isEmpty)
  }
}
