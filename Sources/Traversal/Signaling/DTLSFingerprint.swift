/// The SHA-256 fingerprint of a DTLS certificate, as a session description carries it
/// (RFC 8122 `a=fingerprint:sha-256 AB:CD:…`, and 32 bytes in natscope's token).
public struct DTLSFingerprint: Hashable, Sendable {
  /// The 32 bytes of the SHA-256 digest of the certificate's DER encoding.
  public let bytes: [UInt8]

  /// A fingerprint from its 32 bytes; nil for any other length.
  public init?(bytes: [UInt8]) {
    guard bytes.count == 32 else { return nil }
    self.bytes = bytes
  }

  /// Parses `AB:CD:…` (32 colon-separated hexadecimal bytes, either case); nil otherwise.
  public init?(text: some StringProtocol) {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 32 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(32)
    for p in parts {
      guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
      out.append(b)
    }
    self.bytes = out
  }

  /// `AB:CD:…`, upper-case hexadecimal, as RFC 8122 writes it.
  public var text: String {
    bytes.map { b in
      let digits = Array("0123456789ABCDEF")
      return String([digits[Int(b >> 4)], digits[Int(b & 0x0f)]])
    }.joined(separator: ":")
  }
}

/// Who starts the DTLS handshake (RFC 8842 `a=setup:`): the active side sends the ClientHello.
public enum DTLSSetupRole: String, Sendable, Hashable, Codable, CaseIterable {
  /// Either: the answerer chooses (an offer's `actpass`).
  case actpass
  /// This side is the DTLS client.
  case active
  /// This side is the DTLS server.
  case passive
}

/// The DTLS parameters a session description carries: the certificate fingerprint and the
/// setup role.
public struct DTLSParameters: Hashable, Sendable {
  /// The SHA-256 fingerprint of the certificate the sender will present.
  public var fingerprint: DTLSFingerprint
  /// The sender's setup role.
  public var setup: DTLSSetupRole

  public init(fingerprint: DTLSFingerprint, setup: DTLSSetupRole) {
    self.fingerprint = fingerprint
    self.setup = setup
  }
}
