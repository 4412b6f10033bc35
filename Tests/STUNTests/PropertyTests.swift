import PropertyBased
import STUN
import Testing

/// Touches everything a receiver might call on arbitrary input; must never trap.
func exercise(_ bytes: [UInt8]) {
  _ = PacketKind.classify(bytes)
  _ = try? ChannelData(bytes: bytes)
  _ = try? StreamFraming.split(bytes[...])
  guard let m = try? Message(bytes: bytes) else { return }
  _ = m.description
  _ = m.unknownComprehensionRequired
  _ = try? m.validateKnownAttributes()
  for a in m.attributes { _ = m.describe(a) }
  _ = try? m.get(XORMappedAddress.self)
  _ = try? m.getAll(XORPeerAddress.self)
  let key = IntegrityKey(bytes: [1, 2, 3])
  _ = m.verifyMessageIntegrity(key: key)
  _ = m.verifyMessageIntegritySHA256(key: key)
  _ = m.verifyFingerprint()
}

@Suite struct PropertyTests {
  static let address = zip(Gen.bool, Gen.uint32(), Gen.uint64(), Gen.uint64(), Gen.uint16()).map {
    isV4, a, hi, lo, port in
    TransportAddress(ip: isV4 ? .v4(a) : .v6(hi, lo), port: port)
  }
  static let transactionID = zip(Gen.uint64(), Gen.uint32()).map {
    TransactionID(high: $0, low: $1)
  }
  static let text = Gen.unicodeScalar(in: "\u{0}"..."\u{2FFF}").array(of: 0...60).map {
    String(String.UnicodeScalarView($0))
  }

  @Test func xorMappedAddressRoundTrips() async {
    await propertyCheck(input: Self.address, Self.transactionID) { address, tid in
      checkRoundTrip(XORMappedAddress(address), transactionID: tid)
      checkRoundTrip(XORPeerAddress(address), transactionID: tid)
      checkRoundTrip(MappedAddress(address), transactionID: tid)
    }
  }

  @Test func errorCodeRoundTrips() async {
    await propertyCheck(input: Gen.uint16(in: 300...699), Self.text) { code, reason in
      checkRoundTrip(ErrorCodeAttribute(ErrorCode(code), reason: reason))
    }
  }

  @Test func usernameRoundTrips() async {
    await propertyCheck(input: Self.text, Self.transactionID) { name, tid in
      checkRoundTrip(Username(name), transactionID: tid)
      checkRoundTrip(Software(name), transactionID: tid)
    }
  }

  @Test func signedMessagesVerify() async {
    await propertyCheck(
      input: Self.transactionID, Gen.uint8().array(of: 1...64), Gen.uint8().array(of: 0...40)
    ) { tid, keyBytes, data in
      let key = IntegrityKey(bytes: keyBytes)
      var b = MessageBuilder(
        type: MessageType(method: .send, class: .indication), transactionID: tid)
      b.add(DataAttribute(data))
      b.addMessageIntegrity(key: key)
      b.addMessageIntegritySHA256(key: key)
      b.addFingerprint()
      let m = try? Message(bytes: b.bytes)
      #expect(m?.verifyMessageIntegrity(key: key) == true)
      #expect(m?.verifyMessageIntegritySHA256(key: key) == true)
      #expect(m?.verifyFingerprint() == true)
      #expect((try? m?.get(DataAttribute.self))??.bytes == data)
    }
  }

  @Test func randomBytesNeverTrap() async {
    await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...120)) { bytes in
      exercise(bytes)
    }
  }

  @Test func randomAttributesBehindAValidHeaderNeverTrap() async {
    await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...30), Self.transactionID) {
      words, tid in
      // A valid header and a body of random 4-byte words: the decoder reaches the TLV checks.
      var body: [UInt8] = []
      for w in words { body += [w & 0x80, w, 0, w & 0x0F] }
      var b = MessageBuilder(type: .bindingSuccess, transactionID: tid)
      b.add(type: AttributeType(0x8888), value: [])
      var bytes = Array(b.bytes.prefix(20))
      bytes[2] = UInt8(body.count >> 8)
      bytes[3] = UInt8(body.count & 0xFF)
      exercise(bytes + body)
    }
  }

  @Test func bitFlipsOfVectorsNeverTrap() async {
    await propertyCheck(
      count: 2000, input: Gen.int(in: 0...3), Gen.int(in: 0...115), Gen.uint8(in: 1...255)
    ) { which, index, mask in
      var v = Vectors.all[which]
      v[index % v.count] ^= mask
      exercise(v)
    }
  }
}
