import STUN

/// A socket the probe asked for, numbered by the probe. Each RFC 5780 test that earlier NAT
/// state could bias gets a fresh one.
public struct ProbeSocketID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
  public var rawValue: Int
  public init(_ rawValue: Int) { self.rawValue = rawValue }
  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
  public var description: String { "socket \(rawValue)" }

  public init(from decoder: any Decoder) throws {
    rawValue = try decoder.singleValueContainer().decode(Int.self)
  }
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(rawValue)
  }
}

/// One Binding request a probe wants sent, in terms a STUN client can carry out: from which
/// socket, to where, and with which RFC 5780 attributes.
public struct BindingQuery: Sendable, Hashable, Codable {
  public var socket: ProbeSocketID
  public var destination: TransportAddress
  /// CHANGE-REQUEST "change IP".
  public var changeIP: Bool
  /// CHANGE-REQUEST "change port".
  public var changePort: Bool
  /// RESPONSE-PORT: ask the server to answer to this port of the request's source IP.
  public var responsePort: UInt16?
  /// Accept the answer from any source address (needed when the server is asked to answer
  /// from another address, RFC 5780 §4.4), not only from `destination`.
  public var acceptAnySource: Bool

  public init(
    socket: ProbeSocketID, destination: TransportAddress, changeIP: Bool = false,
    changePort: Bool = false, responsePort: UInt16? = nil, acceptAnySource: Bool = false
  ) {
    self.socket = socket
    self.destination = destination
    self.changeIP = changeIP
    self.changePort = changePort
    self.responsePort = responsePort
    self.acceptAnySource = acceptAnySource
  }
}

/// What came back for a `BindingQuery`: the attributes a probe reasons about, where the
/// answer came from, and how long it took.
public struct BindingAnswer: Sendable, Hashable, Codable {
  /// The address the response came from.
  public var source: TransportAddress
  /// The probe socket the response arrived on (not always the one that sent the request:
  /// RESPONSE-PORT redirects it).
  public var arrivedOn: ProbeSocketID
  public var xorMappedAddress: TransportAddress?
  public var mappedAddress: TransportAddress?
  public var responseOrigin: TransportAddress?
  public var otherAddress: TransportAddress?
  public var software: String?
  /// Set when the server answered with an error response.
  public var errorCode: Int?
  public var errorReason: String?
  public var rtt: Duration
  /// Requests sent before this answer arrived (1 = no retransmission).
  public var attempts: Int

  public init(
    source: TransportAddress, arrivedOn: ProbeSocketID, xorMappedAddress: TransportAddress? = nil,
    mappedAddress: TransportAddress? = nil, responseOrigin: TransportAddress? = nil,
    otherAddress: TransportAddress? = nil, software: String? = nil, errorCode: Int? = nil,
    errorReason: String? = nil, rtt: Duration, attempts: Int
  ) {
    self.source = source
    self.arrivedOn = arrivedOn
    self.xorMappedAddress = xorMappedAddress
    self.mappedAddress = mappedAddress
    self.responseOrigin = responseOrigin
    self.otherAddress = otherAddress
    self.software = software
    self.errorCode = errorCode
    self.errorReason = errorReason
    self.rtt = rtt
    self.attempts = attempts
  }

  /// The reflexive address the server saw: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
  public var reflexive: TransportAddress? { xorMappedAddress ?? mappedAddress }
}

/// The result of one `BindingQuery`.
public enum BindingOutcome: Sendable, Hashable, Codable {
  case answered(BindingAnswer)
  /// Every retransmission went unanswered for the whole window.
  case noAnswer(attempts: Int, window: Duration)
  /// The network said the destination cannot be reached (ICMP port, host or network
  /// unreachable) after `attempts` requests; the query ended at once.
  case unreachable(Unreachable, attempts: Int)

  public var answer: BindingAnswer? {
    if case .answered(let a) = self { a } else { nil }
  }
}

extension Duration {
  fileprivate static func fromMilliseconds(_ ms: Double) -> Duration {
    .nanoseconds(Int64((ms * 1e6).rounded()))
  }
}

