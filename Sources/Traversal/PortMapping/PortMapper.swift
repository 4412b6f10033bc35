import STUN

/// The sans-IO machine that asks the host's router for one UDP port mapping, holds it and
/// deletes it: the probe's test mapping and `connect`'s mapping both run it.
///
/// - Order: the protocols of ``Configuration/protocols`` one at a time. PCP MAP first; NAT-PMP
///   when the router answers PCP with another version (or, unless
///   ``Configuration/natPMPOnlyWhenPCPUnspoken``, when PCP refused or was silent); UPnP IGD
///   when PCP and NAT-PMP granted nothing: the SSDP search (at once beside PCP when
///   ``Configuration/searchAtStart``, else when UPnP's turn comes), then the device
///   description, GetExternalIPAddress and AddPortMapping (a permanent lease after error 725)
///   the runtime carries over HTTP.
/// - ICMP from the router's PCP/NAT-PMP port ends both at once; ICMP from its SSDP port ends
///   the search at once.
/// - ``Configuration/wait``: the longest the first grant is awaited; after half of it without
///   an answer from PCP or NAT-PMP, a UPnP IGD device that answered the search has its turn.
/// - Renewal: PCP and NAT-PMP renew at half the granted lifetime themselves; a UPnP IGD lease
///   is renewed at half the lease (a quarter after a failed renewal) when
///   ``Configuration/renewUPnP``.
/// - A grant after the wait (never offered) is deleted at once; ``release(at:)`` deletes what
///   is held or may be being granted.
///
/// Outputs are typed events; the report module words them.
public struct PortMapper: Machine, Sendable {
  /// What to ask for and how long to wait.
  public struct Configuration: Sendable, Hashable {
    /// The protocols to ask, in order.
    public var protocols: [PortMappingResult.Method]
    /// The UDP port on this host to map (also the external port suggested).
    public var internalPort: UInt16
    /// The lifetime (PCP, NAT-PMP) or lease (UPnP IGD) asked for, in seconds.
    public var lifetime: UInt32
    /// The UDP port of PCP and NAT-PMP on the router (5351).
    public var serverPort: UInt16
    /// PCP's retransmissions.
    public var pcpRetransmission: PCPRetransmission
    /// NAT-PMP's first wait and number of requests.
    public var natpmpFirstWait: Duration
    public var natpmpRequests: Int
    /// Whether NAT-PMP also asks for the router's external address (a mapping answer does
    /// not carry it); a NAT-PMP grant then waits for it.
    public var natpmpAsksExternalAddress: Bool
    /// NAT-PMP only when the router does not speak PCP version 2 (not after a PCP refusal).
    public var natPMPOnlyWhenPCPUnspoken: Bool
    /// Whether the SSDP search starts at once, beside PCP (else when UPnP's turn comes).
    public var searchAtStart: Bool
    /// Where the multicast SSDP search goes.
    public var ssdpAddress: TransportAddress
    /// The gateway's SSDP port for the unicast search (nil: multicast only).
    public var ssdpUnicastPort: UInt16?
    /// How long the search waits for a device.
    public var ssdpWait: Duration
    /// The MX of the search, in seconds.
    public var ssdpMX: Int
    /// How long each UPnP HTTP exchange may take.
    public var httpTimeout: Duration
    /// The description of the UPnP IGD mapping (`natscope test`, `natscope connect`).
    public var upnpDescription: String
    /// The longest the first grant is awaited (nil: each protocol's own retransmissions end
    /// it).
    public var wait: Duration?
    /// Whether a UPnP IGD lease is renewed.
    public var renewUPnP: Bool
    /// Whether a UPnP IGD grant without an external address is deleted at once (it cannot be
    /// offered).
    public var requireExternalAddress: Bool

