import STUN
import Testing

/// The usage example from the codec's hand-over report, kept compiling and passing.
@Suite struct UsageExampleTests {
  @Test func example() throws {
    // Decode a response and read XOR-MAPPED-ADDRESS.
    let response = try Message(bytes: Vectors.ipv4Response)
    let mapped = try response.get(XORMappedAddress.self)?.address  // 192.0.2.1:32853
    #expect(mapped == TransportAddress("192.0.2.1:32853"))

    // Build an ICE connectivity check.
    let key = try IntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    var b = MessageBuilder(type: .bindingRequest, transactionID: .random())
    b.add(Username("evtj:h6vY"))
    b.add(Priority(0x6e00_01ff))
    b.add(ICEControlling(0x932f_f9b1_5126_3b36))
    b.add(UseCandidate())
    b.addMessageIntegrity(key: key)
    b.addFingerprint()

    // Verify it as the receiver would.
    let request = try Message(bytes: b.bytes)
    #expect(request.verifyFingerprint() && request.verifyMessageIntegrity(key: key))
    #expect(request.unknownComprehensionRequired.isEmpty)
    #expect(request.contains(.useCandidate))
  }
}
