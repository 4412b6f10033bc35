import Report
import Runtime
import STUN
import Traversal

/// What `natscope connect` asks the router for: one UDP mapping of the host candidate's port.
public struct ConnectPortMappingConfiguration: Sendable {
  /// The gateway; nil asks the runtime for its first IPv4 default gateway.
  public var gateway: IPAddress?
  /// The lifetime (PCP, NAT-PMP) or lease (UPnP IGD) asked for, in seconds; the mapping is
  /// renewed at half of what was granted.
  public var lifetime: UInt32
  /// The UDP port of PCP and NAT-PMP (5351; a test may use another).
  public var serverPort: UInt16
  /// How long gathering waits, in all, for a granted mapping (any protocol).
  public var wait: Duration
  /// Whether to look for a UPnP IGD device (SSDP) and map with it when PCP and NAT-PMP grant
  /// nothing; it also needs a TCP connector (see ``ConnectSession``).
  public var upnp: Bool
  /// Where the multicast SSDP search goes (239.255.255.250:1900; a test may use another). The
  /// same search also goes, unicast, to port 1900 of the gateway, so that a gateway without
  /// UPnP answers at once with ICMP port unreachable.
  public var ssdpAddress: TransportAddress

  public init(
    gateway: IPAddress? = nil, lifetime: UInt32 = 120, serverPort: UInt16 = 5351,
    wait: Duration = .seconds(1), upnp: Bool = true,
    ssdpAddress: TransportAddress = SSDP.multicastAddress
  ) {
    self.gateway = gateway
    self.lifetime = max(2, lifetime)
    self.serverPort = serverPort
    self.wait = max(.milliseconds(50), wait)
    self.upnp = upnp
    self.ssdpAddress = ssdpAddress
  }
}

/// `connect`'s port mapping: asks the default gateway for a mapping of one host candidate's
/// UDP port, hands back the router's external address and mapped port (offered as a
/// server-reflexive candidate, RFC 8445 §5.1.1.2), keeps the mapping renewed at half its
/// lifetime while the session lives and deletes it on ``release(_:)``.
///
/// At once, in parallel: a PCP MAP request (RFC 6887; NAT-PMP, RFC 6886, when the router
/// answers PCP with "unsupported version"), and an SSDP search for a UPnP IGD device
/// (multicast, and unicast to the gateway's port 1900). When PCP and NAT-PMP grant nothing
/// (an error, ICMP, or no answer within half the wait), the device SSDP found is asked with
/// UPnP IGD: device description, GetExternalIPAddress, AddPortMapping with a lease (a permanent
/// one when the device only takes those, error 725), renewed by AddPortMapping again and
/// removed by DeletePortMapping.
///
/// The first grant is awaited for at most ``ConnectPortMappingConfiguration/wait``; ICMP port
/// unreachable from the gateway's port-mapping port and its port 1900 (no service at all) ends
/// the attempt at once. A mapping granted after the wait is deleted at once, since it was never
/// offered.
final class ConnectPortMapping {
  private enum Phase {
    case idle, requesting, held, deleting, done
  }

  private let runtime: any NetworkRuntime
  private let configuration: ConnectPortMappingConfiguration
  private let base: TransportAddress
  private let connector: RawStreamConnector?
  /// What happened, for the report.
  private(set) var report = ConnectReport.PortMapping()
  /// Called with every change of ``report`` after the first answer (renewals, deletion).
  var onChange: ((ConnectReport.PortMapping) -> Void)?
  /// The protocols asked for a mapping, in order (PCP is dropped when the router does not
  /// speak it): with ``ConnectReport/PortMapping/refusals``, evidence for a NAT above.
  private(set) var attempted: [PortMappingResult.Method] = []
  /// The address the router claims for itself (NAT-PMP, UPnP GetExternalIPAddress, or the
  /// external address of a granted mapping).
  private(set) var routerAddress: IPAddress?

  /// The double-NAT verdict from what the router said and `serverSeen` (the address a STUN
  /// server saw); nil when the router claimed no address.
  func doubleNAT(serverSeen: IPAddress?) -> DoubleNATVerdict? {
    guard let routerAddress else { return nil }
    return DoubleNATVerdict.evaluate(
      router: routerAddress, serverSeen: serverSeen,
      refusals: attempted.isEmpty
        ? nil : (report.granted, attempted, report.refusals ?? [])
    ).worded
  }

  private var phase: Phase = .idle
  private var method: PortMappingResult.Method = .pcp
  private var server: TransportAddress?
  private var waitTimer: (any TimerHandle)?
  private var granted: ((TransportAddress?, TransportAddress?) -> Void)?
  private var released: [() -> Void] = []

