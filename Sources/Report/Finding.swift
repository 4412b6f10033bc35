import STUN

/// One claim a report makes, as a value: what is claimed (``code``), about what (``subject``),
/// with which parameters (addresses as addresses, error codes as numbers), from which recorded
/// evidence, and how sure it is. Every sentence natscope says about what happened on the
/// network is rendered from a finding (``FindingText``); nothing else writes one.
///
/// Findings are derived by pure functions from evidence (what was sent, what came back, what
/// was not measured, ICMP, timings). A verdict is itself a finding, and ``FindingSet`` refuses
/// one that claims what another finding marks as not measured.
public struct Finding: Codable, Sendable, Hashable {
  /// What is claimed: a stable, dotted name (`udp.no-answer`, `turn.relay.not-measured`).
  public var code: FindingCode
  /// What the claim is about.
  public var subject: FindingSubject
  /// How sure natscope is, from the evidence it has.
  public var certainty: FindingCertainty
  /// The values the sentence names, typed (never text to be matched again).
  public var parameters: FindingParameters
  /// The recorded evidence the claim rests on: what was sent and what came back.
  public var evidence: [EvidenceItem]
  /// The property of the subject this finding is about (`udp-reachability`, `relay`,
  /// `filtering`); a `notMeasured` finding names the property that was not measured.
  public var aspect: FindingAspect?
  /// For a verdict or summary: the properties it rests on. ``FindingSet/contradictions``
  /// lists a finding that covers a property another marks as not measured.
  public var covers: [FindingAspect]

  public init(
    _ code: FindingCode, about subject: FindingSubject, _ certainty: FindingCertainty,
    aspect: FindingAspect? = nil, covers: [FindingAspect] = [],
    parameters: FindingParameters = FindingParameters(), evidence: [EvidenceItem] = []
  ) {
    self.code = code
    self.subject = subject
    self.certainty = certainty
    self.aspect = aspect
    self.covers = covers
    self.parameters = parameters
    self.evidence = evidence
  }

  /// The one sentence this finding says (``FindingText``).
  public var text: String { FindingText.sentence(self) }

  private enum CodingKeys: String, CodingKey {
    case code, subject, certainty, parameters, evidence, aspect, covers, text
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    code = try c.decode(FindingCode.self, forKey: .code)
    subject = try c.decode(FindingSubject.self, forKey: .subject)
    certainty = try c.decode(FindingCertainty.self, forKey: .certainty)
    parameters = try c.decodeIfPresent(FindingParameters.self, forKey: .parameters) ?? [:]
    evidence = try c.decodeIfPresent([EvidenceItem].self, forKey: .evidence) ?? []
    aspect = try c.decodeIfPresent(FindingAspect.self, forKey: .aspect)
    covers = try c.decodeIfPresent([FindingAspect].self, forKey: .covers) ?? []
  }

  /// JSON: the finding's fields and its sentence (`text`), so a script can read either.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(code, forKey: .code)
    try c.encode(subject, forKey: .subject)
    try c.encode(certainty, forKey: .certainty)
    try c.encode(parameters, forKey: .parameters)
    try c.encode(evidence, forKey: .evidence)
    try c.encode(aspect, forKey: .aspect)
    try c.encode(covers, forKey: .covers)
    try c.encode(text, forKey: .text)
  }
}

/// A property a finding is about (`relay`, `udp-reachability`, `mapping`): open, as codes are.
public struct FindingAspect: RawRepresentable, Codable, Sendable, Hashable,
  ExpressibleByStringLiteral, CustomStringConvertible
{
  public var rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { self.rawValue = value }
  public var description: String { rawValue }

  public init(from decoder: any Decoder) throws {
    rawValue = try decoder.singleValueContainer().decode(String.self)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(rawValue)
  }
}

/// What a finding claims: an open set of stable names, as wire enums are (a consumer of the
/// JSON must accept codes it does not know). Each domain declares its codes beside the
/// function that derives them and the one that words them.
public struct FindingCode: RawRepresentable, Codable, Sendable, Hashable,
  ExpressibleByStringLiteral, CustomStringConvertible
{
  public var rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { self.rawValue = value }
  public var description: String { rawValue }

  public init(from decoder: any Decoder) throws {
    rawValue = try decoder.singleValueContainer().decode(String.self)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(rawValue)
  }
}

/// What a finding is about.
public enum FindingSubject: Codable, Sendable, Hashable {
  /// The host natscope runs on (its NAT, its router, its address).
  case thisHost
  /// The host at the other end of a `connect`.
  case peer
  /// The network between this host and the servers (or the peer).
  case network
  /// One server natscope talked to (STUN, TURN), by the address it used.
  case server(TransportAddress)
  /// One kind of ICE path (`direct`, `reflexive`, `relay`).
  case path(String)
  /// The session as a whole (its verdict, its timing).
  case session

  /// JSON: `this-host`, `peer`, `network`, `session`, `server:ADDRESS`, `path:KIND`.
  public var rawValue: String {
    switch self {
    case .thisHost: "this-host"
    case .peer: "peer"
    case .network: "network"
    case .session: "session"
    case .server(let a): "server:\(a)"
    case .path(let k): "path:\(k)"
    }
  }

