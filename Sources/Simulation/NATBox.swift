import Runtime
import STUN
import Traversal

/// A router between an inside realm and an outside realm that translates UDP as its
/// `NATBehavior` says (RFC 4787), or, for a non-translating behaviour, only routes and filters
/// by its firewall.
public final class NATBox {
  /// A snapshot of one mapping, for diagnostics.
  public struct MappingInfo: Hashable, Sendable {
    /// The inside endpoint.
    public var internalAddress: TransportAddress
    /// The endpoint the outside sees.
    public var externalAddress: TransportAddress
    /// The destination the mapping is tied to: nil for endpoint-independent mapping, the IP
    /// (port 0) for address-dependent, the IP and port for address-and-port-dependent.
    public var boundTo: TransportAddress?
    /// When traffic last refreshed it.
    public var lastActive: Instant
    /// When it expires unless refreshed.
    public var expires: Instant
  }

  final class Mapping {
    let key: Key
    let external: TransportAddress
    var lastActive: Instant
    var contactedIPs: Set<IPAddress> = []
    var contactedEndpoints: Set<TransportAddress> = []

    init(key: Key, external: TransportAddress, now: Instant) {
      self.key = key
      self.external = external
      self.lastActive = now
    }
  }

  struct Key: Hashable {
    var internalAddress: TransportAddress
    var destinationIP: IPAddress?
    var destinationPort: UInt16?
  }

  /// A name for traces.
  public let name: String
  /// The behaviour. Changing it affects new datagrams; existing mappings are kept.
  public var behavior: NATBehavior
  /// The NAT's addresses in the outside realm.
  public private(set) var publicIPs: [IPAddress] = []
  /// The NAT's own address in the inside realm.
  public private(set) var insideAddress: IPAddress = .anyV4

  private weak var network: VirtualNetwork?
  private var outsideInterfaces: [IPAddress: Interface] = [:]
  /// The interface of the first public address (where connections leave the box).
  var firstOutsideInterface: Interface? { publicIPs.first.flatMap { outsideInterfaces[$0] } }
  private var insideInterface: Interface?
  private var byKey: [Key: Mapping] = [:]
  private var byExternal: [TransportAddress: Mapping] = [:]
  private var pairing: [IPAddress: IPAddress] = [:]
  private var nextPoolIndex = 0
  private var nextSequentialPort: [IPAddress: Int] = [:]

  init(name: String, behavior: NATBehavior, network: VirtualNetwork) {
    self.name = name
    self.behavior = behavior
    self.network = network
  }

  func attach(
    outside: Realm, publicIPs: [IPAddress], outsideLink: Link, inside: Realm,
    insideAddress: IPAddress, insideLink: Link
  ) {
    self.publicIPs = publicIPs
    self.insideAddress = insideAddress
    for ip in publicIPs {
      let iface = Interface(
        address: ip, realm: outside, link: outsideLink, nat: self, inside: false)
      outside.owners[ip] = iface
      outsideInterfaces[ip] = iface
    }
    let inner = Interface(
      address: insideAddress, realm: inside, link: insideLink, nat: self, inside: true)
    inside.owners[insideAddress] = inner
    inside.gateway = inner
    insideInterface = inner
    if !behavior.translatesAddresses, let first = publicIPs.first,
      let out = outsideInterfaces[first]
    {
      for prefix in inside.prefixes { outside.routes.append((prefix, out)) }
    }
  }

  /// The live (unexpired) mappings, sorted by external address.
  public var mappings: [MappingInfo] {
    let now = network?.now ?? .zero
    return byExternal.values.filter { !isExpired($0, now: now) }
      .map { m in
        MappingInfo(
          internalAddress: m.key.internalAddress, externalAddress: m.external,
          boundTo: m.key.destinationIP.map {
            TransportAddress(ip: $0, port: m.key.destinationPort ?? 0)
          },
          lastActive: m.lastActive, expires: m.lastActive + behavior.mappingLifetime)
      }
      .sorted { $0.externalAddress.description < $1.externalAddress.description }
  }

