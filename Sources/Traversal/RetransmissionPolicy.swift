/// How a STUN client transaction over UDP retransmits its request (RFC 8489 §6.2.1).
///
/// The request is sent at time 0, then retransmitted after RTO, 2·RTO, 4·RTO, … (the interval
/// doubles each time) until `maxRequests` (Rc) requests have been sent; after the last one the
/// client waits `lastWaitMultiplier` (Rm) × RTO more before concluding there is no answer.
///
/// Two modes:
/// - ``rfc8489``: a fixed initial RTO (500 ms), Rc = 7, Rm = 16 — the RFC's defaults, whose
///   window is 39.5 s.
/// - ``diagnostics(floor:ceiling:initialRTO:maxRequests:lastWaitMultiplier:)``: the initial
///   RTO of each transaction follows the measured round-trip time to that server (an
///   ``RTTEstimator``), clamped to `[floor, ceiling]`, so a probe on a fast network concludes
///   "no answer" in a second or two while still retransmitting several times.
public struct RetransmissionPolicy: Sendable, Hashable {
  /// Bounds for the adaptive (diagnostics) mode.
  public struct AdaptiveBounds: Sendable, Hashable {
    /// The smallest initial RTO a transaction may use, whatever the measured RTT.
    public var floor: Duration
    /// The largest initial RTO a transaction may use.
    public var ceiling: Duration

    /// Bounds with `floor <= ceiling` (a ceiling below the floor is raised to the floor).
    public init(floor: Duration, ceiling: Duration) {
      self.floor = floor
      self.ceiling = Swift.max(floor, ceiling)
    }
  }

  /// The RTO used for the first transaction, and whenever no RTT sample is known (or always,
  /// when `adaptive` is nil).
  public var initialRTO: Duration
  /// Rc: the total number of requests sent (the first plus retransmissions); at least 1.
  public var maxRequests: Int
  /// Rm: after the last request the client waits this many times the initial RTO; at least 1.
  public var lastWaitMultiplier: Int
  /// When set, the initial RTO follows the ``RTTEstimator`` (SRTT + 4·RTTVAR) within bounds.
  public var adaptive: AdaptiveBounds?
  /// Each retransmission waits this many times longer than the previous one: 2 (RFC 8489's
  /// doubling) by default, 1 for evenly spaced requests.
  public var backoff: Int

  /// A policy; out-of-range counts are raised to 1 and a negative RTO to zero, never trapped on.
  public init(
    initialRTO: Duration = .milliseconds(500), maxRequests: Int = 7, lastWaitMultiplier: Int = 16,
    adaptive: AdaptiveBounds? = nil, backoff: Int = 2
  ) {
    self.backoff = Swift.min(Swift.max(1, backoff), 4)
    self.initialRTO = Swift.max(.zero, initialRTO)
    self.maxRequests = Swift.max(1, maxRequests)
    self.lastWaitMultiplier = Swift.max(1, lastWaitMultiplier)
    self.adaptive = adaptive
  }

  /// RFC 8489 §6.2.1 defaults: RTO 500 ms, Rc 7, Rm 16 (sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5,
  /// 31.5 s; failure at 39.5 s).
  public static let rfc8489 = RetransmissionPolicy()

  /// Diagnostics mode: the RTO adapts to the measured RTT, clamped to `[floor, ceiling]`.
  ///
  /// The defaults (floor 100 ms, 5 requests, Rm 4) give a window of 1.9 s at the floor: sends
  /// at 0, 100, 300, 700, 1500 ms and "no answer" at 1900 ms.
  public static func diagnostics(
    floor: Duration = .milliseconds(100), ceiling: Duration = .seconds(3),
    initialRTO: Duration = .milliseconds(500), maxRequests: Int = 5, lastWaitMultiplier: Int = 4
  ) -> RetransmissionPolicy {
    RetransmissionPolicy(
      initialRTO: initialRTO, maxRequests: maxRequests, lastWaitMultiplier: lastWaitMultiplier,
      adaptive: AdaptiveBounds(floor: floor, ceiling: ceiling))
  }

  /// The policy `natscope probe` uses: six evenly spaced requests, one RTO apart, where the
  /// RTO follows the measured RTT but never drops below 100 ms; "no answer" after seven RTOs
  /// (700 ms on a fast network). Six tries make a wrong "no answer" unlikely even with 10%
  /// loss each way (0.19^6 ≈ 5·10⁻⁵ per test).
  public static let probe = RetransmissionPolicy(
    initialRTO: .milliseconds(200), maxRequests: 6, lastWaitMultiplier: 2,
    adaptive: AdaptiveBounds(floor: .milliseconds(100), ceiling: .seconds(2)), backoff: 1)

