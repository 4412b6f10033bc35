/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven, as FINGERPRINT uses.
public enum CRC32 {
  /// The 256-entry lookup table, computed once.
  static let table: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  /// Folds `bytes` into a running CRC state (start from `0xFFFFFFFF`, finish with `~`).
  @inline(__always)
  static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var c = state
    table.withUnsafeBufferPointer { t in
      for b in bytes {
        c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8)
      }
    }
    return c
  }

  /// The CRC-32 of `bytes`.
  public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    table.withUnsafeBufferPointer { t in
      for b in bytes {
        c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8)
      }
    }
    return ~c
  }
}
