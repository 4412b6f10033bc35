import DTLS
import Report
import Runtime
import STUN
import Traversal

/// One side of `natscope connect`, over any `NetworkRuntime` (real sockets or a simulated
/// host): gathers candidates (host, server-reflexive, relayed through TURN over UDP or TCP)
/// while a quick NAT probe runs, hands out the local ``SessionDescription``, runs ICE checks
/// once the peer's description is set, and ends with a ``ConnectReport`` that says which path
/// worked and why the others did not. Then it keeps the selected pair alive for a moment and
/// closes everything, TURN allocations included.
///
/// ```swift
/// let session = ConnectSession(runtime: host,
///   configuration: ConnectSessionConfiguration(role: .offer, stunServers: [stun]))
/// session.onEvent = { entry in
///   switch entry.event {
///   case .localDescriptionReady(let mine): send(mine.token)      // to the peer, somehow
///   case .finished(let report): print(report.text)
///   default: break
///   }
/// }
/// session.start()
/// // later, with the peer's answer:
/// session.setRemoteDescription(try SessionDescription(token: pasted, expecting: .answer))
/// ```
///
/// Phases: `gathering` → `waitingForRemote` (``localDescription`` set) → `checking` →
/// `finished` (``report`` set) → `closed`. ``setRemoteDescription(_:)`` may also be called
/// before the local description is ready (an answerer that already holds the offer); checks
/// then start as candidates arrive.
///
/// All calls and callbacks happen on the runtime's serial context. A started session keeps
/// itself alive until it is closed.
public final class ConnectSession {
  public let runtime: any NetworkRuntime
  public let configuration: ConnectSessionConfiguration
  /// Called for every event, in order.
  public var onEvent: ((ConnectLogEntry) -> Void)?
  /// Every event so far.
  public private(set) var log: [ConnectLogEntry] = []
  /// The current phase.
  public private(set) var phase: ConnectPhase = .new
  /// Our description, once gathering (and the probe) finished.
  public private(set) var localDescription: SessionDescription?
  /// The peer's description, once set.
  public private(set) var remoteDescription: SessionDescription?
  /// The NAT profile from the quick probe, when it finished in time.
  public private(set) var natProfile: NATProfile?
  /// The verdict, once finished.
  public private(set) var report: ConnectReport?
  /// The recorded evidence the verdict was derived from (the report module's input), once
  /// finished: the demo rebuilds its report from it.
  public private(set) var evidence: ConnectReportBuilder?
  /// The ICE session (its agent holds pairs and statistics). Not public: fronts see pairs,
  /// candidates and states through the events (``ConnectProgress``), never the agent.
  let ice: ICESession

  private let startedAt: Instant
  private var started = false
  private var probeDone = true
  private var probe: ProbeSession?
  private var probeTimer: (any TimerHandle)?
  private var checkTimer: (any TimerHandle)?
  private var holdTimer: (any TimerHandle)?
  private var relaysOpen: [TURNAllocationSession] = []
  private var relaysHanded: Set<ObjectIdentifier> = []
  private var releasesPending = 0
  private var closeTimer: (any TimerHandle)?
  private var gatheringEndedAt: Instant?
  private var firstCheckAt: Instant?
  private var connectedAt: Instant?
  private var remoteSetAt: Instant?
  private var verdictAt: Instant?
  /// Both descriptions held (and, for a waiting answerer, the offerer's first check came).
  private var iceStartedAt: Instant?
  private var peerHoldsOurs = true
  private var remoteEndOfCandidates = false
  private var waiting: (kind: ConnectPeerWait, since: Instant)?
  private var waitTimer: (any TimerHandle)?
  private var waitTick: (any TimerHandle)?
  private var waitedForPeer: Duration?
  /// Whether what the last wait was for came (the answer, the offerer's first check).
  private var waitCame = false
  private var waitExpired: ConnectPeerWait?
  private var keepAlive: ConnectSession?
  /// The router's port mapping, once asked for.
  private var mapping: ConnectPortMapping?
  /// Opens UPnP IGD's TCP connections for the port mapping.
  private let rawStreamConnector: RawStreamConnector?
  /// Whether close() waits for the mapping's deletion.
  private var mappingReleasePending = false
  /// The DTLS handshake on the selected pair, once ICE selected one.
  private var dtlsRun: ConnectDTLSRun?
  /// Its outcome (or why none ran), once known.
  private var dtlsOutcome: ConnectReport.DTLS?
  /// DTLS datagrams that came before the handshake started (the peer's ClientHello may beat
  /// this side's own nomination), with their source; at most 16.
  private var dtlsEarly: [([UInt8], TransportAddress)] = []
  /// The path MTU search on the selected pair, once it started, and its driver.
  private var mtuSearch: PathMTUSearch?
  private var mtuDriver: MachineDriver<PathMTUEvent>?
  /// What the search found.
  private var mtuResult: PathMTUResult?
  /// While holding after the verdict: the peer's path probes answered so far, and when the
  /// count last moved (the peer is still measuring: stay to answer it).
  private var peerProbesSeen = 0
  private var peerProbesMovedAt: Instant?
  /// What each TURN server did so far, by its address.
  private var relayEvidence: [TransportAddress: ConnectRelayEvidence] = [:]

