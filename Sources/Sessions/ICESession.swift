import Runtime
import STUN
import Traversal

/// Makes one relayed candidate: allocates on a TURN server and hands back the channel (or why
/// it could not). Called once per gathering, on the runtime's serial context.
public typealias RelayChannelFactory =
  (_ completion: @escaping (Result<any RelayChannel, RuntimeError>) -> Void) -> Void

/// Asks a router for a port mapping of the host candidate at `base`; `completion` runs once
/// with the router's external address and mapped port (nil when none was granted) and the
/// router's address. Called once per gathering, on the runtime's serial context.
public typealias PortMappingFactory =
  (
    _ base: TransportAddress,
    _ completion: @escaping (_ external: TransportAddress?, _ gateway: TransportAddress?) -> Void
  ) -> Void

/// What an ``ICESession`` gathers and how.
public struct ICESessionConfiguration: Sendable {
  /// STUN servers asked for server-reflexive candidates (from every host socket of the same
  /// address family).
  public var stunServers: [TransportAddress]
  /// Host sockets bind in this range when set (like the seed log's 40000–50000).
  public var portRange: ClosedRange<UInt16>?
  /// Loopback addresses are used only when asked (then 127.0.0.1 is added if missing).
  public var includeLoopback: Bool
  /// The addresses to gather on; nil means `runtime.localAddresses()`.
  public var localAddresses: [IPAddress]?
  /// Gathering ends after this long even if servers or relays have not answered.
  public var gatheringTimeout: Duration
  /// The retransmission policy of the STUN requests to servers (default: `natscope probe`'s,
  /// six requests 200 ms apart, "no answer" after 1.4 s).
  public var stunPolicy: RetransmissionPolicy
  /// The agent's settings.
  public var agent: ICEConfiguration
  /// A Binding indication goes from each host socket to the STUN server its
  /// server-reflexive candidate came from this often, until the session closes, so the NAT
  /// keeps the mapping while a person copies tokens; nil sends none.
  public var serverKeepaliveInterval: Duration?

  public init(
    stunServers: [TransportAddress] = [], portRange: ClosedRange<UInt16>? = nil,
    includeLoopback: Bool = false, localAddresses: [IPAddress]? = nil,
    gatheringTimeout: Duration = .seconds(5), stunPolicy: RetransmissionPolicy = .probe,
    agent: ICEConfiguration = ICEConfiguration(),
    serverKeepaliveInterval: Duration? = .seconds(15)
  ) {
    self.serverKeepaliveInterval = serverKeepaliveInterval
    self.stunServers = stunServers
    self.portRange = portRange
    self.includeLoopback = includeLoopback
    self.localAddresses = localAddresses
    self.gatheringTimeout = gatheringTimeout
    self.stunPolicy = stunPolicy
    self.agent = agent
  }
}

/// One event with the runtime time it happened at, for logs and `--json`.
public struct ICELogEntry: Codable, Sendable, Hashable {
  public var at: Instant
  public var event: ICESessionEvent

  public init(at: Instant, event: ICESessionEvent) {
    self.at = at
    self.event = event
  }
}

