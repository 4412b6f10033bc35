/// A typed STUN attribute value: decodable from and encodable to its wire form.
///
/// `Message.get(_:)` and `MessageBuilder.add(_:)` work with any conforming type, so other modules
/// can add attributes of their own.
public protocol STUNAttribute: Sendable {
  /// The attribute type this value is carried in.
  static var attributeType: AttributeType { get }
  /// Decodes the value bytes (without padding). The slice's indices are offsets into the whole
  /// message, so errors can name them; the transaction ID is there for XOR-encoded addresses.
  init(value: ArraySlice<UInt8>, transactionID: TransactionID) throws(STUNError)
  /// Appends the value bytes (without padding) to `bytes`.
  func encodeValue(into bytes: inout [UInt8], transactionID: TransactionID)
}

extension STUNAttribute {
  /// A length error for this attribute at the start of `value`.
  static func badLength(_ value: ArraySlice<UInt8>) -> STUNError {
    STUNError(.badValueLength(value.count), at: value.startIndex, in: attributeType)
  }

  /// Throws unless `value` has exactly `n` bytes.
  static func expectLength(_ value: ArraySlice<UInt8>, _ n: Int) throws(STUNError) {
    guard value.count == n else { throw badLength(value) }
  }

  /// An invalid-value error at `k` bytes into `value`.
  static func invalid(_ what: String, _ value: ArraySlice<UInt8>, _ k: Int = 0) -> STUNError {
    STUNError(.invalidValue(what), at: value.startIndex + k, in: attributeType)
  }

  /// Decodes UTF-8 text or throws naming this attribute.
  static func text(_ value: ArraySlice<UInt8>, maxBytes: Int? = nil) throws(STUNError) -> String {
    if let maxBytes, value.count > maxBytes { throw badLength(value) }
    guard let s = String(validating: value, as: UTF8.self) else {
      throw STUNError(.invalidUTF8, at: value.startIndex, in: attributeType)
    }
    return s
  }
}
