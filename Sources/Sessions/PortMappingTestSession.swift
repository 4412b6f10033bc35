import Report
import Runtime
import STUN
import Traversal

/// `natscope probe --port-mapping`: one short-lived UDP mapping on the host's router, proof that
/// peers get in through it, and its deletion.
///
/// 1. Opens a UDP socket toward the router (its port is the mapping's internal port).
/// 2. Asks the router for a mapping of that port (the same external port suggested) for
///    ``Configuration/lifetime`` seconds, with the first protocol of
///    ``Configuration/protocols`` that grants one: PCP MAP, NAT-PMP's UDP mapping request, or
///    UPnP IGD AddPortMapping (after SSDP, the device description and GetExternalIPAddress).
/// 3. From the same socket, sends a Binding request to the RFC 5780 STUN server with
///    CHANGE-REQUEST (other IP and port) and RESPONSE-PORT set to the mapped external port:
///    the server answers from an address and port the socket never sent to, to the mapped
///    port. If that answer arrives, a peer can get in through the mapping.
/// 4. Deletes the mapping (PCP and NAT-PMP: lifetime 0; UPnP IGD: DeletePortMapping).
///
/// ``interrupt()`` (Ctrl-C, SIGTERM) skips to the deletion. Every request sent to the router is
/// recorded, one sentence each, in the report's `sent`. All calls happen on the runtime's
/// serial context; `completion` runs once.
public final class PortMappingTestSession {
  /// What to ask and how long to wait.
  public struct Configuration: Sendable {
    /// The gateway; nil asks the runtime for its first IPv4 default gateway.
    public var gateway: IPAddress?
    /// The protocols to try, in order (those that answered the read-only questions).
    public var protocols: [PortMappingResult.Method]
    /// The address the router claimed for itself (used when NAT-PMP's answer leaves it out).
    public var routerAddress: IPAddress?
    /// The STUN server that answers the verification request.
    public var stunServer: TransportAddress
    /// Whether that server can answer from its other address and port (RFC 5780).
    public var serverSupportsChange: Bool
    /// The IP address servers saw for this host (the probe's mapped address), to explain a
    /// failed verification.
    public var serverSeen: IPAddress?
    /// The mapping's lifetime, in seconds (30).
    public var lifetime: UInt32
    /// The UDP port of NAT-PMP and PCP (5351; a test may use another).
    public var serverPort: UInt16
    /// Where the SSDP search goes.
    public var ssdpAddress: TransportAddress
    /// The first wait of a PCP or NAT-PMP request (each later one doubles; 4 requests).
    public var firstWait: Duration
    /// How long to wait for an SSDP answer, and for each UPnP HTTP exchange.
    public var upnpWait: Duration
    /// The longest the whole test may take before it skips to the deletion.
    public var limit: Duration

    public init(
      gateway: IPAddress? = nil, protocols: [PortMappingResult.Method],
      routerAddress: IPAddress? = nil, stunServer: TransportAddress, serverSupportsChange: Bool,
      serverSeen: IPAddress? = nil, lifetime: UInt32 = 30, serverPort: UInt16 = 5351,
      ssdpAddress: TransportAddress = SSDP.multicastAddress,
      firstWait: Duration = .milliseconds(250), upnpWait: Duration = .seconds(2),
      limit: Duration = .seconds(20)
    ) {
      self.gateway = gateway
      self.protocols = protocols
      self.routerAddress = routerAddress
      self.stunServer = stunServer
      self.serverSupportsChange = serverSupportsChange
      self.serverSeen = serverSeen
      self.lifetime = max(1, lifetime)
      self.serverPort = serverPort
      self.ssdpAddress = ssdpAddress
      self.firstWait = max(.milliseconds(10), firstWait)
      self.upnpWait = max(.milliseconds(10), upnpWait)
      self.limit = max(.seconds(1), limit)
    }
  }

  private enum Phase {
    case idle, mapping, verifying, deleting, done
  }

  private let runtime: any NetworkRuntime
  private let configuration: Configuration
  private let connector: RawStreamConnector?

  private var report: PortMappingTestReport
  private var phase: Phase = .idle
  private var remaining: [PortMappingResult.Method] = []
  private var local: IPAddress?
  private var gateway: IPAddress?
  private var stun: STUNClient?
  private var internalPort: UInt16 = 0
  private var completion: ((PortMappingTestReport) -> Void)?
  private var limitTimer: (any TimerHandle)?
  private var interrupted = false