/// Runs an ``ICEAgent`` over any `NetworkRuntime`: opens one UDP socket per local address
/// (host candidates), asks STUN servers from those same sockets for server-reflexive
/// candidates, adds relayed candidates from injected ``RelayChannelFactory``s, demultiplexes
/// what arrives on the sockets (STUN server answers by transaction ID, everything else to the
/// agent), routes the agent's sends from relayed bases through their ``RelayChannel``, and
/// keeps the agent's timer.
///
/// Signalling is the caller's: read ``localCredentials`` and the `candidateGathered` events
/// (or ``localCandidates``) and give them to the peer; feed the peer's to
/// ``setRemoteCredentials(_:)``, ``addRemoteCandidate(_:)`` and ``endOfRemoteCandidates()``.
///
/// ```swift
/// let session = ICESession(runtime: host, role: .controlling,
///   configuration: ICESessionConfiguration(stunServers: [stun]))
/// session.onEvent = { entry in print(entry.event) }
/// session.setRemoteCredentials(peerCredentials)
/// session.start()
/// if let c = Candidate(try SignaledCandidate(sdpAttribute: line)) { session.addRemoteCandidate(c) }
/// ```
///
/// All calls and callbacks happen on the runtime's serial context. Events are delivered after
/// the machine call that produced them has returned, one at a time and in order, so an
/// `onEvent` handler may call back into the session. A started session keeps itself alive
/// until ``close()``.
public final class ICESession {
  public let runtime: any NetworkRuntime
  public let configuration: ICESessionConfiguration
  /// The agent (read it for pairs, statistics and state).
  public private(set) var agent: ICEAgent
  /// Called for every event, in order.
  public var onEvent: ((ICELogEntry) -> Void)?
  /// Every event so far.
  public private(set) var log: [ICELogEntry] = []
  /// Datagrams on the host sockets that were not STUN or did not decode.
  public private(set) var nonSTUNDropped = 0
  /// DTLS datagrams (first byte 20–63, RFC 7983) that arrive on a host socket or a relay, with
  /// their source and the base they arrived on; without a handler they count as
  /// `nonSTUNDropped`.
  public var onDTLS:
    ((_ bytes: [UInt8], _ from: TransportAddress, _ base: TransportAddress) -> Void)?
  /// Whether gathering has finished.
  public private(set) var gatheringDone = false
  /// STUN responses that are not the gathering's, offered here before the agent sees them
  /// (a path MTU search's answers): with the UDP payload's length as it arrived, its source
  /// and the base it arrived on; returns true when it took the message.
  public var onSTUNResponse:
    (
      (_ message: Message, _ length: Int, _ from: TransportAddress, _ base: TransportAddress)
        -> Bool
    )?
  /// A datagram a host socket sent was too big for a link on the way (ICMP fragmentation
  /// needed / packet too big, or this host's interface): its destination, the base it left
  /// from, the MTU the error named and who sent it. Not an unreachable destination.
  public var onTooBig:
    (
      (
        _ destination: TransportAddress, _ base: TransportAddress, _ mtu: Int?,
        _ reporter: IPAddress?
      )
        -> Void
    )?

  private struct Gather {
    var base: TransportAddress
    var server: TransportAddress
  }

  private var sockets: [TransportAddress: any DatagramSocket] = [:]
  private var relays: [TransportAddress: any RelayChannel] = [:]
  private var gatherTable: TransactionTable<Message>
  private var gathers: [TransactionID: Gather] = [:]
  private var pendingRelays = 0
  private var pendingMappings = 0
  private let portMapper: PortMappingFactory?
  private lazy var agentDriver = MachineDriver<ICEEvent>(
    runtime: runtime,
    transmit: { [weak self] t in self?.route(t) },
    timeout: { [weak self] now in
      guard let self, !self.closed else { return }
      self.apply(self.agent.handleTimeout(at: now))
    })
  private lazy var gatherDriver = MachineDriver<TransactionEvent<Message>>(
    runtime: runtime,
    transmit: { [weak self] t in
      guard let self, let id = t.transactionID, let g = self.gathers[id] else { return }
      self.sockets[g.base]?.send(t.bytes, to: t.to)
    },
    timeout: { [weak self] now in
      guard let self, !self.closed else { return }
      self.processGather(self.gatherTable.handleTimeout(at: now))
    })
  /// The agent's and the session's own events, delivered in order after each call returns.
  private lazy var events = EventDrain<ICESessionEvent> { [weak self] e in self?.deliver(e) }
  private var gatheringTimeoutTimer: (any TimerHandle)?
  private var relayFactories: [RelayChannelFactory]
  private var serverKeepalives: STUNKeepaliveSchedule?
  private var keepaliveTimer: (any TimerHandle)?
  private var started = false
  private var closed = false
  /// Holds a started session until ``close()``: runtime callbacks hold it only weakly.
  private var keepAlive: ICESession?

  /// A session, not yet started.
  /// - Parameters:
  ///   - relays: one factory per relayed candidate wanted (TURN servers).
  ///   - generator: the randomness of credentials and transaction IDs (seed it in tests).
  public init(
    runtime: any NetworkRuntime, role: ICERole,
    configuration: ICESessionConfiguration = ICESessionConfiguration(),
    credentials: ICECredentials? = nil, relays: [RelayChannelFactory] = [],
    portMapper: PortMappingFactory? = nil,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.portMapper = portMapper
    self.runtime = runtime
    self.configuration = configuration
    self.agent = ICEAgent(
      role: role, localCredentials: credentials, configuration: configuration.agent,
      generator: generator)
    self.gatherTable = TransactionTable(policy: configuration.stunPolicy)
    self.relayFactories = relays
    self.serverKeepalives = configuration.serverKeepaliveInterval.map {
      STUNKeepaliveSchedule(interval: $0)
    }
  }

