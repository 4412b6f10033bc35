import STUN

/// The transport protocol a port mapping is for.
public enum PortMappingProtocol: String, Sendable, Hashable, Codable, CaseIterable {
  case udp
  case tcp

  /// The IANA protocol number PCP carries (17 for UDP, 6 for TCP).
  public var ianaNumber: UInt8 {
    switch self {
    case .udp: return 17
    case .tcp: return 6
    }
  }

  /// The protocol with this IANA number, or nil for one natscope does not map.
  public init?(ianaNumber: UInt8) {
    switch ianaNumber {
    case 17: self = .udp
    case 6: self = .tcp
    default: return nil
    }
  }

  /// `UDP` or `TCP`, as UPnP IGD spells it in `NewProtocol`.
  public var upnpName: String { rawValue.uppercased() }
}

/// Checks a gateway's epoch time (seconds since its port-mapping state began) against the
/// client's own clock, to notice that the gateway restarted and forgot every mapping.
///
/// The rule is RFC 6887 §8.5's, which covers RFC 6886 §3.6's for NAT-PMP: the first value is
/// accepted as is; afterwards the value is invalid if it went back by more than one second, or
/// if it advanced much faster or much slower than the client's clock (by more than 2 s plus 1/16
/// of the elapsed time). Arithmetic is in whole milliseconds.
public struct GatewayEpoch: Sendable, Hashable {
  /// The last epoch value received, in seconds.
  public private(set) var lastServerSeconds: UInt32?
  /// When the last value was received.
  public private(set) var lastReceivedAt: Instant?

  /// No epoch seen yet.
  public init() {}

  /// Records `serverSeconds` received at `now`; returns false if it shows the gateway lost
  /// its state since the previous value (the new value is recorded either way).
  public mutating func observe(_ serverSeconds: UInt32, at now: Instant) -> Bool {
    defer {
      lastServerSeconds = serverSeconds
      lastReceivedAt = now
    }
    guard let prevServer = lastServerSeconds, let prevClient = lastReceivedAt else { return true }
    let current = Int64(serverSeconds) * 1000
    let previous = Int64(prevServer) * 1000
    if current + 1000 < previous { return false }
    let clientDelta = (now - prevClient).nanoseconds / 1_000_000
    let serverDelta = current - previous
    if clientDelta + 2000 < serverDelta - serverDelta / 16 { return false }
    if serverDelta + 2000 < clientDelta - clientDelta / 16 { return false }
    return true
  }
}

/// The waits of a doubling retransmission schedule: `initial`, `2·initial`, `4·initial`, …,
/// one per request, each capped at `cap`. Element `k` is the wait after request `k`.
func doublingWaits(initial: Duration, count: Int, cap: Duration? = nil) -> [Duration] {
  var out: [Duration] = []
  var current = initial.nanoseconds
  for _ in 0..<max(1, count) {
    let wait = cap.map { min(current, $0.nanoseconds) } ?? current
    out.append(.nanoseconds(wait))
    current = saturatingMultiply(current, 2)
  }
  return out
}

/// Big-endian reads over a byte array that never trap: out-of-range reads return nil.
struct PortMappingReader {
  let bytes: [UInt8]

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  func u8(_ offset: Int) -> UInt8? {
    guard offset >= 0, offset < bytes.count else { return nil }
    return bytes[offset]
  }

  func u16(_ offset: Int) -> UInt16? {
    guard offset >= 0, offset + 2 <= bytes.count else { return nil }
    return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
  }

  func u32(_ offset: Int) -> UInt32? {
    guard offset >= 0, offset + 4 <= bytes.count else { return nil }
    return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
  }

  func slice(_ offset: Int, _ count: Int) -> [UInt8]? {
    guard offset >= 0, count >= 0, offset + count <= bytes.count else { return nil }
    return Array(bytes[offset..<offset + count])
  }
}

extension Array where Element == UInt8 {
  mutating func appendBigEndian(_ v: UInt16) {
    append(UInt8(v >> 8))
    append(UInt8(truncatingIfNeeded: v))
  }

  mutating func appendBigEndian(_ v: UInt32) {
    append(UInt8(v >> 24))
    append(UInt8(truncatingIfNeeded: v >> 16))
    append(UInt8(truncatingIfNeeded: v >> 8))
    append(UInt8(truncatingIfNeeded: v))
  }
}
