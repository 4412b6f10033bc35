import STUN
import Testing

@Suite struct MessageTypeTests {
  @Test func knownRawValues() {
    #expect(MessageType.bindingRequest.rawValue == 0x0001)
    #expect(MessageType.bindingSuccess.rawValue == 0x0101)
    #expect(MessageType.bindingError.rawValue == 0x0111)
    #expect(MessageType.bindingIndication.rawValue == 0x0011)
    #expect(MessageType(method: .allocate, class: .errorResponse).rawValue == 0x0113)
    #expect(MessageType(method: .send, class: .indication).rawValue == 0x0016)
    #expect(MessageType(method: .data, class: .indication).rawValue == 0x0017)
    #expect(MessageType(method: Method(rawValue: 0xFFF), class: .errorResponse).rawValue == 0x3FFF)
  }

  @Test func everyFourteenBitTypeRoundTrips() {
    for raw in UInt16(0)...0x3FFF {
      #expect(MessageType(rawValue: raw).rawValue == raw)
    }
  }

  @Test func names() {
    #expect(MessageType.bindingSuccess.description == "Binding success response")
    #expect(AttributeType.xorMappedAddress.description == "XOR-MAPPED-ADDRESS (0x0020)")
    #expect(AttributeType(0xC001).name == "0xc001")
    #expect(!AttributeType(0xC001).isComprehensionRequired)
    #expect(AttributeType(0x7FFF).isComprehensionRequired)
    #expect(ErrorCode.staleNonce.description == "438 Stale Nonce")
    #expect(ErrorCode.insufficientCapacity.reasonPhrase == "Insufficient Capacity")
    #expect(Method(rawValue: 0x0AB).name == "0x0ab")
  }
}
