/// What natscope knows about one host's path to the internet, as far as direct connections
/// are concerned: whether UDP gets out at all, whether a NAT rewrites addresses, and how it maps
/// and filters. A host with a public address and no firewall is
/// `NATProfile(udpBlocked: false, natDetected: false, mapping: .endpointIndependent,
/// filtering: .endpointIndependent)`.
public struct NATProfile: Codable, Sendable, Hashable {
  public var udpBlocked: Bool
  public var natDetected: Bool
  /// nil when not determined (e.g. the server lacks RFC 5780 support).
  public var mapping: MappingBehavior?
  /// nil when not determined.
  public var filtering: FilteringBehavior?

  public init(
    udpBlocked: Bool = false, natDetected: Bool, mapping: MappingBehavior?,
    filtering: FilteringBehavior?
  ) {
    self.udpBlocked = udpBlocked
    self.natDetected = natDetected
    self.mapping = natDetected ? mapping : (mapping ?? .endpointIndependent)
    self.filtering = filtering
  }

  /// The RFC 3489 name of this profile.
  public var legacyType: LegacyNATType {
    .classify(
      udpBlocked: udpBlocked, natDetected: natDetected, mapping: mapping, filtering: filtering)
  }

  /// Reference profiles, one per legacy NAT kind, used to explain a verdict in terms of peers.
  public static let openInternet = NATProfile(
    natDetected: false, mapping: .endpointIndependent, filtering: .endpointIndependent)
  public static let fullCone = NATProfile(
    natDetected: true, mapping: .endpointIndependent, filtering: .endpointIndependent)
  public static let restrictedCone = NATProfile(
    natDetected: true, mapping: .endpointIndependent, filtering: .addressDependent)
  public static let portRestrictedCone = NATProfile(
    natDetected: true, mapping: .endpointIndependent, filtering: .addressAndPortDependent)
  public static let symmetric = NATProfile(
    natDetected: true, mapping: .addressAndPortDependent, filtering: .addressAndPortDependent)
  public static let udpBlocked = NATProfile(
    udpBlocked: true, natDetected: false, mapping: nil, filtering: nil)

  /// The reference peers a verdict is explained against, with the names users know them by.
  public static let referencePeers: [(name: String, profile: NATProfile)] = [
    ("the open internet (no NAT)", .openInternet),
    ("full-cone NAT", .fullCone),
    ("restricted-cone NAT", .restrictedCone),
    ("port-restricted-cone NAT", .portRestrictedCone),
    ("symmetric NAT", .symmetric),
  ]
}
