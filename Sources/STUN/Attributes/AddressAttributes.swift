/// Shared wire form of MAPPED-ADDRESS-style attributes (RFC 8489 §14.1–14.2):
/// a zero byte, the family, the port and 4 or 16 address bytes; XOR variants XOR the port with
/// the top of the magic cookie and the address with the cookie (and transaction ID for IPv6).
enum AddressCoding {
  static func decode(
    _ value: ArraySlice<UInt8>, xor: Bool, transactionID: TransactionID, type: AttributeType
  ) throws(STUNError) -> TransportAddress {
    guard value.count >= 4 else {
      throw STUNError(.badValueLength(value.count), at: value.startIndex, in: type)
    }
    let family = value.byte(1)
    var port = value.be16(2)
    if xor { port ^= UInt16(truncatingIfNeeded: stunMagicCookie >> 16) }
    switch family {
    case 0x01:
      guard value.count == 8 else {
        throw STUNError(.badValueLength(value.count), at: value.startIndex, in: type)
      }
      var a = value.be32(4)
      if xor { a ^= stunMagicCookie }
      return TransportAddress(ip: .v4(a), port: port)
    case 0x02:
      guard value.count == 20 else {
        throw STUNError(.badValueLength(value.count), at: value.startIndex, in: type)
      }
      var hi = value.be64(4)
      var lo = value.be64(12)
      if xor {
        hi ^= UInt64(stunMagicCookie) << 32 | UInt64(transactionID.high >> 32)
        lo ^= transactionID.high << 32 | UInt64(transactionID.low)
      }
      return TransportAddress(ip: .v6(hi, lo), port: port)
    default:
      throw STUNError(.unknownAddressFamily(family), at: value.startIndex + 1, in: type)
    }
  }

  static func encode(
    _ address: TransportAddress, xor: Bool, transactionID: TransactionID, into bytes: inout [UInt8]
  ) {
    bytes.append(0)
    var port = address.port
    if xor { port ^= UInt16(truncatingIfNeeded: stunMagicCookie >> 16) }
    switch address.ip {
    case .v4(var a):
      bytes.append(0x01)
      bytes.appendBE16(port)
      if xor { a ^= stunMagicCookie }
      bytes.appendBE32(a)
    case .v6(var hi, var lo):
      bytes.append(0x02)
      bytes.appendBE16(port)
      if xor {
        hi ^= UInt64(stunMagicCookie) << 32 | UInt64(transactionID.high >> 32)
        lo ^= transactionID.high << 32 | UInt64(transactionID.low)
      }
      bytes.appendBE64(hi)
      bytes.appendBE64(lo)
    }
  }
}

/// An attribute whose value is one transport address in plain form.
public protocol PlainAddressAttribute: STUNAttribute, Hashable {
  var address: TransportAddress { get }
  init(_ address: TransportAddress)
}

extension PlainAddressAttribute {
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.init(
      try AddressCoding.decode(
        value, xor: false, transactionID: transactionID, type: Self.attributeType))
  }

  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    AddressCoding.encode(address, xor: false, transactionID: transactionID, into: &bytes)
  }
}

/// An attribute whose value is one transport address XORed with the cookie and transaction ID.
public protocol XORAddressAttribute: STUNAttribute, Hashable {
  var address: TransportAddress { get }
  init(_ address: TransportAddress)
}

extension XORAddressAttribute {
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.init(
      try AddressCoding.decode(
        value, xor: true, transactionID: transactionID, type: Self.attributeType))
  }

  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    AddressCoding.encode(address, xor: true, transactionID: transactionID, into: &bytes)
  }
}

/// MAPPED-ADDRESS (0x0001): the reflexive address, unobfuscated (RFC 3489 servers).
public struct MappedAddress: PlainAddressAttribute {
  public static let attributeType = AttributeType.mappedAddress
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// XOR-MAPPED-ADDRESS (0x0020): the reflexive transport address the server saw.
public struct XORMappedAddress: XORAddressAttribute {
  public static let attributeType = AttributeType.xorMappedAddress
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// ALTERNATE-SERVER (0x8023): where a 300 (Try Alternate) response redirects the client.
public struct AlternateServer: PlainAddressAttribute {
  public static let attributeType = AttributeType.alternateServer
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// RESPONSE-ORIGIN (0x802B, RFC 5780): the address the response was sent from.
public struct ResponseOrigin: PlainAddressAttribute {
  public static let attributeType = AttributeType.responseOrigin
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// OTHER-ADDRESS (0x802C, RFC 5780): the server's alternate address and port.
public struct OtherAddress: PlainAddressAttribute {
  public static let attributeType = AttributeType.otherAddress
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// XOR-PEER-ADDRESS (0x0012, RFC 8656): a TURN peer; may appear several times.
public struct XORPeerAddress: XORAddressAttribute {
  public static let attributeType = AttributeType.xorPeerAddress
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}

/// XOR-RELAYED-ADDRESS (0x0016, RFC 8656): the relayed transport address of an allocation.
public struct XORRelayedAddress: XORAddressAttribute {
  public static let attributeType = AttributeType.xorRelayedAddress
  public var address: TransportAddress
  public init(_ address: TransportAddress) { self.address = address }
}
