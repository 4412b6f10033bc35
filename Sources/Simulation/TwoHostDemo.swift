import STUN
import Traversal

/// How `natscope demo --a … --b …` sets up its simulated run.
public struct TwoHostDemoConfiguration: Sendable, Hashable {
  /// Host A's network.
  public var a: SitePreset
  /// Host B's network.
  public var b: SitePreset
  /// Whether both hosts may use the lab's TURN relay.
  public var turn: Bool
  /// The seed of every random choice (ports, loss, jitter, ICE credentials, tie-breakers).
  public var seed: UInt64
  /// Loss on each site's uplink, each way (0...1).
  public var loss: Double
  /// The fixed part of each hop's one-way latency onto the internet.
  public var latency: Duration
  /// The random extra delay of each hop, drawn per datagram in `0...jitter`.
  public var jitter: Duration
  /// How long signalling (candidates from one host to the other) takes.
  public var signalingDelay: Duration
  /// The virtual time after which the run stops whatever state ICE is in.
  public var timeLimit: Duration

  /// A configuration; latency 10 ms plus up to 20 ms of jitter per hop (10–30 ms).
  public init(
    a: SitePreset, b: SitePreset, turn: Bool = true, seed: UInt64 = 1, loss: Double = 0,
    latency: Duration = .milliseconds(10), jitter: Duration = .milliseconds(20),
    signalingDelay: Duration = .milliseconds(50), timeLimit: Duration = .seconds(40)
  ) {
    self.a = a
    self.b = b
    self.turn = turn
    self.seed = seed
    self.loss = loss
    self.latency = latency
    self.jitter = jitter
    self.signalingDelay = signalingDelay
    self.timeLimit = timeLimit
  }
}

/// One of the demo's two hosts.
public enum TwoHostDemoSide: String, Codable, Sendable, Hashable, CaseIterable {
  case a, b

  /// "A" or "B".
  public var label: String { rawValue.uppercased() }
}

/// Where a two-host demo is.
public enum TwoHostDemoPhase: String, Codable, Sendable, Hashable {
  /// Not started.
  case idle
  /// Both hosts run the RFC 5780 probe against the simulated STUN server.
  case probing
  /// Both hosts gather candidates, exchange them and run ICE checks.
  case connecting
  /// The result is ready.
  case finished
}

/// Something that happened in a two-host demo, for live views (the TUI) and logs.
public enum TwoHostDemoEvent: Sendable, Hashable {
  /// The phase changed.
  case phase(TwoHostDemoPhase)
  /// A probe step started or finished on a host.
  case probeStep(TwoHostDemoSide, ProbeAction)
  /// A host's probe finished.
  case probed(TwoHostDemoSide, ProbeReport)
  /// A host's probe could not run (a socket could not be opened).
  case probeFailed(TwoHostDemoSide, String)
  /// A host's ICE session did or saw something.
  case ice(TwoHostDemoSide, ICELogEntry)
  /// A host's TURN allocation changed state.
  case turn(TwoHostDemoSide, TURNClientEvent)
  /// The run is over.
  case finished(TwoHostDemoResult)
}

/// The two-host story on a `SimulatedLab`: host A and host B, each behind a chosen NAT, first
/// probe their NATs (RFC 5780, against the lab's STUN server), then connect to each other with
/// ICE — host, server-reflexive and (unless turned off) relayed candidates from the lab's TURN
/// relay — exchanging candidates in-process after `signalingDelay`. The result holds both
/// probe reports, the prediction from them, and the connect report as host A sees it.
///
/// Drive it on virtual time with ``runToEnd()``, or start it and run the lab's network
/// yourself (e.g. `lab.network.runRealTime(for:onTick:)` until ``isFinished``).
///
/// ```swift
/// let demo = try TwoHostDemo(TwoHostDemoConfiguration(
///   a: try SitePreset.parse("symmetric").get(), b: try SitePreset.parse("port-restricted").get()))
/// let result = demo.runToEnd()
/// print(result.connect.state)
/// ```
///
/// Deterministic: the same configuration gives the same result.
public final class TwoHostDemo {
  public let configuration: TwoHostDemoConfiguration
  public let lab: SimulatedLab
  public let hostA: SimulatedHost
  public let hostB: SimulatedHost
  /// Called for every event, in order, on the simulation's thread.
  public var onEvent: ((TwoHostDemoEvent) -> Void)?
  public private(set) var phase = TwoHostDemoPhase.idle
  /// The probe reports, as they arrive.
  public private(set) var probes: [TwoHostDemoSide: ProbeReport] = [:]
  /// The ICE sessions, once connecting.
  public private(set) var sessionA: ICESession?
  public private(set) var sessionB: ICESession?
  /// The result, once finished.
  public private(set) var result: TwoHostDemoResult?