  /// Changes the links of the NAT's outside interfaces and/or its inside interface (e.g. to
  /// make the uplink lossy mid-run). `nil` leaves that side unchanged.
  public func setLinks(outside: Link? = nil, inside: Link? = nil) {
    if let outside { for iface in outsideInterfaces.values { iface.link = outside } }
    if let inside { insideInterface?.link = inside }
  }

  // MARK: Router services and port forwards

  /// A port forward made through a port-mapping protocol: datagrams to `external` go to
  /// `internalAddress`, from any source, and datagrams from `internalAddress` leave from
  /// `external`, until `expires` (nil: permanent).
  public struct Forward: Hashable, Sendable {
    public var external: TransportAddress
    public var internalAddress: TransportAddress
    public var expires: Instant?

    func isLive(at now: Instant) -> Bool { expires.map { now < $0 } ?? true }
  }

  /// A UDP service on the router's inside address: gets each datagram's payload and source,
  /// and a function that sends a reply from the service's port into the LAN.
  public typealias Service = (
    _ bytes: [UInt8], _ from: TransportAddress,
    _ reply: @escaping (_ bytes: [UInt8], _ to: TransportAddress) -> Void
  ) -> Void

  private var services: [UInt16: Service] = [:]
  private var forwardsByExternal: [TransportAddress: Forward] = [:]

  /// Runs `service` on UDP `port` of the router's inside address (a PCP or NAT-PMP responder).
  public func listen(port: UInt16, _ service: @escaping Service) {
    services[port] = service
  }

  /// The port forwards that are live now, by external port.
  public var forwards: [Forward] {
    let now = network?.now ?? .zero
    return forwardsByExternal.values.filter { $0.isLive(at: now) }
      .sorted { $0.external.port < $1.external.port }
  }

  /// Forwards UDP port `externalPort` of the first public address to `internalAddress` for
  /// `lifetime` (nil: permanent), replacing a forward of the same inside endpoint; when the port
  /// is taken (by a NAT mapping or another host's forward), the next free one is used. Returns
  /// the external address, or nil when no port is free.
  ///
  /// With `exactPort`, only `externalPort` itself will do (UPnP's AddPortMapping): nil when
  /// another endpoint holds it.
  public func addForward(
    externalPort: UInt16, to internalAddress: TransportAddress, lifetime: Duration?,
    exactPort: Bool = false
  ) -> TransportAddress? {
    guard let ip = publicIPs.first(where: { $0.family == internalAddress.ip.family }),
      let network
    else { return nil }
    let now = network.now
    if exactPort {
      let wanted = TransportAddress(ip: ip, port: externalPort)
      let ownForward = forwardsByExternal[wanted].map {
        $0.internalAddress == internalAddress && $0.isLive(at: now)
      }
      let ownMapping = byExternal[wanted].map {
        $0.key.internalAddress == internalAddress && !isExpired($0, now: now)
      }
      guard externalPort != 0,
        ownForward == true || ownMapping == true || isFree(wanted, now: now)
      else { return nil }
    }
    if let old = liveForward(internal: internalAddress, now: now) {
      forwardsByExternal[old.external] = nil
    }
    // The inside endpoint already has a NAT mapping (its traffic went out before it asked):
    // the forward takes that mapping's external port, as RFC 6887 §11.3 asks of a PCP server,
    // so what servers saw of this endpoint stays true (the suggested port's mapping first).
    let own = byExternal.values.filter {
      $0.key.internalAddress == internalAddress && !isExpired($0, now: now)
        && $0.external.ip == ip
    }.sorted {
      ($0.external.port == externalPort ? 0 : 1, $0.external.port)
        < ($1.external.port == externalPort ? 0 : 1, $1.external.port)
    }
    if let m = own.first, !exactPort || m.external.port == externalPort {
      remove(m)
      forwardsByExternal[m.external] = Forward(
        external: m.external, internalAddress: internalAddress,
        expires: lifetime.map { now + $0 })
      return m.external
    }
    let first = Int(externalPort == 0 ? internalAddress.port : externalPort)
    for step in 0..<64512 {
      let port = 1024 + (first - 1024 + step + 64512) % 64512
      let candidate = TransportAddress(ip: ip, port: UInt16(port))
      guard isFree(candidate, now: now) else { continue }
      forwardsByExternal[candidate] = Forward(
        external: candidate, internalAddress: internalAddress,
        expires: lifetime.map { now + $0 })
      return candidate
    }
    return nil
  }