  // PCP and NAT-PMP, one at a time, on one socket.
  private var socket: (any DatagramSocket)?
  private var pcp: MachineHost<PCPClient>?
  private var natpmp: MachineHost<NATPMPClient>?
  private var natpmpMapping: PortMapping?
  private var udpTimer: (any TimerHandle)?
  /// PCP and NAT-PMP granted nothing; why, when they answered or failed.
  private var udpFailure: String?
  /// Half the wait passed without a grant or failure from PCP or NAT-PMP.
  private var udpOverdue = false

  // UPnP IGD.
  private var ssdpSocket: (any DatagramSocket)?
  private var ssdpTimer: (any TimerHandle)?
  private var ssdpUnicast: TransportAddress?
  private var ssdpLocation: HTTPURL?
  /// The search is over without a device; why.
  private var ssdpFailure: String?
  private var upnp: UPnPIGDDriver?
  private var upnpRenewTimer: (any TimerHandle)?
  /// An AddPortMapping is in flight while the mapping is to be deleted: delete once it settles.
  private var upnpDeleteWhenSettled = false

  init(
    runtime: any NetworkRuntime, configuration: ConnectPortMappingConfiguration,
    base: TransportAddress, connector: RawStreamConnector? = nil
  ) {
    self.runtime = runtime
    self.configuration = configuration
    self.base = base
    self.connector = configuration.upnp ? connector : nil
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
    phase = .requesting
    let wait = configuration.wait
    waitTimer = runtime.schedule(at: runtime.now + wait) { [weak self] in
      guard let self, self.phase == .requesting else { return }
      let ms = Int(wait.milliseconds)
      // What SSDP found by now, when it was asked.
      var ssdp: [String] = []
      if self.connector != nil, self.ssdpLocation == nil {
        ssdp = [self.ssdpFailure ?? "no UPnP IGD device answered the SSDP search within \(ms) ms"]
      }
      if self.method == .upnpIGD {
        self.report.error =
          "no port mapping: the router's UPnP IGD device did not grant one within \(ms) ms"
      } else if let udp = self.udpFailure {
        self.report.error = "no port mapping: " + ([udp] + ssdp).joined(separator: "; ")
      } else {
        self.report.error =
          "no port mapping: "
          + (["the router \(server) did not answer \(self.method.displayName) within \(ms) ms"]
          + ssdp).joined(separator: "; ")
      }
      self.abandon()
    }
    startSSDP(gateway: gateway)
    do {
      socket = try runtime.openUDP(
        UDPSocketOptions(address: base.ip),
        onReceive: { [weak self] d in self?.receive(d) },
        onError: { [weak self] e in self?.socketError(e) })
    } catch {
      return udpFailed("cannot open a UDP socket toward the router (\(error))")
    }
    // A router that speaks PCP or NAT-PMP answers within milliseconds on its LAN: after half
    // the wait without any answer, UPnP IGD may have its turn.
    udpTimer = runtime.schedule(at: runtime.now + wait / 2) { [weak self] in
      guard let self, self.phase == .requesting, self.udpFailure == nil else { return }
      self.udpOverdue = true
      if self.ssdpLocation != nil { self.giveUpUDP() }
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
    case .deleting where report.externalPort == nil && !upnpDeleteWhenSettled:
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

  // MARK: PCP and NAT-PMP

  private func startPCP(_ server: TransportAddress) {
    method = .pcp
    attempted.append(.pcp)
    report.protocol = PortMappingResult.Method.pcp.rawValue
    let client = PCPClient(
      server: server, clientAddress: base.ip,
      configuration: .init(
        retransmission: PCPRetransmission(
          initial: .milliseconds(250), maximum: .seconds(2), maxRequests: 5,
          maxDuration: .seconds(5)),
        requestedLifetime: configuration.lifetime))
    let host = MachineHost(client, runtime: runtime)
    host.route(
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      event: { [weak self] e in self?.pcpEvents([e]) })
    pcp = host
    let (port, lifetime) = (base.port, configuration.lifetime)
    host.step { c, now in
      c.map(.udp, internalPort: port, suggestedExternalPort: port, lifetime: lifetime, at: now)
    }
  }

  private func startNATPMP(_ server: TransportAddress) {
    pcp?.stop()
    pcp = nil
    method = .natPMP
    report.protocol = PortMappingResult.Method.natPMP.rawValue
    // PCP's "unsupported version" is no refusal: the router does not speak it.
    attempted.removeAll { $0 == .pcp }
    attempted.append(.natPMP)
    let client = NATPMPClient(
      gateway: server,
      configuration: .init(
        initialWait: .milliseconds(250), maxRequests: 9,
        requestedLifetime: configuration.lifetime))
    let host = MachineHost(client, runtime: runtime)
    host.route(
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      event: { [weak self] e in self?.natpmpEvents([e]) })
    natpmp = host
    let (port, lifetime) = (base.port, configuration.lifetime)
    host.step { c, now in
      c.requestExternalAddress(at: now)
        + c.map(
          .udp, internalPort: port, suggestedExternalPort: port, lifetime: lifetime, at: now)
    }
  }

  private func receive(_ d: ReceivedDatagram) {
    let datagram = PortMappingDatagram(bytes: d.bytes, from: d.source)
    if let pcp {
      pcp.input(datagram)
    } else if let natpmp {
      natpmp.input(datagram)
    }
  }

  /// ICMP from the gateway: nothing listens on the port-mapping port there.
  private func socketError(_ error: SocketError) {
    guard let u = error.unreachable, u.destination == server, phase == .requesting,
      method != .upnpIGD, udpFailure == nil
    else { return }
    udpFailed(
      "\(u.destination) answered with \(u.kind.phrase)"
        + (u.kind == .portUnreachable ? " (no PCP or NAT-PMP service on the router)" : ""))
  }

  /// Half the wait passed without an answer to PCP or NAT-PMP, and a UPnP IGD device answered
  /// the search: stop waiting for them. (A request the router did get but whose answer was
  /// lost would leave a mapping that lapses at the end of its lifetime.)
  private func giveUpUDP() {
    guard let server else { return }
    let ms = Int((configuration.wait / 2).milliseconds)
    udpFailed("\(server) did not answer \(method.displayName) within \(ms) ms")
  }

  /// PCP and NAT-PMP granted nothing: stop them, and let UPnP IGD have its turn.
  private func udpFailed(_ reason: String) {
    guard phase == .requesting, udpFailure == nil else { return }
    udpFailure = reason
    udpTimer?.cancel()
    udpTimer = nil
    closeDatagramProtocols()
    tryUPnP()
  }

  /// Stops the PCP and NAT-PMP clients and closes their socket.
  private func closeDatagramProtocols() {
    pcp?.stop()
    natpmp?.stop()
    pcp = nil
    natpmp = nil
    socket?.close()
    socket = nil
  }

  // MARK: UPnP IGD

  private func startSSDP(gateway: IPAddress) {
    guard connector != nil else { return }
    do {
      ssdpSocket = try runtime.openUDP(
        UDPSocketOptions(address: base.ip),
        onReceive: { [weak self] d in self?.ssdpAnswer(d) },
        onError: { [weak self] e in self?.ssdpError(e) })
    } catch {
      ssdpFailure = "UPnP IGD not asked: cannot open a UDP socket (\(error))"
      return
    }
    let unicast = TransportAddress(ip: gateway, port: SSDP.multicastAddress.port)
    ssdpUnicast = unicast
    for target in [SSDPSearchTarget.internetGatewayDevice1, .internetGatewayDevice2] {
      let request = SSDP.searchRequest(for: target, maxWait: 1)
      ssdpSocket?.send(request, to: configuration.ssdpAddress)
      ssdpSocket?.send(request, to: unicast)
    }
    ssdpTimer = runtime.schedule(at: runtime.now + configuration.wait) { [weak self] in
      guard let self, self.ssdpLocation == nil, self.ssdpFailure == nil else { return }
      let ms = Int(self.configuration.wait.milliseconds)
      self.ssdpFailure = "no UPnP IGD device answered the SSDP search within \(ms) ms"
      self.closeSSDP()
      self.tryUPnP()
    }
  }

  private func ssdpAnswer(_ d: ReceivedDatagram) {
    guard ssdpLocation == nil, ssdpFailure == nil,
      let answer = try? SSDPResponse(bytes: d.bytes), answer.isInternetGateway,
      answer.location.address != nil
    else { return }
    ssdpLocation = answer.location
    closeSSDP()
    if udpOverdue && udpFailure == nil { return giveUpUDP() }
    tryUPnP()
  }

  /// ICMP port unreachable from the gateway's port 1900: it runs no SSDP (so no UPnP IGD).
  private func ssdpError(_ error: SocketError) {
    guard let u = error.unreachable, u.destination == ssdpUnicast, ssdpLocation == nil,
      ssdpFailure == nil
    else { return }
    ssdpFailure =
      "\(u.destination) answered the SSDP search with \(u.kind.phrase)"
      + (u.kind == .portUnreachable ? " (no UPnP IGD on the router)" : "")
    closeSSDP()
    tryUPnP()
  }

  private func closeSSDP() {
    ssdpTimer?.cancel()
    ssdpTimer = nil
    ssdpSocket?.close()
    ssdpSocket = nil
  }

  /// Once PCP and NAT-PMP granted nothing: UPnP IGD with the device SSDP found; no mapping when
  /// the search is over without one; otherwise the search goes on.
  private func tryUPnP() {
    guard phase == .requesting, udpFailure != nil, upnp == nil else { return }
    if let location = ssdpLocation, let connector {
      startUPnP(location, connector: connector)
    } else if ssdpFailure != nil || connector == nil {
      failed(reasons().joined(separator: "; "))
    }
  }

  private func reasons() -> [String] {
    [udpFailure, ssdpFailure].compactMap { $0 }
  }

  private func startUPnP(_ location: HTTPURL, connector: @escaping RawStreamConnector) {
    method = .upnpIGD
    report.protocol = PortMappingResult.Method.upnpIGD.rawValue
    attempted.append(.upnpIGD)
    report.gateway = location.address?.description ?? location.description
    let request = UPnPPortMappingRequest(
      externalPort: base.port, proto: .udp, internalPort: base.port, internalClient: base.ip,
      description: "natscope connect", leaseDuration: configuration.lifetime)
    let driver = UPnPIGDDriver(
      client: UPnPIGDClient(
        location: location,
        configuration: .init(
          mapping: request, deleteAfterMapping: false, requestTimeout: configuration.wait)),
      runtime: runtime, connector: connector)
    driver.onEvent = { [weak self] event in self?.upnpEvent(event) }
    upnp = driver
    driver.start()
  }

  private func upnpEvent(_ event: UPnPIGDEvent) {
    switch event {
    case .externalAddress(let ip, _):
      if let ip { routerAddress = ip }
    case .mapped(let port, let lease, _):
      if upnpDeleteWhenSettled {
        upnpDeleteWhenSettled = false
        upnp?.step { c, now in c.deleteMapping(at: now) }
        return
      }
      scheduleUPnPRenewal(lease: lease, fraction: 2)
      if phase == .held {
        renewed(lifetime: lease, external: TransportAddress(ip: .anyV4, port: port))
        return
      }
      guard let ip = upnp?.client.externalAddress else {
        report.externalPort = port
        report.lifetime = lease
        report.error =
          "the router granted the mapping over UPnP IGD but reported no external address, so it could not be offered"
        deleteNow()
        return
      }
      grant(external: TransportAddress(ip: ip, port: port), lifetime: lease)
    case .failed(let failure):
      switch phase {
      case .requesting:
        if failure.step == .addPortMapping || failure.step == .addAnyPortMapping,
          let code = failure.errorCode
        {
          refused(PortMappingRefusal(upnp: code))
        }
        failed((reasons() + [failure.description]).joined(separator: "; "))
      case .held:
        // A renewal failed; the mapping stands until its lease ends: try again sooner.
        report.error = "the renewal failed: \(failure.description)"
        onChange?(report)
        scheduleUPnPRenewal(lease: report.lifetime ?? configuration.lifetime, fraction: 4)
      case .deleting:
        if upnpDeleteWhenSettled {
          // AddPortMapping failed after all: there is nothing to delete.
          upnpDeleteWhenSettled = false
          finish()
        } else {
          if report.granted {
            report.error = "the mapping was not deleted: \(failure.description)"
          }
          finish()
        }
      case .idle, .done:
        break
      }
    case .deleted:
      report.deleted = true
      finish()
    default:
      break
    }
  }

  private func scheduleUPnPRenewal(lease: UInt32, fraction: UInt32) {
    upnpRenewTimer?.cancel()
    upnpRenewTimer = nil
    // Lease 0 is permanent: nothing to renew (it is deleted on exit).
    guard lease > 0 else { return }
    let after = Duration.milliseconds(Int64(max(1, lease / fraction)) * 1000)
    upnpRenewTimer = runtime.schedule(at: runtime.now + after) { [weak self] in
      guard let self, self.phase == .held else { return }
      self.upnp?.step { c, now in c.renewMapping(at: now) }
    }
  }

  // MARK: Events

  private func refused(_ refusal: PortMappingRefusal) {
    report.refusals = (report.refusals ?? []) + [refusal]
  }

  private func grant(external: TransportAddress, lifetime: UInt32) {
    if routerAddress == nil, !external.ip.isUnspecified { routerAddress = external.ip }
    report.externalAddress = external.ip.description
    report.externalPort = external.port
    report.lifetime = lifetime
    report.error = nil
    switch phase {
    case .requesting:
      phase = .held
      waitTimer?.cancel()
      waitTimer = nil
      udpTimer?.cancel()
      udpTimer = nil
      closeSSDP()
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
        if phase == .requesting, case .result(let code, _) = f.reason {
          refused(PortMappingRefusal(pcp: code))
        }
        udpProtocolFailed(f.sentence)
      case .versionNotSupported:
        if phase == .requesting, let server {
          startNATPMP(server)
        } else {
          udpProtocolFailed("the router no longer speaks PCP version 2")
        }
      default:
        break
      }
    }
  }

  private func natpmpEvents(_ events: [NATPMPClientEvent]) {
    for event in events {
      switch event {
      case .externalAddress(let ip, _):
        if !ip.isUnspecified { routerAddress = ip }
        if let m = natpmpMapping { natpmpGranted(m) }
      case .mapped(let m, _) where m.internalPort == base.port:
        natpmpMapping = m
        natpmpGranted(m)
      case .renewed(let m) where m.internalPort == base.port:
        natpmpMapping = m
        let ip = m.external.ip.isUnspecified ? natpmp?.machine.externalAddress : m.external.ip
        renewed(
          lifetime: m.lifetime, external: TransportAddress(ip: ip ?? .anyV4, port: m.external.port))
      case .deleted:
        report.deleted = true
        finish()
      case .expired:
        lost("the mapping lapsed: the router did not answer its renewal")
      case .failed(let f):
        if phase == .requesting, case .result(let code) = f.reason {
          refused(PortMappingRefusal(natPMP: code))
        }
        udpProtocolFailed(f.sentence)
      default:
        break
      }
    }
  }

  private func natpmpGranted(_ m: PortMapping) {
    let ip = m.external.ip.isUnspecified ? natpmp?.machine.externalAddress : m.external.ip
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
    if report.error?.hasPrefix("the renewal failed") == true { report.error = nil }
    onChange?(report)
  }

  private func lost(_ reason: String) {
    report.error = reason
    onChange?(report)
  }

  /// A PCP or NAT-PMP failure: while requesting, UPnP IGD may still have its turn.
  private func udpProtocolFailed(_ reason: String) {
    switch phase {
    case .requesting:
      udpFailed(reason)
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

  /// No protocol granted a mapping.
  private func failed(_ reason: String) {
    guard phase == .requesting else { return }
    report.error = "no port mapping: \(reason)"
    finish()
  }

  // MARK: Ending

  /// The wait ended without a grant: stop asking, and delete anything the router may have
  /// granted meanwhile.
  private func abandon() {
    let done = granted
    granted = nil
    done?(nil, nil)
    let upnpInFlight: Bool
    if case .running = upnp?.client.state { upnpInFlight = true } else { upnpInFlight = false }
    if (pcp?.machine.hasPendingRequests ?? false) || (natpmp?.machine.hasPendingRequests ?? false)
      || upnpInFlight
    {
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
    udpTimer?.cancel()
    udpTimer = nil
    upnpRenewTimer?.cancel()
    upnpRenewTimer = nil
    closeSSDP()
    let port = base.port
    if let pcp {
      pcp.step { c, now in c.delete(.udp, internalPort: port, at: now) }
    } else if let natpmp {
      natpmp.step { c, now in c.delete(.udp, internalPort: port, at: now) }
    } else if let upnp {
      switch upnp.client.state {
      case .holdingMapping:
        upnp.step { c, now in c.deleteMapping(at: now) }
      case .running:
        // AddPortMapping (or its renewal) is in flight: delete once it settles (bounded by
        // the exchange's timeout).
        upnpDeleteWhenSettled = true
      case .idle, .finished:
        finish()
      }
    } else {
      finish()
    }
  }

  private func finish() {
    guard phase != .done else { return }
    phase = .done
    waitTimer?.cancel()
    waitTimer = nil
    udpTimer?.cancel()
    udpTimer = nil
    upnpRenewTimer?.cancel()
    upnpRenewTimer = nil
    closeDatagramProtocols()
    closeSSDP()
    upnp?.stop()
    upnp = nil
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
    if let d = doubleNAT, d.detected == true || d.likely == true {
      parts.append(d.detected == true ? "a NAT above the router" : "likely a NAT above the router")
    }
    return parts.isEmpty ? "none" : parts.joined(separator: ", ")
  }
}
