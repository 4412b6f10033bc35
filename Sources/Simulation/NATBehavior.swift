import Runtime
import Traversal

// `MappingBehavior` and `FilteringBehavior` are Traversal's: the probe's verdicts and the
// simulated NATs speak the same RFC 4787 vocabulary.

/// How a NAT picks an external port when it cannot (or does not try to) preserve the inside one.
public enum PortAssignment: String, Hashable, Sendable, Codable, CaseIterable {
  /// Each new mapping takes the next free port, stepping by `NATBehavior.portDelta`.
  case sequential
  /// Each new mapping takes a random free port from the range.
  case random
}

/// How a NAT with several public IP addresses chooses one for a mapping (RFC 4787 §4.1).
public enum IPPooling: String, Hashable, Sendable, Codable, CaseIterable {
  /// Every mapping of one inside IP address uses the same external IP address.
  case paired
  /// Each mapping may use any of the external IP addresses (chosen at random).
  case arbitrary
}

/// A firewall rule set for UDP on a NAT box or a host.
public enum UDPFirewall: String, Hashable, Sendable, Codable, CaseIterable {
  /// UDP passes (subject to NAT filtering).
  case none
  /// Every UDP datagram is dropped, both directions.
  case blockAll = "block-all"
  /// UDP arriving from outside is dropped; outgoing UDP passes.
  case blockInbound = "block-inbound"
  /// Outgoing UDP is dropped (so no mapping is ever created); inbound is not blocked.
  case blockOutbound = "block-outbound"

  /// True when this rule set drops a datagram going in the given direction.
  public func blocks(inbound: Bool) -> Bool {
    switch self {
    case .none: return false
    case .blockAll: return true
    case .blockInbound: return inbound
    case .blockOutbound: return !inbound
    }
  }
}

/// Everything that determines how a NAT box treats UDP, one field per RFC 4787 axis.
///
/// Presets cover the classic names (`fullCone`, `restrictedCone`, `portRestrictedCone`,
/// `symmetric`), a carrier-grade NAT (`cgnat`), a router without translation (`open`) and a
/// router that drops all UDP (`udpBlocked`). Start from a preset and change fields as needed.
///
/// JSON uses the RFC terms as lowercase-hyphenated strings, e.g.
/// `{"mapping": "endpoint-independent", "filtering": "address-and-port-dependent", …}`;
/// `mappingLifetime` is in seconds. Missing keys take the `portRestrictedCone` values.
public struct NATBehavior: Hashable, Sendable {
  /// False for a plain router: addresses are not translated, the inside prefix is routed.
  public var translatesAddresses: Bool
  /// Mapping behaviour (RFC 4787 §4.1).
  public var mapping: MappingBehavior
  /// Filtering behaviour (RFC 4787 §5).
  public var filtering: FilteringBehavior
  /// Try to use the inside port as the external port; fall back to `portAssignment` when taken.
  public var portPreservation: Bool
  /// How ports are assigned when not preserved.
  public var portAssignment: PortAssignment
  /// The step between successive ports under `.sequential` assignment (may be negative; 0
  /// counts as 1).
  public var portDelta: Int
  /// Keep the parity (even/odd) of the inside port on the external port (RFC 4787 REQ-4 MAY).
  public var portParity: Bool
  /// Deliver packets from inside to the NAT's own external mappings back inside (RFC 4787 §6).
  public var hairpinning: Bool
  /// How long a mapping lives without traffic refreshing it (RFC 4787 §4.3).
  public var mappingLifetime: Duration
  /// Whether inbound datagrams refresh a mapping (outbound ones always do, RFC 4787 REQ-6).
  public var inboundRefresh: Bool
  /// The external ports the NAT assigns from.
  public var portRange: ClosedRange<UInt16>
  /// How external IP addresses are chosen when the NAT has more than one.
  public var ipPooling: IPPooling
  /// A UDP firewall in front of the NAT.
  public var firewall: UDPFirewall

  /// A behaviour with every field given; defaults describe a port-restricted cone NAT.
  public init(
    translatesAddresses: Bool = true,
    mapping: MappingBehavior = .endpointIndependent,
    filtering: FilteringBehavior = .addressAndPortDependent,
    portPreservation: Bool = true,
    portAssignment: PortAssignment = .sequential,
    portDelta: Int = 1,
    portParity: Bool = false,
    hairpinning: Bool = true,
    mappingLifetime: Duration = .seconds(120),
    inboundRefresh: Bool = false,
    portRange: ClosedRange<UInt16> = 1024...65535,
    ipPooling: IPPooling = .paired,
    firewall: UDPFirewall = .none
  ) {
    self.translatesAddresses = translatesAddresses
    self.mapping = mapping
    self.filtering = filtering
    self.portPreservation = portPreservation
    self.portAssignment = portAssignment
    self.portDelta = portDelta
    self.portParity = portParity
    self.hairpinning = hairpinning
    self.mappingLifetime = mappingLifetime
    self.inboundRefresh = inboundRefresh
    self.portRange = portRange
    self.ipPooling = ipPooling
    self.firewall = firewall
  }