    public init(
      protocols: [PortMappingResult.Method], internalPort: UInt16, lifetime: UInt32,
      serverPort: UInt16 = 5351, pcpRetransmission: PCPRetransmission,
      natpmpFirstWait: Duration = .milliseconds(250), natpmpRequests: Int,
      natpmpAsksExternalAddress: Bool, natPMPOnlyWhenPCPUnspoken: Bool, searchAtStart: Bool,
      ssdpAddress: TransportAddress = SSDP.multicastAddress, ssdpUnicastPort: UInt16?,
      ssdpWait: Duration, ssdpMX: Int, httpTimeout: Duration, upnpDescription: String,
      wait: Duration?, renewUPnP: Bool, requireExternalAddress: Bool
    ) {
      self.protocols = protocols
      self.internalPort = internalPort
      self.lifetime = lifetime
      self.serverPort = serverPort
      self.pcpRetransmission = pcpRetransmission
      self.natpmpFirstWait = natpmpFirstWait
      self.natpmpRequests = max(1, natpmpRequests)
      self.natpmpAsksExternalAddress = natpmpAsksExternalAddress
      self.natPMPOnlyWhenPCPUnspoken = natPMPOnlyWhenPCPUnspoken
      self.searchAtStart = searchAtStart
      self.ssdpAddress = ssdpAddress
      self.ssdpUnicastPort = ssdpUnicastPort
      self.ssdpWait = max(.milliseconds(10), ssdpWait)
      self.ssdpMX = max(1, ssdpMX)
      self.httpTimeout = max(.milliseconds(10), httpTimeout)
      self.upnpDescription = upnpDescription
      self.wait = wait
      self.renewUPnP = renewUPnP
      self.requireExternalAddress = requireExternalAddress
    }
  }

  private enum Phase: Sendable, Hashable {
    case idle, requesting, held, deleting, done
  }

  /// The router's IPv4 address.
  public let gateway: IPAddress
  /// This host's address toward the router (PCP's client address, UPnP's internal client).
  public let localAddress: IPAddress?
  /// What to ask for and how long to wait.
  public let configuration: Configuration
  /// The grant held (the latest renewal's), if any.
  public private(set) var grant: PortMappingGrant?
  /// SSDP answers dropped (malformed or not an IGD).
  public private(set) var ignoredSSDPAnswers = 0

  private let generator: any RandomNumberGenerator & Sendable
  private var phase: Phase = .idle
  private var remaining: [PortMappingResult.Method] = []
  private var current: PortMappingResult.Method?
  private var startedAt: Instant?
  private var pcp: PCPClient?
  private var natpmp: NATPMPClient?
  private var natpmpMapping: PortMapping?
  private var upnp: UPnPIGDClient?
  private var upnpPermanent = false
  private var deleteWhenSettled = false
  private var waitDeadline: Instant?
  private var patienceDeadline: Instant?
  private var ssdpDeadline: Instant?
  private var ssdpStartedAt: Instant?
  private var renewAt: Instant?
  private var datagramOverdue = false
  private var datagramFailure: PortMappingAttemptFailure?
  private var searchFailure: PortMappingAttemptFailure?
  private var upnpFailure: PortMappingAttemptFailure?
  private var location: HTTPURL?
  private var lastDatagram: PortMappingResult.Method?
  private var attemptStartedAt: Instant?

  /// A mapper for `gateway`. `generator` is PCP's randomness (nonce, retransmission jitter):
  /// seed it for runs that must repeat exactly.
  public init(
    gateway: IPAddress, localAddress: IPAddress?, configuration: Configuration,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.gateway = gateway
    self.localAddress = localAddress
    self.configuration = configuration
    self.generator = generator
  }

  /// True once the mapper reported ``PortMapperEvent/finished``.
  public var isFinished: Bool { phase == .done }
  /// True while a grant is held.
  public var isHolding: Bool { phase == .held }

  private var server: TransportAddress {
    TransportAddress(ip: gateway, port: configuration.serverPort)
  }

  // MARK: Commands

  /// Starts asking.
  public mutating func start(at now: Instant) -> [PortMapperOutput] {
    guard phase == .idle else { return [] }
    startedAt = now
    phase = .requesting
    remaining = configuration.protocols
    guard !remaining.isEmpty else {
      return [.event(.noMapping(.noProtocol))] + finish()
    }
    var out: [PortMapperOutput] = []
    if let wait = configuration.wait {
      waitDeadline = now + wait
      patienceDeadline = now + wait / 2
    }
    if configuration.searchAtStart, remaining.contains(.upnpIGD) {
      out += search(at: now)
    }
    return out + nextProtocol(at: now)
  }

  /// Deletes the mapping if one is held or may be being granted; the mapper finishes once the
  /// router confirmed, the deletion gave up, or at once when there is nothing to delete.
  public mutating func release(at now: Instant) -> [PortMapperOutput] {
    switch phase {
    case .idle:
      phase = .done
      return [.event(.finished)]
    case .done:
      return []
    case .deleting:
      // The deletion of a request that never got an answer is not worth waiting for.
      guard grant == nil, !deleteWhenSettled else { return [] }
      return finish()
    case .requesting, .held:
      return deleteNow(at: now)
    }
  }

