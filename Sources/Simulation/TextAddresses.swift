import Runtime
import STUN

/// Overloads that take addresses as text ("203.0.113.10"), for topologies written by hand or
/// read from a file. Malformed text throws `SimulationError.invalidConfiguration`.
extension VirtualNetwork {
  static func parse(_ text: String) throws -> IPAddress {
    guard let ip = IPAddress(text) else {
      throw SimulationError.invalidConfiguration("not an IP address: \"\(text)\"")
    }
    return ip
  }

  /// `addHost(_:in:address:link:)` with the address as text.
  @discardableResult
  public func addHost(_ name: String, in realm: Realm, address: String, link: Link? = nil)
    throws -> SimulatedHost
  {
    try addHost(name, in: realm, address: try Self.parse(address), link: link)
  }

  /// `addNAT(_:behavior:outside:publicIPs:inside:insideAddress:outsideLink:insideLink:)` with
  /// the addresses as text.
  @discardableResult
  public func addNAT(
    _ name: String, behavior: NATBehavior, outside: Realm, publicIPs: [String],
    inside: Realm, insideAddress: String, outsideLink: Link? = nil, insideLink: Link? = nil
  ) throws -> NATBox {
    try addNAT(
      name, behavior: behavior, outside: outside, publicIPs: try publicIPs.map(Self.parse),
      inside: inside, insideAddress: try Self.parse(insideAddress), outsideLink: outsideLink,
      insideLink: insideLink)
  }
}

extension SimulatedHost {
  /// `addInterface(_:in:link:)` with the address as text.
  public func addInterface(_ address: String, in realm: Realm, link: Link? = nil) throws {
    try addInterface(try VirtualNetwork.parse(address), in: realm, link: link)
  }
}