  /// A session, not yet started.
  /// - Parameters:
  ///   - relays: extra relayed candidates (e.g. simulated TURN), besides `turnServers`.
  ///   - streamConnector: opens TCP connections for TURN servers with transport `tcp`.
  ///   - tlsConnector: opens TLS connections for `turns:` servers (those with `tls` set).
  ///   - rawStreamConnector: opens the plain TCP connections UPnP IGD's HTTP needs (without
  ///     one, the port mapping asks PCP and NAT-PMP only).
  ///   - generator: randomness for credentials and transaction IDs (seed it in tests).
  public init(
    runtime: any NetworkRuntime, configuration: ConnectSessionConfiguration,
    relays: [RelayChannelFactory] = [], streamConnector: StreamConnector? = nil,
    tlsConnector: ((ConnectTURNServer) -> StreamConnector)? = nil,
    rawStreamConnector: RawStreamConnector? = nil,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.runtime = runtime
    self.rawStreamConnector = rawStreamConnector
    self.configuration = configuration
    self.startedAt = runtime.now
    for server in configuration.turnServers {
      relayEvidence[server.address] = ConnectRelayEvidence(
        server: server.address, transport: server.relayTransport)
    }
    let iceConfiguration = ICESessionConfiguration(
      stunServers: configuration.stunServers, portRange: configuration.portRange,
      includeLoopback: configuration.includeLoopback,
      localAddresses: configuration.localAddresses,
      gatheringTimeout: configuration.gatheringTimeout, agent: configuration.agent,
      serverKeepaliveInterval: configuration.serverKeepaliveInterval)
    var factories = relays
    let owner = ConnectSessionRelays()
    for server in configuration.turnServers {
      factories.append(
        Self.relayFactory(
          server, runtime: runtime, portRange: configuration.portRange,
          connector: server.tls == nil ? streamConnector : tlsConnector?(server), owner: owner))
    }
    var portMapper: PortMappingFactory?
    if let pm = configuration.portMapping {
      portMapper = { base, completion in
        guard let session = owner.session else { return completion(nil, nil) }
        session.startPortMapping(pm, base: base, generator: generator, completion: completion)
      }
    }
    self.ice = ICESession(
      runtime: runtime, role: configuration.role == .offer ? .controlling : .controlled,
      configuration: iceConfiguration, relays: factories, portMapper: portMapper,
      generator: generator)
    owner.session = self
  }

  /// The ICE role this session starts with.
  public var role: ICERole { configuration.role == .offer ? .controlling : .controlled }

  /// Starts the probe (if configured) and gathering.
  public func start() {
    guard !started, phase == .new else { return }
    started = true
    keepAlive = self
    setPhase(.gathering)
    ice.onEvent = { [weak self] entry in self?.iceEvent(entry) }
    if configuration.dtls != nil {
      ice.onDTLS = { [weak self] bytes, from, _ in self?.dtlsInput(bytes, from: from) }
    }
    if let limit = configuration.probeTimeout, !configuration.stunServers.isEmpty {
      startProbe(limit)
    }
    ice.start()
    maybeDescriptionReady()
  }

  /// Sets the peer's description and starts checks on its usable candidates.
  ///
  /// - Parameter peerHoldsOurs: whether the peer is known to have our description. Always true
  ///   for the offerer (the answer proves it). An answerer passes false however its answer
  ///   left (a file, a FIFO or pipe, whose reader may be slow, or a person): it then waits up
  ///   to ``ConnectSessionConfiguration/peerWaitTimeout`` for the offerer's first check
  ///   (keeping its NAT open meanwhile), and the check timeout starts when that check
  ///   arrives.
  public func setRemoteDescription(_ description: SessionDescription, peerHoldsOurs: Bool = true) {
    guard remoteDescription == nil, phase != .finished, phase != .closed else { return }
    remoteDescription = description
    self.peerHoldsOurs = peerHoldsOurs || configuration.role == .offer
    if !started { start() }
    remoteSetAt = runtime.now
    if waiting?.kind == .answer { endWait(came: true) }
    ice.setRemoteCredentials(
      ICECredentials(ufrag: description.ufrag, password: description.password))
    var usable = 0
    for c in description.candidates where c.unusable == nil {
      guard let candidate = Candidate(c) else { continue }
      usable += 1
      ice.addRemoteCandidate(candidate)
    }
    record(.remoteDescriptionSet(candidates: description.candidates.count, usable: usable))
    remoteEndOfCandidates = description.endOfCandidates
    if localDescription != nil { setPhase(.checking) }
    maybeStartChecks()
    evaluate()
  }

