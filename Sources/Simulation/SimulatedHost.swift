import Runtime
import STUN
import Traversal

/// A host on the simulated network, and the `NetworkRuntime` protocol code runs on there.
///
/// A host has one or more interfaces (an address in a realm each). Sockets bind to one of its
/// addresses or to the wildcard; a wildcard socket sends from the interface that can reach the
/// destination and receives on every interface of its family.
///
/// The host refers to its network weakly (the network owns its hosts): keep the
/// `VirtualNetwork` alive for as long as its hosts are used. A host whose network is gone
/// refuses to open sockets and silently drops sends and timers.
public final class SimulatedHost: NetworkRuntime {
  /// A name for traces.
  public let name: String
  /// A UDP firewall on the host itself.
  public var firewall: UDPFirewall = .none
  /// The range ephemeral ports come from (Linux's default is 32768...60999; IANA's is used here).
  public var ephemeralPorts: ClosedRange<UInt16> = 49152...65535

  weak var network: VirtualNetwork?
  private(set) var interfaces: [Interface] = []
  private var sockets: [TransportAddress: SimulatedSocket] = [:]
  private var lastKnownNow: Instant = .zero
  /// TCP connections opened by ``rawStreamConnector()`` so far.
  var tcpConnections = 0

  init(name: String, network: VirtualNetwork) {
    self.name = name
    self.network = network
  }

  /// Adds an interface at `address` in `realm` (e.g. a second public address, or a LAN address
  /// on a multi-homed host). `link` defaults to the realm's default link.
  public func addInterface(_ address: IPAddress, in realm: Realm, link: Link? = nil) throws {
    try realm.validate(address)
    let iface = Interface(
      address: address, realm: realm, link: link ?? realm.defaultLink, host: self)
    realm.owners[address] = iface
    interfaces.append(iface)
  }

  /// Changes the link of the interface at `address` (e.g. to add loss mid-run).
  public func setLink(_ link: Link, for address: IPAddress) {
    for iface in interfaces where iface.address == address { iface.link = link }
  }

  /// The addresses of this host's interfaces, in the order they were added.
  public var addresses: [IPAddress] { interfaces.map(\.address) }

  // MARK: NetworkRuntime

  /// The network's virtual clock.
  public var now: Instant {
    if let network { lastKnownNow = network.now }
    return lastKnownNow
  }

  /// The host's interface addresses.
  public func localAddresses() -> [IPAddress] { addresses }

  /// The inside address of the NAT in front of each interface's realm (a host on the public
  /// internet has none).
  public func defaultGateways() -> [IPAddress] {
    var out: [IPAddress] = []
    for iface in interfaces {
      if let gateway = iface.realm?.gateway?.address, !out.contains(gateway) {
        out.append(gateway)
      }
    }
    return out
  }

  /// Runs `action` at `deadline` on the network's event queue.
  @discardableResult
  public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> any TimerHandle {
    guard let network else {
      return SimulatedTimer(deadline: deadline, action: {})
    }
    return network.schedule(at: deadline, action)
  }