  /// Our ufrag and password, for signalling.
  public var localCredentials: ICECredentials { agent.localCredentials }
  /// The agent's state.
  public var state: ICEAgentState { agent.state }
  /// Local candidates to signal (peer-reflexive ones are learnt, not signalled).
  public var localCandidates: [Candidate] { agent.localCandidates.filter { $0.type != .prflx } }
  /// The selected pair, once nominated.
  public var selectedPair: CandidatePair? { agent.selectedPair }

  /// Opens the host sockets, starts gathering and starts the agent's checks.
  public func start() {
    guard !started, !closed else { return }
    started = true
    keepAlive = self
    let now = runtime.now
    var addresses = (configuration.localAddresses ?? runtime.localAddresses()).filter {
      !$0.isUnspecified && (configuration.includeLoopback || !$0.isLoopback)
    }
    if configuration.includeLoopback, !addresses.contains(where: \.isLoopback) {
      addresses.append(.loopbackV4)
    }
    var perFamily: [AddressFamily: Int] = [:]
    for ip in addresses {
      let base: TransportAddress
      do {
        let socket = try runtime.openUDP(
          UDPSocketOptions(address: ip, portRange: configuration.portRange),
          onReceive: { [weak self] datagram in self?.receive(datagram, onSocketFor: ip) },
          onError: { [weak self] error in self?.socketError(error, onSocketFor: ip) })
        base = TransportAddress(ip: ip, port: socket.localAddress.port)
        sockets[base] = socket
        socketBases[ip] = base
      } catch {
        record(.socketFailed(address: ip, reason: "\(error)"))
        continue
      }
      let index = perFamily[ip.family, default: 0]
      perFamily[ip.family] = index + 1
      apply(agent.addHostCandidate(base, interfaceIndex: index, at: now))
      for server in configuration.stunServers where server.ip.family == ip.family {
        let id = agent.randomTransactionID()
        var b = MessageBuilder(type: .bindingRequest, transactionID: id, capacity: 32)
        b.addFingerprint()
        gathers[id] = Gather(base: base, server: server)
        processGather(gatherTable.start(id: id, request: b.bytes, to: server, at: now))
      }
    }
    // One port mapping, for the first IPv4 host candidate off loopback (the router's
    // external address is IPv4); offered as a server-reflexive candidate of that base.
    if let portMapper,
      let base = sockets.keys.filter({ $0.ip.family == .ipv4 && !$0.ip.isLoopback })
        .min(by: { $0.description < $1.description })
    {
      pendingMappings += 1
      portMapper(base) { [weak self] external, gateway in
        self?.mappingReady(external: external, gateway: gateway, base: base)
      }
    }
    for factory in relayFactories {
      pendingRelays += 1
      factory { [weak self] result in self?.relayReady(result) }
    }
    gatheringTimeoutTimer = runtime.schedule(at: now + configuration.gatheringTimeout) {
      [weak self] in
      guard let self, !self.closed, !self.gatheringDone else { return }
      self.record(.gatheringTimedOut(afterMs: self.configuration.gatheringTimeout.milliseconds))
      for id in self.gathers.keys { self.gatherTable.cancel(id: id) }
      self.gathers.removeAll()
      self.pendingRelays = 0
      self.pendingMappings = 0
      self.finishGatheringIfDone()
    }
    apply(agent.start(at: now))
    finishGatheringIfDone()
  }

  /// Sets the peer's ufrag and password.
  public func setRemoteCredentials(_ credentials: ICECredentials) {
    guard !closed else { return }
    apply(agent.setRemoteCredentials(credentials, at: runtime.now))
  }

  /// Adds a peer's candidate.
  public func addRemoteCandidate(_ candidate: Candidate) {
    guard !closed else { return }
    apply(agent.addRemoteCandidate(candidate, at: runtime.now))
  }

  /// The peer has no more candidates.
  /// Checks again the pairs whose checks went unanswered so far
  /// (``ICEAgent/recheckUnansweredPairs(at:)``).
  public func recheckUnansweredPairs() {
    guard !closed else { return }
    apply(agent.recheckUnansweredPairs(at: runtime.now))
  }

  public func endOfRemoteCandidates() {
    guard !closed else { return }
    apply(agent.endOfRemoteCandidates(at: runtime.now))
  }

