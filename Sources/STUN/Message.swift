/// A decoded STUN message (RFC 8489 §5–6) that keeps its raw bytes.
///
/// Decoding validates the header and the whole TLV structure once, without allocating; attribute
/// lookups then scan the (few) attributes in place and return slices of ``bytes`` or typed values.
/// Integrity and fingerprint checks run over the raw bytes.
///
/// As RFC 8489 §14.5 requires, attributes that follow MESSAGE-INTEGRITY (other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT), MESSAGE-INTEGRITY-SHA256 (other than FINGERPRINT)
/// or FINGERPRINT are ignored by every lookup.
public struct Message: Sendable {
  /// The whole message: 20-byte header plus attributes.
  public let bytes: [UInt8]
  /// Method and class.
  public let type: MessageType
  /// The 96-bit transaction ID.
  public let transactionID: TransactionID
  /// Offset of the first MESSAGE-INTEGRITY attribute header, or -1.
  let integrityOffset: Int
  /// Offset of the MESSAGE-INTEGRITY-SHA256 attribute header, or -1.
  let integritySHA256Offset: Int
  /// Offset of the FINGERPRINT attribute header, or -1.
  let fingerprintOffset: Int
  /// Where the attributes a reader should see end.
  let visibleEnd: Int

  /// The length of a STUN header.
  public static let headerLength = 20

  /// Decodes and validates a whole STUN message; `bytes` must hold exactly one message.
  ///
  /// - Throws: ``STUNError`` naming the byte offset (and attribute) of the first problem.
  public init(bytes: [UInt8]) throws(STUNError) {
    let layout = try bytes.withUnsafeBufferPointer { (b) throws(STUNError) in try Message.scan(b) }
    self.bytes = bytes
    self.type = layout.type
    self.transactionID = layout.transactionID
    self.integrityOffset = layout.integrity
    self.integritySHA256Offset = layout.integritySHA256
    self.fingerprintOffset = layout.fingerprint
    self.visibleEnd = layout.visibleEnd
  }

  /// Where a valid message's parts are, as ``scan(_:)`` finds them.
  struct Layout {
    var type: MessageType
    var transactionID: TransactionID
    var integrity: Int
    var integritySHA256: Int
    var fingerprint: Int
    var visibleEnd: Int
  }

