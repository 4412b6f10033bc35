import Runtime
import STUN
import Traversal

/// What `natscope connect` asks the router for: one UDP mapping of the host candidate's port.
public struct ConnectPortMappingConfiguration: Sendable {
  /// The gateway; nil asks the runtime for its first IPv4 default gateway.
  public var gateway: IPAddress?
  /// The lifetime asked for, in seconds; the mapping is renewed at half the granted lifetime.
  public var lifetime: UInt32
  /// The UDP port of PCP and NAT-PMP (5351; a test may use another).
  public var serverPort: UInt16
  /// How long gathering waits for the router's answer.
  public var wait: Duration

  public init(
    gateway: IPAddress? = nil, lifetime: UInt32 = 120, serverPort: UInt16 = 5351,
    wait: Duration = .seconds(1)
  ) {
    self.gateway = gateway
    self.lifetime = max(2, lifetime)
    self.serverPort = serverPort
    self.wait = max(.milliseconds(50), wait)
  }
}

/// `connect`'s port mapping: asks the default gateway for a mapping of one host candidate's
/// UDP port with PCP (RFC 6887 MAP), or NAT-PMP (RFC 6886) when the router answers PCP with
/// "unsupported version"; hands back the router's external address and mapped port (offered
/// as a server-reflexive candidate, RFC 8445 §5.1.1.2), keeps the mapping renewed at half its
/// lifetime while the session lives (the client machines renew on their own timers) and
/// deletes it (lifetime 0) on ``release(_:)``.
///
/// The first answer is awaited for at most ``ConnectPortMappingConfiguration/wait``; an ICMP
/// port unreachable from the gateway (no port-mapping service) ends the attempt at once. A
/// mapping granted after the wait is deleted at once, since it was never offered.
final class ConnectPortMapping {
  private enum Phase {
    case idle, requesting, held, deleting, done
  }

  private let runtime: any NetworkRuntime
  private let configuration: ConnectPortMappingConfiguration
  private let base: TransportAddress
  /// What happened, for the report.
  private(set) var report = ConnectReport.PortMapping()
  /// Called with every change of ``report`` after the first answer (renewals, deletion).
  var onChange: ((ConnectReport.PortMapping) -> Void)?

  private var phase: Phase = .idle
  private var method: PortMappingResult.Method = .pcp
  private var server: TransportAddress?
  private var socket: (any DatagramSocket)?
  private var pcp: PCPClient?
  private var natpmp: NATPMPClient?
  private var driver: MachineDriver<PCPClientEvent>?
  private var natpmpDriver: MachineDriver<NATPMPClientEvent>?
  private var waitTimer: (any TimerHandle)?
  private var granted: ((TransportAddress?, TransportAddress?) -> Void)?
  private var released: [() -> Void] = []
  private var natpmpMapping: PortMapping?

  init(
    runtime: any NetworkRuntime, configuration: ConnectPortMappingConfiguration,
    base: TransportAddress
  ) {
    self.runtime = runtime
    self.configuration = configuration
    self.base = base
  }

  /// Asks for the mapping; `completion` runs once, with the external address and the gateway
  /// (nil, nil when there is none), within the configured wait.
  func start(_ completion: @escaping (TransportAddress?, TransportAddress?) -> Void) {
    guard phase == .idle else { return }
    granted = completion
    guard
      let gateway = configuration.gateway
        ?? runtime.defaultGateways().first(where: { $0.family == .ipv4 })
    else {
      report.error = "no port mapping: this host has no IPv4 default gateway"
      return finish()
    }
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    self.server = server
    report.gateway = server.description
    do {
      socket = try runtime.openUDP(
        UDPSocketOptions(address: base.ip),
        onReceive: { [weak self] d in self?.receive(d) },
        onError: { [weak self] e in self?.socketError(e) })
    } catch {
      report.error = "no port mapping: cannot open a UDP socket toward the router (\(error))"
      return finish()
    }
    phase = .requesting
    waitTimer = runtime.schedule(at: runtime.now + configuration.wait) { [weak self] in
      guard let self, self.phase == .requesting else { return }
      let ms = Int(self.configuration.wait.milliseconds)
      self.report.error =
        "no port mapping: the router \(server) did not answer \(self.method.displayName) within \(ms) ms"
      self.abandon()
    }
    startPCP(server)
  }