  /// The initial RTO a new transaction uses, given what is known about the server's RTT.
  ///
  /// In RFC 8489 mode this is always `initialRTO`. In diagnostics mode it is the estimator's
  /// RTO (or `initialRTO` before any sample), clamped to the bounds.
  public func rto(using estimator: RTTEstimator = RTTEstimator()) -> Duration {
    guard let adaptive else { return initialRTO }
    let base = estimator.retransmissionTimeout ?? initialRTO
    return Swift.min(Swift.max(base, adaptive.floor), adaptive.ceiling)
  }

  /// The waits of a transaction whose initial RTO is `rto`: element `k` is the time between
  /// request `k` and the next event (request `k + 1`, or failure for the last request).
  public func intervals(rto: Duration) -> [Duration] {
    let ns = rto.nanoseconds
    var out: [Duration] = []
    out.reserveCapacity(maxRequests)
    var current = ns
    for k in 0..<maxRequests {
      if k == maxRequests - 1 {
        out.append(.nanoseconds(saturatingMultiply(ns, Int64(lastWaitMultiplier))))
      } else {
        out.append(.nanoseconds(current))
        current = saturatingMultiply(current, Int64(backoff))
      }
    }
    return out
  }

  /// The offsets from the first send at which each request is sent, if none is answered.
  public func sendOffsets(rto: Duration) -> [Duration] {
    var offsets: [Duration] = []
    var t: Int64 = 0
    for wait in intervals(rto: rto) {
      offsets.append(.nanoseconds(t))
      t = saturatingAdd(t, wait.nanoseconds)
    }
    return offsets
  }

  /// The time from the first send until the transaction fails with no answer, for a
  /// transaction whose initial RTO is `rto`.
  public func timeoutWindow(rto: Duration) -> Duration {
    .nanoseconds(intervals(rto: rto).reduce(Int64(0)) { saturatingAdd($0, $1.nanoseconds) })
  }

  /// The time until "no answer" for the next transaction to a server with this RTT history;
  /// computable before starting it, for reports.
  public func timeoutWindow(using estimator: RTTEstimator = RTTEstimator()) -> Duration {
    timeoutWindow(rto: rto(using: estimator))
  }
}

func saturatingMultiply(_ a: Int64, _ b: Int64) -> Int64 {
  let (r, o) = a.multipliedReportingOverflow(by: b)
  return o ? ((a < 0) != (b < 0) ? .min : .max) : r
}

func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
  let (r, o) = a.addingReportingOverflow(b)
  return o ? (b < 0 ? .min : .max) : r
}

extension RetransmissionPolicy.AdaptiveBounds: Codable {
  private enum CodingKeys: String, CodingKey {
    case floorNanoseconds, ceilingNanoseconds
  }

  /// Decodes `{"floorNanoseconds": Int64, "ceilingNanoseconds": Int64}`.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      floor: .nanoseconds(try c.decode(Int64.self, forKey: .floorNanoseconds)),
      ceiling: .nanoseconds(try c.decode(Int64.self, forKey: .ceilingNanoseconds)))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(floor.nanoseconds, forKey: .floorNanoseconds)
    try c.encode(ceiling.nanoseconds, forKey: .ceilingNanoseconds)
  }
}

/// A policy encodes its durations as integer nanoseconds, for reports.
extension RetransmissionPolicy: Codable {
  private enum CodingKeys: String, CodingKey {
    case initialRTONanoseconds, maxRequests, lastWaitMultiplier, adaptive, backoff
  }

  /// Decodes what ``encode(to:)`` writes; out-of-range counts are raised as in ``init``.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      initialRTO: .nanoseconds(try c.decode(Int64.self, forKey: .initialRTONanoseconds)),
      maxRequests: try c.decode(Int.self, forKey: .maxRequests),
      lastWaitMultiplier: try c.decode(Int.self, forKey: .lastWaitMultiplier),
      adaptive: try c.decodeIfPresent(AdaptiveBounds.self, forKey: .adaptive),
      backoff: try c.decodeIfPresent(Int.self, forKey: .backoff) ?? 2)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(initialRTO.nanoseconds, forKey: .initialRTONanoseconds)
    try c.encode(maxRequests, forKey: .maxRequests)
    try c.encode(lastWaitMultiplier, forKey: .lastWaitMultiplier)
    try c.encodeIfPresent(adaptive, forKey: .adaptive)
    try c.encode(backoff, forKey: .backoff)
  }
}
