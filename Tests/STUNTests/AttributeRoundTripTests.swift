import STUN
import Testing

/// Encodes `attribute` into a message, decodes it back, and re-encodes the decoded value.
func checkRoundTrip<A: STUNAttribute & Equatable>(
  _ attribute: A, transactionID: TransactionID = TransactionID(high: 0x0102_0304_0506_0708, low: 9),
  sourceLocation: SourceLocation = #_sourceLocation
) {
  var b = MessageBuilder(type: .bindingRequest, transactionID: transactionID)
  b.add(attribute)
  let m: Message
  do { m = try Message(bytes: b.bytes) } catch {
    Issue.record("decode failed: \(error)", sourceLocation: sourceLocation)
    return
  }
  let decoded: A?
  do { decoded = try m.get(A.self) } catch {
    Issue.record("attribute decode failed: \(error)", sourceLocation: sourceLocation)
    return
  }
  #expect(decoded == attribute, sourceLocation: sourceLocation)
  guard let decoded else { return }
  // decode → encode gives identical value bytes and an identical message.
  var value: [UInt8] = []
  decoded.encodeValue(into: &value, transactionID: transactionID)
  #expect(m.attribute(A.attributeType).map(Array.init) == value, sourceLocation: sourceLocation)
  var again = MessageBuilder(type: .bindingRequest, transactionID: transactionID)
  again.add(decoded)
  #expect(again.bytes == b.bytes, sourceLocation: sourceLocation)
  #expect(m.unknownComprehensionRequired.isEmpty, sourceLocation: sourceLocation)
  #expect(throws: Never.self, sourceLocation: sourceLocation) { try m.validateKnownAttributes() }
}

@Suite struct AttributeRoundTripTests {
  let v4 = TransportAddress(ip: .v4(0xC000_0201), port: 32853)
  let v6 = TransportAddress(ip: .v6(0x2001_0db8_1234_5678, 0x0011_2233_4455_6677), port: 1)

  @Test func addresses() {
    for a in [v4, v6] {
      checkRoundTrip(MappedAddress(a))
      checkRoundTrip(XORMappedAddress(a))
      checkRoundTrip(AlternateServer(a))
      checkRoundTrip(ResponseOrigin(a))
      checkRoundTrip(OtherAddress(a))
      checkRoundTrip(XORPeerAddress(a))
      checkRoundTrip(XORRelayedAddress(a))
    }
  }

  @Test func text() {
    for s in ["", "a", "evtj:h6vY", "マトリックス", String(repeating: "x", count: 255)] {
      checkRoundTrip(Username(s))
      checkRoundTrip(Realm(s))
      checkRoundTrip(Nonce(s))
      checkRoundTrip(Software(s))
      checkRoundTrip(AlternateDomain(s))
    }
  }

  @Test func credentials() {
    checkRoundTrip(Userhash(hash: Array(0..<32)))
    checkRoundTrip(MessageIntegrity(hmac: Array(100..<120)))
    checkRoundTrip(MessageIntegritySHA256(hmac: Array(0..<32)))
    checkRoundTrip(MessageIntegritySHA256(hmac: Array(0..<16)))
    checkRoundTrip(Fingerprint(0xDEAD_BEEF))
    for code: ErrorCode in [
      .tryAlternate, .badRequest, .unauthenticated, .staleNonce, .serverError,
    ] {
      checkRoundTrip(ErrorCodeAttribute(code))
    }
    checkRoundTrip(ErrorCodeAttribute(ErrorCode(699), reason: ""))
    checkRoundTrip(UnknownAttributes([]))
    checkRoundTrip(UnknownAttributes([AttributeType(0x7777)]))
    checkRoundTrip(UnknownAttributes([.priority, AttributeType(0x1234), .realm]))
    checkRoundTrip(PasswordAlgorithms([.init(.md5), .init(.sha256)]))
    checkRoundTrip(
      PasswordAlgorithms([.init(PasswordAlgorithm(rawValue: 9), parameters: [1, 2, 3])]))
    checkRoundTrip(PasswordAlgorithmAttribute(.sha256))
    checkRoundTrip(PasswordAlgorithmAttribute(.md5, parameters: [1, 2, 3, 4, 5]))
  }

  @Test func natBehaviorAndICE() {
    for (ip, port) in [(false, false), (true, false), (false, true), (true, true)] {
      checkRoundTrip(ChangeRequest(changeIP: ip, changePort: port))
    }
    checkRoundTrip(ResponsePort(3479))
    checkRoundTrip(Padding(count: 0))
    checkRoundTrip(Padding(bytes: [1, 2, 3, 4, 5]))
    checkRoundTrip(Priority(0x6e00_01ff))
    checkRoundTrip(UseCandidate())
    checkRoundTrip(ICEControlled(.max))
    checkRoundTrip(ICEControlling(0))
  }

  @Test func turn() {
    checkRoundTrip(ChannelNumber(0x4000))
    checkRoundTrip(Lifetime(seconds: 600))
    checkRoundTrip(DataAttribute([]))
    checkRoundTrip(DataAttribute(Array(0..<7)))
    checkRoundTrip(RequestedAddressFamily(.ipv4))
    checkRoundTrip(RequestedAddressFamily(.ipv6))
    checkRoundTrip(AdditionalAddressFamily(.ipv6))
    checkRoundTrip(EvenPort(reserveNextPort: true))
    checkRoundTrip(EvenPort(reserveNextPort: false))
    checkRoundTrip(RequestedTransport.udp)
    checkRoundTrip(DontFragment())
    checkRoundTrip(ReservationToken(0x0102_0304_0506_0708))
    checkRoundTrip(AddressErrorCode(family: .ipv6, code: .addressFamilyNotSupported))
    checkRoundTrip(ICMPAttribute(type: 3, code: 4, errorData: 1400))
  }

  @Test func severalPeerAddressesInOrder() throws {
    let tid = TransactionID(high: 1, low: 2)
    var b = MessageBuilder(
      type: MessageType(method: .createPermission, class: .request), transactionID: tid)
    b.add(XORPeerAddress(v4))
    b.add(XORPeerAddress(v6))
    let m = try Message(bytes: b.bytes)
    #expect(try m.getAll(XORPeerAddress.self) == [XORPeerAddress(v4), XORPeerAddress(v6)])
  }

  @Test func everyKnownTypeHasADecoder() throws {
    // A zero-length value is invalid for most known attributes; validateKnownAttributes must
    // notice, which shows the type is wired to a decoder.
    let lenient: Set<AttributeType> = [
      .username, .realm, .nonce, .software, .alternateDomain, .padding, .data, .useCandidate,
      .dontFragment, .unknownAttributes, .passwordAlgorithms,
    ]
    for raw in UInt16(0)...0xFFFF {
      let t = AttributeType(raw)
      guard t.knownName != nil, !lenient.contains(t) else { continue }
      var b = MessageBuilder(type: .bindingRequest, transactionID: TransactionID(high: 0, low: 0))
      b.add(type: t, value: [])
      let m = try Message(bytes: b.bytes)
      #expect(throws: STUNError.self, "\(t)") { try m.validateKnownAttributes() }
    }
  }
}