  /// The layout of `b`; throws the first problem in it. Every read is preceded by the check that
  /// makes it safe (the buffer is read without Array's per-byte bounds checks: this is the one
  /// loop every received packet goes through).
  @inline(__always)
  static func scan(_ b: UnsafeBufferPointer<UInt8>) throws(STUNError) -> Layout {
    @inline(__always) func be16(_ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i &+ 1]) }
    @inline(__always) func be32(_ i: Int) -> UInt32 {
      UInt32(b[i]) << 24 | UInt32(b[i &+ 1]) << 16 | UInt32(b[i &+ 2]) << 8 | UInt32(b[i &+ 3])
    }
    let count = b.count
    guard count >= 20 else {
      throw STUNError(.truncated(needed: 20, available: count), at: 0)
    }
    guard b[0] & 0xC0 == 0 else { throw STUNError(.notSTUN, at: 0) }
    let cookie = be32(4)
    guard cookie == stunMagicCookie else {
      throw STUNError(.badMagicCookie(cookie), at: 4)
    }
    let length = Int(be16(2))
    guard length & 3 == 0 else {
      throw STUNError(.lengthNotMultipleOfFour(length), at: 2)
    }
    guard length == count &- 20 else {
      throw STUNError(.lengthMismatch(declared: length, actual: count - 20), at: 2)
    }
    let end = count
    var i = 20
    var mi = -1
    var mi256 = -1
    var fp = -1
    var visibleEnd = end
    while i < end {
      // `length` is a multiple of 4 and every step below is too, so 4 bytes remain here.
      let t = be16(i)
      let l = Int(be16(i &+ 2))
      let padded = (l &+ 3) & ~3
      guard padded <= end &- i &- 4 else {
        throw STUNError(
          .attributeOverrun(valueLength: l, remaining: end - i - 4), at: i + 2,
          in: AttributeType(t))
      }
      switch t {
      case 0x0008:
        if mi < 0 && mi256 < 0 && fp < 0 {
          mi = i
          if i < visibleEnd { visibleEnd = i }
        }
      case 0x001C:
        if mi256 < 0 && fp < 0 {
          mi256 = i
          if i < visibleEnd { visibleEnd = i }
        }
      case 0x8028:
        if fp < 0 {
          fp = i
          if i < visibleEnd { visibleEnd = i }
        }
      default: break
      }
      i &+= 4 &+ padded
    }
    return Layout(
      type: MessageType(rawValue: be16(0)),
      transactionID: TransactionID(
        high: UInt64(be32(8)) << 32 | UInt64(be32(12)), low: be32(16)),
      integrity: mi, integritySHA256: mi256, fingerprint: fp, visibleEnd: visibleEnd)
  }

  /// The method (Binding, Allocate, …).
  public var method: Method { type.method }
  /// The class (request, indication, success or error response).
  public var messageClass: MessageClass { type.messageClass }

  /// The value of the attribute header at `offset` (already validated at decode).
  @inline(__always)
  func value(atHeader offset: Int) -> ArraySlice<UInt8> {
    let l = Int(bytes.be16(at: offset + 2))
    return bytes[(offset + 4)..<(offset + 4 + l)]
  }

  /// The raw value of the first visible attribute of `type`, or nil.
  ///
  /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are found where they count.
  public func attribute(_ type: AttributeType) -> ArraySlice<UInt8>? {
    switch type.rawValue {
    case 0x0008: return integrityOffset >= 0 ? value(atHeader: integrityOffset) : nil
    case 0x001C: return integritySHA256Offset >= 0 ? value(atHeader: integritySHA256Offset) : nil
    case 0x8028: return fingerprintOffset >= 0 ? value(atHeader: fingerprintOffset) : nil
    default: break
    }
    var i = 20
    let want = type.rawValue
    while i < visibleEnd {
      let t = bytes.be16(at: i)
      let l = Int(bytes.be16(at: i + 2))
      if t == want { return bytes[(i + 4)..<(i + 4 + l)] }
      i += 4 + ((l + 3) & ~3)
    }
    return nil
  }

  /// True when a visible attribute of `type` is present.
  public func contains(_ type: AttributeType) -> Bool { attribute(type) != nil }

  /// Decodes the first visible attribute of type `A.attributeType`; nil when absent.
  ///
  /// - Throws: ``STUNError`` when the attribute is present but its value is malformed.
  public func get<A: STUNAttribute>(_: A.Type) throws(STUNError) -> A? {
    guard let value = attribute(A.attributeType) else { return nil }
    return try A(value: value, transactionID: transactionID)
  }

  /// Decodes every visible attribute of type `A.attributeType`, in order (e.g. several
  /// XOR-PEER-ADDRESS).
  public func getAll<A: STUNAttribute>(_: A.Type) throws(STUNError) -> [A] {
    var out: [A] = []
    for a in attributes where a.type == A.attributeType {
      out.append(try A(value: a.value, transactionID: transactionID))
    }
    return out
  }

  /// The visible attributes in wire order, then MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
  /// FINGERPRINT where present. Iterating does not allocate.
  public var attributes: Attributes { Attributes(message: self) }

  /// The comprehension-required attribute types (0x0000–0x7FFF) natscope does not know, in order,
  /// without duplicates: a server answers 420 (Unknown Attribute) listing these.
  public var unknownComprehensionRequired: [AttributeType] {
    var out: [AttributeType] = []
    for a in attributes where a.type.isComprehensionRequired && a.type.knownName == nil {
      if !out.contains(a.type) { out.append(a.type) }
    }
    return out
  }

  /// One attribute as found in the message.
  public struct RawAttribute: Sendable, Hashable {
    public var type: AttributeType
    /// The value, without padding; its indices are offsets into ``Message/bytes``.
    public var value: ArraySlice<UInt8>
    /// The offset of the attribute's 4-byte header.
    public var offset: Int
  }

  /// The attributes of a message, as a sequence that does not allocate.
  public struct Attributes: Sequence, Sendable {
    let message: Message

    public struct Iterator: IteratorProtocol {
      let message: Message
      var position: Int
      /// 0: visible region, 1: MI, 2: MI-SHA256, 3: FINGERPRINT, 4: done.
      var stage: Int

      public mutating func next() -> RawAttribute? {
        while true {
          switch stage {
          case 0:
            if position < message.visibleEnd {
              let b = message.bytes
              let t = b.be16(at: position)
              let l = Int(b.be16(at: position + 2))
              let a = RawAttribute(
                type: AttributeType(t), value: b[(position + 4)..<(position + 4 + l)],
                offset: position)
              position += 4 + ((l + 3) & ~3)
              return a
            }
            stage = 1
          case 1, 2, 3:
            let offset =
              stage == 1
              ? message.integrityOffset
              : stage == 2 ? message.integritySHA256Offset : message.fingerprintOffset
            stage += 1
            if offset >= 0 {
              return RawAttribute(
                type: AttributeType(message.bytes.be16(at: offset)),
                value: message.value(atHeader: offset), offset: offset)
            }
          default:
            return nil
          }
        }
      }
    }

    public func makeIterator() -> Iterator {
      Iterator(message: message, position: Message.headerLength, stage: 0)
    }
  }
}

extension Message: CustomStringConvertible {
  /// For example `Binding success response 0123…ab, 4 attributes`.
  public var description: String {
    var n = 0
    for _ in attributes { n += 1 }
    return "\(type) \(transactionID), \(n) attribute\(n == 1 ? "" : "s")"
  }
}

extension Message: Equatable {
  public static func == (a: Message, b: Message) -> Bool { a.bytes == b.bytes }
}
