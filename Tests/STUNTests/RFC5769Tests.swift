import STUN
import Testing

@Suite struct RFC5769Tests {
  let shortTerm = IntegrityKey(bytes: Array(Vectors.shortTermPassword.utf8))

  @Test func vectorsAreTypedCorrectly() {
    #expect(Vectors.request.count == 108)
    #expect(Vectors.ipv4Response.count == 80)
    #expect(Vectors.ipv6Response.count == 92)
    #expect(Vectors.longTermRequest.count == 116)
  }

  @Test func sampleRequest() throws {
    let m = try Message(bytes: Vectors.request)
    #expect(m.type == .bindingRequest)
    #expect(m.transactionID == Vectors.transactionID)
    #expect(try m.get(Software.self) == Software("STUN test client"))
    #expect(try m.get(Priority.self) == Priority(0x6e00_01ff))
    #expect(try m.get(ICEControlled.self) == ICEControlled(0x932f_f9b1_5126_3b36))
    #expect(try m.get(Username.self) == Username("evtj:h6vY"))
    #expect(m.verifyMessageIntegrity(key: shortTerm))
    #expect(try m.verifyMessageIntegrity(key: .shortTerm(password: Vectors.shortTermPassword)))
    #expect(!m.verifyMessageIntegrity(key: IntegrityKey(bytes: Array("wrong".utf8))))
    #expect(m.verifyFingerprint())
    #expect(m.unknownComprehensionRequired.isEmpty)

    var b = MessageBuilder(type: .bindingRequest, transactionID: m.transactionID)
    b.paddingByte = 0x20
    b.add(Software("STUN test client"))
    b.add(Priority(0x6e00_01ff))
    b.add(ICEControlled(0x932f_f9b1_5126_3b36))
    b.add(Username("evtj:h6vY"))
    b.addMessageIntegrity(key: shortTerm)
    b.addFingerprint()
    #expect(b.bytes == Vectors.request)
  }

  @Test func sampleIPv4Response() throws {
    let m = try Message(bytes: Vectors.ipv4Response)
    #expect(m.type == .bindingSuccess)
    let mapped = try m.get(XORMappedAddress.self)
    #expect(mapped?.address == TransportAddress("192.0.2.1:32853"))
    #expect(m.verifyMessageIntegrity(key: shortTerm))
    #expect(m.verifyFingerprint())

    var b = MessageBuilder(type: .bindingSuccess, transactionID: m.transactionID)
    b.paddingByte = 0x20
    b.add(Software("test vector"))
    if let mapped { b.add(mapped) }
    b.addMessageIntegrity(key: shortTerm)
    b.addFingerprint()
    #expect(b.bytes == Vectors.ipv4Response)
  }

  @Test func sampleIPv6Response() throws {
    let m = try Message(bytes: Vectors.ipv6Response)
    let mapped = try m.get(XORMappedAddress.self)
    #expect(mapped?.address == TransportAddress("[2001:db8:1234:5678:11:2233:4455:6677]:32853"))
    #expect(m.verifyMessageIntegrity(key: shortTerm))
    #expect(m.verifyFingerprint())

    var b = MessageBuilder(type: .bindingSuccess, transactionID: m.transactionID)
    b.paddingByte = 0x20
    b.add(Software("test vector"))
    if let mapped { b.add(mapped) }
    b.addMessageIntegrity(key: shortTerm)
    b.addFingerprint()
    #expect(b.bytes == Vectors.ipv6Response)
  }

  @Test func sampleLongTermRequest() throws {
    let m = try Message(bytes: Vectors.longTermRequest)
    #expect(try m.get(Username.self)?.text == Vectors.longTermUsername)
    #expect(try m.get(Nonce.self)?.text == Vectors.longTermNonce)
    #expect(try m.get(Realm.self)?.text == Vectors.longTermRealm)
    #expect(!m.hasFingerprint)
    #expect(!m.verifyFingerprint())
    let key = try IntegrityKey.longTerm(
      username: Vectors.longTermUsername, realm: Vectors.longTermRealm,
      password: Vectors.longTermPassword)
    #expect(m.verifyMessageIntegrity(key: key))
    let wrong = try IntegrityKey.longTerm(
      username: Vectors.longTermUsername, realm: Vectors.longTermRealm, password: "thematrix")
    #expect(!m.verifyMessageIntegrity(key: wrong))

    var b = MessageBuilder(type: .bindingRequest, transactionID: m.transactionID)
    b.add(Username(Vectors.longTermUsername))
    b.add(Nonce(Vectors.longTermNonce))
    b.add(Realm(Vectors.longTermRealm))
    b.addMessageIntegrity(key: key)
    #expect(b.bytes == Vectors.longTermRequest)
  }
}

@Suite struct DescriptionTests {
  @Test func describesAttributesAndErrors() throws {
    let m = try Message(bytes: Vectors.ipv4Response)
    #expect(
      m.attributes.map { m.describe($0) } == [
        "SOFTWARE \"test vector\"", "XOR-MAPPED-ADDRESS 192.0.2.1:32853",
        "MESSAGE-INTEGRITY (20 bytes)", "FINGERPRINT 0xc07d4c96",
      ])
    #expect(m.description == "Binding success response b7e7a701bc34d686fa87dfae, 4 attributes")
    let e = STUNError(.badValueLength(7), at: 40, in: .xorMappedAddress)
    #expect(
      e.description
        == "Malformed STUN at byte 40 in XOR-MAPPED-ADDRESS (0x0020): the value is 7 bytes long, which this attribute does not allow."
    )
  }
}
