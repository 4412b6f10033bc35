/// A STUN attribute type (RFC 8489 §14), an open set of 16-bit values.
///
/// Types 0x0000–0x7FFF are *comprehension-required*: an agent that does not understand one must
/// reject the message (a server answers 420 with UNKNOWN-ATTRIBUTES). Types 0x8000–0xFFFF are
/// *comprehension-optional* and may be ignored.
public struct AttributeType: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public init(_ rawValue: UInt16) { self.rawValue = rawValue }

  /// True for 0x0000–0x7FFF.
  public var isComprehensionRequired: Bool { rawValue < 0x8000 }

  // RFC 8489
  public static let mappedAddress = AttributeType(0x0001)
  public static let username = AttributeType(0x0006)
  public static let messageIntegrity = AttributeType(0x0008)
  public static let errorCode = AttributeType(0x0009)
  public static let unknownAttributes = AttributeType(0x000A)
  public static let realm = AttributeType(0x0014)
  public static let nonce = AttributeType(0x0015)
  public static let messageIntegritySHA256 = AttributeType(0x001C)
  public static let passwordAlgorithm = AttributeType(0x001D)
  public static let userhash = AttributeType(0x001E)
  public static let xorMappedAddress = AttributeType(0x0020)
  public static let passwordAlgorithms = AttributeType(0x8002)
  public static let alternateDomain = AttributeType(0x8003)
  public static let software = AttributeType(0x8022)
  public static let alternateServer = AttributeType(0x8023)
  public static let fingerprint = AttributeType(0x8028)
  // RFC 5780
  public static let changeRequest = AttributeType(0x0003)
  public static let padding = AttributeType(0x0026)
  public static let responsePort = AttributeType(0x0027)
  public static let responseOrigin = AttributeType(0x802B)
  public static let otherAddress = AttributeType(0x802C)
  // natscope's own, comprehension-optional (agents that do not know it ignore it)
  public static let responseSize = AttributeType(0xFF5A)
  // RFC 8445
  public static let priority = AttributeType(0x0024)
  public static let useCandidate = AttributeType(0x0025)
  public static let iceControlled = AttributeType(0x8029)
  public static let iceControlling = AttributeType(0x802A)
  // RFC 8656
  public static let channelNumber = AttributeType(0x000C)
  public static let lifetime = AttributeType(0x000D)
  public static let xorPeerAddress = AttributeType(0x0012)
  public static let data = AttributeType(0x0013)
  public static let xorRelayedAddress = AttributeType(0x0016)
  public static let requestedAddressFamily = AttributeType(0x0017)
  public static let evenPort = AttributeType(0x0018)
  public static let requestedTransport = AttributeType(0x0019)
  public static let dontFragment = AttributeType(0x001A)
  public static let reservationToken = AttributeType(0x0022)
  public static let additionalAddressFamily = AttributeType(0x8000)
  public static let addressErrorCode = AttributeType(0x8001)
  public static let icmp = AttributeType(0x8004)

  /// The registered name (e.g. `XOR-MAPPED-ADDRESS`), or nil for a type natscope does not know.
  public var knownName: String? {
    switch rawValue {
    case 0x0001: return "MAPPED-ADDRESS"
    case 0x0003: return "CHANGE-REQUEST"
    case 0x0006: return "USERNAME"
    case 0x0008: return "MESSAGE-INTEGRITY"
    case 0x0009: return "ERROR-CODE"
    case 0x000A: return "UNKNOWN-ATTRIBUTES"
    case 0x000C: return "CHANNEL-NUMBER"
    case 0x000D: return "LIFETIME"
    case 0x0012: return "XOR-PEER-ADDRESS"
    case 0x0013: return "DATA"
    case 0x0014: return "REALM"
    case 0x0015: return "NONCE"
    case 0x0016: return "XOR-RELAYED-ADDRESS"
    case 0x0017: return "REQUESTED-ADDRESS-FAMILY"
    case 0x0018: return "EVEN-PORT"
    case 0x0019: return "REQUESTED-TRANSPORT"
    case 0x001A: return "DONT-FRAGMENT"
    case 0x001C: return "MESSAGE-INTEGRITY-SHA256"
    case 0x001D: return "PASSWORD-ALGORITHM"
    case 0x001E: return "USERHASH"
    case 0x0020: return "XOR-MAPPED-ADDRESS"
    case 0x0022: return "RESERVATION-TOKEN"
    case 0x0024: return "PRIORITY"
    case 0x0025: return "USE-CANDIDATE"
    case 0x0026: return "PADDING"
    case 0x0027: return "RESPONSE-PORT"
    case 0x8000: return "ADDITIONAL-ADDRESS-FAMILY"
    case 0x8001: return "ADDRESS-ERROR-CODE"
    case 0x8002: return "PASSWORD-ALGORITHMS"
    case 0x8003: return "ALTERNATE-DOMAIN"
    case 0x8004: return "ICMP"
    case 0x8022: return "SOFTWARE"
    case 0x8023: return "ALTERNATE-SERVER"
    case 0x8028: return "FINGERPRINT"
    case 0x8029: return "ICE-CONTROLLED"
    case 0x802A: return "ICE-CONTROLLING"
    case 0x802B: return "RESPONSE-ORIGIN"
    case 0x802C: return "OTHER-ADDRESS"
    case 0xFF5A: return "NATSCOPE-RESPONSE-SIZE"
    default: return nil
    }
  }

  /// The registered name, or `0x1234` for an unknown type.
  public var name: String { knownName ?? "0x" + hex(rawValue, digits: 4) }
}

extension AttributeType: CustomStringConvertible {
  /// For example `XOR-MAPPED-ADDRESS (0x0020)`.
  public var description: String { "\(name) (0x\(hex(rawValue, digits: 4)))" }
}
