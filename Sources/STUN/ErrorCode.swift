/// A STUN error code (RFC 8489 §14.8): class × 100 + number, 300–699.
public struct ErrorCode: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public init(_ rawValue: UInt16) { self.rawValue = rawValue }

  public static let tryAlternate = ErrorCode(300)
  public static let badRequest = ErrorCode(400)
  public static let unauthenticated = ErrorCode(401)
  public static let forbidden = ErrorCode(403)
  public static let unknownAttribute = ErrorCode(420)
  public static let allocationMismatch = ErrorCode(437)
  public static let staleNonce = ErrorCode(438)
  public static let addressFamilyNotSupported = ErrorCode(440)
  public static let wrongCredentials = ErrorCode(441)
  public static let unsupportedTransportProtocol = ErrorCode(442)
  public static let peerAddressFamilyMismatch = ErrorCode(443)
  public static let allocationQuotaReached = ErrorCode(486)
  public static let roleConflict = ErrorCode(487)
  public static let serverError = ErrorCode(500)
  public static let insufficientCapacity = ErrorCode(508)

  /// The hundreds digit (3–6).
  public var errorClass: UInt8 { UInt8(truncatingIfNeeded: rawValue / 100) }
  /// The code modulo 100.
  public var number: UInt8 { UInt8(truncatingIfNeeded: rawValue % 100) }

  /// The RFC's suggested reason phrase, or nil for a code natscope does not know.
  public var reasonPhrase: String? {
    switch rawValue {
    case 300: return "Try Alternate"
    case 400: return "Bad Request"
    case 401: return "Unauthenticated"
    case 403: return "Forbidden"
    case 420: return "Unknown Attribute"
    case 437: return "Allocation Mismatch"
    case 438: return "Stale Nonce"
    case 440: return "Address Family not Supported"
    case 441: return "Wrong Credentials"
    case 442: return "Unsupported Transport Protocol"
    case 443: return "Peer Address Family Mismatch"
    case 486: return "Allocation Quota Reached"
    case 487: return "Role Conflict"
    case 500: return "Server Error"
    case 508: return "Insufficient Capacity"
    default: return nil
    }
  }
}

extension ErrorCode: CustomStringConvertible {
  /// For example `438 Stale Nonce`.
  public var description: String {
    if let phrase = reasonPhrase { return "\(rawValue) \(phrase)" }
    return "\(rawValue)"
  }
}
