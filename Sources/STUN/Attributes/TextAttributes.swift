/// An attribute whose value is UTF-8 text.
public protocol TextAttribute: STUNAttribute, Hashable {
  var text: String { get }
  init(_ text: String)
  /// The longest value the RFC allows, in bytes, or nil for no limit.
  static var maxBytes: Int? { get }
}

extension TextAttribute {
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.init(try Self.text(value, maxBytes: Self.maxBytes))
  }

  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: text.utf8)
  }
}

/// USERNAME (0x0006): the user name. RFC 8489 asks senders for fewer than 509 bytes; up to 513
/// (the RFC 5389 limit) are accepted.
public struct Username: TextAttribute {
  public static let attributeType = AttributeType.username
  public static var maxBytes: Int? { 513 }
  public var text: String
  public init(_ text: String) { self.text = text }
}

/// REALM (0x0014): the long-term credential realm; at most 763 bytes.
public struct Realm: TextAttribute {
  public static let attributeType = AttributeType.realm
  public static var maxBytes: Int? { 763 }
  public var text: String
  public init(_ text: String) { self.text = text }
}

/// NONCE (0x0015): the server's nonce; at most 763 bytes.
public struct Nonce: TextAttribute {
  public static let attributeType = AttributeType.nonce
  public static var maxBytes: Int? { 763 }
  public var text: String
  public init(_ text: String) { self.text = text }
}

/// SOFTWARE (0x8022): the agent's software description; at most 763 bytes.
public struct Software: TextAttribute {
  public static let attributeType = AttributeType.software
  public static var maxBytes: Int? { 763 }
  public var text: String
  public init(_ text: String) { self.text = text }
}

/// ALTERNATE-DOMAIN (0x8003): the TLS/DTLS domain name of the ALTERNATE-SERVER; at most 255 bytes.
public struct AlternateDomain: TextAttribute {
  public static let attributeType = AttributeType.alternateDomain
  public static var maxBytes: Int? { 255 }
  public var text: String
  public init(_ text: String) { self.text = text }
}
