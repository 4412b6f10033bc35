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
/// Steps 2 and 4 are a ``PortMapper`` (one protocol at a time, the SSDP search on UPnP IGD's
/// turn) hosted through ``MachineHost``; this session opens the test's socket, runs the
/// verification and words the report. ``interrupt()`` (Ctrl-C, SIGTERM) skips to the deletion.
/// Every request sent to the router is recorded, one sentence each, in the report's `sent`.
/// All calls happen on the runtime's serial context; `completion` runs once.
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
  private var stun: STUNClient?
  private var completion: ((PortMappingTestReport) -> Void)?
  private var limitTimer: (any TimerHandle)?
  private var mapper: MachineHost<PortMapper>?
  private var io: PortMappingSockets?

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
    guard let gateway else {
      report.error = PortMappingWords.testError(.noGateway)
      return complete()
    }
    let protocols = configuration.protocols.filter { $0 != .upnpIGD || connector != nil }
    guard !protocols.isEmpty else {
      report.error = PortMappingWords.testError(.noProtocol)
      return complete()
    }
    let local = PortMappingSession.localAddress(toward: gateway, among: runtime.localAddresses())
    report.internalAddress = local
    let stun = STUNClient(
      runtime: runtime,
      policy: RetransmissionPolicy(
        initialRTO: .milliseconds(250), maxRequests: 6, lastWaitMultiplier: 2, backoff: 1),
      socketOptions: UDPSocketOptions(address: local))
    stun.answersBindingRequests = false
    self.stun = stun
    let internalPort: UInt16
    do {
      guard let bound = try stun.open(ProbeSocketID(0)) else {
        throw RuntimeError.failed("the socket has no local address")
      }
      internalPort = bound.port
      report.internalPort = bound.port
    } catch {
      report.error = PortMappingWords.testNoSocket("\(error)")
      return complete()
    }
    limitTimer = runtime.schedule(at: runtime.now + configuration.limit) { [weak self] in
      guard let self else { return }
      if self.report.error == nil {
        self.report.error = PortMappingWords.testStopped(after: self.configuration.limit)
      }
      self.deleteNow()
    }
    phase = .mapping
    let w = configuration.firstWait
    let machine = PortMapper(
      gateway: gateway, localAddress: local,
      configuration: .init(
        protocols: protocols, internalPort: internalPort, lifetime: configuration.lifetime,
        serverPort: configuration.serverPort,
        pcpRetransmission: PCPRetransmission(
          initial: w, maximum: w * 8, maxRequests: 4, maxDuration: w * 16),
        natpmpFirstWait: w, natpmpRequests: 4, natpmpAsksExternalAddress: false,
        natPMPOnlyWhenPCPUnspoken: false, searchAtStart: false,
        ssdpAddress: configuration.ssdpAddress, ssdpUnicastPort: nil,
        ssdpWait: configuration.upnpWait,
        ssdpMX: max(1, Int(configuration.upnpWait.milliseconds / 1000)),
        httpTimeout: configuration.upnpWait, upnpDescription: "natscope test", wait: nil,
        renewUPnP: false, requireExternalAddress: false))
    let io = PortMappingSockets(runtime: runtime, local: local, connector: connector)
    let host = MachineHost(machine, runtime: runtime)
    host.wire(io) { [weak self] event in self?.handle(event) }
    self.io = io
    mapper = host
    host.step { m, now in m.start(at: now) }
  }

  /// Ctrl-C or SIGTERM: stop testing and delete the mapping now (bounded by the protocol's
  /// retransmissions); the completion still runs, with what was found.
  public func interrupt() {
    guard phase != .done, phase != .idle else { return }
    if report.error == nil { report.error = PortMappingWords.interrupted }
    deleteNow()
  }

  // MARK: The mapper

  private func handle(_ event: PortMapperEvent) {
    switch event {
    case .attempting(let method, let server):
      report.protocol = method
      report.attempted.append(method)
      report.gateway = server
    case .withdrawn(let method):
      report.attempted.removeAll { $0 == method }
    case .device(let location):
      report.gateway = location.address
    case .requested(let request):
      report.sent.append(PortMappingWords.sent(request))
    case .refused(let refusal):
      report.refusals.append(refusal)
    case .attemptFailed(let failure):
      report.error = PortMappingWords.sentence(failure)
      report.gateway = nil
    case .granted(let g), .grantedWithoutAddress(let g):
      mapped(g)
    case .grantedLate(let g):
      record(g)
    case .notDeleted(let failure):
      report.error = PortMappingWords.sentence(failure)
    case .deleted:
      report.deleted = true
    case .finished:
      complete()
    case .routerAddress, .renewed, .renewalFailed, .lapsed, .noMapping:
      break
    }
  }

  private func record(_ g: PortMappingGrant) {
    report.created = true
    report.error = nil
    report.externalAddress =
      g.external.ip.isUnspecified ? configuration.routerAddress : g.external.ip
    report.externalPort = g.external.port
    report.lifetime = g.lifetime
  }

  private func mapped(_ g: PortMappingGrant) {
    guard phase == .mapping, !report.created else { return }
    record(g)
    verify()
  }

  // MARK: Verification

  private func verify() {
    guard let port = report.externalPort, let stun else { return deleteNow() }
    guard configuration.serverSupportsChange else {
      report.verification = PortMappingWords.notTested(
        .serverCannotChange(configuration.stunServer))
      return deleteNow()
    }
    phase = .verifying
    let query = BindingQuery(
      socket: ProbeSocketID(0), destination: configuration.stunServer, changeIP: true,
      changePort: true, responsePort: port, acceptAnySource: true)
    do {
      try stun.send(query) { [weak self] outcome, _ in self?.verified(outcome, port: port) }
    } catch {
      report.verification = PortMappingWords.notTested(.notSent("\(error)"))
      deleteNow()
    }
  }

  private func verified(_ outcome: BindingOutcome, port: UInt16) {
    guard phase == .verifying else { return }
    let (verified, sentence) = PortMappingWords.verification(
      outcome, server: configuration.stunServer, port: port,
      serverSeen: configuration.serverSeen, router: report.externalAddress)
    if let verified { report.verified = verified }
    report.verification = sentence
    deleteNow()
  }

  // MARK: Deletion and completion

  /// Deletes the mapping if one was made or asked for; completes otherwise.
  private func deleteNow() {
    guard phase != .deleting, phase != .done else { return }
    phase = .deleting
    stun?.close()
    stun = nil
    guard let mapper else { return complete() }
    mapper.step { m, now in m.release(at: now) }
  }

  private func complete() {
    guard phase != .done else { return }
    phase = .done
    limitTimer?.cancel()
    limitTimer = nil
    stun?.close()
    stun = nil
    mapper?.stop()
    io?.closeAll()
    if report.created, report.verification == nil {
      report.verification = PortMappingWords.notTested(.stopped)
    }
    let done = completion
    completion = nil
    done?(report)
  }
}
