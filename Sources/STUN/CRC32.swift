/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as FINGERPRINT uses, table-driven with
/// slicing-by-8 (eight 256-entry tables, eight bytes per step).
public enum CRC32 {
  /// Table k holds the CRC of a byte followed by k zero bytes; table 0 is the classic table.
  static let tables: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for n in 0..<256 {
      var c = UInt32(n)
      for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      t[n] = c
    }
    for k in 1..<8 {
      for n in 0..<256 {
        let prev = t[(k - 1) * 256 + n]
        t[k * 256 + n] = t[Int(prev & 0xFF)] ^ (prev >> 8)
      }
    }
    return t
  }()

  /// Folds `bytes` into a running CRC state (start from `0xFFFFFFFF`, finish with `~`).
  static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var c = state
    tables.withUnsafeBufferPointer { t in
      var i = 0
      let n = bytes.count
      while n - i >= 8 {
        let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let lo = c ^ UInt32(truncatingIfNeeded: word)
        let hi = UInt32(truncatingIfNeeded: word >> 32)
        c =
          t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
          ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
          ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
          ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
        i += 8
      }
      while i < n {
        c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
        i += 1
      }
    }
    return c
  }

  /// The CRC-32 of `bytes`.
  public static func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { ~update(0xFFFF_FFFF, $0) }
  }
}
