// Small big-endian read/write helpers. Callers check bounds first; reads go through Array's
// bounds-checked subscript, so a missed check traps in tests rather than reading out of bounds.

extension Array where Element == UInt8 {
  @inline(__always)
  func be16(at i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i &+ 1]) }

  @inline(__always)
  func be32(at i: Int) -> UInt32 {
    UInt32(self[i]) << 24 | UInt32(self[i &+ 1]) << 16 | UInt32(self[i &+ 2]) << 8
      | UInt32(self[i &+ 3])
  }

  @inline(__always)
  mutating func appendBE16(_ v: UInt16) {
    append(UInt8(truncatingIfNeeded: v >> 8))
    append(UInt8(truncatingIfNeeded: v))
  }

  @inline(__always)
  mutating func appendBE32(_ v: UInt32) {
    append(UInt8(truncatingIfNeeded: v >> 24))
    append(UInt8(truncatingIfNeeded: v >> 16))
    append(UInt8(truncatingIfNeeded: v >> 8))
    append(UInt8(truncatingIfNeeded: v))
  }

  @inline(__always)
  mutating func appendBE64(_ v: UInt64) {
    appendBE32(UInt32(truncatingIfNeeded: v >> 32))
    appendBE32(UInt32(truncatingIfNeeded: v))
  }

  @inline(__always)
  mutating func setBE16(_ v: UInt16, at i: Int) {
    self[i] = UInt8(truncatingIfNeeded: v >> 8)
    self[i &+ 1] = UInt8(truncatingIfNeeded: v)
  }
}

extension ArraySlice where Element == UInt8 {
  /// The byte `k` places after the start of the slice.
  @inline(__always)
  func byte(_ k: Int) -> UInt8 { self[startIndex &+ k] }

  @inline(__always)
  func be16(_ k: Int) -> UInt16 { UInt16(byte(k)) << 8 | UInt16(byte(k &+ 1)) }

  @inline(__always)
  func be32(_ k: Int) -> UInt32 {
    UInt32(byte(k)) << 24 | UInt32(byte(k &+ 1)) << 16 | UInt32(byte(k &+ 2)) << 8
      | UInt32(byte(k &+ 3))
  }

  @inline(__always)
  func be64(_ k: Int) -> UInt64 { UInt64(be32(k)) << 32 | UInt64(be32(k &+ 4)) }
}

/// The STUN magic cookie (RFC 8489 §5).
public let stunMagicCookie: UInt32 = 0x2112_A442
