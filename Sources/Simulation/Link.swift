import Runtime

/// The conditions of one direction of a link: fixed latency, bounded jitter, random loss.
///
/// A datagram crossing this direction is delayed by `latency` plus a uniformly drawn extra delay
/// in `0...jitter`, and is dropped with probability `loss`. With jitter, datagrams can be
/// reordered, as on real networks.
public struct LinkConditions: Hashable, Sendable, Codable {
  /// The fixed one-way delay.
  public var latency: Duration
  /// The upper bound of the extra random delay added to `latency`.
  public var jitter: Duration
  /// The probability (0...1) that a datagram is dropped.
  public var loss: Double
  /// The largest IP datagram (UDP payload plus 28 bytes of header over IPv4, 48 over IPv6)
  /// this direction carries; larger ones are dropped silently, as a path MTU black hole
  /// does. Nil carries any size.
  public var largestDatagram: Int?

  /// Conditions with the given latency, jitter and loss (loss is clamped to 0...1; negative
  /// durations count as zero).
  public init(
    latency: Duration = .zero, jitter: Duration = .zero, loss: Double = 0,
    largestDatagram: Int? = nil
  ) {
    self.latency = max(latency, .zero)
    self.jitter = max(jitter, .zero)
    self.loss = loss.isNaN ? 0 : min(max(loss, 0), 1)
    self.largestDatagram = largestDatagram
  }

  /// No delay, no loss.
  public static let ideal = LinkConditions()
}

/// How an interface (of a host or a NAT box) attaches to a realm: the conditions from the
/// interface into the realm (`up`) and from the realm to the interface (`down`).
///
/// A datagram from interface A to interface B in the same realm crosses A's `up` and B's `down`,
/// so the one-way delay is the sum of both latencies (plus jitter), and the loss is the
/// combination of both losses.
public struct Link: Hashable, Sendable, Codable {
  /// From the interface into the realm.
  public var up: LinkConditions
  /// From the realm to the interface.
  public var down: LinkConditions

  /// A link with different conditions per direction.
  public init(up: LinkConditions, down: LinkConditions) {
    self.up = up
    self.down = down
  }

  /// A symmetric link: both directions have the same latency, jitter and loss.
  public init(
    latency: Duration = .zero, jitter: Duration = .zero, loss: Double = 0,
    largestDatagram: Int? = nil
  ) {
    let c = LinkConditions(
      latency: latency, jitter: jitter, loss: loss, largestDatagram: largestDatagram)
    self.init(up: c, down: c)
  }

  /// No delay, no loss, both ways.
  public static let ideal = Link(up: .ideal, down: .ideal)
}
