/// CHANNEL-NUMBER (0x000C, RFC 8656 §18.1): a channel number followed by 16 reserved bits.
public struct ChannelNumber: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.channelNumber
  public var number: UInt16
  public init(_ number: UInt16) { self.number = number }
  /// True for the range TURN allows (0x4000–0x4FFF).
  public var isValid: Bool { (0x4000...0x4FFF).contains(number) }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    self.number = value.be16(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE16(number)
    bytes.appendBE16(0)
  }
}

/// LIFETIME (0x000D, RFC 8656 §18.2): seconds until the allocation expires.
public struct Lifetime: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.lifetime
  public var seconds: UInt32
  public init(seconds: UInt32) { self.seconds = seconds }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    self.seconds = value.be32(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE32(seconds)
  }
}

/// DATA (0x0013, RFC 8656 §18.4): application data in Send and Data indications.
///
/// Decoding copies; for a zero-copy view use `message.attribute(.data)`.
public struct DataAttribute: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.data
  public var bytes: [UInt8]
  public init(_ bytes: [UInt8]) { self.bytes = bytes }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.bytes = Array(value)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: self.bytes)
  }
}

/// Shared form of REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY: family + 3 reserved.
enum FamilyCoding {
  static func decode<A: STUNAttribute>(_ value: ArraySlice<UInt8>, _: A.Type) throws(STUNError)
    -> AddressFamily
  {
    try A.expectLength(value, 4)
    let f = value.byte(0)
    guard f == 0x01 || f == 0x02 else {
      throw STUNError(.unknownAddressFamily(f), at: value.startIndex, in: A.attributeType)
    }
    return AddressFamily(rawValue: f)
  }

  static func encode(_ family: AddressFamily, into bytes: inout [UInt8]) {
    bytes.append(family.rawValue)
    bytes.append(0)
    bytes.append(0)
    bytes.append(0)
  }
}

/// REQUESTED-ADDRESS-FAMILY (0x0017, RFC 8656 §18.6): IPv4 or IPv6 relayed address wanted.
public struct RequestedAddressFamily: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.requestedAddressFamily
  public var family: AddressFamily
  public init(_ family: AddressFamily) { self.family = family }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.family = try FamilyCoding.decode(value, Self.self)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    FamilyCoding.encode(family, into: &bytes)
  }
}

/// ADDITIONAL-ADDRESS-FAMILY (0x8000, RFC 8656 §18.11): ask for an IPv6 relayed address too.
public struct AdditionalAddressFamily: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.additionalAddressFamily
  public var family: AddressFamily
  public init(_ family: AddressFamily) { self.family = family }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.family = try FamilyCoding.decode(value, Self.self)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    FamilyCoding.encode(family, into: &bytes)
  }
}

/// EVEN-PORT (0x0018, RFC 8656 §18.7): want an even relayed port; R asks to reserve the next one.
public struct EvenPort: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.evenPort
  public var reserveNextPort: Bool
  public init(reserveNextPort: Bool) { self.reserveNextPort = reserveNextPort }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 1)
    self.reserveNextPort = value.byte(0) & 0x80 != 0
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(reserveNextPort ? 0x80 : 0)
  }
}

/// REQUESTED-TRANSPORT (0x0019, RFC 8656 §18.8): the IP protocol number to relay (17 = UDP).
public struct RequestedTransport: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.requestedTransport
  public var protocolNumber: UInt8
  public init(protocolNumber: UInt8) { self.protocolNumber = protocolNumber }
  public static let udp = RequestedTransport(protocolNumber: 17)
  public static let tcp = RequestedTransport(protocolNumber: 6)
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    self.protocolNumber = value.byte(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(protocolNumber)
    bytes.append(0)
    bytes.append(0)
    bytes.append(0)
  }
}

/// DONT-FRAGMENT (0x001A, RFC 8656 §18.9): set DF on relayed packets. No value.
public struct DontFragment: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.dontFragment
  public init() {}
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {}
}

/// RESERVATION-TOKEN (0x0022, RFC 8656 §18.10): an 8-byte token for a reserved relayed port.
public struct ReservationToken: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.reservationToken
  public var token: UInt64
  public init(_ token: UInt64) { self.token = token }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 8)
    self.token = value.be64(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE64(token)
  }
}

/// ADDRESS-ERROR-CODE (0x8001, RFC 8656 §18.12): why the relayed address of one family failed:
/// family (8 bits), reserved (13), class (3), number (8), reason phrase.
public struct AddressErrorCode: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.addressErrorCode
  public var family: AddressFamily
  public var code: ErrorCode
  public var reason: String
  public init(family: AddressFamily, code: ErrorCode, reason: String? = nil) {
    self.family = family
    self.code = code
    self.reason = reason ?? code.reasonPhrase ?? ""
  }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    guard value.count >= 4, value.count <= 4 + 763 else { throw Self.badLength(value) }
    let f = value.byte(0)
    guard f == 0x01 || f == 0x02 else {
      throw STUNError(.unknownAddressFamily(f), at: value.startIndex, in: Self.attributeType)
    }
    let cls = value.byte(2) & 0x07
    let number = value.byte(3)
    guard cls >= 3, cls <= 6, number <= 99 else {
      throw Self.invalid("the error class \(cls) or number \(number) is out of range", value, 2)
    }
    self.family = AddressFamily(rawValue: f)
    self.code = ErrorCode(UInt16(cls) * 100 + UInt16(number))
    self.reason = try Self.text(value.dropFirst(4))
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(family.rawValue)
    bytes.append(0)
    bytes.append(code.errorClass & 0x07)
    bytes.append(code.number)
    bytes.append(contentsOf: reason.utf8)
  }
}

/// ICMP (0x8004, RFC 8656 §18.13): an ICMP error the relay received for a peer:
/// 16 reserved bits, ICMP type, ICMP code, 32 bits of error data.
public struct ICMPAttribute: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.icmp
  public var icmpType: UInt8
  public var icmpCode: UInt8
  public var errorData: UInt32
  public init(type: UInt8, code: UInt8, errorData: UInt32 = 0) {
    self.icmpType = type
    self.icmpCode = code
    self.errorData = errorData
  }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 8)
    self.icmpType = value.byte(2)
    self.icmpCode = value.byte(3)
    self.errorData = value.be32(4)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE16(0)
    bytes.append(icmpType)
    bytes.append(icmpCode)
    bytes.appendBE32(errorData)
  }
}