  /// The live forward on `externalPort` of the first public address of `family`, if any.
  public func forward(externalPort: UInt16, family: AddressFamily = .ipv4) -> Forward? {
    guard let network, let ip = publicIPs.first(where: { $0.family == family }),
      let f = forwardsByExternal[TransportAddress(ip: ip, port: externalPort)],
      f.isLive(at: network.now)
    else { return nil }
    return f
  }

  /// The inside endpoint that uses `externalPort` of the first public address of `family`,
  /// through a forward or a live NAT mapping; nil when the port is free.
  public func holder(ofExternalPort externalPort: UInt16, family: AddressFamily = .ipv4)
    -> TransportAddress?
  {
    guard let network, let ip = publicIPs.first(where: { $0.family == family }) else {
      return nil
    }
    let address = TransportAddress(ip: ip, port: externalPort)
    if let f = forwardsByExternal[address], f.isLive(at: network.now) { return f.internalAddress }
    guard let m = byExternal[address], !isExpired(m, now: network.now) else { return nil }
    return m.key.internalAddress
  }

  /// A TCP service on the router's inside address (a UPnP IGD's HTTP server): called with the
  /// router's end of each new connection and the client's address.
  public typealias TCPService = (_ connection: SimulatedRawStream, _ from: TransportAddress) -> Void

  private var tcpServices: [UInt16: TCPService] = [:]

  /// Accepts TCP connections on `port` of the router's inside address (see
  /// ``SimulatedHost/rawStreamConnector()``).
  public func listenTCP(port: UInt16, _ service: @escaping TCPService) {
    tcpServices[port] = service
  }

  func tcpService(port: UInt16) -> TCPService? { tcpServices[port] }

  /// The latency of the router's inside interface toward the LAN.
  var insideDownLatency: Duration { insideInterface?.link.down.latency ?? .zero }

  /// Removes the forward of `internalAddress`; returns whether there was one.
  @discardableResult
  public func removeForward(internal internalAddress: TransportAddress) -> Bool {
    guard let network, let f = liveForward(internal: internalAddress, now: network.now) else {
      return false
    }
    forwardsByExternal[f.external] = nil
    return true
  }

  private func liveForward(internal address: TransportAddress, now: Instant) -> Forward? {
    guard !forwardsByExternal.isEmpty else { return nil }
    return forwardsByExternal.values.first { $0.internalAddress == address && $0.isLive(at: now) }
  }

  // MARK: Forwarding

