import Crypto

/// A key for MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 (RFC 8489 §9).
///
/// Build one with ``shortTerm(password:)`` or ``longTerm(username:realm:password:algorithm:)``,
/// or from raw bytes. The key is prepared once, so verifying many messages with it is cheap.
public struct IntegrityKey: Hashable, @unchecked Sendable {
  // @unchecked: the prepared hash states are swift-crypto values (copy-on-write around a context
  // object) that are never mutated in place here; swift-crypto does not mark them Sendable.
  /// The raw key bytes.
  public let bytes: [UInt8]
  let hmacSHA1: PreparedHMAC<Insecure.SHA1>
  let hmacSHA256: PreparedHMAC<SHA256>

  /// A key made of exactly these bytes.
  public init(bytes: [UInt8]) {
    self.bytes = bytes
    self.hmacSHA1 = PreparedHMAC(key: bytes)
    self.hmacSHA256 = PreparedHMAC(key: bytes)
  }

  public static func == (a: IntegrityKey, b: IntegrityKey) -> Bool { a.bytes == b.bytes }
  public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

  /// HMAC-SHA1 of `data` with this key (for tests and diagnostics).
  func hmacSHA1(_ data: [UInt8]) -> [UInt8] {
    data.withUnsafeBytes { Array(hmacSHA1.mac(header: nil, body: $0)) }
  }

  /// HMAC-SHA256 of `data` with this key (for tests and diagnostics).
  func hmacSHA256(_ data: [UInt8]) -> [UInt8] {
    data.withUnsafeBytes { Array(hmacSHA256.mac(header: nil, body: $0)) }
  }
}

/// HMAC (RFC 2104) over a swift-crypto hash function, with the key's inner and outer pads
/// absorbed once.
///
/// swift-crypto's own `HMAC` computes the same thing, but it only accepts input through a generic
/// `DataProtocol` entry point that is not specialised across modules and costs more than the
/// hashing itself on STUN-sized messages; this type drives the hash functions' public
/// `update(bufferPointer:)` directly. Checked against RFC 2202 / RFC 4231 vectors in the tests.
struct PreparedHMAC<H: HashFunction> {
  let inner: H
  let outer: H

  init(key: [UInt8]) {
    var k = key
    if k.count > H.blockByteCount {
      var h = H()
      k.withUnsafeBytes { h.update(bufferPointer: $0) }
      k = h.finalize().withUnsafeBytes { Array($0) }
    }
    k += [UInt8](repeating: 0, count: H.blockByteCount - k.count)
    var i = H()
    var o = H()
    k.map { $0 ^ 0x36 }.withUnsafeBytes { i.update(bufferPointer: $0) }
    k.map { $0 ^ 0x5C }.withUnsafeBytes { o.update(bufferPointer: $0) }
    self.inner = i
    self.outer = o
  }

  /// The MAC of `header` (if any) followed by `body`.
  @inline(__always)
  func mac(header: UnsafeRawBufferPointer?, body: UnsafeRawBufferPointer) -> H.Digest {
    var i = inner
    if let header { i.update(bufferPointer: header) }
    i.update(bufferPointer: body)
    let innerDigest = i.finalize()
    var o = outer
    innerDigest.withUnsafeBytes { o.update(bufferPointer: $0) }
    return o.finalize()
  }
}

/// Incremental HMAC over a message prefix whose length field is replaced.
enum IntegrityMath {
  /// HMAC over `bytes[0..<end]` with the header's length field read as `length`.
  @inline(__always)
  static func mac<H: HashFunction>(
    _ keyed: PreparedHMAC<H>, _ bytes: [UInt8], end: Int, length: Int
  ) -> H.Digest {
    let header: (UInt8, UInt8, UInt8, UInt8) = (
      bytes[0], bytes[1], UInt8(truncatingIfNeeded: length >> 8),
      UInt8(truncatingIfNeeded: length)
    )
    return withUnsafeBytes(of: header) { h in
      bytes.withUnsafeBytes { raw in
        keyed.mac(header: h, body: UnsafeRawBufferPointer(rebasing: raw[4..<end]))
      }
    }
  }

  /// Compares the first `count` bytes of `mac` with `bytes[at..<at+count]` in constant time.
  @inline(__always)
  static func equal<D: Digest>(_ mac: D, _ bytes: [UInt8], at: Int, count: Int) -> Bool {
    mac.withUnsafeBytes { m -> Bool in
      guard count <= m.count, at >= 0, at + count <= bytes.count else { return false }
      var diff: UInt8 = 0
      for k in 0..<count { diff |= m[k] ^ bytes[at + k] }
      return diff == 0
    }
  }

