/// A smoothed round-trip-time estimator in the manner of RFC 6298 §2, kept per server and
/// shared by the transactions sent to it.
///
/// The first sample R sets SRTT = R and RTTVAR = R/2; each later sample updates
/// RTTVAR ← ¾·RTTVAR + ¼·|SRTT − R| and then SRTT ← ⅞·SRTT + ⅛·R. The RTO it suggests is
/// SRTT + 4·RTTVAR; ``RetransmissionPolicy`` clamps it.
///
/// Karn's rule: a STUN response carries the transaction ID but nothing that says which
/// retransmission it answers, so the RTT of a transaction that retransmitted is ambiguous and
/// must not be fed in. ``observe(_:)`` enforces that.
public struct RTTEstimator: Sendable, Hashable, Codable {
  /// The smoothed RTT in nanoseconds, nil before the first sample.
  public private(set) var smoothedNanoseconds: Int64?
  /// The RTT variation in nanoseconds, nil before the first sample.
  public private(set) var variationNanoseconds: Int64?
  /// How many samples have been taken in.
  public private(set) var sampleCount: Int = 0
  /// How many samples were refused because they were ambiguous (Karn's rule).
  public private(set) var ambiguousSamplesIgnored: Int = 0

  /// An estimator with no samples.
  public init() {}

  /// The smoothed RTT (SRTT), nil before the first sample.
  public var smoothedRTT: Duration? { smoothedNanoseconds.map { .nanoseconds($0) } }

  /// The RTT variation (RTTVAR), nil before the first sample.
  public var rttVariation: Duration? { variationNanoseconds.map { .nanoseconds($0) } }

  /// SRTT + 4·RTTVAR, unclamped; nil before the first sample.
  public var retransmissionTimeout: Duration? {
    guard let s = smoothedNanoseconds, let v = variationNanoseconds else { return nil }
    return .nanoseconds(saturatingAdd(s, saturatingMultiply(v, 4)))
  }

  /// Takes in an unambiguous RTT measurement. Negative samples are treated as zero.
  public mutating func add(_ rtt: Duration) {
    let r = Swift.max(0, rtt.nanoseconds)
    if let s = smoothedNanoseconds, let v = variationNanoseconds {
      let diff = s >= r ? s - r : r - s
      variationNanoseconds = v - v / 4 + diff / 4
      smoothedNanoseconds = s - s / 8 + r / 8
    } else {
      smoothedNanoseconds = r
      variationNanoseconds = r / 2
    }
    sampleCount += 1
  }

  /// Takes in a transaction's RTT sample unless it is ambiguous (Karn's rule).
  /// - Returns: whether the sample was used.
  @discardableResult
  public mutating func observe(_ sample: RTTSample) -> Bool {
    if sample.isAmbiguous {
      ambiguousSamplesIgnored += 1
      return false
    }
    add(sample.duration)
    return true
  }
}

/// One transaction's round-trip time: arrival of the response minus the time of the FIRST send.
public struct RTTSample: Sendable, Hashable, Codable {
  /// Arrival minus first send.
  public var duration: Duration
  /// True when the request was retransmitted before the response came: the response may answer
  /// any of the sends, so the sample is only an upper bound and Karn's rule excludes it.
  public var isAmbiguous: Bool

  public init(duration: Duration, isAmbiguous: Bool) {
    self.duration = duration
    self.isAmbiguous = isAmbiguous
  }

  private enum CodingKeys: String, CodingKey {
    case nanoseconds
    case ambiguous
  }

  /// Decodes `{"nanoseconds": Int64, "ambiguous": Bool}`.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    duration = .nanoseconds(try c.decode(Int64.self, forKey: .nanoseconds))
    isAmbiguous = try c.decode(Bool.self, forKey: .ambiguous)
  }

  /// Encodes `{"nanoseconds": Int64, "ambiguous": Bool}`.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(duration.nanoseconds, forKey: .nanoseconds)
    try c.encode(isAmbiguous, forKey: .ambiguous)
  }
}
