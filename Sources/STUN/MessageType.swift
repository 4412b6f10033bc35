/// A STUN method (RFC 8489 §5): the 12-bit operation a message belongs to.
///
/// An open type: values that natscope does not know arrive and round-trip unchanged.
public struct Method: RawRepresentable, Hashable, Sendable {
  /// The 12-bit method number (0x000–0xFFF).
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

  public static let binding = Method(rawValue: 0x001)
  public static let allocate = Method(rawValue: 0x003)
  public static let refresh = Method(rawValue: 0x004)
  public static let send = Method(rawValue: 0x006)
  public static let data = Method(rawValue: 0x007)
  public static let createPermission = Method(rawValue: 0x008)
  public static let channelBind = Method(rawValue: 0x009)

  /// A display name such as `Binding`, or `0x0ab` for an unknown method.
  public var name: String {
    switch rawValue {
    case 0x001: return "Binding"
    case 0x003: return "Allocate"
    case 0x004: return "Refresh"
    case 0x006: return "Send"
    case 0x007: return "Data"
    case 0x008: return "CreatePermission"
    case 0x009: return "ChannelBind"
    default: return "0x" + hex(rawValue, digits: 3)
    }
  }
}

extension Method: CustomStringConvertible {
  public var description: String { name }
}

/// The class of a STUN message (RFC 8489 §5): request, indication, success or error response.
public struct MessageClass: RawRepresentable, Hashable, Sendable {
  /// The two class bits C1 C0 as a number 0–3.
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3 }

  public static let request = MessageClass(rawValue: 0b00)
  public static let indication = MessageClass(rawValue: 0b01)
  public static let successResponse = MessageClass(rawValue: 0b10)
  public static let errorResponse = MessageClass(rawValue: 0b11)

  /// `request`, `indication`, `success response` or `error response`.
  public var name: String {
    switch rawValue {
    case 0: return "request"
    case 1: return "indication"
    case 2: return "success response"
    default: return "error response"
    }
  }
}

extension MessageClass: CustomStringConvertible {
  public var description: String { name }
}

/// The 14-bit STUN message type: a method and a class with their bits interleaved
/// (`M11..M7 C1 M6..M4 C0 M3..M0`, RFC 8489 §5).
public struct MessageType: Hashable, Sendable {
  public var method: Method
  public var messageClass: MessageClass

  public init(method: Method, class messageClass: MessageClass) {
    self.method = method
    self.messageClass = messageClass
  }

  /// Splits a 14-bit raw type (the two top bits of the 16-bit field are ignored).
  public init(rawValue: UInt16) {
    let m = (rawValue & 0x000F) | ((rawValue >> 1) & 0x0070) | ((rawValue >> 2) & 0x0F80)
    let c = ((rawValue >> 4) & 0x1) | ((rawValue >> 7) & 0x2)
    self.init(method: Method(rawValue: m), class: MessageClass(rawValue: UInt8(c)))
  }

  /// The 14-bit wire value.
  public var rawValue: UInt16 {
    let m = method.rawValue
    let c = UInt16(messageClass.rawValue)
    return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0x1) << 4)
      | ((c & 0x2) << 7)
  }

  public static let bindingRequest = MessageType(method: .binding, class: .request)
  public static let bindingSuccess = MessageType(method: .binding, class: .successResponse)
  public static let bindingError = MessageType(method: .binding, class: .errorResponse)
  public static let bindingIndication = MessageType(method: .binding, class: .indication)
}

extension MessageType: CustomStringConvertible {
  /// For example `Binding success response`.
  public var description: String { "\(method.name) \(messageClass.name)" }
}

/// Lowercase hex of `value`, zero-padded to `digits`.
func hex<T: BinaryInteger>(_ value: T, digits: Int) -> String {
  let s = String(value, radix: 16)
  return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
}
