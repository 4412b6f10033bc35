import Runtime
import STUN
import Traversal

/// A UDP datagram in flight inside the simulator. The payload is opaque bytes.
struct Packet {
  /// A number unique within one network, in order of first sending.
  var id: UInt64
  var source: TransportAddress
  var destination: TransportAddress
  var payload: [UInt8]
  /// Hops left before the packet is dropped (guards against routing loops).
  var hopsLeft: Int
  /// Set when this is an ICMP destination unreachable rather than a UDP datagram: `source` is
  /// the reporting host (port 0), `destination` the sender of the datagram it concerns.
  var icmp: ICMPUnreachable? = nil
}

/// An ICMP destination unreachable in flight: which error, and the addresses of the UDP
/// datagram it quotes, as they were where the error was raised (NATs translate them back on
/// the way, as Linux conntrack does for RELATED ICMP).
struct ICMPUnreachable {
  var kind: Unreachable.Kind
  /// The quoted datagram's source (the socket that sent it, after any NAT on its way out).
  var originalSource: TransportAddress
  /// The quoted datagram's destination (where it was going).
  var originalDestination: TransportAddress
}

/// Why the simulator dropped a datagram.
public enum DropReason: String, Hashable, Sendable, Codable, CaseIterable {
  /// Random loss on a link.
  case loss
  /// A NAT's filtering behaviour refused an inbound datagram.
  case filtered
  /// A UDP firewall (on a NAT box or a host) dropped it.
  case firewall
  /// No realm, host or gateway owns the destination address.
  case noRoute = "no-route"
  /// An inbound datagram matched a NAT mapping that had expired.
  case mappingExpired = "mapping-expired"
  /// An inbound datagram reached a NAT's public address on a port with no mapping.
  case noMapping = "no-mapping"
  /// The NAT ran out of external ports.
  case portsExhausted = "ports-exhausted"
  /// A datagram from inside to the NAT's own public address, with hairpinning off.
  case hairpinDisabled = "hairpin-disabled"
  /// The destination host has no socket bound to the port.
  case noListener = "no-listener"
  /// The datagram crossed too many routers (a routing loop).
  case hopLimit = "hop-limit"
  /// The sending socket was closed, or the datagram's address family has no interface.
  case unsendable
  /// Larger than a link's ``LinkConditions/largestDatagram`` (a path MTU black hole).
  case tooLarge = "too-large"
}

/// Counts of what happened to datagrams, network-wide.
public struct TrafficCounters: Hashable, Sendable, Codable {
  /// Datagrams handed to the network by sockets.
  public var sent: Int = 0
  /// Datagrams delivered to a socket.
  public var delivered: Int = 0
  /// Datagrams translated by a NAT box (each crossing counts once).
  public var translated: Int = 0
  /// Datagrams dropped, by reason.
  public var dropped: [DropReason: Int] = [:]

  public init() {}

  /// How many datagrams were dropped for `reason`.
  public func dropped(_ reason: DropReason) -> Int { dropped[reason, default: 0] }

  /// All drops, whatever the reason.
  public var droppedTotal: Int { dropped.values.reduce(0, +) }

  mutating func count(_ kind: PacketTrace.Kind) {
    switch kind {
    case .sent: sent += 1
    case .delivered: delivered += 1
    case .translated: translated += 1
    case .forwarded: break
    case .dropped(let reason): dropped[reason, default: 0] += 1
    }
  }
}

/// One step in a datagram's life, handed to `VirtualNetwork.trace` for debugging and demos.
public struct PacketTrace: Hashable, Sendable {
  /// What happened.
  public enum Kind: Hashable, Sendable {
    /// A socket sent it.
    case sent
    /// A NAT rewrote it; `source`/`destination` are the addresses after translation.
    case translated
    /// A router without translation forwarded it.
    case forwarded
    /// It reached a socket.
    case delivered
    /// It was dropped.
    case dropped(DropReason)
  }

  /// When it happened.
  public var time: Instant
  /// The datagram's number (stable across its hops).
  public var packet: UInt64
  /// What happened.
  public var kind: Kind
  /// The host or NAT box where it happened.
  public var node: String
  /// Source address at this point.
  public var source: TransportAddress
  /// Destination address at this point.
  public var destination: TransportAddress
  /// Payload size in bytes.
  public var size: Int
}

extension PacketTrace: CustomStringConvertible {
  /// One line, e.g. `12.000ms #3 home-nat translated 198.51.100.1:5000 -> 203.0.113.10:3478 (20 B)`.
  public var description: String {
    let what: String
    switch kind {
    case .sent: what = "sent"
    case .translated: what = "translated"
    case .forwarded: what = "forwarded"
    case .delivered: what = "delivered"
    case .dropped(let reason): what = "dropped(\(reason.rawValue))"
    }
    let ms = time.nanoseconds / 1_000_000
    let frac = String(time.nanoseconds % 1_000_000 / 1000)
    let padded = String(repeating: "0", count: max(0, 3 - frac.count)) + frac
    return "\(ms).\(padded)ms #\(packet) \(node) \(what) \(source) -> \(destination) (\(size) B)"
  }
}

extension PacketTrace: Encodable {
  private enum CodingKeys: String, CodingKey {
    case timeMs, packet, kind, reason, node, source, destination, size
  }

  /// `{"timeMs": 12.5, "packet": 3, "kind": "dropped", "reason": "loss", "node": "nat", …}`;
  /// `reason` only for drops.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(time.milliseconds, forKey: .timeMs)
    try c.encode(packet, forKey: .packet)
    switch kind {
    case .sent: try c.encode("sent", forKey: .kind)
    case .translated: try c.encode("translated", forKey: .kind)
    case .forwarded: try c.encode("forwarded", forKey: .kind)
    case .delivered: try c.encode("delivered", forKey: .kind)
    case .dropped(let reason):
      try c.encode("dropped", forKey: .kind)
      try c.encode(reason, forKey: .reason)
    }
    try c.encode(node, forKey: .node)
    try c.encode(source, forKey: .source)
    try c.encode(destination, forKey: .destination)
    try c.encode(size, forKey: .size)
  }
}