  private var probesPending = 0
  private var probeFailures: [TwoHostDemoSide: String] = [:]
  private var connectStartedAt: Instant?
  private var deadline: Instant?
  private var watchdog: (any TimerHandle)?

  /// Builds the lab (STUN server, TURN relay when enabled, both sites); nothing runs yet.
  public init(_ configuration: TwoHostDemoConfiguration) throws {
    self.configuration = configuration
    lab = try SimulatedLab(
      seed: configuration.seed, latency: configuration.latency, jitter: configuration.jitter)
    if configuration.turn { try lab.addTURNRelay() }
    hostA = try configuration.a.addSite(to: lab, name: "a", loss: configuration.loss)
    hostB = try configuration.b.addSite(to: lab, name: "b", loss: configuration.loss)
  }

  /// Whether the result is ready.
  public var isFinished: Bool { phase == .finished }

  /// Starts the probes (the connection follows on its own).
  public func start() {
    guard phase == .idle else { return }
    set(.probing)
    deadline = lab.network.now + configuration.timeLimit
    probesPending = 2
    for side in TwoHostDemoSide.allCases {
      let host = self.host(side)
      let session = ProbeSession(
        runtime: host,
        configuration: ProbeConfiguration(
          servers: [lab.stunServerAddress], localAddresses: host.localAddresses()))
      session.onStep = { [weak self] action in self?.emit(.probeStep(side, action)) }
      session.start { [weak self] result in
        guard let self else { return }
        switch result {
        case .success(let report):
          self.probes[side] = report
          self.emit(.probed(side, report))
        case .failure(let error):
          self.probeFailures[side] = "\(error)"
          self.emit(.probeFailed(side, "\(error)"))
        }
        self.probesPending -= 1
        if self.probesPending == 0 { self.connect() }
      }
    }
  }

  /// Starts, runs on virtual time until the result is ready (bounded by the time limit plus
  /// the probes), and returns the result.
  @discardableResult
  public func runToEnd() -> TwoHostDemoResult {
    start()
    // Bounded: each step advances virtual time by 100 ms; the watchdog finishes the run at
    // the time limit.
    let steps = Int(configuration.timeLimit.milliseconds / 100) + 600
    for _ in 0..<steps where !isFinished {
      lab.network.run(for: .milliseconds(100))
    }
    if !isFinished { finish() }
    return result ?? makeResult()
  }

  /// The host on `side`.
  public func host(_ side: TwoHostDemoSide) -> SimulatedHost { side == .a ? hostA : hostB }

  // MARK: - Connecting

  private func connect() {
    guard phase == .probing else { return }
    set(.connecting)
    let now = lab.network.now
    connectStartedAt = now
    let config = ICESessionConfiguration(
      stunServers: [lab.stunServerAddress], gatheringTimeout: .seconds(4))
    func relays(_ side: TwoHostDemoSide) -> [RelayChannelFactory] {
      guard let relay = lab.turnRelay else { return [] }
      return [
        relay.relayFactory(for: host(side)) { [weak self] e in self?.emit(.turn(side, e)) }
      ]
    }
    let seed = configuration.seed
    let a = ICESession(
      runtime: hostA, role: .controlling, configuration: config, relays: relays(.a),
      generator: SeededGenerator(seed: seed &* 2 &+ 1))
    let b = ICESession(
      runtime: hostB, role: .controlled, configuration: config, relays: relays(.b),
      generator: SeededGenerator(seed: seed &* 2 &+ 2))
    sessionA = a
    sessionB = b
    a.setRemoteCredentials(b.localCredentials)
    b.setRemoteCredentials(a.localCredentials)
    wire(a, side: .a, to: b)
    wire(b, side: .b, to: a)
    a.start()
    b.start()
    let limit = deadline ?? now + configuration.timeLimit
    watchdog = hostA.schedule(at: max(limit, now + .seconds(10))) { [weak self] in
      self?.finish()
    }
  }