  /// A datagram arrived on the inside interface (from the LAN).
  func fromInside(_ packet: Packet) {
    guard let network, let insideInterface else { return }
    if let icmp = packet.icmp {
      icmpFromInside(icmp, packet, network: network)
      return
    }
    if behavior.firewall.blocks(inbound: false) {
      network.record(.dropped(.firewall), packet, at: name)
      return
    }
    if Self.isIPv4Multicast(packet.destination.ip) {
      // Multicast (an SSDP search to 239.255.255.250) stays on the LAN: the router's own
      // service on that port hears it and answers unicast from its inside address; it is
      // never routed on.
      guard let service = services[packet.destination.port] else {
        network.record(.dropped(.noRoute), packet, at: name)
        return
      }
      deliver(
        packet, to: service,
        local: TransportAddress(ip: insideAddress, port: packet.destination.port),
        network: network)
      return
    }
    if !behavior.translatesAddresses {
      guard let first = publicIPs.first, let out = outsideInterfaces[first] else { return }
      network.record(.forwarded, packet, at: name)
      network.transmit(packet, from: out)
      return
    }
    if packet.destination.ip == insideAddress {
      guard let service = services[packet.destination.port] else {
        // Addressed to the router itself: nothing listens.
        network.record(.dropped(.noListener), packet, at: name)
        return
      }
      deliver(packet, to: service, local: packet.destination, network: network)
      return
    }
    if outsideInterfaces[packet.destination.ip] != nil {
      hairpin(packet, network: network, inside: insideInterface)
      return
    }
    guard publicIPs.contains(where: { $0.family == packet.source.ip.family }) else {
      // No external address of this family (IPv6 through an IPv4-only NAT).
      network.record(.dropped(.noRoute), packet, at: name)
      return
    }
    if let forward = liveForward(internal: packet.source, now: network.now),
      let iface = outsideInterfaces[forward.external.ip]
    {
      // A port mapping made through PCP, NAT-PMP or UPnP is endpoint-independent both ways.
      var out = packet
      out.source = forward.external
      network.record(.translated, out, at: name)
      network.transmit(out, from: iface)
      return
    }
    guard let mapping = outboundMapping(for: packet, now: network.now) else {
      network.record(.dropped(.portsExhausted), packet, at: name)
      return
    }
    var out = packet
    out.source = mapping.external
    guard let iface = outsideInterfaces[mapping.external.ip] else { return }
    network.record(.translated, out, at: name)
    network.transmit(out, from: iface)
  }

  /// Hands `packet` to a router service whose replies leave from `local` into the LAN.
  private func deliver(
    _ packet: Packet, to service: Service, local: TransportAddress, network: VirtualNetwork
  ) {
    network.record(.delivered, packet, at: name)
    service(packet.payload, packet.source) { [weak self] bytes, to in
      guard let self, let network = self.network, let inside = self.insideInterface else {
        return
      }
      let reply = network.makePacket(source: local, destination: to, payload: bytes)
      network.record(.sent, reply, at: self.name)
      network.transmit(reply, from: inside)
    }
  }

  /// 224.0.0.0/4.
  static func isIPv4Multicast(_ ip: IPAddress) -> Bool {
    guard case .v4(let a) = ip else { return false }
    return a >> 28 == 0xE
  }

  /// A datagram arrived on an outside interface.
  func fromOutside(_ packet: Packet) {
    guard let network, let insideInterface else { return }
    if let icmp = packet.icmp {
      icmpFromOutside(icmp, packet, network: network, inside: insideInterface)
      return
    }
    if behavior.firewall.blocks(inbound: true) {
      network.record(.dropped(.firewall), packet, at: name)
      return
    }
    if !behavior.translatesAddresses {
      network.record(.forwarded, packet, at: name)
      network.transmit(packet, from: insideInterface)
      return
    }
    let now = network.now
    if let forward = forwardsByExternal[packet.destination], forward.isLive(at: now) {
      var inbound = packet
      inbound.destination = forward.internalAddress
      network.record(.translated, inbound, at: name)
      network.transmit(inbound, from: insideInterface)
      return
    }
    guard let mapping = byExternal[packet.destination] else {
      network.record(.dropped(.noMapping), packet, at: name)
      return
    }
    if isExpired(mapping, now: now) {
      remove(mapping)
      network.record(.dropped(.mappingExpired), packet, at: name)
      return
    }
    guard admits(packet.source, to: mapping) else {
      network.record(.dropped(.filtered), packet, at: name)
      return
    }
    if behavior.inboundRefresh { mapping.lastActive = now }
    var inbound = packet
    inbound.destination = mapping.key.internalAddress
    network.record(.translated, inbound, at: name)
    network.transmit(inbound, from: insideInterface)
  }

  // MARK: ICMP

  // ICMP errors are treated as Linux conntrack treats RELATED ICMP: one that quotes a datagram
  // of a live mapping is translated back along it (the quoted addresses too) and passes the UDP
  // firewall; any other is dropped. A datagram for which the box has no mapping is dropped
  // silently, as by a router with an input firewall (the lab's routers have one): the box
  // itself never answers with ICMP.

