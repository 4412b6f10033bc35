import STUN

/// The kind of an ICE candidate (RFC 8445 §5.1.1), with the SDP names as raw values.
public enum CandidateType: String, Codable, Sendable, Hashable, CaseIterable {
  /// An address of one of the host's own interfaces.
  case host
  /// Server-reflexive: the address a NAT mapped a host candidate to, learnt from a STUN server.
  case srflx
  /// Peer-reflexive: an address learnt from a connectivity check (ours from a response's
  /// XOR-MAPPED-ADDRESS, theirs from the source of their request).
  case prflx
  /// Relayed: an address on a TURN server that forwards to us.
  case relay

  /// The RFC 8445 §5.1.2.2 recommended type preference.
  public var defaultTypePreference: UInt32 {
    switch self {
    case .host: return 126
    case .prflx: return 110
    case .srflx: return 100
    case .relay: return 0
    }
  }
}

/// One ICE candidate (RFC 8445 §5.1): a transport address at which an agent can receive.
///
/// Local candidates also carry their base (the address checks are sent from); remote ones
/// usually do not.
public struct Candidate: Codable, Sendable, Hashable {
  /// Identifies candidates that share type, base IP, server and transport (RFC 8445 §5.1.1.3).
  public var foundation: String
  /// The component ID; natscope uses one component (1).
  public var component: Int
  /// The transport, lower case ("udp").
  public var transport: String
  /// The candidate priority (RFC 8445 §5.1.2).
  public var priority: UInt32
  /// The transport address.
  public var address: TransportAddress
  /// The candidate type.
  public var type: CandidateType
  /// raddr/rport: the base of a server-reflexive or peer-reflexive candidate, the mapped
  /// address of a relayed one; nil for host candidates.
  public var relatedAddress: TransportAddress?
  /// The local address checks go out from: the candidate itself for host and relayed
  /// candidates, the host candidate for server- and peer-reflexive ones. nil for remote ones.
  public var base: TransportAddress?

  public init(
    foundation: String, component: Int = 1, transport: String = "udp", priority: UInt32,
    address: TransportAddress, type: CandidateType, relatedAddress: TransportAddress? = nil,
    base: TransportAddress? = nil
  ) {
    self.foundation = foundation
    self.component = component
    self.transport = transport
    self.priority = priority
    self.address = address
    self.type = type
    self.relatedAddress = relatedAddress
    self.base = base
  }

  /// The candidate's local preference (bits 8–23 of its priority).
  public var localPreference: UInt16 { UInt16(truncatingIfNeeded: priority >> 8) }
}

extension Candidate: CustomStringConvertible {
  /// `srflx 198.51.100.1:40006 (raddr 192.168.1.10:40006) prio 1694498815`.
  public var description: String {
    var s = "\(type.rawValue) \(address)"
    if let r = relatedAddress { s += " (raddr \(r))" }
    return s + " prio \(priority)"
  }
}