  // MARK: Machine

  public var nextDeadline: Instant? {
    guard phase != .done, phase != .idle else { return nil }
    var all: [Instant?] = [pcp?.nextWake, natpmp?.nextWake, upnp?.nextWake]
    if phase == .requesting {
      all += [waitDeadline, ssdpDeadline, datagramOverdue ? nil : patienceDeadline]
    }
    if phase == .held { all.append(renewAt) }
    return all.compactMap { $0 }.min()
  }

  public mutating func handleInput(_ input: PortMappingAgentInput, at now: Instant)
    -> [PortMapperOutput]
  {
    guard phase != .idle, phase != .done else { return [] }
    switch input {
    case .datagram(.pcp, let bytes, let from):
      guard var c = pcp else { return [] }
      let o = c.handleInput(bytes, from: from, at: now)
      pcp = c
      return pcpOutputs(o, at: now)
    case .datagram(.natPMP, let bytes, let from):
      guard var c = natpmp else { return [] }
      let o = c.handleInput(bytes, from: from, at: now)
      natpmp = c
      return natpmpOutputs(o, at: now)
    case .datagram(.ssdp, let bytes, _):
      return ssdpAnswer(bytes, at: now)
    case .unreachable(let channel, let kind, let destination):
      return unreachable(channel, kind, destination: destination, at: now)
    case .socketFailed(let channel, let reason):
      return socketFailed(channel, reason: reason, at: now)
    case .httpBytes(let id, let bytes):
      return upnpStep(at: now) { c in c.handleInput(id: id, bytes: bytes, at: now) }
    case .httpClosed(let id):
      return upnpStep(at: now) { c in c.handleClosed(id: id, at: now) }
    case .httpFailed(let id, let reason):
      return upnpStep(at: now) { c in c.handleConnectionFailed(id: id, reason: reason, at: now) }
    }
  }

  public mutating func handleTimeout(at now: Instant) -> [PortMapperOutput] {
    guard phase != .idle, phase != .done else { return [] }
    if phase == .requesting, let t = waitDeadline, t <= now {
      return waitEnded(at: now)
    }
    var out: [PortMapperOutput] = []
    if var c = pcp, let t = c.nextWake, t <= now {
      let o = c.handleTimeout(at: now)
      pcp = c
      out += pcpOutputs(o, at: now)
    }
    if var c = natpmp, let t = c.nextWake, t <= now {
      let o = c.handleTimeout(at: now)
      natpmp = c
      out += natpmpOutputs(o, at: now)
    }
    if let t = upnp?.nextWake, t <= now {
      out += upnpStep(at: now) { c in c.handleTimeout(at: now) }
    }
    if phase == .requesting, !datagramOverdue, let t = patienceDeadline, t <= now {
      datagramOverdue = true
      if location != nil { out += giveUpDatagram(at: now) }
    }
    if phase == .requesting, let t = ssdpDeadline, t <= now {
      ssdpDeadline = nil
      out += searchEnded(.noDevice(within: now - (ssdpStartedAt ?? now)), at: now)
    }
    if phase == .held, let t = renewAt, t <= now {
      renewAt = nil
      out += upnpStep(at: now) { c in c.renewMapping(at: now) }
    }
    return out
  }

  // MARK: Order

  private mutating func nextProtocol(at now: Instant) -> [PortMapperOutput] {
    guard phase == .requesting else { return [] }
    guard !remaining.isEmpty else {
      let reasons = [datagramFailure, searchFailure, upnpFailure].compactMap { $0 }
      return [.event(.noMapping(.failed(reasons)))] + finish()
    }
    let method = remaining.removeFirst()
    current = method
    if method != .upnpIGD {
      lastDatagram = method
      attemptStartedAt = now
    }
    switch method {
    case .pcp: return startPCP(at: now)
    case .natPMP: return startNATPMP(at: now)
    case .upnpIGD:
      var out: [PortMapperOutput] = []
      if !configuration.searchAtStart {
        out.append(.event(.attempting(.upnpIGD, server: nil)))
        out += search(at: now)
        return out
      }
      return tryUPnP(at: now)
    }
  }

  /// PCP and NAT-PMP are done without a grant: skip to UPnP IGD's turn (or the end).
  private mutating func datagramDone(at now: Instant) -> [PortMapperOutput] {
    remaining.removeAll { $0 != .upnpIGD }
    return stopDatagram() + nextProtocol(at: now)
  }

