import STUN

/// A verdict on one RFC 4787 axis with the reason behind it. `behavior` is nil when the tests
/// could not decide; JSON then says `"unknown"`.
public struct BehaviorVerdict<Behavior: RawRepresentable & Codable & Sendable & Hashable>: Codable,
  Sendable, Hashable
where Behavior.RawValue == String {
  public var behavior: Behavior?
  public var reason: String

  public init(_ behavior: Behavior?, _ reason: String) {
    self.behavior = behavior
    self.reason = reason
  }

  private enum CodingKeys: String, CodingKey { case behavior, reason }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let raw = try c.decode(String.self, forKey: .behavior)
    behavior = raw == "unknown" ? nil : Behavior(rawValue: raw)
    reason = try c.decode(String.self, forKey: .reason)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(behavior?.rawValue ?? "unknown", forKey: .behavior)
    try c.encode(reason, forKey: .reason)
  }
}

/// How the NAT picks public ports for new mappings.
public struct PortAllocation: Codable, Sendable, Hashable {
  public enum Pattern: String, Codable, Sendable {
    /// The public port equals the local port.
    case preserved
    /// Successive mappings get ports a fixed step apart.
    case sequential
    /// No pattern.
    case random
  }

  /// (local port, public port) per fresh socket, in the order they were opened.
  public var samples: [Sample]
  public var pattern: Pattern
  /// The step between successive public ports, for `sequential`.
  public var delta: Int?
  /// How many samples kept their local port.
  public var preservedCount: Int
  /// How many samples kept the parity (odd/even) of their local port.
  public var parityPreservedCount: Int
  /// Whether a peer could guess the next public port (port prediction).
  public var predictable: Bool

  public struct Sample: Codable, Sendable, Hashable {
    public var localPort: UInt16
    public var publicPort: UInt16

    public init(localPort: UInt16, publicPort: UInt16) {
      self.localPort = localPort
      self.publicPort = publicPort
    }
  }

  /// Derives the pattern from samples taken one after another.
  public static func analyse(_ samples: [Sample]) -> PortAllocation {
    let preserved = samples.filter { $0.localPort == $0.publicPort }.count
    let parity = samples.filter { $0.localPort % 2 == $0.publicPort % 2 }.count
    let deltas = zip(samples, samples.dropFirst()).map { Int($1.publicPort) - Int($0.publicPort) }
    let pattern: Pattern
    var delta: Int?
    if !samples.isEmpty && preserved == samples.count {
      pattern = .preserved
    } else if let first = deltas.first, deltas.count >= 2, first != 0, abs(first) <= 16,
      deltas.allSatisfy({ $0 == first })
    {
      pattern = .sequential
      delta = first
    } else {
      pattern = .random
    }
    return PortAllocation(
      samples: samples, pattern: pattern, delta: delta, preservedCount: preserved,
      parityPreservedCount: parity, predictable: pattern != .random)
  }
}

/// Whether an application-level gateway rewrote addresses inside STUN packets.
public struct ALGVerdict: Codable, Sendable, Hashable {
  /// nil when the server did not send MAPPED-ADDRESS next to XOR-MAPPED-ADDRESS.
  public var detected: Bool?
  public var reason: String

  private enum CodingKeys: String, CodingKey { case detected, reason }

  public init(detected: Bool?, reason: String) {
    self.detected = detected
    self.reason = reason
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    detected = try c.decodeIfPresent(Bool.self, forKey: .detected)
    reason = try c.decode(String.self, forKey: .reason)
  }

  /// `detected` is always present: null means "could not tell" (the JSON schema requires it).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(detected, forKey: .detected)
    try c.encode(reason, forKey: .reason)
  }
}

/// How long an idle mapping survives (RFC 5780 §4.6).
public struct LifetimeVerdict: Codable, Sendable, Hashable {
  /// The longest idle time after which the mapping still worked.
  public var aliveAfterSeconds: Double?
  /// The shortest idle time after which it had gone; nil if it outlived the search.
  public var expiredAfterSeconds: Double?
  public var reason: String
}

/// Whether STUN over TCP (RFC 8489 §6.2.2) reaches the server: tried when UDP is blocked,
/// because a TURN relay over TCP is then the only way out.
public struct TCPReachability: Codable, Sendable, Hashable {
  public var reachable: Bool
  public var server: TransportAddress
  /// What the server saw of the TCP connection.
  public var mappedAddress: TransportAddress?
  public var rttMs: Double?
  public var reason: String
  /// The server's host refused the connection (it is up and was reached); not in the JSON.
  public var refused: Bool? = nil
  /// Set when no answer came within this many milliseconds; not in the JSON.
  public var timeoutMs: Double? = nil
  /// Why the connection failed otherwise, as the stream said it; not in the JSON.
  public var error: String? = nil

  private enum CodingKeys: String, CodingKey {
    case reachable, server, mappedAddress, rttMs, reason
  }

