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
  /// Whether no quick probe is under way (none was asked for, or it ended).
  private var probeDone: Bool { !(probe?.isRunning ?? false) }
  private var probe: ConnectQuickProbe?
  private var checkTimer: (any TimerHandle)?
  private var holdTimer: (any TimerHandle)?
  /// The TURN allocations and what each server did.
  private let relays: ConnectRelays
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
  /// The wait for the person at the other end.
  private lazy var wait = ConnectPeerWaiting(
    runtime: runtime, limit: configuration.peerWaitTimeout,
    reportInterval: configuration.peerWaitReportInterval,
    record: { [weak self] e in self?.record(e) },
    live: { [weak self] in self.map { $0.report == nil } ?? false },
    onExpired: { [weak self] in self?.finish() })
  /// Set when the answerer stopped waiting for the offerer's first check because every pair
  /// had failed and both sides' measured behaviour rules out every path: no check from the
  /// offerer could arrive either.
  private var waitNeedless = false
  private var keepAlive: ConnectSession?
  /// The router's port mapping, once asked for.
  private var mapping: ConnectPortMapping?
  /// Opens UPnP IGD's TCP connections for the port mapping.
  private let rawStreamConnector: RawStreamConnector?
  /// Whether close() waits for the mapping's deletion.
  private var mappingReleasePending = false
  /// The DTLS handshake and the path MTU search on the selected pair.
  private lazy var afterICE = ConnectAfterICE(
    runtime: runtime, ice: ice, configuration: configuration,
    record: { [weak self] e in self?.record(e) },
    live: { [weak self] in self.map { $0.report == nil && $0.phase != .closed } ?? false },
    done: { [weak self] in self?.finish() })
  /// While holding after the verdict: the peer's path probes answered so far, and when the
  /// count last moved (the peer is still measuring: stay to answer it).
  private var peerProbesSeen = 0
  private var peerProbesMovedAt: Instant?

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
    let turn = ConnectRelays(servers: configuration.turnServers)
    self.relays = turn
    let iceConfiguration = ICESessionConfiguration(
      stunServers: configuration.stunServers, portRange: configuration.portRange,
      includeLoopback: configuration.includeLoopback,
      localAddresses: configuration.localAddresses,
      gatheringTimeout: configuration.gatheringTimeout, agent: configuration.agent,
      serverKeepaliveInterval: configuration.serverKeepaliveInterval)
    var factories = relays
    for server in configuration.turnServers {
      factories.append(
        turn.factory(
          server, runtime: runtime, portRange: configuration.portRange,
          connector: server.tls == nil ? streamConnector : tlsConnector?(server)))
    }
    let owner = ConnectSessionReference()
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
    turn.record = { [weak self] e in self?.record(e) }
    turn.onEnded = { [weak self] in self?.relayEnded() }
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
      ice.onDTLS = { [weak self] bytes, from, _ in
        guard let self, self.phase != .closed else { return }
        self.afterICE.input(bytes, from: from)
      }
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
    if wait.kind == .answer { wait.end(came: true) }
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
    guard iceStartedAt == nil, wait.kind != .checks, report == nil, phase != .closed,
      localDescription != nil, remoteDescription != nil
    else { return }
    if !peerHoldsOurs, !ice.agent.peerCheckReceived {
      // Until the offerer checks, its candidate list is not taken as final: our pairs may all
      // fail before the answer is even pasted there, and that is no verdict.
      wait.start(.checks)
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
      if self.afterICE.running { return }
      self.finish()
    }
  }

  /// Stops at once: releases TURN allocations and closes every socket and timer. If no verdict
  /// was reached, none is reported.
  public func close() {
    guard phase != .closed else { return }
    for t in [checkTimer, holdTimer] { t?.cancel() }
    wait.cancel()
    checkTimer = nil
    holdTimer = nil
    probe?.cancel()
    probe = nil
    releasesPending = relays.open.count
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
    afterICE.stop()
    ice.onEvent = nil
    ice.close()  // closes the relay channels it holds: Refresh LIFETIME 0
    relays.closeUnhanded()  // still allocating
    if releasesPending == 0 {
      closed()
    } else {
      // The TURN sessions report .released (or give up after their own timeout).
      closeTimer = runtime.schedule(at: runtime.now + .seconds(6)) { [weak self] in
        self?.closed()
      }
    }
  }

  // MARK: - Port mapping and relays
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

  /// An allocation ended: one release fewer to wait for once closing.
  private func relayEnded() {
    if phase != .closed, releasesPending > 0 {
      releasesPending -= 1
      if releasesPending == 0 { closed() }
    }
  }

  // MARK: - Probe

  private func startProbe(_ limit: Duration) {
    let servers = configuration.stunServers
    record(.probeStarted(servers: servers))
    probe = ConnectQuickProbe(
      runtime: runtime, servers: servers,
      localAddresses: configuration.localAddresses ?? runtime.localAddresses(),
      portRange: configuration.portRange, limit: limit
    ) { [weak self] profile, gap in self?.probeEnded(profile, gap) }
  }

  private func probeEnded(_ profile: NATProfile?, _ reason: ConnectProbeGap?) {
    probe = nil
    natProfile = profile
    record(.probeFinished(profile: profile, reason: reason))
    maybeDescriptionReady()
  }

  // MARK: - ICE

  private func iceEvent(_ entry: ICELogEntry) {
    let event: ICEEvent
    switch entry.event {
    case .gathering(let g):
      record(.gathering(g))
      return
    case .agent(let e):
      event = e
    }
    record(.ice(event))
    switch event {
    case .gatheringDone:
      gatheringEndedAt = entry.at
      maybeDescriptionReady()
    case .checkSent:
      if firstCheckAt == nil { firstCheckAt = entry.at }
    case .checkReceived:
      if wait.kind == .checks {
        wait.end(came: true)
        maybeStartChecks()
      }
      // The peer is still checking (its nominating check may have lost its answer): hold on.
      if phase == .finished, holdTimer != nil { hold() }
    case .selectedPairChanged:
      if connectedAt == nil { connectedAt = entry.at }
    case .agentStateChanged:
      evaluate()
    case .pairStateChanged(_, _, .failed, let reason, _):
      guard wait.kind == .checks, everyPairFailed else { break }
      // Waiting for a person is pointless when the offerer is gone: its sockets answer ICMP
      // port unreachable, which a live offerer's never do.
      if reason == .unreachable, offererHasQuit {
        wait.end(record: false, came: false)
        finish()
      } else if recordedEvidence().everyPathPredictedToFail {
        // And when no path can work: the offerer's checks could not arrive either.
        waitNeedless = true
        wait.end(record: false, came: false)
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
    guard everyPairFailed else { return false }
    let remotes = Set(pairs.map(\.remote.address))
    return ice.unreachable.values.contains {
      $0.kind == .portUnreachable && remotes.contains($0.destination)
    }
  }

  /// Whether pairs were formed and every one of them failed.
  private var everyPairFailed: Bool {
    let pairs = ice.agent.pairs
    return !pairs.isEmpty && pairs.allSatisfy { $0.state == .failed }
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
        DTLSParameters(
          fingerprint: $0.certificate.fingerprint,
          setup: afterICE.localSetup(remote: remoteDescription))
      })
    localDescription = d
    setPhase(remoteDescription == nil ? .waitingForRemote : .checking)
    record(.localDescriptionReady(d))
    if remoteDescription == nil, configuration.role == .offer { wait.start(.answer) }
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
      if !afterICE.start(local: localDescription, remote: remoteDescription) { finish() }
    case .failed: finish()
    default: break
    }
  }

  private func finish() {
    guard report == nil else { return }
    checkTimer?.cancel()
    checkTimer = nil
    wait.end(record: false, came: false)
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

  /// The probe's first server when every server it asks is on this host (see
  /// ``ConnectQuickProbe/serverOnThisHost(_:localAddresses:)``); nil when no probe runs.
  private var probeServerOnThisHost: TransportAddress? {
    guard configuration.probeTimeout != nil else { return nil }
    return ConnectQuickProbe.serverOnThisHost(
      configuration.stunServers,
      localAddresses: configuration.localAddresses ?? runtime.localAddresses())
  }

  /// The evidence this session recorded, handed to the report module, which derives the
  /// findings and the report from it.
  private func recordedEvidence() -> ConnectReportBuilder {
    let local = localDescription
    let remote = remoteDescription
    var b = ConnectReportBuilder(
      local: .init(
        profile: natProfile, candidates: local?.candidates ?? [],
        turn: configuration.turnServers.map(\.transport),
        relays: relays.outcomes(gatheringTimeout: configuration.gatheringTimeout),
        portMapping: mapping.map { mappingReport($0.report) },
        probeServerOnThisHost: natProfile == nil ? nil : probeServerOnThisHost),
      remote: remote.map { ConnectReportBuilder.Side($0) }
        ?? .init(profile: nil, candidates: []))
    b.role = ice.agent.role
    b.peerDescriptionReceived = remote != nil
    b.peerChecksReceived = ice.peerChecksReceived
    b.peerWaitExpired = wait.expired.map { ($0, configuration.peerWaitTimeout) }
    b.peerWaitNeedless = waitNeedless
    if let waited = wait.waited {
      b.peerWait = .init(
        waitedForKind, waitedMs: waited.milliseconds.rounded(toPlaces: 1), came: wait.came)
    }
    let pairs = ice.pairEvidence()
    b.pairs = pairs.pairs
    b.selectedPair = pairs.selected
    b.loss = pairs.loss
    let connected = pairs.selected == nil ? nil : (connectedAt ?? runtime.now)
    b.timings = ConnectReport.Timings(
      gatheringMs: ms(gatheringEndedAt), firstCheckMs: ms(firstCheckAt),
      connectedMs: ms(connected), checksStartedMs: ms(iceStartedAt),
      waitedForPeerMs: wait.waited.map { $0.milliseconds.rounded(toPlaces: 1) },
      waitedFor: wait.waited == nil ? nil : waitedForKind)
    if let c = connected, let s = iceStartedAt {
      b.timeToConnectedMs = max(0, (c - s).milliseconds).rounded(toPlaces: 1)
    }
    b.dtls = afterICE.dtlsEvidence(remote: remote)
    b.pathMTU = afterICE.pathMTUEvidence()
    b.pathMTUTurnedOff = configuration.pathMTUTurnedOff
    return b
  }

  /// The time from holding both descriptions (for an answerer that waited, from the
  /// offerer's first check) to the verdict (connected or failed).
  public var checksToVerdictMs: Double? {
    guard let a = iceStartedAt ?? remoteSetAt, let v = verdictAt else { return nil }
    return max(0, (v - a).milliseconds)
  }

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
    let entry = ConnectLogEntry(at: runtime.now, event: e)
    log.append(entry)
    onEvent?(entry)
  }
}

/// Lets the port-mapping factory, made before the session exists, find it.
private final class ConnectSessionReference {
  weak var session: ConnectSession?
}
