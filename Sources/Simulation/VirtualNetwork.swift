import Runtime
import STUN
import Traversal

/// A deterministic discrete-event simulation of hosts, realms, links and NAT boxes.
///
/// Everything happens on one thread, driven by `run(until:)`, `run(for:)`, `runUntilIdle(limit:)`
/// or `runRealTime(for:speed:tick:onTick:)`. Events are ordered by (time, sequence number) and
/// every random choice (loss, jitter, random ports, ephemeral ports) comes from one
/// `SeededGenerator`, so a run is reproducible from its seed.
///
/// ```swift
/// let net = VirtualNetwork(seed: 42)
/// let internet = net.addRealm("internet", link: Link(latency: .milliseconds(20)))
/// let lan = try net.addRealm("home", prefix: "192.168.1.0/24")
/// try net.addNAT(
///   "home-nat", behavior: .portRestrictedCone, outside: internet,
///   publicIPs: ["198.51.100.1"], inside: lan, insideAddress: "192.168.1.1")
/// let server = try net.addHost("server", in: internet, address: "203.0.113.10")
/// let laptop = try net.addHost("laptop", in: lan, address: "192.168.1.10")
/// let socket = try laptop.openUDP(UDPSocketOptions()) { datagram in … }
/// socket.send(bytes, to: TransportAddress(ip: server.addresses[0], port: 3478))
/// net.run(for: .seconds(1))
/// ```
///
/// Keep the network alive while its hosts are in use: hosts and NAT boxes refer to it weakly.
public final class VirtualNetwork {
  /// The virtual clock. Starts at `Instant.zero`.
  public private(set) var now: Instant = .zero
  /// What happened to datagrams so far.
  public private(set) var counters = TrafficCounters()
  private var nodeCounters: [String: TrafficCounters] = [:]
  /// Called for every step of every datagram (sent, translated, delivered, dropped).
  public var trace: ((PacketTrace) -> Void)?
  /// The default maximum number of events one `run` call processes.
  public static let defaultEventLimit = 10_000_000

  /// The realms, in creation order.
  public private(set) var realms: [Realm] = []
  /// The hosts, in creation order.
  public private(set) var hosts: [SimulatedHost] = []
  /// The NAT boxes and routers, in creation order.
  public private(set) var nats: [NATBox] = []

  var rng: SeededGenerator
  private var queue = EventQueue()
  private var nextPacketID: UInt64 = 1
  /// Hops a datagram may cross before it is dropped as a loop.
  static let hopLimit = 32

  /// A network whose random choices all derive from `seed`.
  public init(seed: UInt64 = 0) {
    rng = SeededGenerator(seed: seed)
  }

  // MARK: Topology

  /// Adds an address space. `prefixes` (e.g. `["192.168.1.0/24"]`) restricts the addresses
  /// that may be used in it; leave it empty for the internet. `link` is the default link for
  /// interfaces attached without one.
  @discardableResult
  public func addRealm(_ name: String, prefixes: [IPPrefix] = [], link: Link = .ideal) -> Realm {
    let realm = Realm(name: name, prefixes: prefixes, defaultLink: link)
    realms.append(realm)
    return realm
  }

  /// Adds a realm from prefix text such as `"192.168.1.0/24"`; throws on malformed text.
  @discardableResult
  public func addRealm(_ name: String, prefix: String, link: Link = .ideal) throws -> Realm {
    guard let p = IPPrefix(prefix) else {
      throw SimulationError.invalidConfiguration("not a prefix: \(prefix) (want a.b.c.d/n)")
    }
    return addRealm(name, prefixes: [p], link: link)
  }

  /// Adds a host with one interface at `address` in `realm`. Add more interfaces with
  /// `SimulatedHost.addInterface(_:in:link:)`.
  @discardableResult
  public func addHost(_ name: String, in realm: Realm, address: IPAddress, link: Link? = nil)
    throws -> SimulatedHost
  {
    try checkUnusedName(name)
    try realm.validate(address)
    let host = SimulatedHost(name: name, network: self)
    try host.addInterface(address, in: realm, link: link)
    hosts.append(host)
    return host
  }