  /// Forwards `from`'s candidates and end of candidates to `to` after the signalling delay,
  /// reports its events, and finishes the run once both agents have settled.
  private func wire(_ from: ICESession, side: TwoHostDemoSide, to: ICESession) {
    let host = self.host(side)
    let delay = configuration.signalingDelay
    from.onEvent = { [weak self, weak to] entry in
      guard let self else { return }
      self.emit(.ice(side, entry))
      switch entry.event {
      case .candidateGathered(let c) where c.type != .prflx:
        _ = host.schedule(at: host.now + delay) { to?.addRemoteCandidate(c) }
      case .gatheringDone:
        _ = host.schedule(at: host.now + delay) { to?.endOfRemoteCandidates() }
      case .agentStateChanged:
        self.finishIfSettled()
      default:
        break
      }
    }
  }

  private static func settled(_ s: ICESession?) -> Bool {
    guard let s else { return false }
    return s.state == .completed || s.state == .failed || s.state == .closed
  }

  private func finishIfSettled() {
    guard phase == .connecting, Self.settled(sessionA), Self.settled(sessionB) else { return }
    // Let the event handler that called us return before closing the sessions.
    _ = hostA.schedule(at: hostA.now) { [weak self] in self?.finish() }
  }

  private func finish() {
    guard phase != .finished else { return }
    watchdog?.cancel()
    watchdog = nil
    let r = makeResult()
    result = r
    sessionA?.close()
    sessionB?.close()
    lab.turnRelay?.closeAllocations()
    set(.finished)
    emit(.finished(r))
  }

  private func makeResult() -> TwoHostDemoResult {
    let start = connectStartedAt ?? lab.network.now
    let pa = probes[.a]?.profile
    let pb = probes[.b]?.profile
    var connect: ConnectReport
    if let a = sessionA, let b = sessionB {
      connect = ICESessionReport.build(
        local: a, remote: b, localProfile: pa, remoteProfile: pb,
        turn: configuration.turn ? [.udp] : [], startedAt: start)
    } else {
      connect = ConnectReportBuilder(
        local: .init(profile: pa, candidates: []), remote: .init(profile: pb, candidates: [])
      ).build()
    }
    Self.explainBlockedUDP(&connect, a: pa, b: pb, turn: configuration.turn)
    let prediction: PathPrediction =
      if let pa, let pb { .reflexive(pa, pb) } else {
        PathPrediction(.unknown, "A probe did not finish, so there is no prediction.")
      }
    return TwoHostDemoResult(
      seed: configuration.seed, lossPercent: configuration.loss * 100,
      latencyMs: configuration.latency.milliseconds, jitterMs: configuration.jitter.milliseconds,
      turn: configuration.turn,
      a: .init(
        preset: configuration.a.name, nat: configuration.a.summary,
        host: hostA.localAddresses().first?.description ?? "?", probe: probes[.a],
        probeError: probeFailures[.a]),
      b: .init(
        preset: configuration.b.name, nat: configuration.b.summary,
        host: hostB.localAddresses().first?.description ?? "?", probe: probes[.b],
        probeError: probeFailures[.b]),
      turnServer: lab.turnRelay?.serverAddress.description, prediction: prediction,
      connect: connect, finishedAtMs: lab.network.now.milliseconds)
  }

  /// The simulated TURN relay is reached over UDP only: when a host's UDP is blocked, say so
  /// (and that TURN over TCP is what it would take) instead of the generic reasons ("no pair
  /// could be formed", "the relay gave no address").
  static func explainBlockedUDP(
    _ r: inout ConnectReport, a: NATProfile?, b: NATProfile?, turn: Bool
  ) {
    guard a?.udpBlocked == true || b?.udpBlocked == true else { return }
    let who =
      a?.udpBlocked == true && b?.udpBlocked == true
      ? "both hosts' networks"
      : (a?.udpBlocked == true ? "this host's network" : "the peer's network")
    let noUDP =
      "UDP is blocked on \(who), so no UDP path can work; only a TURN relay over TCP or TLS could connect these hosts."
    if !r.paths.direct.succeeded { r.paths.direct.reason = noUDP }
    if !r.paths.reflexive.succeeded { r.paths.reflexive.reason = noUDP }
    guard turn, !r.paths.relay.succeeded else { return }
    let reason =
      "UDP is blocked on \(who), so the TURN relay cannot be reached over UDP either; only TURN over TCP or TLS could relay, which the simulation does not model."
    r.paths.relay.reason = reason
    r.prediction.relay = PathPrediction(.fails, reason)
  }

  // MARK: - Events

  private func set(_ p: TwoHostDemoPhase) {
    phase = p
    emit(.phase(p))
  }

  private func emit(_ e: TwoHostDemoEvent) { onEvent?(e) }
}
