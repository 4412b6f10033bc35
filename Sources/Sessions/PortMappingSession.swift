import Runtime
import STUN
import Traversal

/// Asks the host's default gateway, read-only, whether it offers port mapping and what its own
/// external address is, over three protocols at once:
///
/// - NAT-PMP (RFC 6886): the external-address request (opcode 0), sent up to twice (0 and
///   300 ms), given up 900 ms after the first send.
/// - PCP (RFC 6887): an ANNOUNCE request, which asks nothing of the server but to answer (PCP
///   has no read-only request that returns the external address), on the same short schedule.
/// - UPnP IGD: an SSDP M-SEARCH to 239.255.255.250:1900 (answers come back unicast, waited for
///   at most 2 s), then the device description and GetExternalIPAddress over HTTP (each
///   exchange at most 2 s).
///
/// It never creates, renews or deletes a mapping. All calls happen on the runtime's serial
/// context; `completion` runs once, after every protocol has answered or given up.
public final class PortMappingSession {
  /// Waits.
  public struct Configuration: Sendable, Hashable {
    /// The gateway to ask; nil asks the runtime for its first IPv4 default gateway.
    public var gateway: IPAddress?
    /// The UDP port of NAT-PMP and PCP (5351; a test may use another).
    public var serverPort: UInt16
    /// Where the SSDP search goes (239.255.255.250:1900; a test may use another).
    public var ssdpAddress: TransportAddress
    /// The first wait of NAT-PMP and PCP; the second request waits twice as long, then the
    /// protocol is given up (0.3 s: 0.9 s in all).
    public var firstWait: Duration
    /// How long to wait for an SSDP answer.
    public var ssdpWait: Duration
    /// How long each UPnP HTTP exchange may take.
    public var httpTimeout: Duration

    public init(
      gateway: IPAddress? = nil, serverPort: UInt16 = 5351,
      ssdpAddress: TransportAddress = SSDP.multicastAddress,
      firstWait: Duration = .milliseconds(300),
      ssdpWait: Duration = .seconds(2), httpTimeout: Duration = .seconds(2)
    ) {
      self.gateway = gateway
      self.serverPort = serverPort
      self.ssdpAddress = ssdpAddress
      self.firstWait = max(.milliseconds(10), firstWait)
      self.ssdpWait = max(.milliseconds(10), ssdpWait)
      self.httpTimeout = max(.milliseconds(10), httpTimeout)
    }
  }

  private let runtime: any NetworkRuntime
  private let configuration: Configuration
  private let connector: RawStreamConnector?

  private var gateway: IPAddress?
  private var natpmp: NATPMPClient?
  private var pcp: PCPClient?
  private var upnp: UPnPIGDDriver?
  private var natpmpSocket: (any DatagramSocket)?
  private var pcpSocket: (any DatagramSocket)?
  private var ssdpSocket: (any DatagramSocket)?
  private var ssdpTimer: (any TimerHandle)?
  private var natpmpDriver: MachineDriver<NATPMPClientEvent>?
  private var pcpDriver: MachineDriver<PCPClientEvent>?
  private var results: [PortMappingResult.Method: PortMappingResult] = [:]
  private var completion: ((PortMappingReport) -> Void)?
  private var finished = false

  /// A session on `runtime`; `connector` opens the TCP connections UPnP IGD needs (without
  /// one, UPnP IGD is reported as not asked).
  public init(
    runtime: any NetworkRuntime, configuration: Configuration = Configuration(),
    connector: RawStreamConnector?
  ) {
    self.runtime = runtime
    self.configuration = configuration
    self.connector = connector
  }

  /// Asks the gateway; `completion` gets the report once every protocol is done.
  public func start(completion: @escaping (PortMappingReport) -> Void) {
    guard self.completion == nil, !finished else { return }
    self.completion = completion
    let gateway =
      configuration.gateway ?? runtime.defaultGateways().first { $0.family == .ipv4 }
    self.gateway = gateway
    guard let gateway else {
      for method in PortMappingResult.Method.allCases {
        results[method] = PortMappingResult(
          name: method, answered: false,
          error: "not asked: this host has no IPv4 default gateway")
      }
      complete()
      return
    }
    let local = Self.localAddress(toward: gateway, among: runtime.localAddresses())
    startNATPMP(gateway: gateway, local: local)
    startPCP(gateway: gateway, local: local)
    startUPnP(local: local)
    completeIfDone()
  }