  /// Adds a NAT box (or, with `behavior.translatesAddresses == false`, a plain router) between
  /// `inside` and `outside`.
  ///
  /// - Parameters:
  ///   - publicIPs: the NAT's addresses in `outside` (at least one).
  ///   - insideAddress: the NAT's own address in `inside` (the LAN's default gateway).
  ///   - outsideLink / insideLink: the links of the NAT's interfaces (default: the realms').
  /// The inside realm's default route leads to this box; a realm can have only one gateway.
  @discardableResult
  public func addNAT(
    _ name: String, behavior: NATBehavior, outside: Realm, publicIPs: [IPAddress],
    inside: Realm, insideAddress: IPAddress, outsideLink: Link? = nil, insideLink: Link? = nil
  ) throws -> NATBox {
    try checkUnusedName(name)
    guard !publicIPs.isEmpty else {
      throw SimulationError.invalidConfiguration("NAT \(name) needs at least one public IP")
    }
    guard inside !== outside else {
      throw SimulationError.invalidConfiguration("NAT \(name): inside and outside are one realm")
    }
    guard inside.gateway == nil else { throw SimulationError.realmHasGateway(inside.name) }
    guard !behavior.portRange.isEmpty, behavior.portRange.lowerBound > 0 else {
      throw SimulationError.invalidConfiguration(
        "NAT \(name): portRange must not include port 0")
    }
    guard Set(publicIPs).count == publicIPs.count else {
      throw SimulationError.invalidConfiguration("NAT \(name): public IPs repeat")
    }
    for ip in publicIPs { try outside.validate(ip) }
    try inside.validate(insideAddress)
    if !behavior.translatesAddresses, inside.prefixes.isEmpty {
      throw SimulationError.invalidConfiguration(
        "router \(name) does not translate, so its inside realm \(inside.name) needs prefixes "
          + "to route")
    }
    let nat = NATBox(name: name, behavior: behavior, network: self)
    nat.attach(
      outside: outside, publicIPs: publicIPs, outsideLink: outsideLink ?? outside.defaultLink,
      inside: inside, insideAddress: insideAddress, insideLink: insideLink ?? inside.defaultLink)
    nats.append(nat)
    return nat
  }

  /// Host and NAT names identify nodes in traces and `counters(at:)`, so they must be unique.
  private func checkUnusedName(_ name: String) throws {
    if hosts.contains(where: { $0.name == name }) || nats.contains(where: { $0.name == name }) {
      throw SimulationError.invalidConfiguration(
        "the name \"\(name)\" is already used by a host or NAT; names must be unique")
    }
  }

  /// Builds the common carrier-grade chain: a CGNAT between `outside` and a new carrier realm
  /// (`100.64.0.0/10`), and a home NAT between the carrier realm and a new home LAN.
  ///
  /// Returns both boxes and the LAN realm; put hosts in `lan`.
  public func addCGNATChain(
    outside: Realm, carrierPublicIPs: [IPAddress], carrierBehavior: NATBehavior = .cgnat,
    homeWANAddress: IPAddress = .v4(0x6440_0002), homeBehavior: NATBehavior = .portRestrictedCone,
    lanPrefix: String = "192.168.1.0/24", lanGateway: IPAddress = .v4(0xC0A8_0101),
    namePrefix: String = ""
  ) throws -> (carrier: NATBox, home: NATBox, lan: Realm) {
    let carrierRealm = try addRealm(namePrefix + "carrier", prefix: "100.64.0.0/10")
    let lan = try addRealm(namePrefix + "lan", prefix: lanPrefix)
    let carrier = try addNAT(
      namePrefix + "cgnat", behavior: carrierBehavior, outside: outside,
      publicIPs: carrierPublicIPs, inside: carrierRealm, insideAddress: .v4(0x6440_0001))
    let home = try addNAT(
      namePrefix + "home-nat", behavior: homeBehavior, outside: carrierRealm,
      publicIPs: [homeWANAddress], inside: lan, insideAddress: lanGateway)
    return (carrier, home, lan)
  }

  /// A text picture of the topology, one realm per paragraph, e.g.
  ///
  /// ```
  /// internet
  ///   203.0.113.10  reflector
  ///   198.51.100.1  home-nat (outside)
  /// lan 192.168.1.0/24
  ///   192.168.1.1   home-nat (inside, port-restricted cone)
  ///   192.168.1.10  laptop
  /// ```
  public var topologyDescription: String {
    var lines: [String] = []
    for realm in realms {
      lines.append(([realm.name] + realm.prefixes.map(\.description)).joined(separator: " "))
      let width = realm.owners.keys.map(\.description.count).max() ?? 0
      for address in realm.addresses {
        guard let iface = realm.owners[address] else { continue }
        var what = iface.nodeName
        if let nat = iface.nat {
          what += iface.isNATInside ? " (inside, \(nat.behavior.summary))" : " (outside)"
        }
        let text = address.description
        lines.append(
          "  " + text + String(repeating: " ", count: width - text.count + 2) + what)
      }
    }
    return lines.joined(separator: "\n")
  }

  // MARK: Scheduling

  /// Calls `action` at `deadline` (at the current time if it has passed), after every event
  /// already scheduled for that instant.
  @discardableResult
  public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> SimulatedTimer {
    let timer = SimulatedTimer(deadline: max(deadline, now), action: action)
    queue.push(at: timer.deadline) { timer.fire() }
    return timer
  }

  /// When the next event is due, or nil when there is none.
  public var nextEventTime: Instant? { queue.nextTime }