  /// One datagram protocol came to nothing: the next one, or UPnP IGD.
  private mutating func datagramFailed(_ failure: PortMappingAttemptFailure, at now: Instant)
    -> [PortMapperOutput]
  {
    if datagramFailure == nil { datagramFailure = failure }
    var out: [PortMapperOutput] = [.event(.attemptFailed(failure))]
    if current == .pcp, configuration.natPMPOnlyWhenPCPUnspoken {
      remaining.removeAll { $0 == .natPMP }
    }
    out += stopDatagram()
    return out + nextProtocol(at: now)
  }

  private mutating func stopDatagram() -> [PortMapperOutput] {
    var out: [PortMapperOutput] = []
    if pcp != nil { out.append(.close(.pcp)) }
    if natpmp != nil { out.append(.close(.natPMP)) }
    pcp = nil
    natpmp = nil
    return out
  }

  private mutating func giveUpDatagram(at now: Instant) -> [PortMapperOutput] {
    guard phase == .requesting, let method = current, method != .upnpIGD,
      let wait = configuration.wait
    else { return [] }
    let failure = PortMappingAttemptFailure.silent(
      method, server: server, within: wait / 2, requests: nil)
    if datagramFailure == nil { datagramFailure = failure }
    return [.event(.attemptFailed(failure))] + datagramDone(at: now)
  }

  // MARK: PCP and NAT-PMP

  private mutating func startPCP(at now: Instant) -> [PortMapperOutput] {
    var c = PCPClient(
      server: server, clientAddress: localAddress ?? .anyV4,
      configuration: .init(
        retransmission: configuration.pcpRetransmission,
        requestedLifetime: configuration.lifetime),
      generator: generator)
    let port = configuration.internalPort
    var out: [PortMapperOutput] = [
      .event(.attempting(.pcp, server: server)),
      .event(
        .requested(
          .pcpMap(
            server: server, internalPort: port, client: localAddress,
            suggestedExternalPort: port, lifetime: configuration.lifetime))),
    ]
    let o = c.map(
      .udp, internalPort: port, suggestedExternalPort: port, lifetime: configuration.lifetime,
      at: now)
    pcp = c
    out += pcpOutputs(o, at: now)
    return out
  }

  private mutating func startNATPMP(at now: Instant) -> [PortMapperOutput] {
    var c = NATPMPClient(
      gateway: server,
      configuration: .init(
        initialWait: configuration.natpmpFirstWait, maxRequests: configuration.natpmpRequests,
        requestedLifetime: configuration.lifetime))
    let port = configuration.internalPort
    var out: [PortMapperOutput] = [
      .event(.attempting(.natPMP, server: server)),
      .event(
        .requested(
          .natpmpMap(
            server: server, internalPort: port, suggestedExternalPort: port,
            lifetime: configuration.lifetime))),
    ]
    var o: [NATPMPClientOutput] = []
    if configuration.natpmpAsksExternalAddress { o += c.requestExternalAddress(at: now) }
    o += c.map(
      .udp, internalPort: port, suggestedExternalPort: port, lifetime: configuration.lifetime,
      at: now)
    natpmp = c
    out += natpmpOutputs(o, at: now)
    return out
  }

  private mutating func pcpOutputs(_ outputs: [PCPClientOutput], at now: Instant)
    -> [PortMapperOutput]
  {
    datagramOutputs(outputs, on: .pcp) { m, e in m.pcpEvent(e, at: now) }
  }

  private mutating func natpmpOutputs(_ outputs: [NATPMPClientOutput], at now: Instant)
    -> [PortMapperOutput]
  {
    datagramOutputs(outputs, on: .natPMP) { m, e in m.natpmpEvent(e, at: now) }
  }

  /// A datagram client's outputs: its transmits go out on `channel`, its events to `handle`
  /// (its timeouts are read from ``nextDeadline``).
  private mutating func datagramOutputs<Event>(
    _ outputs: [MachineOutput<Event>], on channel: PortMappingChannel,
    _ handle: (inout PortMapper, Event) -> [PortMapperOutput]
  ) -> [PortMapperOutput] {
    var out: [PortMapperOutput] = []
    for output in outputs {
      switch output {
      case .transmit(let t): out.append(.send(channel, bytes: t.bytes, to: t.to))
      case .timeout: break
      case .event(let e): out += handle(&self, e)
      }
    }
    return out
  }