  /// Deletes the mapping if one is held (or may be being granted); `done` runs once the router
  /// confirmed, the deletion gave up, or at once when there is nothing to delete.
  func release(_ done: @escaping () -> Void) {
    switch phase {
    case .idle, .done:
      phase = .done
      done()
    case .deleting where !report.granted:
      // The deletion of a request that never got an answer (sent once already) is not worth
      // holding up the exit for.
      released.append(done)
      finish()
    case .deleting:
      released.append(done)
    case .requesting, .held:
      released.append(done)
      if phase == .requesting {
        granted?(nil, nil)
        granted = nil
      }
      deleteNow()
    }
  }

  // MARK: Requests

  private func startPCP(_ server: TransportAddress) {
    method = .pcp
    report.protocol = PortMappingResult.Method.pcp.rawValue
    var client = PCPClient(
      server: server, clientAddress: base.ip,
      configuration: .init(
        retransmission: PCPRetransmission(
          initial: .milliseconds(250), maximum: .seconds(2), maxRequests: 5,
          maxDuration: .seconds(5)),
        requestedLifetime: configuration.lifetime))
    driver = MachineDriver(
      runtime: runtime,
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      timeout: { [weak self] now in
        guard let self, var c = self.pcp else { return }
        let out = c.handleTimeout(at: now)
        self.pcp = c
        self.pcpEvents(self.driver?.carryOut(out) ?? [])
      })
    let out = client.map(
      .udp, internalPort: base.port, suggestedExternalPort: base.port,
      lifetime: configuration.lifetime, at: runtime.now)
    pcp = client
    pcpEvents(driver?.carryOut(out) ?? [])
  }

  private func startNATPMP(_ server: TransportAddress) {
    driver?.stop()
    driver = nil
    pcp = nil
    method = .natPMP
    report.protocol = PortMappingResult.Method.natPMP.rawValue
    var client = NATPMPClient(
      gateway: server,
      configuration: .init(
        initialWait: .milliseconds(250), maxRequests: 9,
        requestedLifetime: configuration.lifetime))
    natpmpDriver = MachineDriver(
      runtime: runtime,
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      timeout: { [weak self] now in
        guard let self, var c = self.natpmp else { return }
        let out = c.handleTimeout(at: now)
        self.natpmp = c
        self.natpmpEvents(self.natpmpDriver?.carryOut(out) ?? [])
      })
    var out = client.requestExternalAddress(at: runtime.now)
    out += client.map(
      .udp, internalPort: base.port, suggestedExternalPort: base.port,
      lifetime: configuration.lifetime, at: runtime.now)
    natpmp = client
    natpmpEvents(natpmpDriver?.carryOut(out) ?? [])
  }

  private func receive(_ d: ReceivedDatagram) {
    if var c = pcp {
      let out = c.handleInput(d.bytes, from: d.source, at: d.receivedAt)
      pcp = c
      pcpEvents(driver?.carryOut(out) ?? [])
    } else if var c = natpmp {
      let out = c.handleInput(d.bytes, from: d.source, at: d.receivedAt)
      natpmp = c
      natpmpEvents(natpmpDriver?.carryOut(out) ?? [])
    }
  }

  /// ICMP from the gateway: nothing listens on the port-mapping port there.
  private func socketError(_ error: SocketError) {
    guard let u = error.unreachable, u.destination == server, phase == .requesting else { return }
    report.error =
      "no port mapping: \(u.destination) answered with \(u.kind.phrase)"
      + (u.kind == .portUnreachable ? " (no PCP or NAT-PMP service on the router)" : "")
    finish()
  }

  // MARK: Events

  private func grant(external: TransportAddress, lifetime: UInt32) {
    report.externalAddress = external.ip.description
    report.externalPort = external.port
    report.lifetime = lifetime
    report.error = nil
    switch phase {
    case .requesting:
      phase = .held
      waitTimer?.cancel()
      waitTimer = nil
      let done = granted
      granted = nil
      done?(external, server)
    case .held:
      break
    case .idle, .deleting, .done:
      // Granted after the wait (never offered) or while stopping: delete it now.
      deleteNow()
    }
  }

  private func pcpEvents(_ events: [PCPClientEvent]) {
    for event in events {
      switch event {
      case .mapped(let m, _) where m.internalPort == base.port:
        grant(external: m.external, lifetime: m.lifetime)
      case .renewed(let m) where m.internalPort == base.port:
        renewed(lifetime: m.lifetime, external: m.external)
      case .deleted:
        report.deleted = true
        finish()
      case .expired:
        lost("the mapping lapsed: the router did not answer its renewal")
      case .failed(let f):
        failed(f.description)
      case .versionNotSupported:
        if phase == .requesting, let server {
          startNATPMP(server)
        } else {
          failed("the router no longer speaks PCP version 2")
        }
      default:
        break
      }
    }
  }