  /// Starts the check timeout once both descriptions are held, or (an answerer whose answer
  /// went to a person) starts waiting for the offerer's first check.
  private func maybeStartChecks() {
    guard iceStartedAt == nil, waiting?.kind != .checks, report == nil, phase != .closed,
      localDescription != nil, remoteDescription != nil
    else { return }
    if !peerHoldsOurs, !ice.agent.peerCheckReceived {
      // Until the offerer checks, its candidate list is not taken as final: our pairs may all
      // fail before the answer is even pasted there, and that is no verdict.
      startWait(.checks)
      return
    }
    iceStartedAt = runtime.now
    // Checks sent before our description left (an answerer checks as soon as it holds the
    // offer) could not pass the peer's NAT, which opens only when the peer checks us: check
    // again those that went unanswered.
    ice.recheckUnansweredPairs()
    if remoteEndOfCandidates { ice.endOfRemoteCandidates() }
    checkTimer = runtime.schedule(at: runtime.now + configuration.checkTimeout) {
      [weak self] in
      guard let self, self.report == nil, self.phase != .closed else { return }
      // A handshake or a path MTU search under way has its own time limit.
      if self.dtlsRun != nil, self.dtlsOutcome == nil { return }
      if self.mtuSearch != nil, self.mtuResult == nil { return }
      self.finish()
    }
  }

  // MARK: - Waiting for the person at the other end

  private func startWait(_ kind: ConnectPeerWait) {
    guard waiting == nil, report == nil else { return }
    let since = runtime.now
    waiting = (kind, since)
    let limit = configuration.peerWaitTimeout
    record(.waitingForPeer(kind, waitedMs: 0, limitMs: limit.milliseconds))
    waitTimer = runtime.schedule(at: since + limit) { [weak self] in
      guard let self, self.waiting?.kind == kind, self.report == nil else { return }
      self.waitExpired = kind
      self.endWait(record: false, came: false)
      self.finish()
    }
    scheduleWaitTick()
  }

  private func scheduleWaitTick() {
    guard let w = waiting else { return }
    waitTick = runtime.schedule(at: runtime.now + configuration.peerWaitReportInterval) {
      [weak self] in
      guard let self, let now = self.waiting, now.kind == w.kind, self.report == nil else {
        return
      }
      self.record(
        .waitingForPeer(
          w.kind, waitedMs: (self.runtime.now - w.since).milliseconds,
          limitMs: self.configuration.peerWaitTimeout.milliseconds))
      self.scheduleWaitTick()
    }
  }

  private func endWait(record report: Bool = true, came: Bool) {
    guard let w = waiting else { return }
    waiting = nil
    waitCame = came
    waitTimer?.cancel()
    waitTick?.cancel()
    waitTimer = nil
    waitTick = nil
    let waited = runtime.now - w.since
    waitedForPeer = waited
    if report { record(.peerWaitEnded(w.kind, waitedMs: waited.milliseconds)) }
  }

  /// Stops at once: releases TURN allocations and closes every socket and timer. If no verdict
  /// was reached, none is reported.
  public func close() {
    guard phase != .closed else { return }
    for t in [probeTimer, checkTimer, holdTimer, waitTimer, waitTick] { t?.cancel() }
    waiting = nil
    waitTimer = nil
    waitTick = nil
    probeTimer = nil
    checkTimer = nil
    holdTimer = nil
    probe?.cancel()
    probe = nil
    probeDone = true
    releasesPending = relaysOpen.count
    if let mapping {
      releasesPending += 1
      mappingReleasePending = true
      mapping.release { [weak self] in
        guard let self, self.mappingReleasePending else { return }
        self.mappingReleasePending = false
        if self.phase != .closed, self.releasesPending > 0 {
          self.releasesPending -= 1
          if self.releasesPending == 0 { self.closed() }
        }
      }
    }
    mtuDriver?.stop()
    if let run = dtlsRun {
      // close_notify to the peer when the association is up.
      for t in run.endpoint.close(at: runtime.now).transmits() {
        ice.send(t.bytes, from: run.base, to: t.to)
      }
      run.stop()
    }
    ice.onEvent = nil
    ice.close()  // closes the relay channels it holds: Refresh LIFETIME 0
    for turn in relaysOpen where !relaysHanded.contains(ObjectIdentifier(turn)) {
      turn.close()  // still allocating
    }
    if releasesPending == 0 {
      closed()
    } else {
      // The TURN sessions report .released (or give up after their own timeout).
      closeTimer = runtime.schedule(at: runtime.now + .seconds(6)) { [weak self] in
        self?.closed()
      }
    }
  }

  // MARK: - Relays