  private mutating func pcpEvent(_ event: PCPClientEvent, at now: Instant) -> [PortMapperOutput] {
    let port = configuration.internalPort
    switch event {
    case .mapped(let m, _) where m.internalPort == port:
      return granted(
        PortMappingGrant(method: .pcp, external: m.external, lifetime: m.lifetime), at: now)
    case .renewed(let m) where m.internalPort == port:
      return renewed(PortMappingGrant(method: .pcp, external: m.external, lifetime: m.lifetime))
    case .deleted: return deletedOrLapsed(true)
    case .expired: return deletedOrLapsed(false)
    case .failed(let f):
      let code: PCPResultCode? = if case .result(let c, _) = f.reason { c } else { nil }
      var failure = PortMappingAttemptFailure.pcp(f)
      if phase == .requesting, case .noAnswer(let n) = f.reason {
        failure = silent(.pcp, requests: n, at: now)
      }
      return datagramProtocolFailed(
        failure, refusal: code.map(PortMappingRefusal.init(pcp:)), at: now)
    case .versionNotSupported(let v):
      switch phase {
      case .requesting:
        // Not a refusal: the router does not speak this PCP at all.
        var out: [PortMapperOutput] = [.event(.withdrawn(.pcp))]
        out.append(.event(.attemptFailed(.pcpOtherVersion(v))))
        out += stopDatagram()
        return out + nextProtocol(at: now)
      case .deleting:
        return grant == nil ? finish() : [.event(.notDeleted(.pcpNoLongerSpoken))] + finish()
      case .held:
        return [.event(.renewalFailed(.pcpNoLongerSpoken))]
      case .idle, .done:
        return []
      }
    default:
      return []
    }
  }

  private mutating func natpmpEvent(_ event: NATPMPClientEvent, at now: Instant)
    -> [PortMapperOutput]
  {
    let port = configuration.internalPort
    switch event {
    case .externalAddress(let ip, _):
      var out: [PortMapperOutput] = ip.isUnspecified ? [] : [.event(.routerAddress(ip))]
      if let m = natpmpMapping, grant == nil { out += natpmpGranted(m, at: now) }
      return out
    case .mapped(let m, _) where m.internalPort == port:
      natpmpMapping = m
      return natpmpGranted(m, at: now)
    case .renewed(let m) where m.internalPort == port:
      natpmpMapping = m
      let ip = m.external.ip.isUnspecified ? natpmp?.externalAddress : m.external.ip
      return renewed(
        PortMappingGrant(
          method: .natPMP, external: TransportAddress(ip: ip ?? .anyV4, port: m.external.port),
          lifetime: m.lifetime))
    case .deleted: return deletedOrLapsed(true)
    case .expired: return deletedOrLapsed(false)
    case .failed(let f):
      let code: NATPMPResultCode? = if case .result(let c) = f.reason { c } else { nil }
      var failure = PortMappingAttemptFailure.natPMP(f)
      if phase == .requesting, case .noAnswer(let n) = f.reason {
        failure = silent(.natPMP, requests: n, at: now)
      }
      return datagramProtocolFailed(
        failure, refusal: code.map(PortMappingRefusal.init(natPMP:)), at: now)
    default:
      return []
    }
  }

  /// A request that went unanswered while asking for the mapping is silence, said with how
  /// long it was waited for; one of a renewal or a deletion stays the client's failure.
  private func silent(_ method: PortMappingResult.Method, requests: Int, at now: Instant)
    -> PortMappingAttemptFailure
  {
    .silent(method, server: server, within: now - (attemptStartedAt ?? now), requests: requests)
  }

  /// The router confirmed the deletion (`deleted`), or the mapping lapsed.
  private mutating func deletedOrLapsed(_ deleted: Bool) -> [PortMapperOutput] {
    if deleted { return [.event(.deleted)] + finish() }
    return phase == .held ? [.event(.lapsed)] : []
  }

  private mutating func natpmpGranted(_ m: PortMapping, at now: Instant) -> [PortMapperOutput] {
    let ip = m.external.ip.isUnspecified ? natpmp?.externalAddress : m.external.ip
    if configuration.natpmpAsksExternalAddress {
      guard let ip, !ip.isUnspecified else { return [] }
    }
    return granted(
      PortMappingGrant(
        method: .natPMP, external: TransportAddress(ip: ip ?? .anyV4, port: m.external.port),
        lifetime: m.lifetime), at: now)
  }

