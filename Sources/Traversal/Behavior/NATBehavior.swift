/// How a NAT chooses the external address for an internal endpoint (RFC 4787 §4.1).
public enum MappingBehavior: String, Codable, Sendable, CaseIterable, Hashable {
  /// The same mapping is reused for every destination.
  case endpointIndependent = "endpoint-independent"
  /// The mapping is reused only for destinations with the same IP address.
  case addressDependent = "address-dependent"
  /// The mapping is reused only for the same destination IP address and port.
  case addressAndPortDependent = "address-and-port-dependent"
}

/// Which inbound packets a NAT lets through a mapping (RFC 4787 §5).
public enum FilteringBehavior: String, Codable, Sendable, CaseIterable, Hashable {
  /// Any external endpoint may send through the mapping.
  case endpointIndependent = "endpoint-independent"
  /// Only IP addresses the internal endpoint has sent to.
  case addressDependent = "address-dependent"
  /// Only the exact IP address and port the internal endpoint has sent to.
  case addressAndPortDependent = "address-and-port-dependent"
}

extension MappingBehavior {
  /// A short human label, e.g. for tables.
  public var label: String {
    switch self {
    case .endpointIndependent: "endpoint-independent"
    case .addressDependent: "address-dependent"
    case .addressAndPortDependent: "address+port-dependent"
    }
  }
}

extension FilteringBehavior {
  /// A short human label, e.g. for tables.
  public var label: String {
    switch self {
    case .endpointIndependent: "endpoint-independent"
    case .addressDependent: "address-dependent"
    case .addressAndPortDependent: "address+port-dependent"
    }
  }
}

extension Optional where Wrapped == MappingBehavior {
  /// The short form of tables: EI, AD, APD, or ? when unknown.
  public var abbreviation: String {
    switch self {
    case .endpointIndependent?: "EI"
    case .addressDependent?: "AD"
    case .addressAndPortDependent?: "APD"
    case nil: "?"
    }
  }
}

extension Optional where Wrapped == FilteringBehavior {
  /// The short form of tables: EI, AD, APD, or ? when unknown.
  public var abbreviation: String {
    switch self {
    case .endpointIndependent?: "EI"
    case .addressDependent?: "AD"
    case .addressAndPortDependent?: "APD"
    case nil: "?"
    }
  }
}