  private static func relayFactory(
    _ server: ConnectTURNServer, runtime: any NetworkRuntime, portRange: ClosedRange<UInt16>?,
    connector: StreamConnector?, owner: ConnectSessionRelays
  ) -> RelayChannelFactory {
    { completion in
      guard let session = owner.session else {
        completion(.failure(.failed("the session is gone")))
        return
      }
      let turn: TURNAllocationSession
      // The TLS stream of a turns: server, whose certificate the report names.
      var stream: (any StreamTransport)?
      do {
        switch server.transport {
        case .udp:
          turn = try TURNAllocationSession(
            runtime: runtime, server: server.address, credentials: server.credentials,
            policy: .diagnostics(),
            socketOptions: UDPSocketOptions(
              address: server.address.ip.family == .ipv6 ? .anyV6 : .anyV4, portRange: portRange))
        case .tcp:
          guard let connector else {
            let why = RelayUnavailable.noStreamTransport(tls: server.tls != nil)
            session.record(.relayUnavailable(server: server.address, reason: why))
            completion(.failure(.failed(why.explanation)))
            return
          }
          let opened = try connector(server.address)
          if server.tls != nil { stream = opened }
          turn = TURNAllocationSession(
            runtime: runtime, server: server.address, credentials: server.credentials,
            stream: opened)
        }
      } catch let e as RuntimeError {
        session.record(
          .relayUnavailable(server: server.address, reason: .openFailed(e.description)))
        completion(.failure(e))
        return
      } catch {
        session.record(.relayUnavailable(server: server.address, reason: .openFailed("\(error)")))
        completion(.failure(.failed("\(error)")))
        return
      }
      session.relaysOpen.append(turn)
      var answered = false
      turn.onEvent = { [weak session, weak turn] event in
        guard let session else { return }
        // The first answer over TLS comes after the handshake: its certificate is known.
        if let certificate = stream?.peerCertificate {
          stream = nil
          session.record(.relayCertificate(server: server.address, certificate: certificate))
        }
        session.record(.relay(server: server.address, event: event))
        switch event {
        case .allocated:
          if !answered, let turn {
            answered = true
            session.relaysHanded.insert(ObjectIdentifier(turn))
            completion(.success(turn))
          }
        case .failed(let failure):
          if !answered {
            answered = true
            completion(.failure(.failed("TURN server \(server.address): \(failure.line)")))
          }
          session.relayFinished(turn)
        case .released:
          session.relayFinished(turn)
        default:
          break
        }
      }
      turn.start()
    }
  }

  /// Asks the router for a mapping of `base` (see ``ConnectPortMapping``); its changes become
  /// `portMapping` events.
  fileprivate func startPortMapping(
    _ pm: ConnectPortMappingConfiguration, base: TransportAddress,
    generator: any RandomNumberGenerator & Sendable,
    completion: @escaping (TransportAddress?, TransportAddress?) -> Void
  ) {
    let m = ConnectPortMapping(
      runtime: runtime, configuration: pm, base: base, connector: rawStreamConnector,
      generator: generator)
    mapping = m
    m.start { [weak self] external, gateway in
      completion(external, gateway)
      guard let self, let m = self.mapping else { return }
      self.record(.portMapping(m.report))
      m.onChange = { [weak self] r in
        // Renewals and the deletion come after the verdict too: the report keeps up.
        guard let self else { return }
        let r = self.mappingReport(r)
        self.report?.local.portMapping = r
        self.record(.portMapping(r))
      }
    }
  }

  /// The mapping's report with the double-NAT verdict: the router's own address compared with
  /// the address STUN saw (a server-reflexive candidate other than the mapped one).
  private func mappingReport(_ r: ConnectReport.PortMapping) -> ConnectReport.PortMapping {
    var r = r
    let seen = localDescription?.candidates.first { c in
      c.kind == .srflx && c.address.ip != nil
        && !(c.address.ip.map { "\($0)" } == r.externalAddress && c.port == r.externalPort)
    }?.address.ip
    // Without an address STUN saw there is nothing to compare: no verdict.
    r.doubleNAT = seen.flatMap { mapping?.doubleNAT(serverSeen: $0) }
    return r
  }

  private func relayFinished(_ turn: TURNAllocationSession?) {
    guard let turn, let i = relaysOpen.firstIndex(where: { $0 === turn }) else { return }
    relaysOpen.remove(at: i)
    if phase != .closed, releasesPending > 0 {
      releasesPending -= 1
      if releasesPending == 0 { closed() }
    }
  }

  // MARK: - Probe

  private func startProbe(_ limit: Duration) {
    probeDone = false
    let servers = configuration.stunServers
    let locals =
      (configuration.localAddresses ?? runtime.localAddresses()) + [
        .loopbackV4, .loopbackV6,
      ]
    let p = ProbeSession(
      runtime: runtime,
      configuration: ProbeConfiguration(
        servers: servers, localAddresses: locals, testHairpinning: false,
        portAllocationSamples: 0),
      policy: RetransmissionPolicy(
        initialRTO: .milliseconds(100), maxRequests: 4, lastWaitMultiplier: 2,
        adaptive: .init(floor: .milliseconds(50), ceiling: .milliseconds(400)), backoff: 1),
      socketOptions: UDPSocketOptions(
        address: servers[0].ip.family == .ipv6 ? .anyV6 : .anyV4,
        portRange: configuration.portRange))
    probe = p
    record(.probeStarted(servers: servers))
    probeTimer = runtime.schedule(at: runtime.now + limit) { [weak self] in
      guard let self, !self.probeDone else { return }
      self.probe?.cancel()
      self.probe = nil
      self.probeEnded(nil, .timedOut(milliseconds: Int(limit.milliseconds)))
    }
    p.start { [weak self] result in
      guard let self, !self.probeDone else { return }
      switch result {
      case .success(let report):
        self.probeEnded(report.profile, nil)
      case .failure(let e):
        self.probeEnded(nil, .socketFailed("\(e)"))
      }
    }
  }

