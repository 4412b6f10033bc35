/// A point in time as the protocol machines see it: nanoseconds since an origin chosen by the
/// driver (process start for real sockets, zero for a simulation).
///
/// Machines never read a clock; they are handed `Instant`s, so tests can advance time by hand.
public struct Instant: Comparable, Hashable, Sendable {
  public var nanoseconds: Int64

  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  public static let zero = Instant(nanoseconds: 0)

  /// An instant that sorts after every reachable one ("never").
  public static let distantFuture = Instant(nanoseconds: .max)

  public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

  public static func + (a: Instant, d: Duration) -> Instant {
    let (sum, overflow) = a.nanoseconds.addingReportingOverflow(d.nanoseconds)
    return Instant(nanoseconds: overflow ? (d < .zero ? .min : .max) : sum)
  }

  public static func - (a: Instant, d: Duration) -> Instant { a + (.zero - d) }

  public static func - (a: Instant, b: Instant) -> Duration {
    .nanoseconds(a.nanoseconds &- b.nanoseconds)
  }

  /// Milliseconds since the origin, for reports.
  public var milliseconds: Double { Double(nanoseconds) / 1e6 }
}

extension Duration {
  /// The duration in whole nanoseconds, saturating at the bounds of `Int64`.
  public var nanoseconds: Int64 {
    let (s, attos) = components
    let (ns, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
    if o1 { return s < 0 ? .min : .max }
    let (sum, o2) = ns.addingReportingOverflow(attos / 1_000_000_000)
    if o2 { return s < 0 ? .min : .max }
    return sum
  }

  /// The duration in milliseconds as a floating-point value, for reports.
  public var milliseconds: Double { Double(nanoseconds) / 1e6 }
}