  public init?(rawValue: String) {
    switch rawValue {
    case "this-host": self = .thisHost
    case "peer": self = .peer
    case "network": self = .network
    case "session": self = .session
    default:
      if rawValue.hasPrefix("server:"), let a = TransportAddress(rawValue.dropFirst(7)) {
        self = .server(a)
      } else if rawValue.hasPrefix("path:") {
        self = .path(String(rawValue.dropFirst(5)))
      } else {
        return nil
      }
    }
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    let raw = try c.decode(String.self)
    guard let s = FindingSubject(rawValue: raw) else {
      throw DecodingError.dataCorruptedError(
        in: c, debugDescription: "unknown finding subject \(raw)")
    }
    self = s
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(rawValue)
  }
}

/// How sure a finding is.
public enum FindingCertainty: String, Codable, Sendable, Hashable {
  /// Seen directly: an answer, an ICMP error, a packet that got through.
  case measured
  /// Derived from measurements by a model (RFC 4787 behaviour, a prediction).
  case inferred
  /// Consistent with the evidence but not proven by it (one silent server, a refusal code).
  case likely
  /// The thing was not measured; the finding says so, and nothing may claim it.
  case notMeasured = "not-measured"
}

/// A typed value a sentence names.
public enum FindingValue: Codable, Sendable, Hashable {
  case address(TransportAddress)
  case ip(IPAddress)
  case int(Int)
  case milliseconds(Double)
  case text(String)
  case flag(Bool)
  case list([FindingValue])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let b = try? c.decode(Bool.self) {
      self = .flag(b)
    } else if let i = try? c.decode(Int.self) {
      self = .int(i)
    } else if let d = try? c.decode(Double.self) {
      self = .milliseconds(d)
    } else if let l = try? c.decode([FindingValue].self) {
      self = .list(l)
    } else {
      let s = try c.decode(String.self)
      if let a = TransportAddress(s) {
        self = .address(a)
      } else if let ip = IPAddress(s) {
        self = .ip(ip)
      } else {
        self = .text(s)
      }
    }
  }

  /// JSON: addresses as `"ip:port"` strings, numbers as numbers.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .address(let a): try c.encode(a.description)
    case .ip(let ip): try c.encode(ip.description)
    case .int(let i): try c.encode(i)
    case .milliseconds(let d): try c.encode(d)
    case .text(let s): try c.encode(s)
    case .flag(let b): try c.encode(b)
    case .list(let l): try c.encode(l)
    }
  }
}

/// The named values of a finding, in a stable order (JSON keys are sorted).
public struct FindingParameters: Codable, Sendable, Hashable, ExpressibleByDictionaryLiteral {
  public var values: [String: FindingValue]

  public init(_ values: [String: FindingValue] = [:]) { self.values = values }
  public init(dictionaryLiteral elements: (String, FindingValue)...) {
    values = Dictionary(elements, uniquingKeysWith: { _, last in last })
  }

  public subscript(_ key: String) -> FindingValue? {
    get { values[key] }
    set { values[key] = newValue }
  }

  public func address(_ key: String) -> TransportAddress? {
    if case .address(let a)? = values[key] { return a }
    return nil
  }
  public func ip(_ key: String) -> IPAddress? {
    switch values[key] {
    case .ip(let ip)?: return ip
    case .address(let a)?: return a.ip
    default: return nil
    }
  }
  public func int(_ key: String) -> Int? {
    if case .int(let i)? = values[key] { return i }
    return nil
  }
  public func milliseconds(_ key: String) -> Double? {
    switch values[key] {
    case .milliseconds(let d)?: return d
    case .int(let i)?: return Double(i)
    default: return nil
    }
  }
  public func text(_ key: String) -> String? {
    if case .text(let s)? = values[key] { return s }
    return nil
  }
  public func flag(_ key: String) -> Bool? {
    if case .flag(let b)? = values[key] { return b }
    return nil
  }
  public func list(_ key: String) -> [FindingValue] {
    if case .list(let l)? = values[key] { return l }
    return []
  }

  public init(from decoder: any Decoder) throws {
    values = try decoder.singleValueContainer().decode([String: FindingValue].self)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(values)
  }
}

/// One piece of recorded evidence a finding rests on: what kind (a request sent, an answer,
/// silence, an ICMP error, an error code, a timing), to or from where, and how many.
public struct EvidenceItem: Codable, Sendable, Hashable {
  public enum Kind: String, Codable, Sendable, Hashable {
    /// Requests sent that got an answer.
    case answered
    /// Requests sent that got none within the window.
    case noAnswer = "no-answer"
    /// An ICMP error came back (port or host unreachable).
    case icmp
    /// The server answered with a STUN/TURN error code.
    case errorCode = "error-code"
    /// A TCP connection was refused, reset or timed out.
    case tcp
    /// A TLS handshake's result.
    case tls
    /// Data that went through (or not): relayed packets, checks.
    case traffic
    /// Something natscope did not do, with why.
    case notRun = "not-run"
    /// A time measured.
    case timing
    /// What the peer signalled, or did not.
    case signalling
  }

  public var kind: Kind
  /// Which test or step this comes from (`test-I`, `allocate`, `pair 3`), when there is one.
  public var step: String?
  /// The remote end, when there is one.
  public var address: TransportAddress?
  /// How many requests, packets or attempts.
  public var count: Int?
  /// A code (STUN error code, ICMP type) or a value in milliseconds, when there is one.
  public var value: Double?

  public init(
    _ kind: Kind, step: String? = nil, address: TransportAddress? = nil, count: Int? = nil,
    value: Double? = nil
  ) {
    self.kind = kind
    self.step = step
    self.address = address
    self.count = count
    self.value = value
  }
}