  private func probeEnded(_ profile: NATProfile?, _ reason: ConnectProbeGap?) {
    probeDone = true
    probeTimer?.cancel()
    probeTimer = nil
    probe = nil
    natProfile = profile
    record(.probeFinished(profile: profile, reason: reason))
    maybeDescriptionReady()
  }

  // MARK: - ICE

  private func iceEvent(_ entry: ICELogEntry) {
    record(.ice(entry.event))
    switch entry.event {
    case .gatheringDone:
      gatheringEndedAt = entry.at
      maybeDescriptionReady()
    case .checkSent:
      if firstCheckAt == nil { firstCheckAt = entry.at }
    case .checkReceived:
      if waiting?.kind == .checks {
        endWait(came: true)
        maybeStartChecks()
      }
      // The peer is still checking (its nominating check may have lost its answer): hold on.
      if phase == .finished, holdTimer != nil { hold() }
    case .selectedPairChanged:
      if connectedAt == nil { connectedAt = entry.at }
    case .agentStateChanged:
      evaluate()
    case .pairStateChanged(_, _, .failed, .unreachable?, _):
      // Waiting for a person is pointless when the offerer is gone: its sockets answer ICMP
      // port unreachable, which a live offerer's never do.
      if waiting?.kind == .checks, offererHasQuit {
        endWait(record: false, came: false)
        finish()
      }
    default:
      break
    }
  }

  /// Every pair failed, and one of the offerer's own sockets answered ICMP port unreachable:
  /// the process that made the offer has quit (or the token is old).
  private var offererHasQuit: Bool {
    let pairs = ice.agent.pairs
    guard !pairs.isEmpty, pairs.allSatisfy({ $0.state == .failed }) else { return false }
    let remotes = Set(pairs.map(\.remote.address))
    return ice.unreachable.values.contains {
      $0.kind == .portUnreachable && remotes.contains($0.destination)
    }
  }

  private func maybeDescriptionReady() {
    guard localDescription == nil, probeDone, ice.gatheringDone, phase == .gathering else {
      return
    }
    // A profile from a server on this host is no measurement of a NAT: the peer is not told one.
    let d = SessionDescription(
      ufrag: ice.localCredentials.ufrag, password: ice.localCredentials.password,
      role: configuration.role, tieBreaker: ice.agent.tieBreaker,
      candidates: ice.localCandidates.map(SignaledCandidate.init), endOfCandidates: true,
      natProfile: probeServerOnThisHost == nil ? natProfile : nil,
      dtls: configuration.dtls.map {
        DTLSParameters(fingerprint: $0.certificate.fingerprint, setup: localSetup)
      })
    localDescription = d
    setPhase(remoteDescription == nil ? .waitingForRemote : .checking)
    record(.localDescriptionReady(d))
    if remoteDescription == nil, configuration.role == .offer { startWait(.answer) }
    maybeStartChecks()
    evaluate()
  }

  /// Finishes when the agent selected a pair or failed (only once the peer's description is
  /// set and ours is out).
  private func evaluate() {
    guard report == nil, remoteDescription != nil, localDescription != nil,
      phase == .checking
    else { return }
    switch ice.state {
    case .completed:
      if !startDTLSIfWanted() && !startPathMTUIfWanted() { finish() }
    case .failed: finish()
    default: break
    }
  }

  // MARK: - DTLS

  /// This side's `a=setup`: the offerer offers actpass; the answerer takes the client role
  /// (active) unless the offer insists on it (RFC 8842 §5.3).
  private var localSetup: DTLSSetupRole {
    if configuration.role == .offer { return .actpass }
    return remoteDescription?.dtls?.setup == .active ? .passive : .active
  }