  /// Stops everything; no completion runs after this.
  public func cancel() {
    completion = nil
    finished = true
    tearDown()
  }

  // MARK: NAT-PMP

  private func startNATPMP(gateway: IPAddress, local: IPAddress?) {
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    var client = NATPMPClient(
      gateway: server,
      configuration: .init(initialWait: configuration.firstWait, maxRequests: 2))
    do {
      natpmpSocket = try runtime.openUDP(UDPSocketOptions(address: local)) { [weak self] d in
        guard let self, var c = self.natpmp else { return }
        let out = c.handleInput(d.bytes, from: d.source, at: d.receivedAt)
        self.natpmp = c
        self.natpmpEvents(self.natpmpDriver?.carryOut(out) ?? [])
      }
    } catch {
      results[.natPMP] = PortMappingResult(
        name: .natPMP, gateway: server, answered: false,
        error: "not asked: cannot open a UDP socket (\(error))")
      return
    }
    natpmpDriver = MachineDriver(
      runtime: runtime,
      transmit: { [weak self] t in self?.natpmpSocket?.send(t.bytes, to: t.to) },
      timeout: { [weak self] now in
        guard let self, var c = self.natpmp else { return }
        let out = c.handleTimeout(at: now)
        self.natpmp = c
        self.natpmpEvents(self.natpmpDriver?.carryOut(out) ?? [])
      })
    let out = client.requestExternalAddress(at: runtime.now)
    natpmp = client
    natpmpEvents(natpmpDriver?.carryOut(out) ?? [])
  }

  private func natpmpEvents(_ events: [NATPMPClientEvent]) {
    guard let server = natpmp?.gateway else { return }
    for event in events where results[.natPMP] == nil {
      switch event {
      case .externalAddress(let ip, let rtt):
        results[.natPMP] = PortMappingResult(
          name: .natPMP, gateway: server, answered: true, rtt: rtt?.duration,
          externalAddress: ip)
      case .failed(let failure):
        var answered = false
        if case .result = failure.reason { answered = true }
        results[.natPMP] = PortMappingResult(
          name: .natPMP, gateway: server, answered: answered, error: failure.description)
      default:
        break
      }
    }
    if results[.natPMP] != nil {
      natpmpDriver?.stop()
      natpmpSocket?.close()
      natpmpSocket = nil
      completeIfDone()
    }
  }

  // MARK: PCP

  private func startPCP(gateway: IPAddress, local: IPAddress?) {
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    let retransmission = PCPRetransmission(
      initial: configuration.firstWait, maximum: configuration.firstWait * 2, maxRequests: 2,
      maxDuration: configuration.firstWait * 3)
    var client = PCPClient(
      server: server, clientAddress: local ?? .anyV4,
      configuration: .init(retransmission: retransmission))
    do {
      pcpSocket = try runtime.openUDP(UDPSocketOptions(address: local)) { [weak self] d in
        guard let self, var c = self.pcp else { return }
        let out = c.handleInput(d.bytes, from: d.source, at: d.receivedAt)
        self.pcp = c
        self.pcpEvents(self.pcpDriver?.carryOut(out) ?? [])
      }
    } catch {
      results[.pcp] = PortMappingResult(
        name: .pcp, gateway: server, answered: false,
        error: "not asked: cannot open a UDP socket (\(error))")
      return
    }
    pcpDriver = MachineDriver(
      runtime: runtime,
      transmit: { [weak self] t in self?.pcpSocket?.send(t.bytes, to: t.to) },
      timeout: { [weak self] now in
        guard let self, var c = self.pcp else { return }
        let out = c.handleTimeout(at: now)
        self.pcp = c
        self.pcpEvents(self.pcpDriver?.carryOut(out) ?? [])
      })
    let out = client.announce(at: runtime.now)
    pcp = client
    pcpEvents(pcpDriver?.carryOut(out) ?? [])
  }