  private mutating func datagramProtocolFailed(
    _ failure: PortMappingAttemptFailure, refusal: PortMappingRefusal?, at now: Instant
  ) -> [PortMapperOutput] {
    switch phase {
    case .requesting:
      let out: [PortMapperOutput] = refusal.map { [.event(.refused($0))] } ?? []
      return out + datagramFailed(failure, at: now)
    case .deleting:
      return (grant == nil ? [] : [.event(.notDeleted(failure))]) + finish()
    case .held:
      return [.event(.renewalFailed(failure))]
    case .idle, .done:
      return []
    }
  }

  // MARK: SSDP and UPnP IGD

  private mutating func search(at now: Instant) -> [PortMapperOutput] {
    let unicast = configuration.ssdpUnicastPort.map { TransportAddress(ip: gateway, port: $0) }
    var out: [PortMapperOutput] = [
      .event(.requested(.ssdpSearch(multicast: configuration.ssdpAddress, unicast: unicast)))
    ]
    for target in [SSDPSearchTarget.internetGatewayDevice1, .internetGatewayDevice2] {
      let request = SSDP.searchRequest(for: target, maxWait: configuration.ssdpMX)
      out.append(.send(.ssdp, bytes: request, to: configuration.ssdpAddress))
      if let unicast { out.append(.send(.ssdp, bytes: request, to: unicast)) }
    }
    ssdpStartedAt = now
    ssdpDeadline = now + configuration.ssdpWait
    return out
  }

  private mutating func ssdpAnswer(_ bytes: [UInt8], at now: Instant) -> [PortMapperOutput] {
    guard phase == .requesting, location == nil, searchFailure == nil, ssdpDeadline != nil
    else { return [] }
    guard let answer = try? SSDPResponse(bytes: bytes), answer.isInternetGateway else {
      ignoredSSDPAnswers += 1
      return []
    }
    location = answer.location
    ssdpDeadline = nil
    var out: [PortMapperOutput] = [.close(.ssdp)]
    if datagramOverdue, current != .upnpIGD { return out + giveUpDatagram(at: now) }
    out += tryUPnP(at: now)
    return out
  }

  private mutating func searchEnded(_ failure: PortMappingAttemptFailure, at now: Instant)
    -> [PortMapperOutput]
  {
    guard searchFailure == nil, location == nil else { return [] }
    searchFailure = failure
    ssdpDeadline = nil
    var out: [PortMapperOutput] = [.close(.ssdp)]
    if current == .upnpIGD, !configuration.searchAtStart {
      out.append(.event(.attemptFailed(failure)))
    }
    out += tryUPnP(at: now)
    return out
  }

  /// On UPnP IGD's turn: ask the device the search found; no mapping when the search is over
  /// without one; otherwise the search goes on.
  private mutating func tryUPnP(at now: Instant) -> [PortMapperOutput] {
    guard phase == .requesting, current == .upnpIGD, upnp == nil else { return [] }
    if let location {
      var out: [PortMapperOutput] = []
      if configuration.searchAtStart {
        out.append(.event(.attempting(.upnpIGD, server: location.address)))
      }
      out.append(.event(.device(location)))
      let request = UPnPPortMappingRequest(
        externalPort: configuration.internalPort, proto: .udp,
        internalPort: configuration.internalPort, internalClient: localAddress ?? .anyV4,
        description: configuration.upnpDescription, leaseDuration: configuration.lifetime)
      upnp = UPnPIGDClient(
        location: location,
        configuration: .init(
          mapping: request, deleteAfterMapping: false, requestTimeout: configuration.httpTimeout))
      return out + upnpStep(at: now) { c in c.start(at: now) }
    }
    if searchFailure != nil { return nextProtocol(at: now) }
    return []
  }

  private mutating func upnpStep(
    at now: Instant, _ body: (inout UPnPIGDClient) -> [UPnPIGDClientOutput]
  ) -> [PortMapperOutput] {
    guard var c = upnp else { return [] }
    let outputs = body(&c)
    upnp = c
    var out: [PortMapperOutput] = []
    for output in outputs {
      switch output {
      case .request:
        if let r = upnpRequestSent(c) { out.append(.event(.requested(r))) }
        out.append(.http(output))
      case .close: out.append(.http(output))
      case .timeout: break
      case .event(let e): out += upnpEvent(e, at: now)
      }
    }
    return out
  }

