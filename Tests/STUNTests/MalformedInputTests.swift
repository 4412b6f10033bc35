import STUN
import Testing

/// Decodes `bytes` and returns the error, or nil when it decoded.
func decodeError(_ bytes: [UInt8]) -> STUNError? {
  do {
    _ = try Message(bytes: bytes)
    return nil
  } catch { return error }
}

@Suite struct MalformedInputTests {
  let key = IntegrityKey(bytes: Array(Vectors.shortTermPassword.utf8))

  @Test func everyTruncationIsRejected() {
    for vector in Vectors.all {
      for n in 0..<vector.count {
        let e = decodeError(Array(vector.prefix(n)))
        #expect(e != nil, "prefix of \(n) bytes decoded")
        if let e { #expect(e.description.hasPrefix("Malformed STUN at byte ")) }
      }
    }
  }

  @Test func shortHeader() {
    #expect(decodeError([0, 1, 0]) == STUNError(.truncated(needed: 20, available: 3), at: 0))
  }

  @Test func wrongCookie() {
    var b = Vectors.request
    b[5] = 0x13
    #expect(decodeError(b) == STUNError(.badMagicCookie(0x2113_A442), at: 4))
  }

  @Test func topBitsSet() {
    var b = Vectors.request
    b[0] |= 0x40
    #expect(decodeError(b) == STUNError(.notSTUN, at: 0))
  }

  @Test func lengthNotMultipleOfFour() {
    var b = Vectors.request
    b[3] = 0x59
    #expect(decodeError(b) == STUNError(.lengthNotMultipleOfFour(0x59), at: 2))
  }

  @Test func lengthDisagreesWithDatagram() {
    #expect(
      decodeError(Vectors.request + [0, 0, 0, 0])
        == STUNError(.lengthMismatch(declared: 0x58, actual: 0x5C), at: 2))
  }

