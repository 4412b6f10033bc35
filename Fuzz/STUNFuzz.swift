// libFuzzer target for the STUN codec. Not built by SwiftPM: `scripts/fuzz` compiles it together
// with Sources/STUN into one module (so there is no `import STUN`), with
// `-sanitize=fuzzer,address`.
//
// Every parser of outside input runs on each input: STUN decode, every typed attribute getter,
// integrity and fingerprint checks, RFC 7983 demux, ChannelData decode and TCP framing. Beyond
// "never crash", it checks invariants and traps (on purpose) when one breaks:
// - attribute value slices lie inside the message;
// - a typed attribute that decodes re-encodes to something that decodes to an equal value;
// - TCP framing consumes only whole frames that fit the buffer.

/// Traps with a message; fuzzing turns this into a reported crash with the input saved.
func fuzzFail(_ what: String) -> Never {
  print("invariant violated: \(what)")
  fatalError(what)
}

func reencodes<A: STUNAttribute & Equatable>(_ m: Message, _: A.Type) {
  guard let a = try? m.get(A.self) else { return }
  var b = MessageBuilder(type: m.type, transactionID: m.transactionID)
  b.add(a)
  guard let m2 = try? Message(bytes: b.bytes) else {
    fuzzFail("re-encoded \(A.self) does not decode")
  }
  guard let a2 = try? m2.get(A.self), a2 == a else { fuzzFail("\(A.self) does not round-trip") }
}

func fuzzExercise(_ bytes: [UInt8]) {
  _ = PacketKind.classify(bytes)
  _ = PacketKind.classify(bytes.dropFirst())

  if let cd = try? ChannelData(bytes: bytes) {
    guard cd.payload.startIndex >= 4, cd.payload.endIndex <= bytes.count else {
      fuzzFail("ChannelData payload outside the input")
    }
    guard
      (try? ChannelData(bytes: cd.encoded(padded: true)))?.payload.elementsEqual(cd.payload) == true
    else { fuzzFail("ChannelData does not round-trip") }
  }

  if let (frames, consumed) = try? StreamFraming.split(bytes[...]) {
    var expected = 0
    for f in frames {
      guard f.lowerBound == expected, f.upperBound <= bytes.count, !f.isEmpty else {
        fuzzFail("framing produced a bad range")
      }
      expected = f.upperBound
    }
    guard consumed == expected else { fuzzFail("framing consumed count is wrong") }
  }

  guard let m = try? Message(bytes: bytes) else { return }
  _ = m.description
  _ = m.unknownComprehensionRequired
  _ = try? m.validateKnownAttributes()
  for a in m.attributes {
    guard a.offset >= 20, a.value.startIndex == a.offset + 4, a.value.endIndex <= bytes.count else {
      fuzzFail("attribute slice outside the message")
    }
    _ = a.type.description
    _ = m.describe(a)
  }
  let key = IntegrityKey(bytes: [0x6b, 0x65, 0x79])
  _ = m.verifyMessageIntegrity(key: key)
  _ = m.verifyMessageIntegritySHA256(key: key)
  _ = m.verifyFingerprint()

  reencodes(m, MappedAddress.self)
  reencodes(m, XORMappedAddress.self)
  reencodes(m, AlternateServer.self)
  reencodes(m, ResponseOrigin.self)
  reencodes(m, OtherAddress.self)
  reencodes(m, XORPeerAddress.self)
  reencodes(m, XORRelayedAddress.self)
  reencodes(m, Username.self)
  reencodes(m, Realm.self)
  reencodes(m, Nonce.self)
  reencodes(m, Software.self)
  reencodes(m, AlternateDomain.self)
  reencodes(m, Userhash.self)
  reencodes(m, MessageIntegrity.self)
  reencodes(m, MessageIntegritySHA256.self)
  reencodes(m, Fingerprint.self)
  reencodes(m, ErrorCodeAttribute.self)
  reencodes(m, UnknownAttributes.self)
  reencodes(m, PasswordAlgorithms.self)
  reencodes(m, PasswordAlgorithmAttribute.self)
  reencodes(m, ChangeRequest.self)
  reencodes(m, ResponsePort.self)
  reencodes(m, Padding.self)
  reencodes(m, Priority.self)
  reencodes(m, UseCandidate.self)
  reencodes(m, ICEControlled.self)
  reencodes(m, ICEControlling.self)
  reencodes(m, ChannelNumber.self)
  reencodes(m, Lifetime.self)
  reencodes(m, DataAttribute.self)
  reencodes(m, RequestedAddressFamily.self)
  reencodes(m, EvenPort.self)
  reencodes(m, RequestedTransport.self)
  reencodes(m, DontFragment.self)
  reencodes(m, ReservationToken.self)
  reencodes(m, AdditionalAddressFamily.self)
  reencodes(m, AddressErrorCode.self)
  reencodes(m, ICMPAttribute.self)
  _ = try? m.getAll(XORPeerAddress.self)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func stunFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size > 0 else {
    fuzzExercise([])
    return 0
  }
  fuzzExercise(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
