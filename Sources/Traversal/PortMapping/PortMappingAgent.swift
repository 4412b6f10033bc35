import STUN

/// The UDP socket a ``PortMappingAgent`` output or input belongs to: PCP and NAT-PMP each have
/// their own (both talk to port 5351, so answers are told apart by socket), SSDP its own.
public enum PortMappingChannel: Sendable, Hashable, CaseIterable {
  case pcp, natPMP, ssdp
}

/// Why a protocol was not asked.
public enum PortMappingNotAsked: Sendable, Hashable {
  /// The host has no IPv4 default gateway.
  case noGateway
  /// The protocol's UDP socket could not be opened (the runtime's error, as it said it).
  case noSocket(String)
  /// The runtime has no TCP connector, which UPnP IGD's HTTP needs.
  case noConnector
}

/// What one protocol said to the read-only questions, typed; the report module words it.
public enum PortMappingAnswer: Sendable, Hashable {
  /// PCP answered the ANNOUNCE.
  case pcpAnnounced(rtt: Duration)
  /// The gateway answered PCP with another version (0: it speaks only NAT-PMP).
  case pcpOtherVersion(UInt8)
  /// The gateway answered the PCP request with an error result.
  case pcpRefused(PCPResultCode)
  /// NAT-PMP answered with the router's external address.
  case natpmpAddress(IPAddress, rtt: Duration?)
  /// The gateway answered the NAT-PMP request with an error result.
  case natpmpRefused(NATPMPResultCode)
  /// Nothing came back: `requests` were sent and none was answered within `within` of the
  /// first (for SSDP: the search window).
  case silent(requests: Int, within: Duration)
  /// The network said the gateway's port cannot be reached (for SSDP: the unicast search to
  /// the gateway's port 1900), `after` the first request.
  case unreachable(Unreachable.Kind, after: Duration)
  /// UPnP IGD: what the device description and GetExternalIPAddress came to, and what kept
  /// it from a full answer.
  case upnp(PortMappingResult, problem: UPnPIGDProblem?)
  /// The protocol was not asked.
  case notAsked(PortMappingNotAsked)

  /// True when the gateway answered the protocol at all (an error result is an answer).
  public var answered: Bool {
    switch self {
    case .pcpAnnounced, .pcpOtherVersion, .pcpRefused, .natpmpAddress, .natpmpRefused: return true
    case .upnp(let r, _): return r.answered
    case .silent, .unreachable, .notAsked: return false
    }
  }
}

/// One protocol's question and its answer.
public struct PortMappingQuestion: Sendable, Hashable {
  /// The protocol.
  public var method: PortMappingResult.Method
  /// Where the question went (for UPnP IGD: filled in by the device's own result).
  public var server: TransportAddress?
  /// What came back.
  public var answer: PortMappingAnswer

  public init(
    method: PortMappingResult.Method, server: TransportAddress?, answer: PortMappingAnswer
  ) {
    self.method = method
    self.server = server
    self.answer = answer
  }
}

/// What the agent learned, one question per protocol in the order PCP, NAT-PMP, UPnP IGD.
public struct PortMappingSurvey: Sendable, Hashable {
  /// The gateway asked; nil when the host has none.
  public var gateway: IPAddress?
  /// One question per protocol.
  public var questions: [PortMappingQuestion]

  public init(gateway: IPAddress?, questions: [PortMappingQuestion]) {
    self.gateway = gateway
    self.questions = questions
  }
}

/// What a ``PortMappingAgent`` hands its host.
public enum PortMappingAgentOutput: Sendable, Hashable {
  /// Send `bytes` to `to` from the channel's socket.
  case send(PortMappingChannel, bytes: [UInt8], to: TransportAddress)
  /// The channel is done: close its socket.
  case close(PortMappingChannel)
  /// UPnP IGD's HTTP: open a TCP connection and write (`.request`), or close one (`.close`).
  /// (The client's timeouts and events stay inside the agent.)
  case http(UPnPIGDClientOutput)
  /// Every question is settled.
  case finished(PortMappingSurvey)
}

