/// An IPv4 or IPv6 address, stored by value with no allocation.
///
/// natscope has its own address type (rather than NIO's `SocketAddress`) so that the wire codec,
/// the protocol machines and the simulated network share one small, `Hashable`, `Sendable` value
/// that is free of any socket API.
public enum IPAddress: Hashable, Sendable {
  case v4(UInt32)
  /// The 128 bits of an IPv6 address, most significant half first.
  case v6(UInt64, UInt64)

  /// The address family as STUN encodes it (0x01 IPv4, 0x02 IPv6).
  public var family: AddressFamily { if case .v4 = self { .ipv4 } else { .ipv6 } }

  /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
  public var bytes: [UInt8] {
    switch self {
    case .v4(let a):
      return [
        UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16),
        UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a),
      ]
    case .v6(let hi, let lo):
      var out = [UInt8]()
      out.reserveCapacity(16)
      for shift in stride(from: 56, through: 0, by: -8) {
        out.append(UInt8(truncatingIfNeeded: hi >> UInt64(shift)))
      }
      for shift in stride(from: 56, through: 0, by: -8) {
        out.append(UInt8(truncatingIfNeeded: lo >> UInt64(shift)))
      }
      return out
    }
  }

  /// Builds an address from 4 or 16 network-order bytes; nil for any other length.
  public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
    switch bytes.count {
    case 4:
      self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
    case 16:
      var hi: UInt64 = 0
      var lo: UInt64 = 0
      for (i, b) in bytes.enumerated() {
        if i < 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt64(b) }
      }
      self = .v6(hi, lo)
    default:
      return nil
    }
  }

  /// Parses dotted-quad IPv4 or RFC 4291 text IPv6 (with `::` compression and an optional
  /// embedded IPv4 tail). Returns nil for anything else; never traps.
  public init?(_ text: some StringProtocol) {
    if let v4 = IPAddress.parseV4(Substring(text)) {
      self = .v4(v4)
    } else if let v6 = IPAddress.parseV6(Substring(text)) {
      self = v6
    } else {
      return nil
    }
  }

  private static func parseV4(_ s: Substring) -> UInt32? {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for p in parts {
      guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
        let n = UInt32(p), n <= 255
      else { return nil }
      value = value << 8 | n
    }
    return value
  }

  private static func parseV6(_ s: Substring) -> IPAddress? {
    guard s.contains(":"), s.count <= 45 else { return nil }
    var groups: [UInt16] = []
    var tailGroups: [UInt16] = []
    var seenDoubleColon = false
    let halves = s.ranges(of: "::").count <= 1 ? IPAddress.splitOnce(s) : nil
    guard let halves else { return nil }
    func parseGroups(_ text: String, allowV4Tail: Bool) -> [UInt16]? {
      if text.isEmpty { return [] }
      var out: [UInt16] = []
      let fields = text.split(separator: ":", omittingEmptySubsequences: false)
      for (i, f) in fields.enumerated() {
        if allowV4Tail, i == fields.count - 1, f.contains(".") {
          guard let v4 = parseV4(f) else { return nil }
          out.append(UInt16(v4 >> 16))
          out.append(UInt16(v4 & 0xFFFF))
        } else {
          guard !f.isEmpty, f.count <= 4, let g = UInt16(f, radix: 16) else { return nil }
          out.append(g)
        }
      }
      return out
    }
    if halves.count == 2 {
      seenDoubleColon = true
      guard let head = parseGroups(halves[0], allowV4Tail: false),
        let tail = parseGroups(halves[1], allowV4Tail: true)
      else { return nil }
      groups = head
      tailGroups = tail
      guard groups.count + tailGroups.count <= 7 else { return nil }
    } else {
      guard let all = parseGroups(halves[0], allowV4Tail: true), all.count == 8 else { return nil }
      groups = all
    }
    if seenDoubleColon {
      groups += [UInt16](repeating: 0, count: 8 - groups.count - tailGroups.count) + tailGroups
    }
    var hi: UInt64 = 0
    var lo: UInt64 = 0
    for (i, g) in groups.enumerated() {
      if i < 4 { hi = hi << 16 | UInt64(g) } else { lo = lo << 16 | UInt64(g) }
    }
    return .v6(hi, lo)
  }

  /// Splits at the first `::` into one or two parts, as Strings.
  private static func splitOnce(_ s: Substring) -> [String] {
    guard let r = s.firstRange(of: "::") else { return [String(s)] }
    return [String(s[..<r.lowerBound]), String(s[r.upperBound...])]
  }

  /// True for 127.0.0.0/8 and ::1.
  public var isLoopback: Bool {
    switch self {
    case .v4(let a): return a >> 24 == 127
    case .v6(let hi, let lo): return hi == 0 && lo == 1
    }
  }

  /// True for 169.254.0.0/16 and fe80::/10.
  public var isLinkLocal: Bool {
    switch self {
    case .v4(let a): return a >> 16 == 0xA9FE
    case .v6(let hi, _): return hi >> 54 == 0x3FA
    }
  }

  /// True for 0.0.0.0 and ::.
  public var isUnspecified: Bool {
    switch self {
    case .v4(let a): return a == 0
    case .v6(let hi, let lo): return hi == 0 && lo == 0
    }
  }

  /// True for RFC 1918, RFC 6598 (carrier-grade NAT) and fc00::/7 unique local addresses.
  public var isPrivate: Bool {
    switch self {
    case .v4(let a):
      return a >> 24 == 10 || a >> 20 == 0xAC1 || a >> 16 == 0xC0A8 || a >> 22 == 0x191
    case .v6(let hi, _): return hi >> 57 == 0x7E
    }
  }

  public static let anyV4 = IPAddress.v4(0)
  public static let anyV6 = IPAddress.v6(0, 0)
  public static let loopbackV4 = IPAddress.v4(0x7F00_0001)
  public static let loopbackV6 = IPAddress.v6(0, 1)
}

extension IPAddress: CustomStringConvertible {
  /// Dotted quad for IPv4; RFC 5952 canonical text for IPv6 (lowercase, longest zero run as `::`).
  public var description: String {
    switch self {
    case .v4(let a):
      return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
    case .v6(let hi, let lo):
      let groups = (0..<8).map { i -> UInt16 in
        let word = i < 4 ? hi : lo
        return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (i % 4)))
      }
      var bestStart = -1
      var bestLen = 0
      var i = 0
      while i < 8 {
        if groups[i] == 0 {
          var j = i
          while j < 8 && groups[j] == 0 { j += 1 }
          if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
          i = j
        } else {
          i += 1
        }
      }
      func hex(_ range: Range<Int>) -> String {
        groups[range].map { String($0, radix: 16) }.joined(separator: ":")
      }
      if bestStart < 0 { return hex(0..<8) }
      return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }
  }
}

/// The STUN address family byte.
public struct AddressFamily: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  public static let ipv4 = AddressFamily(rawValue: 0x01)
  public static let ipv6 = AddressFamily(rawValue: 0x02)
}