  // One protocol at a time.
  private var socket: (any DatagramSocket)?
  private var natpmp: MachineHost<NATPMPClient>?
  private var pcp: MachineHost<PCPClient>?
  private var upnp: UPnPIGDDriver?
  private var ssdpTimer: (any TimerHandle)?
  private var upnpPermanent = false

  /// A session on `runtime`; `connector` opens UPnP IGD's TCP connections (without one, UPnP
  /// IGD is skipped).
  public init(
    runtime: any NetworkRuntime, configuration: Configuration, connector: RawStreamConnector?
  ) {
    self.runtime = runtime
    self.configuration = configuration
    self.connector = connector
    self.report = PortMappingTestReport(requestedLifetime: configuration.lifetime)
  }

  /// Starts the test; `completion` gets the report once the mapping is deleted (or was never
  /// made).
  public func start(completion: @escaping (PortMappingTestReport) -> Void) {
    guard phase == .idle else { return }
    self.completion = completion
    let gateway =
      configuration.gateway ?? runtime.defaultGateways().first { $0.family == .ipv4 }
    self.gateway = gateway
    guard let gateway else {
      report.error = "no test mapping: this host has no IPv4 default gateway"
      return complete()
    }
    remaining = configuration.protocols.filter { $0 != .upnpIGD || connector != nil }
    guard !remaining.isEmpty else {
      report.error = "no test mapping: no port-mapping protocol answered"
      return complete()
    }
    let local = PortMappingSession.localAddress(toward: gateway, among: runtime.localAddresses())
    self.local = local
    report.internalAddress = local
    let stun = STUNClient(
      runtime: runtime,
      policy: RetransmissionPolicy(
        initialRTO: .milliseconds(250), maxRequests: 6, lastWaitMultiplier: 2, backoff: 1),
      socketOptions: UDPSocketOptions(address: local))
    stun.answersBindingRequests = false
    self.stun = stun
    do {
      guard let bound = try stun.open(ProbeSocketID(0)) else {
        throw RuntimeError.failed("the socket has no local address")
      }
      internalPort = bound.port
      report.internalPort = bound.port
    } catch {
      report.error = "no test mapping: cannot open a UDP socket (\(error))"
      return complete()
    }
    limitTimer = runtime.schedule(at: runtime.now + configuration.limit) { [weak self] in
      guard let self else { return }
      let s = Int(self.configuration.limit.milliseconds / 1000)
      if self.report.error == nil {
        self.report.error = "the test did not finish within \(s) s and was stopped"
      }
      self.deleteNow()
    }
    phase = .mapping
    nextProtocol()
  }

  /// Ctrl-C or SIGTERM: stop testing and delete the mapping now (bounded by the protocol's
  /// retransmissions); the completion still runs, with what was found.
  public func interrupt() {
    guard phase != .done, phase != .idle else { return }
    interrupted = true
    if report.error == nil { report.error = "interrupted" }
    deleteNow()
  }

  // MARK: Mapping

  private func nextProtocol() {
    closeProtocol()
    guard phase == .mapping, !interrupted, let gateway else { return complete() }
    guard !remaining.isEmpty else { return complete() }
    let method = remaining.removeFirst()
    report.protocol = method
    report.attempted.append(method)
    switch method {
    case .pcp: startPCP(gateway: gateway)
    case .natPMP: startNATPMP(gateway: gateway)
    case .upnpIGD: startUPnP()
    }
  }

  private func failedToMap(_ reason: String) {
    report.error = reason
    report.gateway = nil
    nextProtocol()
  }

  private func mapped(external: TransportAddress, lifetime: UInt32) {
    guard phase == .mapping, !report.created else { return }
    report.created = true
    report.error = nil
    report.externalAddress =
      external.ip.isUnspecified ? configuration.routerAddress : external.ip
    report.externalPort = external.port
    report.lifetime = lifetime
    if interrupted || phase != .mapping { return deleteNow() }
    verify()
  }

  private func openSocket(_ onReceive: @escaping (ReceivedDatagram) -> Void) -> Bool {
    do {
      socket = try runtime.openUDP(UDPSocketOptions(address: local), onReceive: onReceive)
      return true
    } catch {
      report.error = "cannot open a UDP socket for the router (\(error))"
      return false
    }
  }