  /// CRC-32 XOR 0x5354554E over `bytes[0..<end]` with the length field read as `length`.
  static func fingerprint(_ bytes: [UInt8], end: Int, length: Int) -> UInt32 {
    let header: (UInt8, UInt8, UInt8, UInt8) = (
      bytes[0], bytes[1], UInt8(truncatingIfNeeded: length >> 8),
      UInt8(truncatingIfNeeded: length)
    )
    var c: UInt32 = 0xFFFF_FFFF
    withUnsafeBytes(of: header) { c = CRC32.update(c, $0) }
    bytes.withUnsafeBytes { raw in
      c = CRC32.update(c, UnsafeRawBufferPointer(rebasing: raw[4..<end]))
    }
    return ~c ^ 0x5354_554E
  }
}

extension Message {
  /// True when MESSAGE-INTEGRITY is present and is the HMAC-SHA1 of the message up to it, with
  /// the length field counting through it (RFC 8489 §14.5). The comparison is constant-time.
  public func verifyMessageIntegrity(key: IntegrityKey) -> Bool {
    let o = integrityOffset
    guard o >= 0, bytes.be16(at: o + 2) == 20 else { return false }
    let mac = IntegrityMath.mac(key.hmacSHA1, bytes, end: o, length: o + 24 - 20)
    return IntegrityMath.equal(mac, bytes, at: o + 4, count: 20)
  }

  /// True when MESSAGE-INTEGRITY-SHA256 is present (16–32 bytes, a multiple of 4) and matches the
  /// (possibly truncated) HMAC-SHA256 of the message up to it (RFC 8489 §14.6).
  public func verifyMessageIntegritySHA256(key: IntegrityKey) -> Bool {
    let o = integritySHA256Offset
    guard o >= 0 else { return false }
    let l = Int(bytes.be16(at: o + 2))
    guard l >= 16, l <= 32, l & 3 == 0 else { return false }
    let mac = IntegrityMath.mac(key.hmacSHA256, bytes, end: o, length: o + 4 + l - 20)
    return IntegrityMath.equal(mac, bytes, at: o + 4, count: l)
  }

  /// True when FINGERPRINT is present, is the last attribute, and matches (RFC 8489 §14.7).
  public func verifyFingerprint() -> Bool {
    let o = fingerprintOffset
    guard o >= 0, o + 8 == bytes.count, bytes.be16(at: o + 2) == 4 else { return false }
    return IntegrityMath.fingerprint(bytes, end: o, length: o + 8 - 20) == bytes.be32(at: o + 4)
  }

  /// True when the message carries MESSAGE-INTEGRITY.
  public var hasMessageIntegrity: Bool { integrityOffset >= 0 }
  /// True when the message carries MESSAGE-INTEGRITY-SHA256.
  public var hasMessageIntegritySHA256: Bool { integritySHA256Offset >= 0 }
  /// True when the message carries FINGERPRINT.
  public var hasFingerprint: Bool { fingerprintOffset >= 0 }
}

/// MESSAGE-INTEGRITY (0x0008): a 20-byte HMAC-SHA1. Add it with
/// ``MessageBuilder/addMessageIntegrity(key:)``; check it with ``Message/verifyMessageIntegrity(key:)``.
public struct MessageIntegrity: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.messageIntegrity
  public var hmac: [UInt8]
  public init(hmac: [UInt8]) { self.hmac = hmac }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 20)
    self.hmac = Array(value)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: hmac)
  }
}

/// MESSAGE-INTEGRITY-SHA256 (0x001C): an HMAC-SHA256, possibly truncated to 16–28 bytes.
public struct MessageIntegritySHA256: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.messageIntegritySHA256
  public var hmac: [UInt8]
  public init(hmac: [UInt8]) { self.hmac = hmac }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    guard value.count >= 16, value.count <= 32, value.count & 3 == 0 else {
      throw Self.badLength(value)
    }
    self.hmac = Array(value)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: hmac)
  }
}

/// FINGERPRINT (0x8028): CRC-32 of the message up to it, XOR 0x5354554E.
public struct Fingerprint: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.fingerprint
  public var value: UInt32
  public init(_ value: UInt32) { self.value = value }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    self.value = value.be32(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE32(value)
  }
}

/// A key is a secret: printing, dumping or interpolating one never shows its bytes, so it
/// cannot leak into logs or reports by accident.
extension IntegrityKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  public var description: String { "IntegrityKey(\(bytes.count) bytes, redacted)" }
  public var debugDescription: String { description }
  public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
