/// The 96-bit STUN transaction ID (RFC 8489 §5), stored by value.
public struct TransactionID: Hashable, Sendable {
  /// Bytes 0–7 of the ID, big-endian.
  public var high: UInt64
  /// Bytes 8–11 of the ID, big-endian.
  public var low: UInt32

  public init(high: UInt64, low: UInt32) {
    self.high = high
    self.low = low
  }

  /// Builds an ID from exactly 12 bytes; nil for any other length.
  public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
    guard bytes.count == 12 else { return nil }
    var hi: UInt64 = 0
    var lo: UInt32 = 0
    for (i, b) in bytes.enumerated() {
      if i < 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt32(b) }
    }
    self.init(high: hi, low: lo)
  }

  /// A fresh ID from the given generator (pass a seeded one for deterministic simulations).
  public static func random<G: RandomNumberGenerator>(using generator: inout G) -> TransactionID {
    TransactionID(high: generator.next(), low: generator.next())
  }

  /// A fresh ID from the system's cryptographically secure generator.
  public static func random() -> TransactionID {
    var g = SystemRandomNumberGenerator()
    return random(using: &g)
  }

  /// The 12 bytes in wire order.
  public var bytes: [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * $0)) }
      + (0..<4).map { UInt8(truncatingIfNeeded: low >> UInt32(24 - 8 * $0)) }
  }
}

extension TransactionID: CustomStringConvertible {
  /// 24 lowercase hex digits.
  public var description: String {
    bytes.map { b in
      let s = String(b, radix: 16)
      return b < 16 ? "0" + s : s
    }.joined()
  }
}