  /// Starts the handshake on the selected pair when DTLS is configured and the peer offered
  /// it; true while it runs (the verdict waits for it), false when there is nothing to wait
  /// for (the outcome then says why none ran).
  private func startDTLSIfWanted() -> Bool {
    if dtlsRun != nil { return dtlsOutcome == nil }
    guard dtlsOutcome == nil, let settings = configuration.dtls else { return false }
    guard let peer = remoteDescription?.dtls else {
      dtlsOutcome = ConnectReport.DTLS(state: .peerOfferedNone)
      return false
    }
    guard let selected = ice.agent.selectedPair else { return false }
    let mine = localDescription?.dtls?.setup ?? localSetup
    guard let role = DTLSRole.from(local: mine, remote: peer.setup) else {
      dtlsOutcome = ConnectReport.DTLS(state: .failed, failure: .roleConflict)
      return false
    }
    let base = selected.local.base ?? selected.local.address
    let endpoint: DTLSEndpoint
    do {
      endpoint = try DTLSEndpoint(
        configuration: DTLSConfiguration(
          role: role, certificate: settings.certificate,
          expectedPeerFingerprint: peer.fingerprint, linkMTU: settings.linkMTU,
          initialRetransmission: settings.initialRetransmission,
          handshakeTimeout: settings.handshakeTimeout),
        remote: selected.remote.address)
    } catch {
      dtlsOutcome = ConnectReport.DTLS(
        state: .failed, role: role.rawValue, failure: .error, detail: error.message)
      return false
    }
    let run = ConnectDTLSRun(
      endpoint: endpoint, base: base, expected: peer.fingerprint, linkMTU: settings.linkMTU,
      certificateBytes: settings.certificate.derLength, runtime: runtime,
      send: { [weak self] t in self?.ice.send(t.bytes, from: base, to: t.to) },
      timeout: { [weak self, weak endpoint] now in
        guard let self, let endpoint else { return }
        self.dtlsApply(endpoint.handleTimeout(at: now))
      })
    dtlsRun = run
    var started = run.report(now: runtime.now)
    started.state = .handshaking
    record(.dtls(started))
    dtlsApply(endpoint.start(at: runtime.now))
    let early = dtlsEarly
    dtlsEarly = []
    for (bytes, from) in early where from == endpoint.remote && dtlsOutcome == nil {
      dtlsApply(endpoint.handleInput(bytes, at: runtime.now))
    }
    return dtlsOutcome == nil
  }

  private func dtlsInput(_ bytes: [UInt8], from: TransportAddress) {
    guard phase != .closed else { return }
    guard let run = dtlsRun else {
      if dtlsEarly.count < 16 { dtlsEarly.append((bytes, from)) }
      return
    }
    // Only the selected pair's peer speaks DTLS to us.
    guard from == run.endpoint.remote else { return }
    dtlsApply(run.endpoint.handleInput(bytes, at: runtime.now))
  }

  private func dtlsApply(_ outputs: [MachineOutput<DTLSEvent>]) {
    guard let run = dtlsRun else { return }
    for event in run.carryOut(outputs) {
      switch event {
      case .connected, .failed:
        guard dtlsOutcome == nil else { continue }
        let outcome = run.report(now: runtime.now)
        dtlsOutcome = outcome
        record(.dtls(outcome))
        if report == nil, phase != .closed, !startPathMTUIfWanted() { finish() }
      case .retransmitted, .closedByPeer:
        break
      }
    }
  }

  // MARK: - Path MTU

  /// Starts the search for the largest datagram on the selected pair when configured; true
  /// while it runs (the verdict waits for it).
  private func startPathMTUIfWanted() -> Bool {
    if mtuSearch != nil { return mtuResult == nil }
    guard let settings = configuration.pathMTU, report == nil, phase != .closed,
      let selected = ice.agent.selectedPair, let identity = ice.agent.pathProbeIdentity
    else { return false }
    let base = selected.localBase
    var search = PathMTUSearch(
      configuration: settings, identity: identity, base: base, remote: selected.remote.address,
      viaRelay: selected.local.type == .relay)
    let driver = MachineDriver<PathMTUEvent>(
      runtime: runtime, transmit: { [weak self] t in self?.ice.send(t) },
      timeout: { [weak self] now in
        guard let self, var s = self.mtuSearch else { return }
        let out = s.handleTimeout(at: now)
        self.mtuSearch = s
        self.mtuApply(out)
      })
    mtuDriver = driver
    ice.onSTUNResponse = { [weak self] message, length, from, arrivedOn in
      guard let self, var s = self.mtuSearch, arrivedOn == s.base,
        s.owns(message.transactionID)
      else { return false }
      let out = s.handleInput(message, length: length, from: from, at: self.runtime.now)
      self.mtuSearch = s
      self.mtuApply(out)
      return true
    }
    ice.onTooBig = { [weak self] destination, from, mtu, reporter in
      guard let self, var s = self.mtuSearch, from == s.base, destination == s.remote else {
        return
      }
      let out = s.handleTooBig(mtu: mtu, reporter: reporter, at: self.runtime.now)
      self.mtuSearch = s
      self.mtuApply(out)
    }
    let out = search.start(at: runtime.now)
    mtuSearch = search
    mtuApply(out)
    return mtuResult == nil
  }

  private func mtuApply(_ outputs: [MachineOutput<PathMTUEvent>]) {
    guard let driver = mtuDriver else { return }
    for event in driver.carryOut(outputs) {
      switch event {
      case .finished(let r):
        guard mtuResult == nil else { continue }
        mtuResult = r
        driver.stop()
        if report == nil, phase != .closed { finish() }
      }
    }
  }

