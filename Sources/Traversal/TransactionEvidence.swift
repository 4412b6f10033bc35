import STUN

/// Everything a client transaction did and saw, for reports (`--json`) and explanations.
///
/// Durations and instants encode as integer nanoseconds; the transaction ID encodes as its 24
/// hex digits.
public struct TransactionEvidence: Sendable, Hashable, Codable {
  /// How the transaction stands.
  public enum Outcome: Sendable, Hashable, Codable {
    /// Created but not started.
    case notStarted
    /// Waiting for a response.
    case pending
    /// A response was accepted.
    case completed
    /// Ended without a response.
    case failed(TransactionFailure)
  }

  /// A response that was not accepted, with why.
  public struct Rejection: Sendable, Hashable, Codable {
    public var source: TransportAddress
    public var at: Instant
    public var reason: ResponseRejection

    public init(source: TransportAddress, at: Instant, reason: ResponseRejection) {
      self.source = source
      self.at = at
      self.reason = reason
    }
  }

  /// At most this many rejections are kept in ``rejections``; ``rejectedCount`` counts all.
  public static let maxRecordedRejections = 16

  /// The transaction's ID.
  public var transactionID: TransactionID
  /// Where the request went.
  public var destination: TransportAddress
  /// Which sources a response was accepted from.
  public var acceptedSources: AcceptedSources
  /// The initial RTO this transaction used (it doubles per retransmission).
  public var initialRTO: Duration
  /// The window from first send to "no answer", as computed at the start.
  public var timeoutWindow: Duration
  /// The instant of every send, the first one first.
  public var sendTimes: [Instant] = []
  /// How it stands.
  public var outcome: Outcome = .notStarted
  /// Where the accepted response came from.
  public var responseSource: TransportAddress?
  /// When the accepted response arrived.
  public var responseAt: Instant?
  /// The RTT sample of the accepted response.
  public var rtt: RTTSample?
  /// The first ``maxRecordedRejections`` rejected responses.
  public var rejections: [Rejection] = []
  /// All rejected responses.
  public var rejectedCount: Int = 0
  /// Further matching responses after one was accepted (answers to retransmissions, or the
  /// network duplicating).
  public var duplicateResponses: Int = 0
  /// Matching responses that arrived after the transaction had failed or was cancelled.
  public var lateResponses: Int = 0

  /// The number of requests sent.
  public var attempts: Int { sendTimes.count }

  public init(
    transactionID: TransactionID, destination: TransportAddress, acceptedSources: AcceptedSources,
    initialRTO: Duration, timeoutWindow: Duration
  ) {
    self.transactionID = transactionID
    self.destination = destination
    self.acceptedSources = acceptedSources
    self.initialRTO = initialRTO
    self.timeoutWindow = timeoutWindow
  }

  mutating func reject(source: TransportAddress, at: Instant, reason: ResponseRejection) {
    rejectedCount += 1
    if rejections.count < Self.maxRecordedRejections {
      rejections.append(Rejection(source: source, at: at, reason: reason))
    }
  }

  private enum CodingKeys: String, CodingKey {
    case transactionID, destination, acceptedSources, initialRTONanoseconds
    case timeoutWindowNanoseconds, sendTimes, attempts, outcome, responseSource, responseAt, rtt
    case rejections, rejectedCount, duplicateResponses, lateResponses
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let hex = try c.decode(String.self, forKey: .transactionID)
    guard let id = parseTransactionID(hex: hex) else {
      throw DecodingError.dataCorruptedError(
        forKey: .transactionID, in: c, debugDescription: "not 24 hex digits: \(hex)")
    }
    transactionID = id
    destination = try c.decode(TransportAddress.self, forKey: .destination)
    acceptedSources = try c.decode(AcceptedSources.self, forKey: .acceptedSources)
    initialRTO = .nanoseconds(try c.decode(Int64.self, forKey: .initialRTONanoseconds))
    timeoutWindow = .nanoseconds(try c.decode(Int64.self, forKey: .timeoutWindowNanoseconds))
    sendTimes = try c.decode([Instant].self, forKey: .sendTimes)
    outcome = try c.decode(Outcome.self, forKey: .outcome)
    responseSource = try c.decodeIfPresent(TransportAddress.self, forKey: .responseSource)
    responseAt = try c.decodeIfPresent(Instant.self, forKey: .responseAt)
    rtt = try c.decodeIfPresent(RTTSample.self, forKey: .rtt)
    rejections = try c.decode([Rejection].self, forKey: .rejections)
    rejectedCount = try c.decode(Int.self, forKey: .rejectedCount)
    duplicateResponses = try c.decode(Int.self, forKey: .duplicateResponses)
    lateResponses = try c.decode(Int.self, forKey: .lateResponses)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(transactionID.description, forKey: .transactionID)
    try c.encode(destination, forKey: .destination)
    try c.encode(acceptedSources, forKey: .acceptedSources)
    try c.encode(initialRTO.nanoseconds, forKey: .initialRTONanoseconds)
    try c.encode(timeoutWindow.nanoseconds, forKey: .timeoutWindowNanoseconds)
    try c.encode(sendTimes, forKey: .sendTimes)
    try c.encode(attempts, forKey: .attempts)
    try c.encode(outcome, forKey: .outcome)
    try c.encodeIfPresent(responseSource, forKey: .responseSource)
    try c.encodeIfPresent(responseAt, forKey: .responseAt)
    try c.encodeIfPresent(rtt, forKey: .rtt)
    try c.encode(rejections, forKey: .rejections)
    try c.encode(rejectedCount, forKey: .rejectedCount)
    try c.encode(duplicateResponses, forKey: .duplicateResponses)
    try c.encode(lateResponses, forKey: .lateResponses)
  }
}

/// Parses exactly 24 hex digits (either case) into a transaction ID; nil otherwise.
private func parseTransactionID(hex: String) -> TransactionID? {
  let digits = Array(hex.utf8)
  guard digits.count == 24 else { return nil }
  var bytes: [UInt8] = []
  bytes.reserveCapacity(12)
  var i = 0
  while i < 24 {
    guard let h = hexValue(digits[i]), let l = hexValue(digits[i + 1]) else { return nil }
    bytes.append(h << 4 | l)
    i += 2
  }
  return TransactionID(bytes: bytes)
}

private func hexValue(_ c: UInt8) -> UInt8? {
  switch c {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
  default: return nil
  }
}