  public init(
    reachable: Bool, server: TransportAddress, mappedAddress: TransportAddress? = nil,
    rttMs: Double? = nil, reason: String, refused: Bool? = nil, timeoutMs: Double? = nil,
    error: String? = nil
  ) {
    self.reachable = reachable
    self.server = server
    self.mappedAddress = mappedAddress
    self.rttMs = rttMs
    self.reason = reason
    self.refused = refused
    self.timeoutMs = timeoutMs
    self.error = error
  }
}

/// Whether the server can run RFC 5780's tests.
public struct ServerSupport: Codable, Sendable, Hashable {
  public var rfc5780: Bool
  public var otherAddress: TransportAddress?
  public var software: String?
  public var reason: String

  public init(rfc5780: Bool, otherAddress: TransportAddress?, software: String?, reason: String) {
    self.rfc5780 = rfc5780
    self.otherAddress = otherAddress
    self.software = software
    self.reason = reason
  }

  private enum CodingKeys: String, CodingKey { case rfc5780, otherAddress, software, reason }

  /// `otherAddress` and `software` are always present: null when the server sent none (the
  /// JSON schemas require both keys).
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(rfc5780, forKey: .rfc5780)
    try c.encode(otherAddress, forKey: .otherAddress)
    try c.encode(software, forKey: .software)
    try c.encode(reason, forKey: .reason)
  }
}

/// Everything a probe found, with its evidence. This is the `--json` schema of `natscope
/// probe` (version `ProbeReport.currentSchemaVersion`).
public struct ProbeReport: Codable, Sendable, Hashable {
  public static let currentSchemaVersion = 1

  public var schemaVersion: Int
  public var server: TransportAddress
  public var serverSupport: ServerSupport?
  public var udpBlocked: Bool
  public var natDetected: Bool
  public var localAddress: TransportAddress?
  public var mappedAddress: TransportAddress?
  public var mapping: BehaviorVerdict<MappingBehavior>
  public var filtering: BehaviorVerdict<FilteringBehavior>
  /// nil when not tested.
  public var hairpinning: Bool?
  public var hairpinningReason: String
  public var portAllocation: PortAllocation?
  public var alg: ALGVerdict
  public var bindingLifetime: LifetimeVerdict?
  /// STUN over TCP, tried by the driver when UDP is blocked; nil when not tried.
  public var tcp: TCPReachability? = nil
  /// The RFC 3489 name, or "no legacy equivalent".
  public var legacyType: String
  /// What this NAT means for direct connections to peers of each kind.
  public var summary: String
  public var durationMs: Double
  public var steps: [ProbeStep]
  /// ICMP errors that came back for the reachability test (test I): each says nothing listens
  /// at a server's address and port, or it cannot be reached. When no server answered and this
  /// is not empty, the probe ended for that reason, not because UDP is blocked.
  public var unreachable: [Unreachable]? = nil
  /// What the host's router said about port mapping (read-only); nil when not asked.
  public var portMapping: PortMappingReport? = nil
  /// Whether a NAT sits above the router; nil when port mapping was not asked.
  public var doubleNAT: DoubleNATVerdict? = nil

  /// The profile used to predict paths to peers.
  public var profile: NATProfile {
    NATProfile(
      udpBlocked: udpBlocked, natDetected: natDetected, mapping: mapping.behavior,
      filtering: filtering.behavior)
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, server, serverSupport, udpBlocked, natDetected, localAddress
    case mappedAddress, mapping, filtering, hairpinning, hairpinningReason, portAllocation, alg
    case bindingLifetime, tcp, legacyType, summary, durationMs, steps, unreachable
    case portMapping, doubleNAT
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(schemaVersion, forKey: .schemaVersion)
    try c.encode(server, forKey: .server)
    try c.encode(serverSupport, forKey: .serverSupport)
    try c.encode(udpBlocked, forKey: .udpBlocked)
    try c.encode(natDetected, forKey: .natDetected)
    try c.encode(localAddress, forKey: .localAddress)
    try c.encode(mappedAddress, forKey: .mappedAddress)
    try c.encode(mapping, forKey: .mapping)
    try c.encode(filtering, forKey: .filtering)
    // Always present: null means "not tested".
    try c.encode(hairpinning, forKey: .hairpinning)
    try c.encode(hairpinningReason, forKey: .hairpinningReason)
    try c.encode(portAllocation, forKey: .portAllocation)
    try c.encode(alg, forKey: .alg)
    try c.encode(bindingLifetime, forKey: .bindingLifetime)
    try c.encode(tcp, forKey: .tcp)
    try c.encode(legacyType, forKey: .legacyType)
    try c.encode(summary, forKey: .summary)
    try c.encode(durationMs, forKey: .durationMs)
    try c.encode(steps, forKey: .steps)
    try c.encode(unreachable ?? [], forKey: .unreachable)
    try c.encodeIfPresent(portMapping, forKey: .portMapping)
    try c.encodeIfPresent(doubleNAT, forKey: .doubleNAT)
  }
}