  /// Stops the agent, releases relays and closes every socket and timer.
  public func close() {
    onDTLS = nil
    onSTUNResponse = nil
    onTooBig = nil
    guard !closed else { return }
    apply(agent.close(at: runtime.now))
    closed = true
    agentDriver.stop()
    gatherDriver.stop()
    gatheringTimeoutTimer?.cancel()
    keepaliveTimer?.cancel()
    keepaliveTimer = nil
    serverKeepalives?.removeAll()
    gatheringTimeoutTimer = nil
    for s in sockets.values { s.close() }
    sockets.removeAll()
    for r in relays.values {
      r.onReceive = nil
      r.close()
    }
    relays.removeAll()
    keepAlive = nil
  }

  // MARK: - Internals

  private var socketBases: [IPAddress: TransportAddress] = [:]

  /// The ICMP errors the sockets learned, by local base and destination (the latest for each):
  /// evidence for why a pair failed at once.
  public private(set) var unreachable: [PairKey: Unreachable] = [:]

  /// A local base and a remote address.
  public struct PairKey: Hashable, Sendable {
    public var base: TransportAddress
    public var remote: TransportAddress
    public init(base: TransportAddress, remote: TransportAddress) {
      self.base = base
      self.remote = remote
    }
  }

  /// An ICMP error for something a socket sent: a gathering request to that server fails at
  /// once, and so do the agent's checks from that base to that address.
  private func socketError(_ error: SocketError, onSocketFor ip: IPAddress) {
    guard !closed, let base = socketBases[ip] else { return }
    if case .tooBig(let mtu) = error.kind {
      onTooBig?(error.destination, base, mtu, error.reporter)
      return
    }
    guard let u = error.unreachable else { return }
    if unreachable.count < 1000 || unreachable[PairKey(base: base, remote: u.destination)] != nil {
      unreachable[PairKey(base: base, remote: u.destination)] = u
    }
    let gathers = self.gathers
    processGather(gatherTable.handleUnreachable(u) { gathers[$0]?.base == base })
    apply(agent.handleUnreachable(u.destination, from: base, at: runtime.now))
  }

  /// Sends a datagram that is not the agent's (DTLS on the selected pair) from a host socket
  /// or relay base, as the agent's own sends are routed.
  public func send(_ bytes: [UInt8], from base: TransportAddress, to destination: TransportAddress)
  {
    guard !closed else { return }
    route(Transmit(bytes: bytes, from: base, to: destination))
  }

  /// Sends a transmit of another machine on the pair's base (a path MTU probe), with its
  /// don't-fragment flag; a relay base sends it as usual.
  public func send(_ transmit: Transmit) {
    guard !closed else { return }
    route(transmit)
  }

  private func receive(_ datagram: ReceivedDatagram, onSocketFor ip: IPAddress) {
    guard !closed, let base = socketBases[ip] else { return }
    if let onDTLS, PacketKind.classify(datagram.bytes) == .dtls {
      onDTLS(datagram.bytes, datagram.source, base)
      return
    }
    guard PacketKind.classify(datagram.bytes) == .stun, let m = try? Message(bytes: datagram.bytes)
    else {
      nonSTUNDropped += 1
      return
    }
    if m.messageClass == .successResponse || m.messageClass == .errorResponse {
      if gathers[m.transactionID] != nil {
        processGather(
          gatherTable.handleInput(
            id: m.transactionID, from: datagram.source, at: runtime.now, response: m))
        return
      }
      if let onSTUNResponse, onSTUNResponse(m, datagram.bytes.count, datagram.source, base) {
        return
      }
    }
    apply(agent.handleInput(message: m, from: datagram.source, to: base, at: runtime.now))
  }

  private func relayReady(_ result: Result<any RelayChannel, RuntimeError>) {
    guard !closed else {
      if case .success(let ch) = result { ch.close() }
      return
    }
    guard pendingRelays > 0 else {
      // Gathering already timed out; a late relay is still usable.
      if case .success(let ch) = result { addRelay(ch) }
      return
    }
    pendingRelays -= 1
    switch result {
    case .success(let ch): addRelay(ch)
    case .failure(let e): record(.relayFailed("\(e)"))
    }
    finishGatheringIfDone()
  }

  /// The router's answer: its external address and port become a server-reflexive candidate
  /// of `base` (RFC 8445 §5.1.1.2; the agent drops it as redundant when STUN already learnt
  /// the same address).
  private func mappingReady(
    external: TransportAddress?, gateway: TransportAddress?, base: TransportAddress
  ) {
    guard !closed, pendingMappings > 0 else { return }
    pendingMappings -= 1
    if let external, let gateway, sockets[base] != nil {
      apply(
        agent.addServerReflexiveCandidate(external, base: base, server: gateway, at: runtime.now))
    }
    finishGatheringIfDone()
  }