  /// An ICMP error from an inside host about a datagram that came in through a mapping (the
  /// inside host has no socket there any more): goes out from the mapping's external address.
  private func icmpFromInside(_ icmp: ICMPUnreachable, _ packet: Packet, network: VirtualNetwork) {
    guard behavior.translatesAddresses else {
      guard let first = publicIPs.first, let out = outsideInterfaces[first] else { return }
      network.record(.forwarded, packet, at: name)
      network.transmit(packet, from: out)
      return
    }
    let now = network.now
    guard
      let mapping = byExternal.values.first(where: {
        // The quoted datagram came in through this mapping: its filter let it in.
        $0.key.internalAddress == icmp.originalDestination && !isExpired($0, now: now)
          && admits(icmp.originalSource, to: $0)
      }), let iface = outsideInterfaces[mapping.external.ip]
    else {
      network.record(.dropped(.noMapping), packet, at: name)
      return
    }
    var out = packet
    out.source = TransportAddress(ip: mapping.external.ip, port: 0)
    out.icmp?.originalDestination = mapping.external
    network.record(.translated, out, at: name)
    network.transmit(out, from: iface)
  }

  /// An ICMP error from outside about a datagram an inside host sent through a mapping: goes
  /// to that host, quoting its own address.
  private func icmpFromOutside(
    _ icmp: ICMPUnreachable, _ packet: Packet, network: VirtualNetwork, inside: Interface
  ) {
    guard behavior.translatesAddresses else {
      network.record(.forwarded, packet, at: name)
      network.transmit(packet, from: inside)
      return
    }
    guard let mapping = byExternal[icmp.originalSource], !isExpired(mapping, now: network.now),
      mapping.contactedEndpoints.contains(icmp.originalDestination)
    else {
      network.record(.dropped(.noMapping), packet, at: name)
      return
    }
    var inbound = packet
    inbound.destination = mapping.key.internalAddress
    inbound.icmp?.originalSource = mapping.key.internalAddress
    network.record(.translated, inbound, at: name)
    network.transmit(inbound, from: inside)
  }

  /// RFC 4787 §6: a datagram from inside to one of our own external mappings goes back inside,
  /// with its source translated to the sender's external mapping.
  private func hairpin(_ packet: Packet, network: VirtualNetwork, inside: Interface) {
    guard behavior.hairpinning else {
      network.record(.dropped(.hairpinDisabled), packet, at: name)
      return
    }
    let now = network.now
    guard let sender = outboundMapping(for: packet, now: now) else {
      network.record(.dropped(.portsExhausted), packet, at: name)
      return
    }
    guard let target = byExternal[packet.destination] else {
      network.record(.dropped(.noMapping), packet, at: name)
      return
    }
    if isExpired(target, now: now) {
      remove(target)
      network.record(.dropped(.mappingExpired), packet, at: name)
      return
    }
    guard admits(sender.external, to: target) else {
      network.record(.dropped(.filtered), packet, at: name)
      return
    }
    if behavior.inboundRefresh { target.lastActive = now }
    var looped = packet
    looped.source = sender.external
    looped.destination = target.key.internalAddress
    network.record(.translated, looped, at: name)
    network.transmit(looped, from: inside)
  }

  // MARK: Mappings

  private func isExpired(_ m: Mapping, now: Instant) -> Bool {
    now >= m.lastActive + behavior.mappingLifetime
  }

  private func remove(_ m: Mapping) {
    if byKey[m.key] === m { byKey[m.key] = nil }
    if byExternal[m.external] === m { byExternal[m.external] = nil }
  }

  private func key(for packet: Packet) -> Key {
    switch behavior.mapping {
    case .endpointIndependent:
      return Key(internalAddress: packet.source, destinationIP: nil, destinationPort: nil)
    case .addressDependent:
      return Key(
        internalAddress: packet.source, destinationIP: packet.destination.ip, destinationPort: nil)
    case .addressAndPortDependent:
      return Key(
        internalAddress: packet.source, destinationIP: packet.destination.ip,
        destinationPort: packet.destination.port)
    }
  }