  /// The DTLS evidence for the report.
  private func dtlsEvidence() -> ConnectReport.DTLS? {
    guard configuration.dtls != nil else {
      return configuration.dtlsTurnedOff ? ConnectReport.DTLS(state: .off) : nil
    }
    if let o = dtlsOutcome { return o }
    if let run = dtlsRun { return run.report(now: runtime.now) }
    if ice.agent.selectedPair != nil, remoteDescription != nil, remoteDescription?.dtls == nil {
      return ConnectReport.DTLS(state: .peerOfferedNone)
    }
    return ConnectReport.DTLS(state: .notRun)
  }

  private func finish() {
    guard report == nil else { return }
    checkTimer?.cancel()
    checkTimer = nil
    endWait(record: false, came: false)
    verdictAt = runtime.now
    let e = recordedEvidence()
    evidence = e
    let r = e.build()
    report = r
    setPhase(.finished)
    record(.finished(r))
    if r.state == .connected {
      hold()
    } else {
      close()
    }
  }

  /// Keeps the selected pair answering for `holdTime` after the verdict (the controlled side,
  /// whose verdict is the peer's nomination, at least one check window: the answer to that
  /// nominating check may be lost, and the peer then retransmits it). Each check that still
  /// comes from the peer holds it one check window longer, up to the peer's whole nomination
  /// window with its retries.
  private func hold() {
    let first = holdTimer == nil
    holdTimer?.cancel()
    let start = verdictAt ?? runtime.now
    let agent = configuration.agent
    let window = agent.checkPolicy.timeoutWindow(rto: agent.checkPolicy.initialRTO)
    let limit = start + configuration.holdTime + window * (1 + agent.provenPathRetries)
    let quiet =
      first && ice.agent.role == .controlling
      ? configuration.holdTime : max(configuration.holdTime, window)
    let at = min(runtime.now + quiet, limit)
    holdTimer = runtime.schedule(at: max(at, runtime.now)) { [weak self] in self?.holdEnded() }
  }

  /// The hold is over, unless the peer is still measuring the path's largest datagram (its
  /// probes keep coming): then it goes on while they do, for at most 15 s after the verdict.
  private func holdEnded() {
    let seen = ice.agent.pathProbesAnswered
    let now = runtime.now
    if seen != peerProbesSeen {
      peerProbesSeen = seen
      peerProbesMovedAt = now
    }
    if let moved = peerProbesMovedAt, now - moved < .milliseconds(2500),
      now < (verdictAt ?? now) + .seconds(15)
    {
      holdTimer = runtime.schedule(at: now + .milliseconds(500)) { [weak self] in
        self?.holdEnded()
      }
      return
    }
    close()
  }

  private func closed() {
    guard phase != .closed else { return }
    closeTimer?.cancel()
    closeTimer = nil
    setPhase(.closed)
    onEvent = nil
    keepAlive = nil
  }

  // MARK: - Report

  private func ms(_ at: Instant?) -> Double? {
    at.map { ($0 - startedAt).milliseconds.rounded(toPlaces: 1) }
  }

  /// The probe's first server, when the probe ran and every server it asked is on this host
  /// (loopback, or one of this host's addresses): its answers say nothing about a NAT.
  private var probeServerOnThisHost: TransportAddress? {
    guard configuration.probeTimeout != nil, let first = configuration.stunServers.first else {
      return nil
    }
    let mine = Set(configuration.localAddresses ?? runtime.localAddresses())
    let onThisHost = configuration.stunServers.allSatisfy { s in
      s.ip.isLoopback || s.ip.isUnspecified || mine.contains(s.ip)
    }
    return onThisHost ? first : nil
  }

