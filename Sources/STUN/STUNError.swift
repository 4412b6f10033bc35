/// A STUN decoding failure: what is wrong, at which byte offset, and in which attribute.
///
/// Offsets count from the first byte of the buffer handed to the decoder.
public struct STUNError: Error, Hashable, Sendable {
  /// What went wrong.
  public enum Reason: Hashable, Sendable {
    /// The buffer ends before the structure it must hold: `needed` bytes, `available` present.
    case truncated(needed: Int, available: Int)
    /// The first two bits of a STUN message are not zero.
    case notSTUN
    /// The magic cookie is not 0x2112A442.
    case badMagicCookie(UInt32)
    /// The header's message length is not a multiple of 4.
    case lengthNotMultipleOfFour(Int)
    /// The header's message length disagrees with the number of bytes received.
    case lengthMismatch(declared: Int, actual: Int)
    /// An attribute's value (or its padding) runs past the end of the message.
    case attributeOverrun(valueLength: Int, remaining: Int)
    /// An attribute's value has a length the attribute does not allow.
    case badValueLength(Int)
    /// A text attribute is not valid UTF-8.
    case invalidUTF8
    /// An address family byte that is neither 0x01 nor 0x02.
    case unknownAddressFamily(UInt8)
    /// Another invalid value, described in a few words.
    case invalidValue(String)
    /// A ChannelData channel number outside 0x4000–0x4FFF.
    case badChannelNumber(UInt16)
  }

  public var reason: Reason
  /// The byte offset of the offending field.
  public var offset: Int
  /// The attribute that holds it, if any.
  public var attribute: AttributeType?

  public init(_ reason: Reason, at offset: Int, in attribute: AttributeType? = nil) {
    self.reason = reason
    self.offset = offset
    self.attribute = attribute
  }
}

extension STUNError: CustomStringConvertible {
  /// One sentence, e.g. `Malformed STUN at byte 24 in XOR-MAPPED-ADDRESS (0x0020): the value is
  /// 7 bytes long, which this attribute does not allow.`
  public var description: String {
    var s = "Malformed STUN at byte \(offset)"
    if let attribute { s += " in \(attribute)" }
    s += ": "
    switch reason {
    case .truncated(let needed, let available):
      s += "needed \(needed) bytes but only \(available) are there"
    case .notSTUN: s += "the first two bits are not zero, so this is not a STUN message"
    case .badMagicCookie(let c): s += "the magic cookie is 0x\(hex(c, digits: 8)), not 0x2112a442"
    case .lengthNotMultipleOfFour(let n): s += "the message length \(n) is not a multiple of 4"
    case .lengthMismatch(let declared, let actual):
      s += "the header declares \(declared) bytes of attributes but \(actual) follow the header"
    case .attributeOverrun(let length, let remaining):
      s +=
        "the attribute value of \(length) bytes (padded to 4) overruns the \(remaining) bytes left"
    case .badValueLength(let n):
      s += "the value is \(n) bytes long, which this attribute does not allow"
    case .invalidUTF8: s += "the text is not valid UTF-8"
    case .unknownAddressFamily(let f): s += "the address family 0x\(hex(f, digits: 2)) is unknown"
    case .invalidValue(let what): s += what
    case .badChannelNumber(let n):
      s += "the channel number 0x\(hex(n, digits: 4)) is outside 0x4000-0x4fff"
    }
    return s + "."
  }
}
