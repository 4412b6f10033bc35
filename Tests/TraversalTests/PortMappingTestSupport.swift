import STUN
import Traversal

/// Shared fixtures for the port-mapping tests.
enum PM {
  /// An instant `ms` milliseconds after the origin.
  static func t(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }
  /// An instant `s` seconds after the origin.
  static func s(_ s: Int64) -> Instant { Instant(nanoseconds: s * 1_000_000_000) }

  static let gatewayIP = IPAddress.v4(0xC0A8_0101)  // 192.168.1.1
  static let gateway = TransportAddress(ip: gatewayIP, port: 5351)
  static let clientIP = IPAddress.v4(0xC0A8_010A)  // 192.168.1.10
  static let externalIP = IPAddress.v4(0xCB00_7107)  // 203.0.113.7
  static let stranger = TransportAddress(ip: .v4(0xC0A8_0163), port: 5351)  // 192.168.1.99
}

/// A generator that always returns the same value: with 100, PCP's RAND is exactly 0.
struct ConstantGenerator: RandomNumberGenerator, Sendable {
  var value: UInt64
  mutating func next() -> UInt64 { value }
}

extension Array where Element == NATPMPClientOutput {
  var sent: [[UInt8]] {
    compactMap { if case .transmit(let t) = $0 { t.bytes } else { nil } }
  }
  var events: [NATPMPClientEvent] {
    compactMap { if case .event(let e) = $0 { e } else { nil } }
  }
  var wake: Instant? {
    for o in self { if case .timeout(let t) = o { return t } }
    return nil
  }
}

extension Array where Element == PCPClientOutput {
  var sent: [[UInt8]] {
    compactMap { if case .transmit(let t) = $0 { t.bytes } else { nil } }
  }
  var events: [PCPClientEvent] {
    compactMap { if case .event(let e) = $0 { e } else { nil } }
  }
  var wake: Instant? {
    for o in self { if case .timeout(let t) = o { return t } }
    return nil
  }
}