/// What a host hands a ``PortMappingAgent``.
public enum PortMappingAgentInput: Sendable, Hashable {
  /// A datagram arrived on a channel's socket.
  case datagram(PortMappingChannel, bytes: [UInt8], from: TransportAddress)
  /// The channel's socket learned that `destination` cannot be reached (ICMP).
  case unreachable(PortMappingChannel, Unreachable.Kind, destination: TransportAddress)
  /// The channel's socket could not be opened; the protocol is not asked.
  case socketFailed(PortMappingChannel, reason: String)
  /// Bytes arrived on UPnP HTTP connection `id`.
  case httpBytes(id: Int, bytes: [UInt8])
  /// UPnP HTTP connection `id` reached its end.
  case httpClosed(id: Int)
  /// UPnP HTTP connection `id` could not be opened, or broke.
  case httpFailed(id: Int, reason: StreamCloseReason)
}

/// The sans-IO port-mapping agent for the probe's read-only questions: it asks the gateway
/// over PCP (ANNOUNCE), NAT-PMP (the external-address request) and UPnP IGD (SSDP search, the
/// device description and GetExternalIPAddress) at once, owns every deadline, and finishes as
/// soon as every question is settled: answered, refused, unreachable (an ICMP error settles a
/// question at once) or silent past its deadline.
///
/// The SSDP search goes both to the gateway itself (unicast, port 1900: a device answers at
/// once, a gateway without SSDP says so with ICMP port unreachable) and to the multicast group
/// with the smallest MX (1 s) devices accept; the search window is ``Configuration/ssdpWait``
/// (750 ms, the same deadline as PCP and NAT-PMP: miniupnpd answers within about 70 ms, and a
/// gateway answers a unicast search at once; a device elsewhere on the LAN that answers the
/// multicast search after a random delay of up to MX may be missed).
///
/// It never creates, renews or deletes a mapping.
public struct PortMappingAgent: Machine, Sendable {
  /// Addresses and waits.
  public struct Configuration: Sendable, Hashable {
    /// The UDP port of NAT-PMP and PCP (5351).
    public var serverPort: UInt16
    /// Where the multicast SSDP search goes (239.255.255.250:1900).
    public var ssdpAddress: TransportAddress
    /// The UDP port the unicast search goes to on the gateway (1900); nil sends none.
    public var ssdpUnicastPort: UInt16?
    /// The first wait of NAT-PMP and PCP; the second request waits twice as long, then the
    /// protocol is given up (0.25 s, RFC 6886's first wait: 0.75 s in all).
    public var firstWait: Duration
    /// How long to wait for an SSDP answer.
    public var ssdpWait: Duration
    /// How long each UPnP HTTP exchange may take.
    public var httpTimeout: Duration

    public init(
      serverPort: UInt16 = 5351, ssdpAddress: TransportAddress = SSDP.multicastAddress,
      ssdpUnicastPort: UInt16? = 1900, firstWait: Duration = .milliseconds(250),
      ssdpWait: Duration = .milliseconds(750), httpTimeout: Duration = .seconds(2)
    ) {
      self.serverPort = serverPort
      self.ssdpAddress = ssdpAddress
      self.ssdpUnicastPort = ssdpUnicastPort
      self.firstWait = max(.milliseconds(10), firstWait)
      self.ssdpWait = max(.milliseconds(10), ssdpWait)
      self.httpTimeout = max(.milliseconds(10), httpTimeout)
    }
  }

  /// The gateway asked (nil: none, every protocol is not asked).
  public let gateway: IPAddress?
  /// The host's address toward the gateway (PCP's client address).
  public let localAddress: IPAddress?
  /// Addresses and waits.
  public let configuration: Configuration
  /// The answers settled so far.
  public private(set) var answers: [PortMappingResult.Method: PortMappingQuestion] = [:]
  /// SSDP answers dropped (malformed or not an IGD).
  public private(set) var ignoredSSDPAnswers = 0

