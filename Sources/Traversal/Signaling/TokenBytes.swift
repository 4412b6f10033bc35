/// Appends the compact binary fields of a token.
struct TokenWriter {
  var bytes: [UInt8] = []

  mutating func u8(_ v: UInt8) { bytes.append(v) }
  mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
  mutating func u32(_ v: UInt32) {
    for s in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s)))
    }
  }
  mutating func u64(_ v: UInt64) {
    for s in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s)))
    }
  }
  /// LEB128 unsigned varint.
  mutating func varint(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }
  /// Varint length then UTF-8.
  mutating func string(_ s: String) {
    let utf8 = Array(s.utf8)
    varint(UInt64(utf8.count))
    bytes += utf8
  }
}

/// Reads the compact binary fields of a token; every read is bounds-checked and throws
/// `SignalingError.malformed` naming the field.
struct TokenReader {
  let bytes: [UInt8]
  var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  var remaining: Int { bytes.count - offset }

  mutating func take(_ n: Int, _ what: String) throws(SignalingError) -> ArraySlice<UInt8> {
    guard n >= 0, n <= remaining else { throw .malformed("\(what) runs past the end") }
    defer { offset += n }
    return bytes[offset..<offset + n]
  }
  mutating func u8(_ what: String) throws(SignalingError) -> UInt8 {
    try take(1, what).first ?? 0
  }
  mutating func u16(_ what: String) throws(SignalingError) -> UInt16 {
    try take(2, what).reduce(0) { $0 << 8 | UInt16($1) }
  }
  mutating func u32(_ what: String) throws(SignalingError) -> UInt32 {
    try take(4, what).reduce(0) { $0 << 8 | UInt32($1) }
  }
  mutating func u64(_ what: String) throws(SignalingError) -> UInt64 {
    try take(8, what).reduce(0) { $0 << 8 | UInt64($1) }
  }
  mutating func varint(_ what: String) throws(SignalingError) -> UInt64 {
    var result: UInt64 = 0
    for shift in stride(from: 0, to: 64, by: 7) {
      let b = try u8(what)
      result |= UInt64(b & 0x7F) << UInt64(shift)
      if b & 0x80 == 0 { return result }
    }
    throw .malformed("\(what) is an overlong number")
  }
  /// A varint-length string of at most `max` bytes of valid UTF-8.
  mutating func string(_ what: String, max: Int) throws(SignalingError) -> String {
    let n = try varint(what)
    guard n <= UInt64(max) else { throw .malformed("\(what) is too long") }
    let raw = try take(Int(n), what)
    guard let s = String(validating: raw, as: UTF8.self) else {
      throw .malformed("\(what) is not text")
    }
    return s
  }
}