  /// No NAT: a router that forwards both ways without translating or filtering.
  public static let open = NATBehavior(
    translatesAddresses: false, filtering: .endpointIndependent)
  /// Endpoint-independent mapping and filtering ("full cone").
  public static let fullCone = NATBehavior(
    mapping: .endpointIndependent, filtering: .endpointIndependent)
  /// Endpoint-independent mapping, address-dependent filtering ("restricted cone").
  public static let restrictedCone = NATBehavior(
    mapping: .endpointIndependent, filtering: .addressDependent)
  /// Endpoint-independent mapping, address-and-port-dependent filtering ("port-restricted cone").
  public static let portRestrictedCone = NATBehavior(
    mapping: .endpointIndependent, filtering: .addressAndPortDependent)
  /// Address-and-port-dependent mapping and filtering ("symmetric"); ports are assigned
  /// sequentially, not preserved.
  public static let symmetric = NATBehavior(
    mapping: .addressAndPortDependent, filtering: .addressAndPortDependent,
    portPreservation: false)
  /// A carrier-grade NAT as RFC 6888 asks for: endpoint-independent mapping and filtering,
  /// paired pooling, random ports, hairpinning.
  public static let cgnat = NATBehavior(
    mapping: .endpointIndependent, filtering: .endpointIndependent, portPreservation: false,
    portAssignment: .random, ipPooling: .paired)
  /// A router (with NAT) whose firewall drops all UDP.
  public static let udpBlocked = NATBehavior(firewall: .blockAll)

  /// Every preset with a stable short name, in order from most to least permissive: for demos,
  /// command-line choices and tests that run over every NAT type.
  public static let presets: [(name: String, behavior: NATBehavior)] = [
    ("open", .open), ("full-cone", .fullCone), ("restricted-cone", .restrictedCone),
    ("port-restricted-cone", .portRestrictedCone), ("symmetric", .symmetric), ("cgnat", .cgnat),
    ("udp-blocked", .udpBlocked),
  ]

  /// The preset called `name` (see `presets`), or nil.
  public static func preset(named name: String) -> NATBehavior? {
    presets.first { $0.name == name }?.behavior
  }

  /// The classic name of this behaviour ("full cone", "symmetric", …), or a description of
  /// the two axes when it has none.
  public var summary: String {
    if !translatesAddresses { return firewall == .none ? "no NAT" : "no NAT, UDP firewall" }
    if firewall == .blockAll { return "UDP blocked" }
    switch (mapping, filtering) {
    case (.endpointIndependent, .endpointIndependent): return "full cone"
    case (.endpointIndependent, .addressDependent): return "restricted cone"
    case (.endpointIndependent, .addressAndPortDependent): return "port-restricted cone"
    case (.addressAndPortDependent, .addressAndPortDependent): return "symmetric"
    default: return "\(mapping.rawValue) mapping, \(filtering.rawValue) filtering"
    }
  }
}

extension NATBehavior: Codable {
  private enum CodingKeys: String, CodingKey {
    case translatesAddresses, mapping, filtering, portPreservation, portAssignment, portDelta
    case portParity, hairpinning, mappingLifetime, inboundRefresh, portRange, ipPooling, firewall
  }

  /// Decodes a behaviour; every key is optional and defaults to the `portRestrictedCone` value.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = NATBehavior()
    self.init(
      translatesAddresses: try c.decodeIfPresent(Bool.self, forKey: .translatesAddresses)
        ?? d.translatesAddresses,
      mapping: try c.decodeIfPresent(MappingBehavior.self, forKey: .mapping) ?? d.mapping,
      filtering: try c.decodeIfPresent(FilteringBehavior.self, forKey: .filtering) ?? d.filtering,
      portPreservation: try c.decodeIfPresent(Bool.self, forKey: .portPreservation)
        ?? d.portPreservation,
      portAssignment: try c.decodeIfPresent(PortAssignment.self, forKey: .portAssignment)
        ?? d.portAssignment,
      portDelta: try c.decodeIfPresent(Int.self, forKey: .portDelta) ?? d.portDelta,
      portParity: try c.decodeIfPresent(Bool.self, forKey: .portParity) ?? d.portParity,
      hairpinning: try c.decodeIfPresent(Bool.self, forKey: .hairpinning) ?? d.hairpinning,
      mappingLifetime: try c.decodeIfPresent(Double.self, forKey: .mappingLifetime).map {
        seconds in
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else {
          throw DecodingError.dataCorruptedError(
            forKey: .mappingLifetime, in: c,
            debugDescription: "mappingLifetime must be a number of seconds in 0..<1e9")
        }
        return .nanoseconds(Int64(seconds * 1e9))
      } ?? d.mappingLifetime,
      inboundRefresh: try c.decodeIfPresent(Bool.self, forKey: .inboundRefresh)
        ?? d.inboundRefresh,
      portRange: try c.decodeIfPresent(ClosedRange<UInt16>.self, forKey: .portRange)
        ?? d.portRange,
      ipPooling: try c.decodeIfPresent(IPPooling.self, forKey: .ipPooling) ?? d.ipPooling,
      firewall: try c.decodeIfPresent(UDPFirewall.self, forKey: .firewall) ?? d.firewall)
  }

  /// Encodes every field; `mappingLifetime` as seconds.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(translatesAddresses, forKey: .translatesAddresses)
    try c.encode(mapping, forKey: .mapping)
    try c.encode(filtering, forKey: .filtering)
    try c.encode(portPreservation, forKey: .portPreservation)
    try c.encode(portAssignment, forKey: .portAssignment)
    try c.encode(portDelta, forKey: .portDelta)
    try c.encode(portParity, forKey: .portParity)
    try c.encode(hairpinning, forKey: .hairpinning)
    try c.encode(Double(mappingLifetime.nanoseconds) / 1e9, forKey: .mappingLifetime)
    try c.encode(inboundRefresh, forKey: .inboundRefresh)
    try c.encode(portRange, forKey: .portRange)
    try c.encode(ipPooling, forKey: .ipPooling)
    try c.encode(firewall, forKey: .firewall)
  }
}
