import Runtime
import STUN

/// An address prefix such as `192.168.1.0/24` or `2001:db8::/32`: the address space a realm owns.
public struct IPPrefix: Hashable, Sendable {
  /// The network address (host bits cleared).
  public let network: IPAddress
  /// The number of leading bits that are fixed (0...32 for IPv4, 0...128 for IPv6).
  public let length: Int

  /// Builds a prefix; returns nil when `length` is out of range for the address family.
  /// Host bits of `address` are cleared.
  public init?(_ address: IPAddress, length: Int) {
    switch address {
    case .v4(let a):
      guard (0...32).contains(length) else { return nil }
      let mask: UInt32 = length == 0 ? 0 : UInt32.max << UInt32(32 - length)
      network = .v4(a & mask)
    case .v6(let hi, let lo):
      guard (0...128).contains(length) else { return nil }
      network = .v6(
        IPPrefix.mask(hi, bits: min(length, 64)), IPPrefix.mask(lo, bits: max(length - 64, 0)))
    }
    self.length = length
  }

  /// Parses `a.b.c.d/n` or `ipv6/n`; nil for anything else.
  public init?(_ text: some StringProtocol) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let ip = IPAddress(parts[0]), parts[1].count <= 3,
      let n = Int(parts[1])
    else { return nil }
    self.init(ip, length: n)
  }

  private static func mask(_ word: UInt64, bits: Int) -> UInt64 {
    if bits <= 0 { return 0 }
    if bits >= 64 { return word }
    return word & ~(UInt64.max >> UInt64(bits))
  }

  /// True when `address` lies inside this prefix (same family, same leading bits).
  public func contains(_ address: IPAddress) -> Bool {
    IPPrefix(address, length: length)?.network == network
  }
}

extension IPPrefix: CustomStringConvertible {
  /// `192.168.1.0/24`.
  public var description: String { "\(network)/\(length)" }
}