  private func startPCP(gateway: IPAddress) {
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    report.gateway = server
    let w = configuration.firstWait
    let client = PCPClient(
      server: server, clientAddress: local ?? .anyV4,
      configuration: .init(
        retransmission: PCPRetransmission(
          initial: w, maximum: w * 8, maxRequests: 4, maxDuration: w * 16),
        requestedLifetime: configuration.lifetime))
    guard
      openSocket({ [weak self] d in
        self?.pcp?.input(PortMappingDatagram(bytes: d.bytes, from: d.source))
      })
    else { return nextProtocol() }
    let host = MachineHost(client, runtime: runtime)
    host.route(
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      event: { [weak self] e in self?.pcpEvents([e]) })
    pcp = host
    report.sent.append(
      "PCP MAP request to \(server): UDP, internal port \(internalPort) of \(local.map { "\($0)" } ?? "this host"), suggested external port \(internalPort), lifetime \(configuration.lifetime) s"
    )
    let (port, lifetime) = (internalPort, configuration.lifetime)
    host.step { c, now in
      c.map(.udp, internalPort: port, suggestedExternalPort: port, lifetime: lifetime, at: now)
    }
  }

  private func pcpEvents(_ events: [PCPClientEvent]) {
    for event in events {
      switch event {
      case .mapped(let m, _) where m.internalPort == internalPort:
        mapped(external: m.external, lifetime: m.lifetime)
      case .deleted:
        report.deleted = true
        complete()
      case .failed(let failure):
        if phase == .deleting {
          report.error = failure.sentence
          complete()
        } else {
          if case .result(let code, _) = failure.reason {
            report.refusals.append(PortMappingRefusal(pcp: code))
          }
          failedToMap(failure.sentence)
        }
      case .versionNotSupported(let v):
        if phase == .deleting {
          complete()
        } else {
          // Not a refusal: the router does not speak this PCP at all.
          report.attempted.removeAll { $0 == .pcp }
          failedToMap("the gateway speaks PCP version \(v), not version 2")
        }
      default:
        break
      }
    }
  }

  private func startNATPMP(gateway: IPAddress) {
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    report.gateway = server
    let client = NATPMPClient(
      gateway: server,
      configuration: .init(
        initialWait: configuration.firstWait, maxRequests: 4,
        requestedLifetime: configuration.lifetime))
    guard
      openSocket({ [weak self] d in
        self?.natpmp?.input(PortMappingDatagram(bytes: d.bytes, from: d.source))
      })
    else { return nextProtocol() }
    let host = MachineHost(client, runtime: runtime)
    host.route(
      transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
      event: { [weak self] e in self?.natpmpEvents([e]) })
    natpmp = host
    report.sent.append(
      "NAT-PMP UDP mapping request (opcode 1) to \(server): internal port \(internalPort), suggested external port \(internalPort), lifetime \(configuration.lifetime) s"
    )
    let (port, lifetime) = (internalPort, configuration.lifetime)
    host.step { c, now in
      c.map(.udp, internalPort: port, suggestedExternalPort: port, lifetime: lifetime, at: now)
    }
  }

  private func natpmpEvents(_ events: [NATPMPClientEvent]) {
    for event in events {
      switch event {
      case .mapped(let m, _) where m.internalPort == internalPort:
        mapped(external: m.external, lifetime: m.lifetime)
      case .deleted:
        report.deleted = true
        complete()
      case .failed(let failure):
        if phase == .deleting {
          report.error = failure.sentence
          complete()
        } else {
          if case .result(let code) = failure.reason {
            report.refusals.append(PortMappingRefusal(natPMP: code))
          }
          failedToMap(failure.sentence)
        }
      default:
        break
      }
    }
  }

  // MARK: UPnP IGD

  private func startUPnP() {
    guard
      openSocket({ [weak self] d in self?.ssdpAnswer(d) })
    else { return nextProtocol() }
    let seconds = max(1, Int(configuration.upnpWait.milliseconds / 1000))
    report.sent.append(
      "SSDP M-SEARCH to \(configuration.ssdpAddress) for InternetGatewayDevice:1 and :2")
    for target in [SSDPSearchTarget.internetGatewayDevice1, .internetGatewayDevice2] {
      socket?.send(
        SSDP.searchRequest(for: target, maxWait: seconds), to: configuration.ssdpAddress)
    }
    ssdpTimer = runtime.schedule(at: runtime.now + configuration.upnpWait) { [weak self] in
      guard let self, self.upnp == nil else { return }
      self.failedToMap("no UPnP IGD device answered the SSDP search")
    }
  }

