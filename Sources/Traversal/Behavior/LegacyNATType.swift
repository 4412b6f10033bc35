/// The RFC 3489 ("classic STUN") name for a NAT, which many tools and people still use.
///
/// RFC 3489 had only four NAT kinds; RFC 4787 separates mapping from filtering, so some
/// combinations have no legacy name (`noLegacyEquivalent`), e.g. address-and-port-dependent
/// mapping with endpoint-independent filtering.
public enum LegacyNATType: String, Codable, Sendable, CaseIterable, Hashable {
  case openInternet = "Open Internet"
  case symmetricUDPFirewall = "Symmetric UDP Firewall"
  case fullCone = "Full Cone"
  case restrictedCone = "Restricted Cone"
  case portRestrictedCone = "Port Restricted Cone"
  case symmetric = "Symmetric"
  case udpBlocked = "UDP Blocked"
  case noLegacyEquivalent = "no legacy equivalent"
  case unknown = "unknown"

  /// Names a NAT from its RFC 4787 behaviour.
  ///
  /// - Parameters:
  ///   - natDetected: whether the mapped address differs from every local address.
  ///   - mapping: the mapping behaviour, nil when it could not be determined.
  ///   - filtering: the filtering behaviour, nil when it could not be determined.
  public static func classify(
    udpBlocked: Bool, natDetected: Bool, mapping: MappingBehavior?, filtering: FilteringBehavior?
  ) -> LegacyNATType {
    if udpBlocked { return .udpBlocked }
    if !natDetected {
      switch filtering {
      case .endpointIndependent: return .openInternet
      case .addressDependent, .addressAndPortDependent: return .symmetricUDPFirewall
      case nil: return .unknown
      }
    }
    switch (mapping, filtering) {
    case (.endpointIndependent, .endpointIndependent): return .fullCone
    case (.endpointIndependent, .addressDependent): return .restrictedCone
    case (.endpointIndependent, .addressAndPortDependent): return .portRestrictedCone
    case (.addressDependent, .addressDependent), (.addressDependent, .addressAndPortDependent),
      (.addressAndPortDependent, .addressDependent),
      (.addressAndPortDependent, .addressAndPortDependent):
      return .symmetric
    case (.addressDependent, .endpointIndependent),
      (.addressAndPortDependent, .endpointIndependent):
      return .noLegacyEquivalent
    case (nil, _), (_, nil): return .unknown
    }
  }
}