  private let askUPnP: Bool
  private let generator: any RandomNumberGenerator & Sendable
  private var pcp: PCPClient?
  private var natpmp: NATPMPClient?
  private var upnp: UPnPIGDClient?
  private var startedAt: Instant?
  private var ssdpDeadline: Instant?
  private var ssdpRequests = 0
  private var finished = false

  /// An agent for `gateway` (nil: the host has none); `askUPnP` false when the runtime cannot
  /// open TCP connections. `generator` is PCP's randomness (nonce, retransmission jitter): seed
  /// it for runs that must repeat exactly (the simulator).
  public init(
    gateway: IPAddress?, localAddress: IPAddress?, askUPnP: Bool,
    configuration: Configuration = Configuration(),
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.generator = generator
    self.gateway = gateway
    self.localAddress = localAddress
    self.askUPnP = askUPnP
    self.configuration = configuration
  }

  /// True once the survey is finished.
  public var isFinished: Bool { finished }

  /// Sends every question (or settles at once those that cannot be asked).
  public mutating func start(at now: Instant) -> [PortMappingAgentOutput] {
    guard startedAt == nil else { return [] }
    startedAt = now
    guard let gateway else {
      for method in PortMappingResult.Method.allCases {
        settle(method, server: nil, .notAsked(.noGateway))
      }
      return finishIfDone()
    }
    let server = TransportAddress(ip: gateway, port: configuration.serverPort)
    var out: [PortMappingAgentOutput] = []

    let retransmission = PCPRetransmission(
      initial: configuration.firstWait, maximum: configuration.firstWait * 2, maxRequests: 2,
      maxDuration: configuration.firstWait * 3)
    var pcp = PCPClient(
      server: server, clientAddress: localAddress ?? .anyV4,
      configuration: .init(retransmission: retransmission), generator: generator)
    out += pcpOutputs(pcp.announce(at: now), now: now)
    self.pcp = pcp

    var natpmp = NATPMPClient(
      gateway: server,
      configuration: .init(initialWait: configuration.firstWait, maxRequests: 2))
    out += natpmpOutputs(natpmp.requestExternalAddress(at: now), now: now)
    self.natpmp = natpmp

    if askUPnP {
      for target in [SSDPSearchTarget.internetGatewayDevice1, .internetGatewayDevice2] {
        if let port = configuration.ssdpUnicastPort {
          let to = TransportAddress(ip: gateway, port: port)
          out.append(
            .send(.ssdp, bytes: SSDP.unicastSearchRequest(for: target, host: to), to: to))
          ssdpRequests += 1
        }
        out.append(
          .send(
            .ssdp, bytes: SSDP.searchRequest(for: target, maxWait: 1),
            to: configuration.ssdpAddress))
        ssdpRequests += 1
      }
      ssdpDeadline = now + configuration.ssdpWait
    } else {
      settle(.upnpIGD, server: nil, .notAsked(.noConnector))
    }
    return out + finishIfDone()
  }

  public var nextDeadline: Instant? {
    guard !finished else { return nil }
    let all: [Instant?] = [
      answers[.pcp] == nil ? pcp?.nextWake : nil,
      answers[.natPMP] == nil ? natpmp?.nextWake : nil,
      answers[.upnpIGD] == nil ? (upnp?.nextWake ?? ssdpDeadline) : nil,
    ]
    return all.compactMap { $0 }.min()
  }