  /// The request the client just asked for, by the step it is running.
  private func upnpRequestSent(_ c: UPnPIGDClient) -> PortMappingRequestSent? {
    guard case .running(let step) = c.state else { return nil }
    let control = c.service?.controlURL.map { "\($0)" } ?? "\(c.location)"
    let port = configuration.internalPort
    switch step {
    case .fetchDescription: return .upnpDescription(c.location)
    case .getExternalIPAddress: return .upnpExternalAddress(control: control)
    case .addPortMapping, .addAnyPortMapping:
      return .upnpAddPortMapping(
        step, control: control, externalPort: port, internalClient: localAddress,
        internalPort: port, lease: upnpPermanent ? 0 : configuration.lifetime,
        description: configuration.upnpDescription)
    case .deletePortMapping:
      return .upnpDeletePortMapping(
        control: control, externalPort: grant?.external.port ?? c.mappedExternalPort ?? 0)
    }
  }

  private mutating func upnpEvent(_ event: UPnPIGDEvent, at now: Instant) -> [PortMapperOutput] {
    switch event {
    case .externalAddress(let ip, _):
      return ip.map { [.event(.routerAddress($0))] } ?? []
    case .retrying(let step, let code):
      if code == .onlyPermanentLeasesSupported { upnpPermanent = true }
      return [.event(.requested(.upnpRetry(step, because: code)))]
    case .mapped(let port, let lease, _):
      let ip = upnp?.externalAddress ?? .anyV4
      let g = PortMappingGrant(
        method: .upnpIGD, external: TransportAddress(ip: ip, port: port), lifetime: lease)
      if deleteWhenSettled {
        deleteWhenSettled = false
        grant = g
        return [.event(.grantedLate(g))] + upnpStep(at: now) { c in c.deleteMapping(at: now) }
      }
      if configuration.renewUPnP { scheduleRenewal(lease: lease, fraction: 2, at: now) }
      if phase == .held { return renewed(g) }
      if configuration.requireExternalAddress, phase == .requesting, ip.isUnspecified {
        grant = nil
        return [.event(.grantedWithoutAddress(g))] + deleteNow(at: now)
      }
      return granted(g, at: now)
    case .failed(let failure):
      switch phase {
      case .requesting:
        var out: [PortMapperOutput] = []
        if failure.step == .addPortMapping || failure.step == .addAnyPortMapping,
          let code = failure.errorCode
        {
          out.append(.event(.refused(PortMappingRefusal(upnp: code))))
        }
        upnpFailure = .upnp(failure)
        out.append(.event(.attemptFailed(.upnp(failure))))
        return out + nextProtocol(at: now)
      case .held:
        // The mapping stands until its lease ends: try again sooner.
        scheduleRenewal(lease: grant?.lifetime ?? configuration.lifetime, fraction: 4, at: now)
        return [.event(.renewalFailed(.upnp(failure)))]
      case .deleting:
        if deleteWhenSettled {
          // AddPortMapping failed after all: there is nothing to delete.
          deleteWhenSettled = false
          return finish()
        }
        return (grant == nil ? [] : [.event(.notDeleted(.upnp(failure)))]) + finish()
      case .idle, .done:
        return []
      }
    case .deleted:
      return [.event(.deleted)] + finish()
    default:
      return []
    }
  }

  private mutating func scheduleRenewal(lease: UInt32, fraction: UInt32, at now: Instant) {
    // Lease 0 is permanent: nothing to renew (it is deleted on release).
    renewAt = lease > 0 ? now + .seconds(Int64(max(1, lease / fraction))) : nil
  }

  // MARK: ICMP and sockets

  private mutating func unreachable(
    _ channel: PortMappingChannel, _ kind: Unreachable.Kind, destination: TransportAddress,
    at now: Instant
  ) -> [PortMapperOutput] {
    guard phase == .requesting, destination.ip == gateway else { return [] }
    switch channel {
    case .pcp, .natPMP:
      guard destination.port == configuration.serverPort, current == .pcp || current == .natPMP
      else { return [] }
      let failure = PortMappingAttemptFailure.unreachable(destination, kind, ssdp: false)
      if datagramFailure == nil { datagramFailure = failure }
      return [.event(.attemptFailed(failure))] + datagramDone(at: now)
    case .ssdp:
      guard destination.port == configuration.ssdpUnicastPort, location == nil else { return [] }
      return searchEnded(.unreachable(destination, kind, ssdp: true), at: now)
    }
  }