  private func ssdpAnswer(_ d: ReceivedDatagram) {
    guard upnp == nil, phase == .mapping, let local, let connector,
      let answer = try? SSDPResponse(bytes: d.bytes), answer.isInternetGateway
    else { return }
    ssdpTimer?.cancel()
    ssdpTimer = nil
    socket?.close()
    socket = nil
    let request = UPnPPortMappingRequest(
      externalPort: internalPort, proto: .udp, internalPort: internalPort,
      internalClient: local, description: "natscope test", leaseDuration: configuration.lifetime)
    let driver = UPnPIGDDriver(
      client: UPnPIGDClient(
        location: answer.location,
        configuration: .init(
          mapping: request, deleteAfterMapping: false, requestTimeout: configuration.upnpWait)),
      runtime: runtime, connector: connector)
    driver.onRequest = { [weak self] client in self?.recordUPnPRequest(client) }
    driver.onEvent = { [weak self] event in self?.upnpEvent(event) }
    report.gateway = answer.location.address
    upnp = driver
    driver.start()
  }

  private func upnpEvent(_ event: UPnPIGDEvent) {
    switch event {
    case .mapped(let port, let lease, _):
      let ip = upnp?.client.externalAddress ?? configuration.routerAddress
      mapped(external: TransportAddress(ip: ip ?? .anyV4, port: port), lifetime: lease)
    case .retrying(let step, let code):
      if code == .onlyPermanentLeasesSupported { upnpPermanent = true }
      report.sent.append("UPnP IGD: \(step.label) again, because the device answered \(code)")
    case .deleted:
      report.deleted = true
      complete()
    case .failed(let failure):
      if phase == .deleting {
        report.error = failure.description
        complete()
      } else if phase == .mapping {
        if failure.step == .addPortMapping || failure.step == .addAnyPortMapping,
          let code = failure.errorCode
        {
          report.refusals.append(PortMappingRefusal(upnp: code))
        }
        failedToMap(failure.description)
      }
    default:
      break
    }
  }

  /// Records the request the UPnP client just asked for, by the step it is running.
  private func recordUPnPRequest(_ c: UPnPIGDClient) {
    guard case .running(let step) = c.state else { return }
    let control = c.service?.controlURL.map { "\($0)" } ?? "\(c.location)"
    let lease = upnpPermanent ? "a permanent lease" : "lease \(configuration.lifetime) s"
    switch step {
    case .fetchDescription:
      report.sent.append("UPnP IGD: HTTP GET \(c.location) (the device description)")
    case .getExternalIPAddress:
      report.sent.append("UPnP IGD: GetExternalIPAddress at \(control)")
    case .addPortMapping, .addAnyPortMapping:
      report.sent.append(
        "UPnP IGD: \(step.label) at \(control): UDP, external port \(internalPort), internal client \(local.map { "\($0)" } ?? "?") port \(internalPort), \(lease), description \"natscope test\""
      )
    case .deletePortMapping:
      report.sent.append(
        "UPnP IGD: DeletePortMapping at \(control): UDP, external port \(report.externalPort ?? 0)"
      )
    }
  }

  // MARK: Verification

  private func verify() {
    guard let port = report.externalPort, let stun else { return deleteNow() }
    guard configuration.serverSupportsChange else {
      report.verification =
        "Not tested: the STUN server \(configuration.stunServer) cannot answer from another address and port (it lacks RFC 5780), so nothing could be sent to the mapped port from an address this socket never contacted."
      return deleteNow()
    }
    phase = .verifying
    let query = BindingQuery(
      socket: ProbeSocketID(0), destination: configuration.stunServer, changeIP: true,
      changePort: true, responsePort: port, acceptAnySource: true)
    do {
      try stun.send(query) { [weak self] outcome, _ in self?.verified(outcome, port: port) }
    } catch {
      report.verification = "Not tested: the Binding request could not be sent (\(error))."
      deleteNow()
    }
  }