  /// The evidence this session recorded, handed to the report module, which derives the
  /// findings and the report from it.
  private func recordedEvidence() -> ConnectReportBuilder {
    let local = localDescription
    let remote = remoteDescription
    var b = ConnectReportBuilder(
      local: .init(
        profile: natProfile, candidates: local?.candidates ?? [],
        turn: configuration.turnServers.map(\.transport), relays: relayOutcomes(),
        portMapping: mapping.map { mappingReport($0.report) },
        probeServerOnThisHost: natProfile == nil ? nil : probeServerOnThisHost),
      remote: remote.map { ConnectReportBuilder.Side($0) }
        ?? .init(profile: nil, candidates: []))
    let agent = ice.agent
    b.role = agent.role
    b.peerDescriptionReceived = remote != nil
    b.peerChecksReceived =
      agent.peerCheckReceived
      ? max(1, agent.pairs.map(\.stats.requestsReceived).reduce(0, +)) : 0
    b.peerWaitExpired = waitExpired.map { ($0, configuration.peerWaitTimeout) }
    if let waited = waitedForPeer {
      b.peerWait = .init(
        waitedForKind, waitedMs: waited.milliseconds.rounded(toPlaces: 1), came: waitCame)
    }
    let selected = agent.selectedPair
    b.pairs = agent.pairs.map { p in
      var o = ConnectReport.PairOutcome(p, anotherSelected: selected != nil)
      // A check answered with another address than the local candidate went through this
      // host's NAT: its valid pair's local candidate is that address (server-reflexive when
      // STUN had already shown it, else peer-reflexive).
      if o.succeeded, let v = p.validPairID, v != p.id,
        let valid = agent.pair(id: v), valid.local.address != p.local.address
      {
        o.peerReflexive = ConnectReport.Endpoint(valid.local)
      }
      if o.failure == .unreachable,
        let u = ice.unreachable[
          ICESession.PairKey(base: p.local.base ?? p.local.address, remote: p.remote.address)]
      {
        o.detail = u.description
        o.icmp = u.kind
      }
      return o
    }
    if let s = selected {
      // A valid pair learnt from a check (peer-reflexive local) has no checks of its own: the
      // round trip is that of the checks that produced it.
      let rtts = agent.pairs.filter { $0.id == s.id || $0.validPairID == s.id }.compactMap {
        $0.stats.minRTTMs
      }
      b.selectedPair = ConnectReport.SelectedPair(
        local: ConnectReport.Endpoint(s.local), remote: ConnectReport.Endpoint(s.remote),
        rttMs: rtts.min().map { $0.rounded(toPlaces: 2) })
    }
    let stats = agent.pairs.map(\.stats)
    let checks = stats.map(\.requestsSent).reduce(0, +)
    if checks > 0 {
      b.loss = ConnectReport.Loss(
        checks: checks, checksRetransmitted: stats.map(\.checksRetransmitted).reduce(0, +),
        answersLost: stats.map(\.requestsRepeatedByPeer).reduce(0, +),
        provenChecks: stats.map(\.checksOnProvenPath).reduce(0, +),
        provenChecksRetransmitted: stats.map(\.checksOnProvenPathRetransmitted).reduce(0, +))
    }
    let connected = selected == nil ? nil : (connectedAt ?? runtime.now)
    b.timings = ConnectReport.Timings(
      gatheringMs: ms(gatheringEndedAt), firstCheckMs: ms(firstCheckAt),
      connectedMs: ms(connected), checksStartedMs: ms(iceStartedAt),
      waitedForPeerMs: waitedForPeer.map { $0.milliseconds.rounded(toPlaces: 1) },
      waitedFor: waitedForPeer == nil ? nil : waitedForKind)
    if let c = connected, let s = iceStartedAt {
      b.timeToConnectedMs = max(0, (c - s).milliseconds).rounded(toPlaces: 1)
    }
    b.dtls = dtlsEvidence()
    if mtuResult == nil, var s = mtuSearch {
      // The session ends while the search runs: what it knows so far, marked unfinished.
      _ = s.cancel(at: runtime.now)
      b.pathMTU = s.result
    } else {
      b.pathMTU = mtuResult
    }
    b.pathMTUTurnedOff = configuration.pathMTUTurnedOff
    return b
  }

  /// What each configured TURN server did, as recorded when it happened: the relayed
  /// address, or the reason there is none (the report module words it).
  func relayOutcomes() -> [ConnectReport.RelayServer] {
    configuration.turnServers.map { server in
      (relayEvidence[server.address]
        ?? ConnectRelayEvidence(server: server.address, transport: server.relayTransport))
        .row(gatheringTimeout: configuration.gatheringTimeout)
    }
  }

  /// The time from holding both descriptions (for an answerer that waited, from the
  /// offerer's first check) to the selected pair, when both happened.
  public var checksToConnectedMs: Double? {
    guard let a = iceStartedAt ?? remoteSetAt, let c = connectedAt else { return nil }
    return max(0, (c - a).milliseconds)
  }

  /// The time from holding both descriptions (for an answerer that waited, from the
  /// offerer's first check) to the verdict (connected or failed).
  public var checksToVerdictMs: Double? {
    guard let a = iceStartedAt ?? remoteSetAt, let v = verdictAt else { return nil }
    return max(0, (v - a).milliseconds)
  }

  /// How long this side waited for the person at the other end (for the answer, or for the
  /// offerer's first check), once that wait ended.
  public var waitedForPeerMs: Double? { waitedForPeer?.milliseconds }

  /// What this side waits for (or waited for last).
  private var waitedForKind: ConnectPeerWait {
    configuration.role == .offer ? .answer : .checks
  }

  // MARK: - Events

  private func setPhase(_ p: ConnectPhase) {
    guard phase != p else { return }
    phase = p
    record(.phaseChanged(p))
  }

  private func record(_ e: ConnectEvent) {
    switch e {
    case .relay(let server, let event): relayEvidence[server]?.record(event)
    case .relayUnavailable(let server, let why): relayEvidence[server]?.unavailable = why
    case .relayCertificate(let server, let c): relayEvidence[server]?.certificate = c
    default: break
    }
    let entry = ConnectLogEntry(at: runtime.now, event: e)
    log.append(entry)
    onEvent?(entry)
  }
}

/// Lets relay factories made before the session exists find it.
private final class ConnectSessionRelays {
  weak var session: ConnectSession?
}

extension Double {
  fileprivate func rounded(toPlaces n: Int) -> Double {
    var f = 1.0
    for _ in 0..<n { f *= 10 }
    return (self * f).rounded() / f
  }
}