  private func natpmpEvents(_ events: [NATPMPClientEvent]) {
    for event in events {
      switch event {
      case .externalAddress:
        if let m = natpmpMapping { natpmpGranted(m) }
      case .mapped(let m, _) where m.internalPort == base.port:
        natpmpMapping = m
        natpmpGranted(m)
      case .renewed(let m) where m.internalPort == base.port:
        natpmpMapping = m
        let ip = m.external.ip.isUnspecified ? natpmp?.externalAddress : m.external.ip
        renewed(
          lifetime: m.lifetime, external: TransportAddress(ip: ip ?? .anyV4, port: m.external.port))
      case .deleted:
        report.deleted = true
        finish()
      case .expired:
        lost("the mapping lapsed: the router did not answer its renewal")
      case .failed(let f):
        failed(f.description)
      default:
        break
      }
    }
  }

  private func natpmpGranted(_ m: PortMapping) {
    let ip = m.external.ip.isUnspecified ? natpmp?.externalAddress : m.external.ip
    guard let ip, !ip.isUnspecified else { return }
    grant(external: TransportAddress(ip: ip, port: m.external.port), lifetime: m.lifetime)
  }

  private func renewed(lifetime: UInt32, external: TransportAddress) {
    report.renewals += 1
    report.lifetime = lifetime
    if !external.ip.isUnspecified {
      report.externalAddress = external.ip.description
      report.externalPort = external.port
    }
    onChange?(report)
  }

  private func lost(_ reason: String) {
    report.error = reason
    onChange?(report)
  }

  private func failed(_ reason: String) {
    switch phase {
    case .requesting:
      report.error = "no port mapping: \(reason)"
      finish()
    case .deleting:
      // A deletion after a wait that got no answer keeps the wait's reason.
      if report.granted { report.error = "the mapping was not deleted: \(reason)" }
      finish()
    case .held:
      report.error = reason
      onChange?(report)
    case .idle, .done:
      break
    }
  }

  // MARK: Ending

  /// The wait ended without an answer: stop asking, and delete anything the router may have
  /// granted meanwhile.
  private func abandon() {
    let done = granted
    granted = nil
    done?(nil, nil)
    if (pcp?.hasPendingRequests ?? false) || (natpmp?.hasPendingRequests ?? false) {
      deleteNow()
    } else {
      finish()
    }
  }

  private func deleteNow() {
    guard phase != .deleting, phase != .done else { return }
    phase = .deleting
    waitTimer?.cancel()
    waitTimer = nil
    let now = runtime.now
    if var c = pcp {
      let out = c.delete(.udp, internalPort: base.port, at: now)
      pcp = c
      pcpEvents(driver?.carryOut(out) ?? [])
    } else if var c = natpmp {
      let out = c.delete(.udp, internalPort: base.port, at: now)
      natpmp = c
      natpmpEvents(natpmpDriver?.carryOut(out) ?? [])
    } else {
      finish()
    }
  }

  private func finish() {
    guard phase != .done else { return }
    phase = .done
    waitTimer?.cancel()
    waitTimer = nil
    driver?.stop()
    natpmpDriver?.stop()
    driver = nil
    natpmpDriver = nil
    pcp = nil
    natpmp = nil
    socket?.close()
    socket = nil
    let done = granted
    granted = nil
    done?(nil, nil)
    onChange?(report)
    let callbacks = released
    released = []
    for c in callbacks { c() }
  }
}

extension ConnectReport.PortMapping {
  /// One line for `-v` and the event log: `PCP 198.51.100.7:40000 (lifetime 120 s)`.
  public var line: String {
    let name = self.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName }
    var parts: [String] = []
    if let a = externalAddress, let p = externalPort {
      parts.append("\(name ?? "mapped") \(a):\(p)")
      if let l = lifetime { parts.append("lifetime \(l) s") }
      if renewals > 0 { parts.append("renewed \(renewals)×") }
    } else if let name {
      parts.append(name)
    }
    if deleted { parts.append("deleted") }
    if let error { parts.append(error) }
    return parts.isEmpty ? "none" : parts.joined(separator: ", ")
  }
}
