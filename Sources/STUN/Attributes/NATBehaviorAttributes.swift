/// CHANGE-REQUEST (0x0003, RFC 5780 §7.2): ask the server to answer from another IP and/or port.
public struct ChangeRequest: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.changeRequest
  /// Flag A (0x4): change the IP address.
  public var changeIP: Bool
  /// Flag B (0x2): change the port.
  public var changePort: Bool
  public init(changeIP: Bool, changePort: Bool) {
    self.changeIP = changeIP
    self.changePort = changePort
  }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    let flags = value.be32(0)
    self.changeIP = flags & 0x4 != 0
    self.changePort = flags & 0x2 != 0
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE32((changeIP ? 0x4 : 0) | (changePort ? 0x2 : 0))
  }
}

/// RESPONSE-PORT (0x0027, RFC 5780 §7.5): the port the response should go to; 16 bits of value
/// followed by 16 bits of padding (a 2-byte value is accepted too).
public struct ResponsePort: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.responsePort
  public var port: UInt16
  public init(_ port: UInt16) { self.port = port }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    guard value.count == 4 || value.count == 2 else { throw Self.badLength(value) }
    self.port = value.be16(0)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE16(port)
    bytes.appendBE16(0)
  }
}

/// PADDING (0x0026, RFC 5780 §7.6): filler bytes to test fragmentation.
public struct Padding: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.padding
  public var bytes: [UInt8]
  public init(bytes: [UInt8]) { self.bytes = bytes }
  /// `count` zero bytes.
  public init(count: Int) { self.bytes = [UInt8](repeating: 0, count: max(0, count)) }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    self.bytes = Array(value)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: self.bytes)
  }
}

/// NATSCOPE-RESPONSE-SIZE (0xFF5A, natscope's own, comprehension-optional): asks the agent
/// that answers this Binding request to pad its success response with PADDING to `size` bytes
/// of UDP payload, so that the path from the answerer back to the asker is measured with
/// datagrams of that size. 16 bits of size followed by 16 bits of zero. Agents that do not
/// know it ignore it and answer unpadded, which the asker sees from the response's length.
public struct ResponseSize: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.responseSize
  /// The largest response an answerer pads to: a full Ethernet frame's UDP payload over IPv4.
  public static let maximum = 1472
  /// The UDP payload size asked for (the whole STUN message).
  public var size: Int
  public init(_ size: Int) { self.size = min(max(0, size), Int(UInt16.max)) }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 4)
    self.size = Int(value.be16(0))
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.appendBE16(UInt16(size))
    bytes.appendBE16(0)
  }
}
