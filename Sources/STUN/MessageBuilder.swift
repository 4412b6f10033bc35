import Crypto

/// Builds one STUN message into a single buffer reserved up front.
///
/// ```swift
/// var b = MessageBuilder(type: .bindingRequest, transactionID: .random())
/// b.add(Username("evtj:h6vY"))
/// b.addMessageIntegrity(key: key)
/// b.addFingerprint()
/// send(b.bytes)
/// ```
///
/// The header's length field is kept current after every attribute, so MESSAGE-INTEGRITY and
/// FINGERPRINT cover exactly what RFC 8489 §14.5–14.7 say. A single attribute value longer than
/// 65535 bytes, or a message longer than 65535 bytes after the header, cannot be represented: the
/// length fields would wrap, so keep values within the RFC limits.
public struct MessageBuilder: Sendable {
  /// The message so far: always a complete, valid STUN message.
  public private(set) var bytes: [UInt8]
  /// The transaction ID in the header (XOR addresses use it).
  public let transactionID: TransactionID
  /// The byte used to pad attribute values to a multiple of 4 (0 by default; RFC 8489 lets the
  /// sender choose, RFC 5769's vectors use 0x20 in places).
  public var paddingByte: UInt8 = 0

  /// Starts a message with an empty attribute list.
  public init(type: MessageType, transactionID: TransactionID, capacity: Int = 256) {
    var b: [UInt8] = []
    b.reserveCapacity(max(capacity, 20))
    b.appendBE16(type.rawValue & 0x3FFF)
    b.appendBE16(0)
    b.appendBE32(stunMagicCookie)
    b.appendBE64(transactionID.high)
    b.appendBE32(transactionID.low)
    self.bytes = b
    self.transactionID = transactionID
  }

  /// Sets the header length to the current body length plus `extra` bytes.
  @inline(__always)
  mutating func setLength(extra: Int = 0) {
    bytes.setBE16(UInt16(truncatingIfNeeded: bytes.count - 20 + extra), at: 2)
  }

  /// Pads the value that started at `valueStart` and finishes its header.
  @inline(__always)
  mutating func finishAttribute(headerAt start: Int) {
    let length = bytes.count - start - 4
    bytes.setBE16(UInt16(truncatingIfNeeded: length), at: start + 2)
    var pad = (4 - length & 3) & 3
    while pad > 0 {
      bytes.append(paddingByte)
      pad -= 1
    }
    setLength()
  }

  /// Appends a typed attribute.
  public mutating func add<A: STUNAttribute>(_ attribute: A) {
    let start = bytes.count
    bytes.appendBE16(A.attributeType.rawValue)
    bytes.appendBE16(0)
    attribute.encodeValue(into: &bytes, transactionID: transactionID)
    finishAttribute(headerAt: start)
  }

  /// Appends an attribute with a raw value (for types natscope has no struct for).
  public mutating func add(type: AttributeType, value: some Sequence<UInt8>) {
    let start = bytes.count
    bytes.appendBE16(type.rawValue)
    bytes.appendBE16(0)
    bytes.append(contentsOf: value)
    finishAttribute(headerAt: start)
  }

  /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 over the message so far, the length field counting
  /// through this attribute (RFC 8489 §14.5).
  public mutating func addMessageIntegrity(key: IntegrityKey) {
    let end = bytes.count
    bytes.appendBE16(AttributeType.messageIntegrity.rawValue)
    bytes.appendBE16(20)
    let mac = IntegrityMath.mac(key.hmacSHA1, bytes, end: end, length: end + 24 - 20)
    mac.withUnsafeBytes { bytes.append(contentsOf: $0) }
    setLength()
  }

  /// Appends MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), truncated to `length` bytes (16–32, a
  /// multiple of 4; other values are rounded into that range).
  public mutating func addMessageIntegritySHA256(key: IntegrityKey, length: Int = 32) {
    let l = min(32, max(16, length & ~3))
    let end = bytes.count
    bytes.appendBE16(AttributeType.messageIntegritySHA256.rawValue)
    bytes.appendBE16(UInt16(l))
    let mac = IntegrityMath.mac(key.hmacSHA256, bytes, end: end, length: end + 4 + l - 20)
    mac.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(l)) }
    setLength()
  }

  /// Appends FINGERPRINT; call it last.
  public mutating func addFingerprint() {
    let end = bytes.count
    let crc = IntegrityMath.fingerprint(bytes, end: end, length: end + 8 - 20)
    bytes.appendBE16(AttributeType.fingerprint.rawValue)
    bytes.appendBE16(4)
    bytes.appendBE32(crc)
    setLength()
  }

  /// The finished message, decoded (cannot fail for a builder's output unless lengths wrapped).
  public func message() throws(STUNError) -> Message { try Message(bytes: bytes) }
}
