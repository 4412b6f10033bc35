/// USERHASH (0x001E, RFC 8489 §14.4): a 32-byte SHA-256 hash standing in for USERNAME.
public struct Userhash: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.userhash
  public var hash: [UInt8]
  public init(hash: [UInt8]) { self.hash = hash }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    try Self.expectLength(value, 32)
    self.hash = Array(value)
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(contentsOf: hash)
  }
}

/// ERROR-CODE (0x0009, RFC 8489 §14.8): a code 300–699 and a UTF-8 reason phrase (≤ 763 bytes).
public struct ErrorCodeAttribute: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.errorCode
  public var code: ErrorCode
  public var reason: String
  /// A code with the given reason, or the RFC's reason phrase when `reason` is nil.
  public init(_ code: ErrorCode, reason: String? = nil) {
    self.code = code
    self.reason = reason ?? code.reasonPhrase ?? ""
  }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    guard value.count >= 4, value.count <= 4 + 763 else { throw Self.badLength(value) }
    let cls = value.byte(2) & 0x07
    let number = value.byte(3)
    guard cls >= 3, cls <= 6, number <= 99 else {
      throw Self.invalid("the error class \(cls) or number \(number) is out of range", value, 2)
    }
    self.code = ErrorCode(UInt16(cls) * 100 + UInt16(number))
    self.reason = try Self.text(value.dropFirst(4))
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    bytes.append(0)
    bytes.append(0)
    bytes.append(code.errorClass & 0x07)
    bytes.append(code.number)
    bytes.append(contentsOf: reason.utf8)
  }
}

/// UNKNOWN-ATTRIBUTES (0x000A, RFC 8489 §14.9): the types a 420 response did not understand.
public struct UnknownAttributes: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.unknownAttributes
  public var types: [AttributeType]
  public init(_ types: [AttributeType]) { self.types = types }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    guard value.count & 1 == 0 else { throw Self.badLength(value) }
    var out: [AttributeType] = []
    out.reserveCapacity(value.count / 2)
    var k = 0
    while k + 1 < value.count {
      out.append(AttributeType(value.be16(k)))
      k += 2
    }
    self.types = out
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    for t in types { bytes.appendBE16(t.rawValue) }
  }
}

/// One entry of PASSWORD-ALGORITHMS, or the value of PASSWORD-ALGORITHM.
public struct PasswordAlgorithmEntry: Hashable, Sendable {
  public var algorithm: PasswordAlgorithm
  public var parameters: [UInt8]
  public init(_ algorithm: PasswordAlgorithm, parameters: [UInt8] = []) {
    self.algorithm = algorithm
    self.parameters = parameters
  }

  /// Decodes one entry at `k` bytes into `value`; returns it and the offset after its padding.
  static func decode<A: STUNAttribute>(
    _ value: ArraySlice<UInt8>, at k: Int, in _: A.Type, requirePadding: Bool
  ) throws(STUNError) -> (PasswordAlgorithmEntry, Int) {
    guard value.count - k >= 4 else {
      throw STUNError(
        .truncated(needed: 4, available: value.count - k), at: value.startIndex + k,
        in: A.attributeType)
    }
    let algorithm = PasswordAlgorithm(rawValue: value.be16(k))
    let l = Int(value.be16(k + 2))
    let padded = (l + 3) & ~3
    let room = value.count - k - 4
    guard l <= room, !requirePadding || padded <= room else {
      throw STUNError(
        .truncated(needed: padded, available: room), at: value.startIndex + k + 2,
        in: A.attributeType)
    }
    let start = value.startIndex + k + 4
    return (
      PasswordAlgorithmEntry(algorithm, parameters: Array(value[start..<(start + l)])),
      k + 4 + min(padded, room)
    )
  }

  func encode(into bytes: inout [UInt8]) {
    bytes.appendBE16(algorithm.rawValue)
    bytes.appendBE16(UInt16(truncatingIfNeeded: parameters.count))
    bytes.append(contentsOf: parameters)
    for _ in 0..<((4 - parameters.count & 3) & 3) { bytes.append(0) }
  }
}

/// PASSWORD-ALGORITHMS (0x8002, RFC 8489 §14.11): the algorithms a server supports, in order.
public struct PasswordAlgorithms: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.passwordAlgorithms
  public var algorithms: [PasswordAlgorithmEntry]
  public init(_ algorithms: [PasswordAlgorithmEntry]) { self.algorithms = algorithms }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    var out: [PasswordAlgorithmEntry] = []
    var k = 0
    while k < value.count {
      let (entry, next) = try PasswordAlgorithmEntry.decode(
        value, at: k, in: Self.self, requirePadding: true)
      out.append(entry)
      k = next
    }
    self.algorithms = out
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    for a in algorithms { a.encode(into: &bytes) }
  }
}

/// PASSWORD-ALGORITHM (0x001D, RFC 8489 §14.12): the algorithm the client chose.
public struct PasswordAlgorithmAttribute: STUNAttribute, Hashable {
  public static let attributeType = AttributeType.passwordAlgorithm
  public var entry: PasswordAlgorithmEntry
  public init(_ algorithm: PasswordAlgorithm, parameters: [UInt8] = []) {
    self.entry = PasswordAlgorithmEntry(algorithm, parameters: parameters)
  }
  public init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError) {
    let (entry, next) = try PasswordAlgorithmEntry.decode(
      value, at: 0, in: Self.self, requirePadding: false)
    guard next >= value.count else { throw Self.badLength(value) }
    self.entry = entry
  }
  public func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID) {
    entry.encode(into: &bytes)
  }
}