  private mutating func socketFailed(_ channel: PortMappingChannel, reason: String, at now: Instant)
    -> [PortMapperOutput]
  {
    let failure = PortMappingAttemptFailure.noSocket(channel, reason)
    switch channel {
    case .pcp, .natPMP:
      guard phase == .requesting, current == (channel == .pcp ? .pcp : .natPMP) else {
        return []
      }
      return datagramFailed(failure, at: now)
    case .ssdp:
      guard phase == .requesting, location == nil else { return [] }
      return searchEnded(failure, at: now)
    }
  }

  // MARK: Grants and ending

  private mutating func granted(_ g: PortMappingGrant, at now: Instant) -> [PortMapperOutput] {
    switch phase {
    case .requesting:
      phase = .held
      grant = g
      current = g.method
      var out: [PortMapperOutput] = []
      if ssdpDeadline != nil || (configuration.searchAtStart && location == nil) {
        out.append(.close(.ssdp))
      }
      ssdpDeadline = nil
      return out + [.event(.granted(g))]
    case .held:
      return []
    case .deleting, .idle, .done:
      // Granted after the wait (never offered) or while stopping: delete it now.
      let late = grant == nil
      grant = g
      return (late ? [.event(.grantedLate(g))] : []) + deleteNow(at: now)
    }
  }

  private mutating func renewed(_ g: PortMappingGrant) -> [PortMapperOutput] {
    guard phase == .held else { return [] }
    var g = g
    if g.external.ip.isUnspecified, let held = grant { g.external = held.external }
    grant = g
    return [.event(.renewed(g))]
  }

  private mutating func waitEnded(at now: Instant) -> [PortMapperOutput] {
    let wait = configuration.wait ?? .zero
    var search: PortMappingAttemptFailure?
    if configuration.protocols.contains(.upnpIGD), location == nil {
      search = searchFailure ?? .noDevice(within: wait)
    }
    let asking = upnp != nil ? PortMappingResult.Method.upnpIGD : (lastDatagram ?? .pcp)
    let shortfall = PortMappingShortfall.notGrantedWithin(
      wait, asking: asking, server: asking == .upnpIGD ? (location?.address ?? server) : server,
      datagram: asking == .upnpIGD ? nil : datagramFailure, search: search)
    let inFlight: Bool
    if case .running = upnp?.state { inFlight = true } else { inFlight = false }
    let out: [PortMapperOutput] = [.event(.noMapping(shortfall))]
    if (pcp?.hasPendingRequests ?? false) || (natpmp?.hasPendingRequests ?? false) || inFlight {
      return out + deleteNow(at: now)
    }
    return out + finish()
  }

  private mutating func deleteNow(at now: Instant) -> [PortMapperOutput] {
    guard phase != .deleting, phase != .done else { return [] }
    let wasRequesting = phase == .requesting
    phase = .deleting
    renewAt = nil
    var out: [PortMapperOutput] = []
    if ssdpDeadline != nil || location == nil { out.append(.close(.ssdp)) }
    ssdpDeadline = nil
    let port = configuration.internalPort
    if var c = pcp, grant != nil || (wasRequesting && c.hasPendingRequests) {
      out.append(.event(.requested(.pcpDelete(server: server, internalPort: port))))
      let o = c.delete(.udp, internalPort: port, at: now)
      pcp = c
      return out + pcpOutputs(o, at: now)
    }
    if var c = natpmp, grant != nil || (wasRequesting && c.hasPendingRequests) {
      out.append(.event(.requested(.natpmpDelete(server: server, internalPort: port))))
      let o = c.delete(.udp, internalPort: port, at: now)
      natpmp = c
      return out + natpmpOutputs(o, at: now)
    }
    if let c = upnp {
      switch c.state {
      case .holdingMapping:
        return out + upnpStep(at: now) { c in c.deleteMapping(at: now) }
      case .running:
        // AddPortMapping (or its renewal) may be in flight: delete once it settles (bounded by
        // the exchange's timeout).
        deleteWhenSettled = true
        return out
      case .idle, .finished:
        break
      }
    }
    return out + finish()
  }

  private mutating func finish() -> [PortMapperOutput] {
    guard phase != .done else { return [] }
    phase = .done
    pcp = nil
    natpmp = nil
    upnp = nil
    renewAt = nil
    ssdpDeadline = nil
    return [.event(.finished)]
  }
}