  public mutating func handleInput(_ input: PortMappingAgentInput, at now: Instant)
    -> [PortMappingAgentOutput]
  {
    guard !finished, startedAt != nil else { return [] }
    var out: [PortMappingAgentOutput] = []
    switch input {
    case .datagram(.pcp, let bytes, let from):
      guard answers[.pcp] == nil, var c = pcp else { return [] }
      out += pcpOutputs(c.handleInput(bytes, from: from, at: now), now: now)
      pcp = c
    case .datagram(.natPMP, let bytes, let from):
      guard answers[.natPMP] == nil, var c = natpmp else { return [] }
      out += natpmpOutputs(c.handleInput(bytes, from: from, at: now), now: now)
      natpmp = c
    case .datagram(.ssdp, let bytes, _):
      out += ssdpAnswer(bytes, at: now)
    case .unreachable(let channel, let kind, let destination):
      out += unreachable(channel, kind, destination: destination, at: now)
    case .socketFailed(let channel, let reason):
      let method = Self.method(of: channel)
      if answers[method] == nil {
        let server = channel == .ssdp ? nil : pcp?.server
        settle(method, server: server, .notAsked(.noSocket(reason)))
        out.append(.close(channel))
      }
    case .httpBytes(let id, let bytes):
      guard var c = upnp else { return [] }
      out += upnpOutputs(c.handleInput(id: id, bytes: bytes, at: now))
      upnp = c
    case .httpClosed(let id):
      guard var c = upnp else { return [] }
      out += upnpOutputs(c.handleClosed(id: id, at: now))
      upnp = c
    case .httpFailed(let id, let reason):
      guard var c = upnp else { return [] }
      out += upnpOutputs(c.handleConnectionFailed(id: id, reason: reason, at: now))
      upnp = c
    }
    return out + finishIfDone()
  }

  public mutating func handleTimeout(at now: Instant) -> [PortMappingAgentOutput] {
    guard !finished, startedAt != nil else { return [] }
    var out: [PortMappingAgentOutput] = []
    if answers[.pcp] == nil, var c = pcp, let t = c.nextWake, t <= now {
      out += pcpOutputs(c.handleTimeout(at: now), now: now)
      pcp = c
    }
    if answers[.natPMP] == nil, var c = natpmp, let t = c.nextWake, t <= now {
      out += natpmpOutputs(c.handleTimeout(at: now), now: now)
      natpmp = c
    }
    if answers[.upnpIGD] == nil {
      if var c = upnp {
        if let t = c.nextWake, t <= now {
          out += upnpOutputs(c.handleTimeout(at: now))
          upnp = c
        }
      } else if let t = ssdpDeadline, t <= now {
        settle(.upnpIGD, server: nil, .silent(requests: ssdpRequests, within: elapsed(now)))
        out.append(.close(.ssdp))
      }
    }
    return out + finishIfDone()
  }

  // MARK: Sub-machines

  private mutating func pcpOutputs(_ outputs: [PCPClientOutput], now: Instant)
    -> [PortMappingAgentOutput]
  {
    var out: [PortMappingAgentOutput] = []
    for output in outputs {
      switch output {
      case .transmit(let t): out.append(.send(.pcp, bytes: t.bytes, to: t.to))
      case .timeout: break
      case .event(let event):
        guard answers[.pcp] == nil else { continue }
        let server = pcp?.server ?? TransportAddress(ip: .anyV4, port: configuration.serverPort)
        switch event {
        case .announced(_, let rtt): settle(.pcp, server: server, .pcpAnnounced(rtt: rtt.duration))
        case .versionNotSupported(let version):
          settle(.pcp, server: server, .pcpOtherVersion(version))
        case .failed(let failure):
          switch failure.reason {
          case .result(let code, _): settle(.pcp, server: server, .pcpRefused(code))
          case .noAnswer(let n):
            settle(.pcp, server: server, .silent(requests: n, within: elapsed(now)))
          }
        default: continue
        }
        out.append(.close(.pcp))
      }
    }
    return out
  }

