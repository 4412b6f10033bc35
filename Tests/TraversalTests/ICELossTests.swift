import Foundation
import STUN
import Testing
import Traversal

/// Checks and nomination that hold through loss, and the evidence of loss the agent counts.
@Suite struct ICELossTests {
  typealias F = ICEFixture

  static func isUseCandidate(_ bytes: [UInt8]) -> Bool {
    (try? Message(bytes: bytes))?.contains(.useCandidate) == true
  }

  /// The only valid pair's nominating check goes unanswered for a whole transaction (7
  /// requests): with no other pair to move to, nomination is sent again, not given up, and
  /// the agents connect.
  @Test func aLostNominationIsRetriedWhenNoOtherPairIsValid() throws {
    let wire = F.pair()
    var lost = 0
    // The first seven nominating requests are lost (one whole transaction).
    wire.drop = { _, _, bytes in
      guard Self.isUseCandidate(bytes), lost < 7 else { return false }
      lost += 1
      return true
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(5))
    #expect(lost == 7)
    #expect(wire.agents[0].state == .completed && wire.agents[1].state == .completed)
    let selected = try #require(wire.agents[0].selectedPair)
    let generator = try #require(wire.agents[0].checkList.first { $0.validPairID == selected.id })
    #expect(generator.stats.checksRetried == 1)
    #expect(generator.stats.checksOnProvenPath == 2)
    // The nomination went out on a pair answered in 20 ms: its retransmission is loss.
    #expect(generator.stats.checksOnProvenPathRetransmitted == 1)
    // Completed after the first transaction gave up (2 s) and the second was answered.
    let completed = try #require(wire.time(0, reached: .completed))
    #expect(completed > .zero + .seconds(2) && completed < .zero + .milliseconds(2100))
  }

  /// Retries are bounded: a nomination that is never answered fails the pair after
  /// `provenPathRetries` + 1 transactions.
  @Test func retriesAreBounded() throws {
    let wire = F.pair()
    wire.drop = { _, _, bytes in Self.isUseCandidate(bytes) }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(10))
    #expect(wire.agents[0].state == .failed)
    let pair = try #require(wire.agents[0].checkList.first)
    #expect(pair.stats.checksRetried == 2)
    #expect(pair.failureReason == .timeout(attempts: 7))
    // Three transactions of 2 s each.
    #expect(wire.time(0, reached: .failed) == .zero + .milliseconds(6020))
  }

  /// Once the pair is proven, one answer of A's to B's requests (a consent check) is lost:
  /// B repeats the request, and A counts an answer lost on the way.
  @Test func aRepeatedRequestCountsAsALostAnswer() throws {
    let wire = F.pair()
    var dropped = 0
    wire.drop = { from, _, bytes in
      guard from == F.address("10.0.0.1:1000"), dropped == 0, wire.now > .zero + .seconds(1),
        (try? Message(bytes: bytes))?.messageClass == .successResponse
      else { return false }
      dropped += 1
      return true
    }
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    #expect(dropped == 1)
    let seen = wire.agents[0].pairs.map(\.stats.requestsRepeatedByPeer).reduce(0, +)
    #expect(seen == 1)
    #expect(wire.agents[0].state == .completed && wire.agents[1].state == .completed)
  }

  /// Without loss none of the loss evidence is counted.
  @Test func noLossNoEvidence() throws {
    let wire = F.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    for k in 0..<2 {
      for p in wire.agents[k].pairs {
        #expect(p.stats.requestsRepeatedByPeer == 0 && p.stats.checksOnProvenPathRetransmitted == 0)
        #expect(p.stats.checksRetried == 0)
      }
    }
  }
}
