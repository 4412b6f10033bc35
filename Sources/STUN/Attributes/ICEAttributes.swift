/// PRIORITY (0x0024, RFC 8445 §7.1.1): the priority of the peer-reflexive candidate.
public struct Priority: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.priority
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

/// USE-CANDIDATE (0x0025, RFC 8445 §7.1.2): the controlling agent nominates this pair. No value.
public struct UseCandidate: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.useCandidate
  public init() {}
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {}
}

/// ICE-CONTROLLED (0x8029, RFC 8445 §7.1.3): the sender is controlled; 64-bit tie-breaker.
public struct ICEControlled: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.iceControlled
  public var tieBreaker: UInt64
  public init(_ tieBreaker: UInt64) { self.tieBreaker = tieBreaker }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 8)
    self.tieBreaker = value.be64(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE64(tieBreaker)
  }
}

/// ICE-CONTROLLING (0x802A, RFC 8445 §7.1.3): the sender is controlling; 64-bit tie-breaker.
public struct ICEControlling: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.iceControlling
  public var tieBreaker: UInt64
  public init(_ tieBreaker: UInt64) { self.tieBreaker = tieBreaker }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 8)
    self.tieBreaker = value.be64(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE64(tieBreaker)
  }
}