  @Test func attributeOverrunningTheMessage() {
    var b = Vectors.request
    b[22] = 0x01  // SOFTWARE length 0x0110
    let e = decodeError(b)
    #expect(
      e == STUNError(.attributeOverrun(valueLength: 0x110, remaining: 0x54), at: 22, in: .software))
    #expect(e?.description.contains("SOFTWARE (0x8022)") == true)
  }

  @Test func badAttributeLengthShiftsTheTLVs() {
    var b = Vectors.request
    b[23] = 0x11  // SOFTWARE 17 bytes, padded to 20: the next header is misread
    #expect(decodeError(b) != nil)
  }

  @Test func missingPaddingIsRejected() {
    // A 5-byte USERNAME with the message ending right after its value (no padding).
    var bytes: [UInt8] =
      [0x00, 0x01, 0x00, 0x0C, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
    bytes += [0x00, 0x06, 0x00, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65, 0x00, 0x00, 0x00]
    #expect(decodeError(bytes) == nil)
    bytes[3] = 0x08
    bytes.removeLast(4)
    #expect(
      decodeError(bytes)
        == STUNError(.attributeOverrun(valueLength: 5, remaining: 4), at: 22, in: .username))
  }

  @Test func malformedValueNamesAttributeAndOffset() throws {
    var b = Vectors.ipv4Response
    b[41] = 0x03  // XOR-MAPPED-ADDRESS family (value starts at 40)
    let m = try Message(bytes: b)
    #expect(throws: STUNError(.unknownAddressFamily(3), at: 41, in: .xorMappedAddress)) {
      try m.get(XORMappedAddress.self)
    }
    #expect(throws: STUNError.self) { try m.validateKnownAttributes() }
    var c = Vectors.ipv4Response
    c[39] = 0x07  // XOR-MAPPED-ADDRESS length 7 (padded to 8: structure still valid)
    let m2 = try Message(bytes: c)
    #expect(throws: STUNError(.badValueLength(7), at: 40, in: .xorMappedAddress)) {
      try m2.get(XORMappedAddress.self)
    }
  }

  @Test func invalidUTF8IsAnError() throws {
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 0, low: 0))
    b.add(type: .software, value: [0xFF, 0xFE])
    let m = try Message(bytes: b.bytes)
    #expect(throws: STUNError(.invalidUTF8, at: 24, in: .software)) { try m.get(Software.self) }
  }

  @Test func oneTamperedByteFailsIntegrity() {
    for vector in [Vectors.request, Vectors.ipv4Response, Vectors.ipv6Response] {
      guard let m = try? Message(bytes: vector) else {
        Issue.record("vector does not decode")
        continue
      }
      let miEnd = vector.count - 8
      #expect(m.verifyMessageIntegrity(key: key))
      for i in 0..<miEnd where i != 2 && i != 3 {
        var t = vector
        t[i] ^= 0x01
        let ok = (try? Message(bytes: t))?.verifyMessageIntegrity(key: key) ?? false
        #expect(!ok, "byte \(i) flipped but integrity still verifies")
      }
    }
  }

  @Test func fingerprintMismatch() throws {
    for vector in [Vectors.request, Vectors.ipv4Response, Vectors.ipv6Response] {
      for i in [0, 1, 8, 19, 20, vector.count - 1] {
        var t = vector
        t[i] ^= 0x80
        let ok = (try? Message(bytes: t))?.verifyFingerprint() ?? false
        #expect(!ok, "byte \(i) flipped but the fingerprint still verifies")
      }
    }
  }

  @Test func attributesAfterIntegrityAreIgnored() throws {
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 1))
    b.add(Priority(1))
    b.addMessageIntegrity(key: key)
    b.add(Software("sneaky"))
    b.add(Priority(2))
    let m = try Message(bytes: b.bytes)
    #expect(m.verifyMessageIntegrity(key: key))
    #expect(try m.get(Software.self) == nil)
    #expect(try m.get(Priority.self) == Priority(1))
    #expect(m.attributes.map(\.type) == [.priority, .messageIntegrity])
  }

  @Test func integritySHA256AndFingerprintAfterIntegrity() throws {
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 1))
    b.add(Username("user"))
    b.addMessageIntegrity(key: key)
    b.addMessageIntegritySHA256(key: key)
    b.addFingerprint()
    let m = try Message(bytes: b.bytes)
    #expect(m.verifyMessageIntegrity(key: key))
    #expect(m.verifyMessageIntegritySHA256(key: key))
    #expect(m.verifyFingerprint())
    #expect(
      m.attributes.map(\.type) == [
        .username, .messageIntegrity, .messageIntegritySHA256, .fingerprint,
      ])
    var t = b.bytes
    t[25] ^= 1
    #expect(!((try? Message(bytes: t))?.verifyMessageIntegritySHA256(key: key) ?? true))

    var c = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 1))
    c.addMessageIntegritySHA256(key: key, length: 16)
    let m2 = try Message(bytes: c.bytes)
    #expect(m2.attribute(.messageIntegritySHA256)?.count == 16)
    #expect(m2.verifyMessageIntegritySHA256(key: key))
    #expect(!m2.verifyMessageIntegrity(key: key))
  }

  @Test func unknownComprehensionRequiredAreListed() throws {
    var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 1, low: 1))
    b.add(type: AttributeType(0x7777), value: [1])
    b.add(type: AttributeType(0xC001), value: [2])
    b.add(type: AttributeType(0x7777), value: [3])
    b.add(type: AttributeType(0x002F), value: [])
    let m = try Message(bytes: b.bytes)
    #expect(m.unknownComprehensionRequired == [AttributeType(0x7777), AttributeType(0x002F)])
    #expect(
      m.attribute(AttributeType(0xC001)) == [2][...]
        || m.attribute(AttributeType(0xC001)).map(Array.init) == [2])
    var r = MessageBuilder(type: .bindingError, transactionID: m.transactionID)
    r.add(ErrorCodeAttribute(.unknownAttribute))
    r.add(UnknownAttributes(m.unknownComprehensionRequired))
    let response = try Message(bytes: r.bytes)
    #expect(try response.get(ErrorCodeAttribute.self)?.code == .unknownAttribute)
    #expect(
      try response.get(UnknownAttributes.self)?.types == [
        AttributeType(0x7777), AttributeType(0x002F),
      ])
  }
}