  /// Binds a UDP socket. Throws `RuntimeError.addressNotAvailable` for an address that is not
  /// the host's, and `RuntimeError.addressInUse` when the port (or every port of
  /// `options.portRange`) is taken for that address.
  public func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void
  ) throws -> any DatagramSocket {
    try bind(options, onReceive: onReceive, onError: onError)
  }

  /// `openUDP` returning the concrete socket type.
  public func bind(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void = { _ in }
  ) throws -> SimulatedSocket {
    guard network != nil else {
      throw RuntimeError.failed("host \(name): its VirtualNetwork no longer exists")
    }
    let ip = options.address ?? .anyV4
    if !ip.isUnspecified, !interfaces.contains(where: { $0.address == ip }) {
      throw RuntimeError.addressNotAvailable("\(ip) on host \(name)")
    }
    let port: UInt16
    if let wanted = options.port, wanted != 0 {
      guard isFree(ip, wanted) else {
        throw RuntimeError.addressInUse(TransportAddress(ip: ip, port: wanted).description)
      }
      port = wanted
    } else if let range = options.portRange {
      guard let p = freePort(ip, in: range) else {
        throw RuntimeError.addressInUse("\(ip): every port in \(range) on host \(name)")
      }
      port = p
    } else {
      guard let p = freePort(ip, in: ephemeralPorts) else {
        throw RuntimeError.addressInUse("\(ip): no free ephemeral port on host \(name)")
      }
      port = p
    }
    let local = TransportAddress(ip: ip, port: port)
    let socket = SimulatedSocket(
      host: self, localAddress: local, onReceive: onReceive, onError: onError)
    sockets[local] = socket
    return socket
  }

  private func isFree(_ ip: IPAddress, _ port: UInt16) -> Bool {
    if sockets[TransportAddress(ip: ip, port: port)] != nil { return false }
    if ip.isUnspecified {
      return !sockets.keys.contains { $0.port == port && $0.ip.family == ip.family }
    }
    let wildcard: IPAddress = ip.family == .ipv4 ? .anyV4 : .anyV6
    return sockets[TransportAddress(ip: wildcard, port: port)] == nil
  }

  /// A free port in `range`, searched from a random starting point (bounded by the range size).
  private func freePort(_ ip: IPAddress, in range: ClosedRange<UInt16>) -> UInt16? {
    guard let network else { return nil }
    let size = Int(range.upperBound) - Int(range.lowerBound) + 1
    let start = Int.random(in: 0..<size, using: &network.rng)
    for i in 0..<size {
      let port = UInt16(Int(range.lowerBound) + (start + i) % size)
      if port != 0, isFree(ip, port) { return port }
    }
    return nil
  }

  // MARK: Datagrams

  /// An ICMP error for a datagram one of this host's sockets sent: delivered to that socket's
  /// owner as a `SocketError` (ICMP related to the host's own traffic passes its UDP firewall).
  private func receiveICMP(_ icmp: ICMPUnreachable, _ packet: Packet, on iface: Interface) {
    guard let network else { return }
    let port = icmp.originalSource.port
    let wildcard: IPAddress = iface.address.family == .ipv4 ? .anyV4 : .anyV6
    guard icmp.originalSource.ip == iface.address,
      let socket = sockets[TransportAddress(ip: iface.address, port: port)]
        ?? sockets[TransportAddress(ip: wildcard, port: port)]
    else {
      network.record(.dropped(.noListener), packet, at: name)
      return
    }
    network.record(.delivered, packet, at: name)
    socket.deliverError(
      SocketError(
        kind: .unreachable(icmp.kind), destination: icmp.originalDestination,
        reporter: packet.source.ip, at: network.now,
        message:
          "\(icmp.kind.phrase) from \(packet.source.ip) for \(icmp.originalDestination)"))
  }

  func close(_ socket: SimulatedSocket) {
    if sockets[socket.localAddress] === socket { sockets[socket.localAddress] = nil }
  }

  func send(_ payload: [UInt8], from socket: SimulatedSocket, to destination: TransportAddress) {
    guard let network else { return }
    let bound = socket.localAddress.ip
    let iface: Interface?
    if bound.isUnspecified {
      let candidates = interfaces.filter { $0.address.family == destination.ip.family }
      iface =
        candidates.first { $0.realm?.owners[destination.ip] != nil }
        ?? candidates.first { $0.realm?.canReach(destination.ip, from: $0) ?? false }
        ?? candidates.first
    } else {
      iface = interfaces.first { $0.address == bound }
    }
    let source = TransportAddress(ip: iface?.address ?? bound, port: socket.localAddress.port)
    let packet = network.makePacket(source: source, destination: destination, payload: payload)
    network.record(.sent, packet, at: name)
    guard let iface, iface.address.family == destination.ip.family else {
      network.record(.dropped(.unsendable), packet, at: name)
      return
    }
    if firewall.blocks(inbound: false) {
      network.record(.dropped(.firewall), packet, at: name)
      return
    }
    network.transmit(packet, from: iface)
  }

  func receive(_ packet: Packet, on iface: Interface) {
    guard let network else { return }
    if let icmp = packet.icmp {
      receiveICMP(icmp, packet, on: iface)
      return
    }
    if firewall.blocks(inbound: true) {
      // A firewall drops silently: no ICMP.
      network.record(.dropped(.firewall), packet, at: name)
      return
    }
    let port = packet.destination.port
    let wildcard: IPAddress = iface.address.family == .ipv4 ? .anyV4 : .anyV6
    guard
      let socket = sockets[TransportAddress(ip: iface.address, port: port)]
        ?? sockets[TransportAddress(ip: wildcard, port: port)]
    else {
      network.record(.dropped(.noListener), packet, at: name)
      // As a Linux host does: nothing listens, so answer ICMP port unreachable.
      var error = network.makePacket(
        source: TransportAddress(ip: iface.address, port: 0), destination: packet.source,
        payload: [])
      error.icmp = ICMPUnreachable(
        kind: .portUnreachable, originalSource: packet.source,
        originalDestination: packet.destination)
      network.record(.sent, error, at: name)
      network.transmit(error, from: iface)
      return
    }
    network.record(.delivered, packet, at: name)
    socket.deliver(
      ReceivedDatagram(
        bytes: packet.payload, source: packet.source,
        destination: TransportAddress(ip: iface.address, port: port), receivedAt: network.now))
  }
}
