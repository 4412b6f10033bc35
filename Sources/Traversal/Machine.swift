/// The contract a host in Sessions needs to run a sans-IO machine on a runtime without copying
/// it out and back at every call site: inputs and the passing of time go in, outputs come out,
/// and the machine says when it next wants to be woken.
///
/// A host owns the machine, calls ``handleInput(_:at:)`` and ``handleTimeout(at:)`` on the
/// runtime's serial context, carries out the outputs in order, and keeps one timer armed at
/// ``nextDeadline`` (re-read after every call; nil cancels it).
public protocol Machine {
  /// What the outside world hands the machine (a datagram, an ICMP error, bytes on a stream).
  associatedtype Input
  /// What the machine asks its host to do, and what it reports.
  associatedtype Output

  /// Handles one input at `now`.
  mutating func handleInput(_ input: Input, at now: Instant) -> [Output]
  /// Advances time to `now`; a host calls it at (or after) ``nextDeadline``.
  mutating func handleTimeout(at now: Instant) -> [Output]
  /// The earliest instant the machine wants ``handleTimeout(at:)``; nil when it waits for
  /// nothing.
  var nextDeadline: Instant? { get }
}
