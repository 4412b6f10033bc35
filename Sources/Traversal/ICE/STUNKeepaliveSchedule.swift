import STUN

/// When to send keepalives from each host socket to the STUN server its server-reflexive
/// candidate came from, so the NAT keeps that mapping while a person copies tokens (Linux
/// drops an idle UDP mapping after 30 s; RFC 8445 §11 and RFC 5389 keepalives). Pure: the
/// driver adds targets, asks what is due at a time, and sleeps until ``nextWake``.
///
/// ```swift
/// var k = STUNKeepaliveSchedule(interval: .seconds(15))
/// k.add(STUNKeepaliveSchedule.Target(base: base, server: stun), at: now)
/// for t in k.due(at: later) { send(indication, from: t.base, to: t.server) }
/// ```
public struct STUNKeepaliveSchedule: Sendable {
  /// One host socket and one STUN server.
  public struct Target: Hashable, Sendable {
    public var base: TransportAddress
    public var server: TransportAddress

    public init(base: TransportAddress, server: TransportAddress) {
      self.base = base
      self.server = server
    }
  }

  /// Time between two keepalives to the same target (at least 1 s).
  public let interval: Duration
  private var nextDue: [Target: Instant] = [:]

  public init(interval: Duration) {
    self.interval = max(interval, .seconds(1))
  }

  /// The targets, in no particular order.
  public var targets: [Target] { Array(nextDue.keys) }

  /// Adds a target whose mapping was just refreshed (the gathering answer came now): its
  /// first keepalive is due one interval later. Adding a known target changes nothing.
  public mutating func add(_ target: Target, at now: Instant) {
    if nextDue[target] == nil { nextDue[target] = now + interval }
  }

  /// The targets due at `now` (each then due again one interval later), base and server
  /// order.
  public mutating func due(at now: Instant) -> [Target] {
    let ready = nextDue.filter { $0.value <= now }.map(\.key).sorted {
      ($0.base.description, $0.server.description) < ($1.base.description, $1.server.description)
    }
    for t in ready { nextDue[t] = now + interval }
    return ready
  }

  /// When the next keepalive is due; nil without targets.
  public var nextWake: Instant? { nextDue.values.min() }

  /// Forgets every target.
  public mutating func removeAll() { nextDue.removeAll() }
}