  private func addRelay(_ channel: any RelayChannel) {
    let relayed = channel.relayedAddress
    relays[relayed] = channel
    channel.onReceive = { [weak self] bytes, from in
      guard let self, !self.closed else { return }
      if let onDTLS = self.onDTLS, PacketKind.classify(bytes) == .dtls {
        onDTLS(bytes, from, relayed)
        return
      }
      guard PacketKind.classify(bytes) == .stun, let m = try? Message(bytes: bytes) else {
        self.nonSTUNDropped += 1
        return
      }
      if let onSTUNResponse = self.onSTUNResponse,
        m.messageClass == .successResponse || m.messageClass == .errorResponse,
        onSTUNResponse(m, bytes.count, from, relayed)
      {
        return
      }
      self.apply(
        self.agent.handleInput(message: m, from: from, to: relayed, at: self.runtime.now))
    }
    apply(
      agent.addRelayedCandidate(
        relayed, mappedAddress: channel.mappedAddress, server: channel.serverAddress,
        at: runtime.now))
  }

  private func processGather(_ outputs: [TransactionTable<Message>.Output]) {
    for event in gatherDriver.carryOut(outputs) {
      switch event {
      case .completed(let id, let response, _, _):
        guard let g = gathers.removeValue(forKey: id) else { continue }
        if response.messageClass == .successResponse,
          let mapped = (try? response.get(XORMappedAddress.self))?.address
            ?? (try? response.get(MappedAddress.self))?.address
        {
          apply(
            agent.addServerReflexiveCandidate(
              mapped, base: g.base, server: g.server, at: runtime.now))
          if !closed {
            serverKeepalives?.add(.init(base: g.base, server: g.server), at: runtime.now)
            armKeepalive()
          }
        } else {
          record(.serverUnreachable(server: g.server, base: g.base, attempts: 1))
        }
      case .failed(let id, let failure):
        guard let g = gathers.removeValue(forKey: id) else { continue }
        if case .timedOut(let n) = failure {
          record(.serverUnreachable(server: g.server, base: g.base, attempts: n))
        } else if case .unreachable(_, let n) = failure {
          record(.serverUnreachable(server: g.server, base: g.base, attempts: n))
        }
      }
    }
    _ = gatherTable.removeFinished()
    finishGatheringIfDone()
  }

  private func finishGatheringIfDone() {
    guard started, !gatheringDone, gathers.isEmpty, pendingRelays == 0, pendingMappings == 0
    else { return }
    gatheringDone = true
    gatheringTimeoutTimer?.cancel()
    gatheringTimeoutTimer = nil
    apply(agent.endOfLocalCandidates(at: runtime.now))
  }

  private func armKeepalive() {
    keepaliveTimer?.cancel()
    keepaliveTimer = nil
    guard !closed, let at = serverKeepalives?.nextWake else { return }
    keepaliveTimer = runtime.schedule(at: at) { [weak self] in
      guard let self, !self.closed else { return }
      self.keepaliveTimer = nil
      self.sendServerKeepalives()
    }
  }

  private func sendServerKeepalives() {
    let due = serverKeepalives?.due(at: runtime.now) ?? []
    for t in due {
      guard let socket = sockets[t.base] else { continue }
      var b = MessageBuilder(
        type: .bindingIndication, transactionID: agent.randomTransactionID(), capacity: 28)
      b.addFingerprint()
      socket.send(b.bytes, to: t.server)
      record(.serverKeepaliveSent(from: t.base, to: t.server))
    }
    armKeepalive()
  }

  private func apply(_ outputs: [ICEAgentOutput]) {
    events.post(contentsOf: agentDriver.carryOut(outputs).map(ICESessionEvent.agent))
  }

  /// Sends from the host socket or the relay whose base the agent named.
  private func route(_ t: Transmit) {
    guard let from = t.from else { return }
    if let s = sockets[from] {
      if t.dontFragment {
        s.send(t.bytes, to: t.to, dontFragment: true)
      } else {
        s.send(t.bytes, to: t.to)
      }
    } else if let r = relays[from] {
      r.send(t.bytes, to: t.to)
    }
  }

  /// Queues an event of the session's own; it is delivered after any being delivered now.
  private func record(_ e: ICEGatheringEvent) {
    events.post(.gathering(e))
  }

  private func deliver(_ e: ICESessionEvent) {
    let entry = ICELogEntry(at: runtime.now, event: e)
    log.append(entry)
    onEvent?(entry)
  }
}