  private func verified(_ outcome: BindingOutcome, port: UInt16) {
    guard phase == .verifying else { return }
    let server = configuration.stunServer
    let router = report.externalAddress.map { "\($0)" } ?? "the router"
    switch outcome {
    case .answered(let a) where a.errorCode == nil:
      let seen = a.xorMappedAddress ?? a.mappedAddress
      if a.source.ip != server.ip, a.source.port != server.port {
        report.verified = true
        report.verification =
          "From the mapped socket, natscope asked \(server) (RFC 5780 CHANGE-REQUEST and RESPONSE-PORT \(port)) to answer from its other address and port to port \(port) of the address it saw (\(seen.map { "\($0.ip)" } ?? "?")); the answer came from \(a.source), an address this socket never sent to, and got in through the mapping: peers can reach this host at \(router):\(port)."
      } else {
        report.verification =
          "Not tested: the server answered from \(a.source), not from another address and port, so the answer proves nothing about the mapping."
      }
    case .answered(let a):
      report.verification =
        "Not tested: the STUN server refused the request (error \(a.errorCode ?? 0)); it may not support RESPONSE-PORT."
    case .noAnswer(let attempts, let window):
      report.verified = false
      var text =
        "From the mapped socket, natscope asked \(server) \(attempts) time\(attempts == 1 ? "" : "s") (RFC 5780 CHANGE-REQUEST and RESPONSE-PORT \(port)) to answer from its other address and port to port \(port); no answer arrived within \(Self.seconds(window)) s, so the mapping did not let that unsolicited answer in."
      if let seen = configuration.serverSeen, let r = report.externalAddress, seen != r {
        text +=
          " Servers see this host as \(seen), not as the router's \(r): the answer went to port \(port) of the NAT above the router, where nothing is mapped."
      }
      report.verification = text
    case .unreachable(let u, _):
      report.verification = "Not tested: \(u)."
    }
    deleteNow()
  }

  /// Seconds with one decimal, for sentences.
  static func seconds(_ d: Duration) -> String {
    let tenths = Int((d.milliseconds / 100).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }

  // MARK: Deletion

  /// Deletes the mapping if one was made or asked for; completes otherwise.
  private func deleteNow() {
    guard phase != .deleting, phase != .done else { return }
    let wasMapping = phase == .mapping
    phase = .deleting
    stun?.close()
    stun = nil
    guard let method = report.protocol else { return complete() }
    let port = internalPort
    switch method {
    case .pcp:
      guard let host = pcp, report.created || (wasMapping && host.machine.hasPendingRequests),
        let server = report.gateway
      else { return complete() }
      report.sent.append(
        "PCP MAP request to \(server): UDP, internal port \(internalPort), lifetime 0 (delete)")
      host.step { c, now in c.delete(.udp, internalPort: port, at: now) }
    case .natPMP:
      guard let host = natpmp,
        report.created || (wasMapping && host.machine.hasPendingRequests),
        let server = report.gateway
      else { return complete() }
      report.sent.append(
        "NAT-PMP UDP mapping request (opcode 1) to \(server): internal port \(internalPort), lifetime 0 (delete)"
      )
      host.step { c, now in c.delete(.udp, internalPort: port, at: now) }
    case .upnpIGD:
      guard let upnp else { return complete() }
      if upnp.client.state == .holdingMapping {
        upnp.step { c, now in c.deleteMapping(at: now) }
      } else if case .running = upnp.client.state {
        // AddPortMapping may be in flight: wait for it (bounded by its timeout), then delete.
        phase = .mapping
        interrupted = true
      } else {
        complete()
      }
    }
  }

  // MARK: Completion

  private func closeProtocol() {
    natpmp?.stop()
    pcp?.stop()
    natpmp = nil
    pcp = nil
    socket?.close()
    socket = nil
    ssdpTimer?.cancel()
    ssdpTimer = nil
    upnp?.stop()
    upnp = nil
  }

  private func complete() {
    guard phase != .done else { return }
    phase = .done
    limitTimer?.cancel()
    limitTimer = nil
    stun?.close()
    stun = nil
    closeProtocol()
    if report.created, report.verification == nil {
      report.verification = "Not tested: the test was stopped before the mapping could be tried."
    }
    let done = completion
    completion = nil
    done?(report)
  }
}
