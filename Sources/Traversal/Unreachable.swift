import STUN

/// What the network said about a destination it could not deliver to: an ICMP (or ICMPv6)
/// destination unreachable, or a send the local system refused. Evidence for a transaction
/// or a candidate pair that failed at once instead of timing out.
public struct Unreachable: Sendable, Hashable, Codable, CustomStringConvertible {
  /// Which error.
  public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
    /// ICMP port unreachable: the host is there, nothing listens on that port.
    case portUnreachable
    /// ICMP host unreachable (or address unreachable for ICMPv6).
    case hostUnreachable
    /// ICMP network unreachable, or no route to it from this host.
    case networkUnreachable
    /// ICMP communication administratively prohibited: a firewall that says so.
    case prohibited

    /// "ICMP port unreachable", "no route", … as a report says it.
    public var phrase: String {
      switch self {
      case .portUnreachable: return "ICMP port unreachable"
      case .hostUnreachable: return "ICMP host unreachable"
      case .networkUnreachable: return "ICMP network unreachable"
      case .prohibited: return "ICMP administratively prohibited"
      }
    }
  }

  /// Which error.
  public var kind: Kind
  /// The destination the failed datagram was sent to.
  public var destination: TransportAddress
  /// The address that sent the ICMP error (the destination host itself, or a router on the
  /// way); nil when the local system refused the send.
  public var reporter: IPAddress?
  /// When the error arrived, on the runtime's clock.
  public var at: Instant

  public init(
    kind: Kind, destination: TransportAddress, reporter: IPAddress?, at: Instant
  ) {
    self.kind = kind
    self.destination = destination
    self.reporter = reporter
    self.at = at
  }

  /// "ICMP port unreachable from 192.0.2.1"; without a reporter (the local system refused the
  /// send), "no route to 192.0.2.1 from this host".
  public var description: String {
    guard let reporter else {
      switch kind {
      case .portUnreachable: return "port unreachable, reported by this host"
      case .hostUnreachable, .networkUnreachable:
        return "no route to \(destination.ip) from this host"
      case .prohibited: return "refused by this host's firewall"
      }
    }
    return "\(kind.phrase) from \(reporter)"
  }
}