  /// Finds or creates the mapping for an outbound datagram, refreshes it and records the
  /// destination for filtering. Nil when no external port is free.
  private func outboundMapping(for packet: Packet, now: Instant) -> Mapping? {
    let k = key(for: packet)
    var mapping = byKey[k]
    if let m = mapping, isExpired(m, now: now) {
      remove(m)
      mapping = nil
    }
    if mapping == nil {
      guard let external = allocate(for: packet.source, now: now) else { return nil }
      let m = Mapping(key: k, external: external, now: now)
      byKey[k] = m
      byExternal[external] = m
      mapping = m
    }
    guard let m = mapping else { return nil }
    m.lastActive = now
    m.contactedIPs.insert(packet.destination.ip)
    m.contactedEndpoints.insert(packet.destination)
    return m
  }

  private func admits(_ source: TransportAddress, to m: Mapping) -> Bool {
    switch behavior.filtering {
    case .endpointIndependent: return true
    case .addressDependent: return m.contactedIPs.contains(source.ip)
    case .addressAndPortDependent: return m.contactedEndpoints.contains(source)
    }
  }

  private func externalIP(for internalIP: IPAddress) -> IPAddress? {
    let candidates = publicIPs.filter { $0.family == internalIP.family }
    guard !candidates.isEmpty, let network else { return nil }
    switch behavior.ipPooling {
    case .paired:
      if let ip = pairing[internalIP], candidates.contains(ip) { return ip }
      let ip = candidates[nextPoolIndex % candidates.count]
      nextPoolIndex += 1
      pairing[internalIP] = ip
      return ip
    case .arbitrary:
      return candidates[Int.random(in: 0..<candidates.count, using: &network.rng)]
    }
  }

  /// True when no live mapping uses `address`; an expired one found there is removed.
  private func isFree(_ address: TransportAddress, now: Instant) -> Bool {
    if let f = forwardsByExternal[address], f.isLive(at: now) { return false }
    guard let m = byExternal[address] else { return true }
    if isExpired(m, now: now) {
      remove(m)
      return true
    }
    return false
  }

  /// Picks an external address for a new mapping of `inner`, per the behaviour's port
  /// preservation, parity and assignment. Every search is bounded by the range size.
  private func allocate(for inner: TransportAddress, now: Instant) -> TransportAddress? {
    guard let ip = externalIP(for: inner.ip), let network else { return nil }
    let range = behavior.portRange
    let parity = inner.port & 1
    func acceptable(_ port: Int) -> Bool {
      guard port > 0, port <= Int(UInt16.max) else { return false }
      if behavior.portParity, UInt16(port) & 1 != parity { return false }
      return isFree(TransportAddress(ip: ip, port: UInt16(port)), now: now)
    }
    if behavior.portPreservation, acceptable(Int(inner.port)) {
      return TransportAddress(ip: ip, port: inner.port)
    }
    let low = Int(range.lowerBound)
    let size = Int(range.upperBound) - low + 1
    func wrap(_ p: Int) -> Int { low + ((p - low) % size + size) % size }
    switch behavior.portAssignment {
    case .sequential:
      let delta = behavior.portDelta == 0 ? 1 : behavior.portDelta
      var p = nextSequentialPort[ip] ?? low
      for _ in 0..<size {
        let candidate = wrap(p)
        p = candidate + delta
        if acceptable(candidate) {
          nextSequentialPort[ip] = wrap(p)
          return TransportAddress(ip: ip, port: UInt16(candidate))
        }
      }
      // A delta that shares a factor with the range size may skip free ports: scan them all.
      for i in 0..<size where acceptable(low + i) {
        return TransportAddress(ip: ip, port: UInt16(low + i))
      }
      return nil
    case .random:
      for _ in 0..<64 {
        let candidate = low + Int.random(in: 0..<size, using: &network.rng)
        if acceptable(candidate) { return TransportAddress(ip: ip, port: UInt16(candidate)) }
      }
      let start = Int.random(in: 0..<size, using: &network.rng)
      for i in 0..<size where acceptable(low + (start + i) % size) {
        return TransportAddress(ip: ip, port: UInt16(low + (start + i) % size))
      }
      return nil
    }
  }
}