extension BindingOutcome {
  private enum CodingKeys: String, CodingKey {
    case answered, answer, attempts, windowMs, unreachable
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    if try c.decode(Bool.self, forKey: .answered) {
      self = .answered(try c.decode(BindingAnswer.self, forKey: .answer))
    } else if let u = try c.decodeIfPresent(Unreachable.self, forKey: .unreachable) {
      self = .unreachable(u, attempts: try c.decode(Int.self, forKey: .attempts))
    } else {
      self = .noAnswer(
        attempts: try c.decode(Int.self, forKey: .attempts),
        window: .fromMilliseconds(try c.decode(Double.self, forKey: .windowMs)))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .answered(let a):
      try c.encode(true, forKey: .answered)
      try c.encode(a, forKey: .answer)
    case .noAnswer(let attempts, let window):
      try c.encode(false, forKey: .answered)
      try c.encode(attempts, forKey: .attempts)
      try c.encode(window.milliseconds, forKey: .windowMs)
    case .unreachable(let u, let attempts):
      try c.encode(false, forKey: .answered)
      try c.encode(attempts, forKey: .attempts)
      try c.encode(u, forKey: .unreachable)
    }
  }
}

extension BindingAnswer {
  private enum CodingKeys: String, CodingKey {
    case source, arrivedOn, xorMappedAddress, mappedAddress, responseOrigin, otherAddress
    case software, errorCode, errorReason, rttMs, attempts
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      source: try c.decode(TransportAddress.self, forKey: .source),
      arrivedOn: try c.decode(ProbeSocketID.self, forKey: .arrivedOn),
      xorMappedAddress: try c.decodeIfPresent(TransportAddress.self, forKey: .xorMappedAddress),
      mappedAddress: try c.decodeIfPresent(TransportAddress.self, forKey: .mappedAddress),
      responseOrigin: try c.decodeIfPresent(TransportAddress.self, forKey: .responseOrigin),
      otherAddress: try c.decodeIfPresent(TransportAddress.self, forKey: .otherAddress),
      software: try c.decodeIfPresent(String.self, forKey: .software),
      errorCode: try c.decodeIfPresent(Int.self, forKey: .errorCode),
      errorReason: try c.decodeIfPresent(String.self, forKey: .errorReason),
      rtt: .fromMilliseconds(try c.decode(Double.self, forKey: .rttMs)),
      attempts: try c.decode(Int.self, forKey: .attempts))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(source, forKey: .source)
    try c.encode(arrivedOn, forKey: .arrivedOn)
    try c.encodeIfPresent(xorMappedAddress, forKey: .xorMappedAddress)
    try c.encodeIfPresent(mappedAddress, forKey: .mappedAddress)
    try c.encodeIfPresent(responseOrigin, forKey: .responseOrigin)
    try c.encodeIfPresent(otherAddress, forKey: .otherAddress)
    try c.encodeIfPresent(software, forKey: .software)
    try c.encodeIfPresent(errorCode, forKey: .errorCode)
    try c.encodeIfPresent(errorReason, forKey: .errorReason)
    try c.encode(rtt.milliseconds, forKey: .rttMs)
    try c.encode(attempts, forKey: .attempts)
  }
}

extension BindingAnswer {
  /// The answer a decoded Binding response (success or error) gives: the addresses it
  /// carries, and SOFTWARE and the reason phrase with control and bidi characters neutralised.
  public init(
    response m: Message, source: TransportAddress, arrivedOn: ProbeSocketID, rtt: Duration,
    attempts: Int
  ) {
    let error = try? m.get(ErrorCodeAttribute.self)
    self.init(
      source: source, arrivedOn: arrivedOn,
      xorMappedAddress: (try? m.get(XORMappedAddress.self))?.address,
      mappedAddress: (try? m.get(MappedAddress.self))?.address,
      responseOrigin: (try? m.get(ResponseOrigin.self))?.address,
      otherAddress: (try? m.get(OtherAddress.self))?.address,
      software: (try? m.get(Software.self)).map { WireText.display($0.text) },
      errorCode: m.messageClass == .errorResponse ? Int(error?.code.rawValue ?? 0) : nil,
      errorReason: m.messageClass == .errorResponse
        ? error.map { WireText.display($0.reason) } : nil,
      rtt: rtt, attempts: attempts)
  }
}