  private func pcpEvents(_ events: [PCPClientEvent]) {
    guard let server = pcp?.server else { return }
    for event in events where results[.pcp] == nil {
      switch event {
      case .announced(_, let rtt):
        results[.pcp] = PortMappingResult(
          name: .pcp, gateway: server, answered: true, rtt: rtt.duration)
      case .versionNotSupported(let version):
        results[.pcp] = PortMappingResult(
          name: .pcp, gateway: server, answered: true,
          error: version == 0
            ? "the gateway answered PCP with version 0: it speaks only NAT-PMP"
            : "the gateway speaks PCP version \(version), not version 2")
      case .failed(let failure):
        var answered = false
        if case .result = failure.reason { answered = true }
        results[.pcp] = PortMappingResult(
          name: .pcp, gateway: server, answered: answered, error: failure.description)
      default:
        break
      }
    }
    if results[.pcp] != nil {
      pcpDriver?.stop()
      pcpSocket?.close()
      pcpSocket = nil
      completeIfDone()
    }
  }

  // MARK: UPnP IGD

  private func startUPnP(local: IPAddress?) {
    guard connector != nil else {
      results[.upnpIGD] = PortMappingResult(
        name: .upnpIGD, answered: false, error: "not asked: no TCP connector on this runtime")
      return
    }
    do {
      ssdpSocket = try runtime.openUDP(UDPSocketOptions(address: local)) { [weak self] d in
        self?.ssdpAnswer(d)
      }
    } catch {
      results[.upnpIGD] = PortMappingResult(
        name: .upnpIGD, answered: false,
        error: "not asked: cannot open a UDP socket (\(error))")
      return
    }
    let seconds = max(1, Int(configuration.ssdpWait.milliseconds / 1000))
    for target in [SSDPSearchTarget.internetGatewayDevice1, .internetGatewayDevice2] {
      ssdpSocket?.send(
        SSDP.searchRequest(for: target, maxWait: seconds), to: configuration.ssdpAddress)
    }
    ssdpTimer = runtime.schedule(at: runtime.now + configuration.ssdpWait) { [weak self] in
      guard let self, self.upnp == nil, self.results[.upnpIGD] == nil else { return }
      self.closeSSDP()
      let ms = Int(self.configuration.ssdpWait.milliseconds.rounded())
      self.results[.upnpIGD] = PortMappingResult(
        name: .upnpIGD, answered: false,
        error:
          "no UPnP IGD device answered the SSDP search within \(ms) ms; the router probably has UPnP off"
      )
      self.completeIfDone()
    }
  }

  private func ssdpAnswer(_ d: ReceivedDatagram) {
    guard upnp == nil, results[.upnpIGD] == nil, let connector,
      let answer = try? SSDPResponse(bytes: d.bytes), answer.isInternetGateway
    else { return }
    closeSSDP()
    let driver = UPnPIGDDriver(
      client: UPnPIGDClient(
        location: answer.location,
        configuration: .init(mapping: nil, requestTimeout: configuration.httpTimeout)),
      runtime: runtime, connector: connector)
    driver.onEvent = { [weak self] event in
      guard let self, case .finished(let result) = event, self.results[.upnpIGD] == nil else {
        return
      }
      self.results[.upnpIGD] = result
      self.upnp?.stop()
      self.completeIfDone()
    }
    upnp = driver
    driver.start()
  }

  private func closeSSDP() {
    ssdpTimer?.cancel()
    ssdpTimer = nil
    ssdpSocket?.close()
    ssdpSocket = nil
  }

  // MARK: Completion

  private func completeIfDone() {
    guard !finished, completion != nil,
      PortMappingResult.Method.allCases.allSatisfy({ results[$0] != nil })
    else { return }
    complete()
  }

  private func complete() {
    finished = true
    tearDown()
    let report = PortMappingReport(
      gateway: gateway,
      protocols: PortMappingResult.Method.allCases.compactMap { results[$0] })
    let done = completion
    completion = nil
    done?(report)
  }

  private func tearDown() {
    natpmpDriver?.stop()
    pcpDriver?.stop()
    natpmpSocket?.close()
    pcpSocket?.close()
    natpmpSocket = nil
    pcpSocket = nil
    closeSSDP()
    upnp?.stop()
  }

  /// The host's IPv4 address that shares the longest prefix with `gateway` (the one its
  /// requests leave from), or nil when it has none.
  static func localAddress(toward gateway: IPAddress, among addresses: [IPAddress]) -> IPAddress? {
    guard case .v4(let g) = gateway else { return nil }
    var best: (IPAddress, Int)?
    for address in addresses {
      guard case .v4(let a) = address, a != 0, a >> 24 != 127 else { continue }
      let common = (a ^ g).leadingZeroBitCount
      if best == nil || common > (best?.1 ?? 0) { best = (address, common) }
    }
    return best?.0
  }
}
