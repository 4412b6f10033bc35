/// `Instant` encodes as a single `Int64`: nanoseconds since the driver's origin.
///
/// Added for transaction evidence in `--json` reports; decoding accepts exactly what encoding
/// produces.
extension Instant: Codable {
  public init(from decoder: any Decoder) throws {
    self.init(nanoseconds: try decoder.singleValueContainer().decode(Int64.self))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(nanoseconds)
  }
}
