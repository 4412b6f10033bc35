import Runtime
import STUN

/// An address space: the public internet, a home LAN, a carrier's CGNAT network.
///
/// Datagrams sent into a realm go to the interface that owns the destination address; failing
/// that, to a router whose inside prefix contains it (a non-translating router); failing that,
/// to the realm's gateway (the NAT box whose inside this realm is); otherwise they are dropped
/// as `noRoute`. Different realms may reuse the same private addresses.
public final class Realm {
  /// A name for traces and errors.
  public let name: String
  /// The prefixes addresses in this realm must belong to; empty means any address.
  public let prefixes: [IPPrefix]
  /// The link used for interfaces attached without an explicit one. Changing it affects only
  /// interfaces attached afterwards; use `SimulatedHost.setLink(_:for:)` for existing ones.
  public var defaultLink: Link

  var owners: [IPAddress: Interface] = [:]
  /// Routes to inside prefixes of non-translating routers attached here.
  var routes: [(prefix: IPPrefix, via: Interface)] = []
  /// The inside interface of the NAT box that serves this realm, if any.
  var gateway: Interface?

  init(name: String, prefixes: [IPPrefix], defaultLink: Link) {
    self.name = name
    self.prefixes = prefixes
    self.defaultLink = defaultLink
  }

  /// The addresses in use in this realm, sorted by their text.
  public var addresses: [IPAddress] { owners.keys.sorted { $0.description < $1.description } }

  func validate(_ address: IPAddress) throws {
    if !prefixes.isEmpty, !prefixes.contains(where: { $0.contains(address) }) {
      throw SimulationError.addressOutsideRealm(address, realm: name)
    }
    if address.isUnspecified {
      throw SimulationError.invalidConfiguration(
        "\(address) cannot be an interface address (realm \(name))")
    }
    if owners[address] != nil { throw SimulationError.duplicateAddress(address, realm: name) }
  }

  /// Where a datagram to `destination` entering from `sender` goes next, or nil (no route).
  func resolve(_ destination: IPAddress, from sender: Interface) -> Interface? {
    if let owner = owners[destination] { return owner }
    var best: (prefix: IPPrefix, via: Interface)?
    for route in routes where route.prefix.contains(destination) && route.via !== sender {
      if best.map({ route.prefix.length > $0.prefix.length }) ?? true { best = route }
    }
    if let best { return best.via }
    if let gateway, gateway !== sender, gateway.address.family == destination.family {
      return gateway
    }
    return nil
  }

  /// True when `resolve` finds a next hop for `destination`.
  func canReach(_ destination: IPAddress, from sender: Interface) -> Bool {
    resolve(destination, from: sender) != nil
  }
}

/// One address of a host or a NAT box, attached to a realm through a link.
final class Interface {
  let address: IPAddress
  /// Weak: realms own their interfaces (through `owners`), the network owns realms.
  private(set) weak var realm: Realm?
  var link: Link
  /// The owner (exactly one of `host`, `nat` is set). Weak: the network owns hosts and NATs,
  /// and they own their interfaces.
  private(set) weak var host: SimulatedHost?
  private(set) weak var nat: NATBox?
  let isNATInside: Bool

  init(address: IPAddress, realm: Realm, link: Link, host: SimulatedHost) {
    self.address = address
    self.realm = realm
    self.link = link
    self.host = host
    self.isNATInside = false
  }

  init(address: IPAddress, realm: Realm, link: Link, nat: NATBox, inside: Bool) {
    self.address = address
    self.realm = realm
    self.link = link
    self.nat = nat
    self.isNATInside = inside
  }

  var nodeName: String { host?.name ?? nat?.name ?? "?" }
}
