import STUN

/// What one port-mapping protocol said, for reports and `--json`: which protocol, whether the
/// gateway answered, how fast, the external address it claimed, the mapping it granted, and
/// the error sentence if something failed.
///
/// JSON keys: `name` (`"pcp"`, `"nat-pmp"`, `"upnp-igd"`), `gateway`, `answered`,
/// `rttMilliseconds`, `externalAddress`, `externalPort`, `lifetime`, `error`; absent values are
/// left out.
public struct PortMappingResult: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The protocol.
  public enum Method: String, Sendable, Hashable, Codable, CaseIterable {
    case pcp
    case natPMP = "nat-pmp"
    case upnpIGD = "upnp-igd"

    /// `PCP`, `NAT-PMP`, `UPnP IGD`.
    public var displayName: String {
      switch self {
      case .pcp: return "PCP"
      case .natPMP: return "NAT-PMP"
      case .upnpIGD: return "UPnP IGD"
      }
    }
  }

  /// The protocol.
  public var name: Method
  /// The gateway (or UPnP control URL host) asked.
  public var gateway: TransportAddress?
  /// True when the gateway answered at all (even with an error).
  public var answered: Bool
  /// Time from the first request to its answer.
  public var rtt: Duration?
  /// The external address the gateway claimed.
  public var externalAddress: IPAddress?
  /// The external port of the mapping granted, if one was asked for and granted.
  public var externalPort: UInt16?
  /// The mapping's lifetime in seconds (0: permanent, for UPnP).
  public var lifetime: UInt32?
  /// What went wrong, as one sentence; nil on success.
  public var error: String?

  public init(
    name: Method, gateway: TransportAddress? = nil, answered: Bool, rtt: Duration? = nil,
    externalAddress: IPAddress? = nil, externalPort: UInt16? = nil, lifetime: UInt32? = nil,
    error: String? = nil
  ) {
    self.name = name
    self.gateway = gateway
    self.answered = answered
    self.rtt = rtt
    self.externalAddress = externalAddress
    self.externalPort = externalPort
    self.lifetime = lifetime
    self.error = error
  }

  private enum CodingKeys: String, CodingKey {
    case name, gateway, answered, rttMilliseconds, externalAddress, externalPort, lifetime, error
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      name: try c.decode(Method.self, forKey: .name),
      gateway: try c.decodeIfPresent(TransportAddress.self, forKey: .gateway),
      answered: try c.decode(Bool.self, forKey: .answered),
      rtt: try c.decodeIfPresent(Double.self, forKey: .rttMilliseconds).map {
        .nanoseconds(Int64(($0 * 1e6).rounded()))
      },
      externalAddress: try c.decodeIfPresent(IPAddress.self, forKey: .externalAddress),
      externalPort: try c.decodeIfPresent(UInt16.self, forKey: .externalPort),
      lifetime: try c.decodeIfPresent(UInt32.self, forKey: .lifetime),
      error: try c.decodeIfPresent(String.self, forKey: .error))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encodeIfPresent(gateway, forKey: .gateway)
    try c.encode(answered, forKey: .answered)
    try c.encodeIfPresent(rtt?.milliseconds, forKey: .rttMilliseconds)
    try c.encodeIfPresent(externalAddress, forKey: .externalAddress)
    try c.encodeIfPresent(externalPort, forKey: .externalPort)
    try c.encodeIfPresent(lifetime, forKey: .lifetime)
    try c.encodeIfPresent(error, forKey: .error)
  }

  /// One line, for example `PCP: answered in 2.1 ms; external 203.0.113.7, port 50000 for 7200 s`.
  public var description: String {
    var parts: [String] = []
    if answered {
      parts.append(rtt.map { "answered in \(Self.format($0))" } ?? "answered")
    } else {
      parts.append("no answer")
    }
    if let externalAddress { parts.append("external \(externalAddress)") }
    if let externalPort {
      let life = lifetime.map { $0 == 0 ? " (permanent)" : " for \($0) s" } ?? ""
      parts.append("port \(externalPort)\(life)")
    }
    var line = "\(name.displayName): " + parts.joined(separator: "; ")
    if let error { line += " — \(error)" }
    return line
  }

  private static func format(_ d: Duration) -> String {
    let ms = d.milliseconds
    let tenths = (ms * 10).rounded() / 10
    return "\(tenths) ms"
  }
}
