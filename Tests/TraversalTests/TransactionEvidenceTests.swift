import Foundation
import STUN
import Testing
import Traversal

@Suite struct TransactionEvidenceTests {
  @Test func roundTripsThroughJSON() throws {
    var t = ClientTransaction<[UInt8]>(
      id: TransactionID(high: 0xB7E7_A701_BC34_D686, low: 0xFA87_DFAE), request: requestBytes,
      destination: server, acceptedSources: .set([alternate]))
    _ = t.start(at: .zero)
    _ = t.handleTimeout(at: at(500))
    _ = t.handleInput(id: tid(7), from: server, at: at(510), response: [])
    _ = t.handleInput(id: t.id, from: alternate, at: at(530), response: [])
    _ = t.handleInput(id: t.id, from: alternate, at: at(531), response: [])
    let evidence = t.evidence
    let data = try JSONEncoder().encode(evidence)
    let decoded = try JSONDecoder().decode(TransactionEvidence.self, from: data)
    #expect(decoded == evidence)

    let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["transactionID"] as? String == "b7e7a701bc34d686fa87dfae")
    #expect(object["destination"] as? String == "192.0.2.1:3478")
    #expect(object["sendTimes"] as? [Int64] == [0, 500_000_000])
    #expect(object["attempts"] as? Int == 2)
    #expect(object["initialRTONanoseconds"] as? Int64 == 500_000_000)
    #expect(object["duplicateResponses"] as? Int == 1)
    let rtt = try #require(object["rtt"] as? [String: Any])
    #expect(rtt["nanoseconds"] as? Int64 == 530_000_000)
    #expect(rtt["ambiguous"] as? Bool == true)
  }

  @Test func failedEvidenceRoundTrips() throws {
    var t = ClientTransaction<[UInt8]>(id: tid(3), request: requestBytes, destination: server)
    _ = runToFailure(&t)
    let data = try JSONEncoder().encode(t.evidence)
    #expect(try JSONDecoder().decode(TransactionEvidence.self, from: data) == t.evidence)
  }

  @Test func badTransactionIDFailsToDecode() throws {
    var t = ClientTransaction<[UInt8]>(id: tid(3), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    let data = try JSONEncoder().encode(t.evidence)
    let text = try #require(String(data: data, encoding: .utf8))
    let broken = text.replacingOccurrences(of: tid(3).description, with: "zz")
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(TransactionEvidence.self, from: Data(broken.utf8))
    }
  }

  @Test func instantEncodesAsNanoseconds() throws {
    let data = try JSONEncoder().encode([at(1500)])
    #expect(String(data: data, encoding: .utf8) == "[1500000000]")
    #expect(try JSONDecoder().decode([Instant].self, from: data) == [at(1500)])
  }

  @Test func policiesRoundTripThroughJSON() throws {
    for p in [RetransmissionPolicy.rfc8489, .diagnostics(floor: .milliseconds(80))] {
      let data = try JSONEncoder().encode(p)
      #expect(try JSONDecoder().decode(RetransmissionPolicy.self, from: data) == p)
    }
    let object = try #require(
      JSONSerialization.jsonObject(with: JSONEncoder().encode(RetransmissionPolicy.rfc8489))
        as? [String: Any])
    #expect(object["initialRTONanoseconds"] as? Int64 == 500_000_000)
    #expect(object["maxRequests"] as? Int == 7)
    #expect(object["lastWaitMultiplier"] as? Int == 16)
  }
}
