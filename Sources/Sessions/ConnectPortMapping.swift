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
/// The order, the waits, the renewals and the deletion are a ``PortMapper``'s (PCP MAP, NAT-PMP
/// when the router does not speak PCP, the SSDP search at once beside them, UPnP IGD when PCP
/// and NAT-PMP grant nothing; the first grant awaited for at most
/// ``ConnectPortMappingConfiguration/wait``; ICMP from the gateway ends an attempt at once; a
/// grant after the wait is deleted at once), hosted through ``MachineHost``; this class gives
/// it sockets and UPnP IGD's connections and keeps the report.
final class ConnectPortMapping {
  private let runtime: any NetworkRuntime
  private let configuration: ConnectPortMappingConfiguration
  private let base: TransportAddress
  private let connector: RawStreamConnector?
  private let generator: any RandomNumberGenerator & Sendable
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

  private var mapper: MachineHost<PortMapper>?
  private var io: PortMappingSockets?
  private var server: TransportAddress?
  private var started = false
  private var finished = false
  private var granted: ((TransportAddress?, TransportAddress?) -> Void)?
  private var released: [() -> Void] = []

  /// A mapping of `base`'s port; `generator` is PCP's randomness (nonce, retransmission
  /// jitter): the session's, so that a seeded run repeats exactly.
  init(
    runtime: any NetworkRuntime, configuration: ConnectPortMappingConfiguration,
    base: TransportAddress, connector: RawStreamConnector? = nil,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.generator = generator
    self.runtime = runtime
    self.configuration = configuration
    self.base = base
    self.connector = configuration.upnp ? connector : nil
  }

  /// Asks for the mapping; `completion` runs once, with the external address and the gateway
  /// (nil, nil when there is none), within the configured wait.
  func start(_ completion: @escaping (TransportAddress?, TransportAddress?) -> Void) {
    guard !started else { return }
    started = true
    granted = completion
    guard
      let gateway = configuration.gateway
        ?? runtime.defaultGateways().first(where: { $0.family == .ipv4 })
    else {
      report.error = PortMappingWords.connectError(.noGateway)
      return finish()
    }
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    self.server = server
    report.gateway = server.description
    let wait = configuration.wait
    let machine = PortMapper(
      gateway: gateway, localAddress: base.ip,
      configuration: .init(
        protocols: [.pcp, .natPMP] + (connector == nil ? [] : [.upnpIGD]),
        internalPort: base.port, lifetime: configuration.lifetime,
        serverPort: configuration.serverPort,
        pcpRetransmission: PCPRetransmission(
          initial: .milliseconds(250), maximum: .seconds(2), maxRequests: 5,
          maxDuration: .seconds(5)),
        natpmpFirstWait: .milliseconds(250), natpmpRequests: 9, natpmpAsksExternalAddress: true,
        natPMPOnlyWhenPCPUnspoken: true, searchAtStart: true,
        ssdpAddress: configuration.ssdpAddress, ssdpUnicastPort: SSDP.multicastAddress.port,
        ssdpWait: wait, ssdpMX: 1, httpTimeout: wait, upnpDescription: "natscope connect",
        wait: wait, renewUPnP: true, requireExternalAddress: true),
      generator: generator)
    let io = PortMappingSockets(runtime: runtime, local: base.ip, connector: connector)
    let host = MachineHost(machine, runtime: runtime)
    host.wire(io) { [weak self] event in self?.handle(event) }
    self.io = io
    mapper = host
    host.step { m, now in m.start(at: now) }
  }

  /// Deletes the mapping if one is held (or may be being granted); `done` runs once the router
  /// confirmed, the deletion gave up, or at once when there is nothing to delete.
  func release(_ done: @escaping () -> Void) {
    guard let mapper, !finished else {
      finished = true
      return done()
    }
    released.append(done)
    let answer = granted
    granted = nil
    answer?(nil, nil)
    mapper.step { m, now in m.release(at: now) }
  }

  // MARK: The mapper

  private func handle(_ event: PortMapperEvent) {
    switch event {
    case .attempting(let method, _):
      attempted.append(method)
      report.protocol = method.rawValue
    case .withdrawn(let method):
      attempted.removeAll { $0 == method }
    case .device(let location):
      report.gateway = location.address?.description ?? location.description
    case .routerAddress(let ip):
      routerAddress = ip
    case .refused(let refusal):
      report.refusals = (report.refusals ?? []) + [refusal]
    case .granted(let g):
      grant(g)
    case .grantedWithoutAddress(let g):
      report.externalPort = g.external.port
      report.lifetime = g.lifetime
      report.error = PortMappingWords.grantedWithoutAddress
    case .renewed(let g):
      report.renewals += 1
      report.lifetime = g.lifetime
      if !g.external.ip.isUnspecified {
        report.externalAddress = g.external.ip.description
        report.externalPort = g.external.port
      }
      if PortMappingWords.isRenewalFailure(report.error) { report.error = nil }
      onChange?(report)
    case .renewalFailed(let failure):
      report.error = PortMappingWords.renewalFailed(failure)
      onChange?(report)
    case .lapsed:
      report.error = PortMappingWords.lapsed
      onChange?(report)
    case .noMapping(let shortfall):
      report.error = PortMappingWords.connectError(shortfall)
      let answer = granted
      granted = nil
      answer?(nil, nil)
    case .deleted:
      report.deleted = true
    case .notDeleted(let failure):
      if report.granted { report.error = PortMappingWords.notDeleted(failure) }
    case .finished:
      finish()
    case .requested, .attemptFailed, .grantedLate:
      break
    }
  }

  private func grant(_ g: PortMappingGrant) {
    if routerAddress == nil, !g.external.ip.isUnspecified { routerAddress = g.external.ip }
    report.externalAddress = g.external.ip.description
    report.externalPort = g.external.port
    report.lifetime = g.lifetime
    report.error = nil
    let answer = granted
    granted = nil
    answer?(g.external, server)
  }

  private func finish() {
    guard !finished else { return }
    finished = true
    mapper?.stop()
    io?.closeAll()
    let answer = granted
    granted = nil
    answer?(nil, nil)
    onChange?(report)
    let callbacks = released
    released = []
    for c in callbacks { c() }
  }
}
