import Report
import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// A ready-made simulated internet for probes, demos and tests: a public realm, an RFC 5780
/// STUN server (natscope's own `STUNServer`) on two public addresses, and client sites, each
/// a LAN behind a NAT of a chosen behaviour (or a host with a public address).
///
/// Site `k` (from 1) uses LAN 192.168.k.0/24 with its host at 192.168.k.10, behind a NAT whose
/// public address is 198.51.100.k; a site without a NAT puts its host at 198.51.100.(100 + k).
public final class SimulatedLab {
  public static let serverPrimary = IPAddress.v4(0xCB00_710A)  // 203.0.113.10
  public static let serverAlternate = IPAddress.v4(0xCB00_710B)  // 203.0.113.11

  public let network: VirtualNetwork
  public let internet: Simulation.Realm
  public let serverHost: SimulatedHost
  public let stunServer: STUNServerSession
  /// The TURN relay, once `addTURNRelay()` added it.
  public private(set) var turnRelay: SimulatedTURNRelay?
  private var sites = 0
  private let seed: UInt64

  /// The STUN server's primary transport address.
  public var stunServerAddress: TransportAddress {
    TransportAddress(ip: Self.serverPrimary, port: 3478)
  }

  /// - Parameters:
  ///   - latency: one-way latency of each hop onto the public realm.
  public init(
    seed: UInt64, latency: Duration = .milliseconds(5), jitter: Duration = .milliseconds(1)
  )
    throws
  {
    self.seed = seed
    internetLatency = latency
    internetJitter = jitter
    network = VirtualNetwork(seed: seed)
    internet = network.addRealm("internet", link: Link(latency: latency, jitter: jitter))
    serverHost = try network.addHost("stun-server", in: internet, address: Self.serverPrimary)
    try serverHost.addInterface(Self.serverAlternate, in: internet)
    stunServer = try STUNServerSession(
      runtime: serverHost,
      configuration: STUNServerConfiguration(
        primary: Self.serverPrimary, alternate: Self.serverAlternate,
        software: "natscope (simulated)",
        sendMappedAddress: true))
  }

  /// Adds a site: a host behind a NAT with `behavior`, or on the public realm when `behavior`
  /// is nil. `loss` applies to the site's uplink, both ways, and so does `largestDatagram`
  /// (a path MTU black hole: larger IP datagrams are dropped silently).
  @discardableResult
  public func addSite(
    _ name: String, behavior: NATBehavior?, loss: Double = 0, largestDatagram: Int? = nil
  ) throws -> SimulatedHost {
    sites += 1
    let k = UInt32(sites)
    let uplink = Link(
      latency: internetLatency, jitter: internetJitter, loss: loss,
      largestDatagram: largestDatagram)
    guard let behavior else {
      return try network.addHost(
        name, in: internet, address: .v4(0xC633_6400 + 100 + k), link: uplink)
    }
    let lan = try network.addRealm(
      "\(name)-lan", prefix: "192.168.\(k).0/24", link: Link(latency: .milliseconds(1)))
    try network.addNAT(
      "\(name)-nat", behavior: behavior, outside: internet, publicIPs: [.v4(0xC633_6400 + k)],
      inside: lan, insideAddress: .v4(0xC0A8_0001 | k << 8), outsideLink: uplink)
    return try network.addHost(name, in: lan, address: .v4(0xC0A8_000A | k << 8))
  }

  /// The carrier-grade NAT of ``addCarrierSite(_:loss:)``: endpoint-independent mapping with
  /// random ports and paired pooling (RFC 6888), filtering by address and port as many
  /// carriers' do. End to end the site is a port-restricted cone either way; filtering of its
  /// own means a port mapping on the home router does not open the path from the internet.
  public static let carrierBehavior = NATBehavior(
    mapping: .endpointIndependent, filtering: .addressAndPortDependent, portPreservation: false,
    portAssignment: .random, ipPooling: .paired)

  /// Adds a site behind a home router (port-restricted cone) behind a carrier-grade NAT
  /// (``carrierBehavior``).
  @discardableResult
  public func addCarrierSite(_ name: String, loss: Double = 0) throws -> SimulatedHost {
    sites += 1
    let k = UInt32(sites)
    let chain = try network.addCGNATChain(
      outside: internet, carrierPublicIPs: [.v4(0xC633_6400 + k)],
      carrierBehavior: Self.carrierBehavior,
      lanPrefix: "192.168.\(k).0/24", lanGateway: .v4(0xC0A8_0001 | k << 8), namePrefix: "\(name)-")
    chain.carrier.setLinks(
      outside: Link(latency: internetLatency, jitter: internetJitter, loss: loss))
    return try network.addHost(name, in: chain.lan, address: .v4(0xC0A8_000A | k << 8))
  }

  /// The router in front of `host` (its default gateway), or nil for a host with a public
  /// address.
  public func router(of host: SimulatedHost) -> NATBox? { host.router }

  /// The port-mapping services added with ``offerPortMapping(_:on:)``, kept alive with the lab.
  public private(set) var portMappingRouters: [(pcp: RouterPortMapping?, upnp: RouterUPnPIGD?)] =
    []

  /// Makes `box` answer `protocols`: PCP and NAT-PMP on UDP 5351 (``RouterPortMapping``), UPnP
  /// IGD:1 on SSDP and HTTP port 5000 (``RouterUPnPIGD``).
  public func offerPortMapping(_ protocols: Set<PortMappingResult.Method>, on box: NATBox) {
    let datagram = protocols.subtracting([.upnpIGD])
    let pcp =
      datagram.isEmpty
      ? nil : RouterPortMapping(box: box, network: network, protocols: datagram)
    let upnp = protocols.contains(.upnpIGD) ? RouterUPnPIGD(box: box, network: network) : nil
    portMappingRouters.append((pcp, upnp))
  }

  /// Adds natscope's own TURN server on 203.0.113.20:3478 (see `SimulatedTURNRelay`), or
  /// returns the one already added.
  @discardableResult
  public func addTURNRelay() throws -> SimulatedTURNRelay {
    if let turnRelay { return turnRelay }
    let relay = try SimulatedTURNRelay(network: network, internet: internet, seed: seed)
    turnRelay = relay
    return relay
  }

  private let internetLatency: Duration
  private let internetJitter: Duration
}
