import STUN

/// The RFC 8445 priority formulas.
public enum ICEPriority {
  /// Candidate priority (RFC 8445 §5.1.2.1):
  /// `2^24·type preference + 2^8·local preference + (256 − component ID)`.
  public static func candidate(typePreference: UInt32, localPreference: UInt16, component: Int = 1)
    -> UInt32
  {
    let c = UInt32(max(1, min(256, component)))
    return (min(typePreference, 126) << 24) | (UInt32(localPreference) << 8) | (256 - c)
  }

  /// Pair priority (RFC 8445 §6.1.2.3): with G the controlling agent's candidate priority and
  /// D the controlled agent's, `2^32·MIN(G,D) + 2·MAX(G,D) + (G>D ? 1 : 0)`.
  public static func pair(controlling g: UInt32, controlled d: UInt32) -> UInt64 {
    (UInt64(min(g, d)) << 32) + 2 * UInt64(max(g, d)) + (g > d ? 1 : 0)
  }
}

extension ICEPriority {
  /// The check list's order (RFC 8445 §6.1.2.3): higher pair priority first, and among equal
  /// priorities the pair formed first. The agent orders its pairs so; a front that shows them
  /// orders them with this same rule rather than one of its own.
  public static func precedes(
    _ a: (priority: UInt64, id: Int), _ b: (priority: UInt64, id: Int)
  ) -> Bool {
    a.priority != b.priority ? a.priority > b.priority : a.id < b.id
  }
}

/// How local preferences are assigned to interfaces (RFC 8445 §5.1.2.1, RFC 8421 §4).
///
/// Every address family starts from its own base, IPv6 above IPv4 by default (RFC 8421 puts
/// IPv6 first); each further interface of the same family takes `step` less, so interfaces
/// listed first are preferred.
public struct LocalPreferencePolicy: Sendable, Hashable, Codable {
  /// The local preference of the first IPv6 interface.
  public var ipv6: UInt16
  /// The local preference of the first IPv4 interface.
  public var ipv4: UInt16
  /// How much lower each further interface of a family is.
  public var step: UInt16

  public init(ipv6: UInt16 = 65535, ipv4: UInt16 = 65535 - 8192, step: UInt16 = 256) {
    self.ipv6 = ipv6
    self.ipv4 = ipv4
    self.step = step
  }

  /// The local preference of the `index`-th interface (from 0) of `ip`'s family.
  public func preference(for ip: IPAddress, index: Int) -> UInt16 {
    let base = ip.family == .ipv6 ? ipv6 : ipv4
    let drop = UInt32(max(0, index)) * UInt32(step)
    return UInt16(UInt32(base) > drop ? UInt32(base) - drop : 0)
  }
}