  private mutating func natpmpOutputs(_ outputs: [NATPMPClientOutput], now: Instant)
    -> [PortMappingAgentOutput]
  {
    var out: [PortMappingAgentOutput] = []
    for output in outputs {
      switch output {
      case .transmit(let t): out.append(.send(.natPMP, bytes: t.bytes, to: t.to))
      case .timeout: break
      case .event(let event):
        guard answers[.natPMP] == nil else { continue }
        let server =
          natpmp?.gateway ?? TransportAddress(ip: .anyV4, port: configuration.serverPort)
        switch event {
        case .externalAddress(let ip, let rtt):
          settle(.natPMP, server: server, .natpmpAddress(ip, rtt: rtt?.duration))
        case .failed(let failure):
          switch failure.reason {
          case .result(let code): settle(.natPMP, server: server, .natpmpRefused(code))
          case .noAnswer(let n):
            settle(.natPMP, server: server, .silent(requests: n, within: elapsed(now)))
          }
        default: continue
        }
        out.append(.close(.natPMP))
      }
    }
    return out
  }

  private mutating func upnpOutputs(_ outputs: [UPnPIGDClientOutput]) -> [PortMappingAgentOutput] {
    var out: [PortMappingAgentOutput] = []
    for output in outputs {
      switch output {
      case .request, .close: out.append(.http(output))
      case .timeout: break
      case .event(.finished(let result, let problem)):
        if answers[.upnpIGD] == nil {
          settle(.upnpIGD, server: result.gateway, .upnp(result, problem: problem))
        }
      case .event: break
      }
    }
    return out
  }

  private mutating func ssdpAnswer(_ bytes: [UInt8], at now: Instant) -> [PortMappingAgentOutput] {
    guard answers[.upnpIGD] == nil, upnp == nil else { return [] }
    guard let answer = try? SSDPResponse(bytes: bytes), answer.isInternetGateway else {
      ignoredSSDPAnswers += 1
      return []
    }
    var client = UPnPIGDClient(
      location: answer.location,
      configuration: .init(mapping: nil, requestTimeout: configuration.httpTimeout))
    let out = upnpOutputs(client.start(at: now))
    upnp = client
    return [.close(.ssdp)] + out
  }

  private mutating func unreachable(
    _ channel: PortMappingChannel, _ kind: Unreachable.Kind, destination: TransportAddress,
    at now: Instant
  ) -> [PortMappingAgentOutput] {
    let method = Self.method(of: channel)
    guard answers[method] == nil, let gateway, destination.ip == gateway else { return [] }
    switch channel {
    case .pcp, .natPMP:
      guard destination.port == configuration.serverPort else { return [] }
      settle(
        method, server: TransportAddress(ip: gateway, port: configuration.serverPort),
        .unreachable(kind, after: elapsed(now)))
    case .ssdp:
      // Only the search to the gateway itself can be refused; once a device answered, its
      // HTTP exchanges decide.
      guard upnp == nil, destination.port == configuration.ssdpUnicastPort else { return [] }
      settle(.upnpIGD, server: destination, .unreachable(kind, after: elapsed(now)))
    }
    return [.close(channel)]
  }

  // MARK: Settling

  private mutating func settle(
    _ method: PortMappingResult.Method, server: TransportAddress?, _ answer: PortMappingAnswer
  ) {
    guard answers[method] == nil else { return }
    answers[method] = PortMappingQuestion(method: method, server: server, answer: answer)
  }

  private mutating func finishIfDone() -> [PortMappingAgentOutput] {
    guard !finished, PortMappingResult.Method.allCases.allSatisfy({ answers[$0] != nil }) else {
      return []
    }
    finished = true
    let survey = PortMappingSurvey(
      gateway: gateway,
      questions: PortMappingResult.Method.allCases.compactMap { answers[$0] })
    return [.finished(survey)]
  }

  private func elapsed(_ now: Instant) -> Duration {
    guard let startedAt else { return .zero }
    return now - startedAt
  }

  private static func method(of channel: PortMappingChannel) -> PortMappingResult.Method {
    switch channel {
    case .pcp: return .pcp
    case .natPMP: return .natPMP
    case .ssdp: return .upnpIGD
    }
  }
}