  // MARK: Running

  /// What a run did.
  public struct RunResult: Hashable, Sendable {
    /// Events processed.
    public var events: Int
    /// True when the run stopped because it hit its event limit (time did not reach the target,
    /// or the queue did not drain).
    public var hitLimit: Bool
  }

  /// Processes every event due at or before `deadline`, then sets the clock to `deadline`.
  /// Stops early after `limit` events (the clock then stays at the last event's time).
  @discardableResult
  public func run(until deadline: Instant, limit: Int = defaultEventLimit) -> RunResult {
    var processed = 0
    while processed < max(limit, 0), let t = queue.nextTime, t <= deadline,
      let event = queue.pop()
    {
      if event.time > now { now = event.time }
      event.action()
      processed += 1
    }
    let hit = processed >= limit && (queue.nextTime.map { $0 <= deadline } ?? false)
    if !hit, deadline != .distantFuture, deadline > now { now = deadline }
    return RunResult(events: processed, hitLimit: hit)
  }

  /// Runs for `duration` of virtual time from `now`.
  @discardableResult
  public func run(for duration: Duration, limit: Int = defaultEventLimit) -> RunResult {
    run(until: now + duration, limit: limit)
  }

  /// Processes events until none is left or `limit` events ran (periodic timers never let a
  /// network go idle; the limit bounds the loop). The clock stays at the last event's time.
  @discardableResult
  public func runUntilIdle(limit: Int = 100_000) -> RunResult {
    var processed = 0
    while processed < max(limit, 0), let event = queue.pop() {
      if event.time > now { now = event.time }
      event.action()
      processed += 1
    }
    return RunResult(events: processed, hitLimit: !queue.isEmpty)
  }

  // MARK: Datagrams (internal)

  func makePacket(source: TransportAddress, destination: TransportAddress, payload: [UInt8])
    -> Packet
  {
    defer { nextPacketID &+= 1 }
    return Packet(
      id: nextPacketID, source: source, destination: destination, payload: payload,
      hopsLeft: Self.hopLimit)
  }

  /// What happened at one host or NAT box (by name): datagrams its sockets sent and received,
  /// datagrams it translated, and datagrams dropped there (a loss counts where the datagram was
  /// being sent from).
  public func counters(at node: String) -> TrafficCounters {
    nodeCounters[node] ?? TrafficCounters()
  }

  func record(_ kind: PacketTrace.Kind, _ packet: Packet, at node: String) {
    counters.count(kind)
    nodeCounters[node, default: TrafficCounters()].count(kind)
    if let trace {
      trace(
        PacketTrace(
          time: now, packet: packet.id, kind: kind, node: node, source: packet.source,
          destination: packet.destination, size: packet.payload.count))
    }
  }

  /// Sends `packet` from `sender` into the sender's realm: picks the next interface, applies
  /// both links' loss and delay, and schedules the arrival.
  func transmit(_ packet: Packet, from sender: Interface) {
    var packet = packet
    packet.hopsLeft -= 1
    guard packet.hopsLeft >= 0 else {
      record(.dropped(.hopLimit), packet, at: sender.nodeName)
      return
    }
    guard let target = sender.realm?.resolve(packet.destination.ip, from: sender) else {
      record(.dropped(.noRoute), packet, at: sender.nodeName)
      return
    }
    let up = sender.link.up
    let down = target.link.down
    if packet.icmp == nil {
      let size = packet.payload.count + (packet.destination.ip.family == .ipv6 ? 48 : 28)
      if let m = up.largestDatagram, size > m {
        record(.dropped(.tooLarge), packet, at: sender.nodeName)
        return
      }
      if let m = down.largestDatagram, size > m {
        record(.dropped(.tooLarge), packet, at: sender.nodeName)
        return
      }
    }
    if lost(up) || lost(down) {
      record(.dropped(.loss), packet, at: sender.nodeName)
      return
    }
    let delay = delayFor(up) + delayFor(down)
    queue.push(at: now + delay) { [weak self, weak target] in
      guard let self, let target else { return }
      self.arrive(packet, at: target)
    }
  }

  private func arrive(_ packet: Packet, at iface: Interface) {
    if let host = iface.host {
      host.receive(packet, on: iface)
    } else if let nat = iface.nat {
      if iface.isNATInside { nat.fromInside(packet) } else { nat.fromOutside(packet) }
    }
  }

  private func lost(_ c: LinkConditions) -> Bool {
    guard c.loss > 0 else { return false }
    return Double.random(in: 0..<1, using: &rng) < c.loss
  }

  private func delayFor(_ c: LinkConditions) -> Duration {
    let jitter = c.jitter.nanoseconds
    guard jitter > 0 else { return c.latency }
    return c.latency + .nanoseconds(Int64.random(in: 0...jitter, using: &rng))
  }
}
