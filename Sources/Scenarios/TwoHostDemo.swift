import Report
import Runtime
import STUN
import Sessions
import Simulation
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
  /// Whether the hosts use port mapping as the real commands do: each probe asks its router
  /// read-only (as `natscope probe`), each connect session asks for a mapping (as `natscope
  /// connect`, unless `--no-port-mapping`). On by default.
  public var portMapping: Bool
  /// Whether both hosts run DTLS after ICE, as `natscope connect` does. Off by default: OpenSSL
  /// keeps its retransmission timer on the wall clock, so a lost DTLS datagram is recovered
  /// only in a run paced to real time (the console), not in one that skips idle time; and each
  /// run's certificate is fresh, so a report with DTLS is not the same twice.
  public var dtls: Bool
  /// Whether both hosts search for the largest datagram on the selected pair, as `natscope
  /// connect` does. Off by default (the demo shows ICE and DTLS).
  public var pathMTU: Bool
  /// The largest IP datagram host A's uplink carries, both ways (a path MTU black hole);
  /// nil carries any size. Not for a carrier-grade site.
  public var largestDatagramA: Int?

  /// A configuration; latency 10 ms plus up to 20 ms of jitter per hop (10–30 ms).
  public init(
    a: SitePreset, b: SitePreset, turn: Bool = true, seed: UInt64 = 1, loss: Double = 0,
    latency: Duration = .milliseconds(10), jitter: Duration = .milliseconds(20),
    signalingDelay: Duration = .milliseconds(50), timeLimit: Duration = .seconds(40),
    portMapping: Bool = true, dtls: Bool = false, pathMTU: Bool = false,
    largestDatagramA: Int? = nil
  ) {
    self.pathMTU = pathMTU
    self.largestDatagramA = largestDatagramA
    self.portMapping = portMapping
    self.dtls = dtls
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
  /// A host's connect session did or saw something (ICE, TURN, descriptions, verdict).
  case connect(TwoHostDemoSide, ConnectLogEntry)
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
  /// The connect sessions (A offers, B answers), once connecting.
  public private(set) var sessionA: ConnectSession?
  public private(set) var sessionB: ConnectSession?
  /// The result, once finished.
  public private(set) var result: TwoHostDemoResult?

  private var probesPending = 0
  private var probeFailures: [TwoHostDemoSide: String] = [:]
  private var deadline: Instant?
  private var watchdog: (any TimerHandle)?

  /// Builds the lab (STUN server, TURN relay when enabled, both sites); nothing runs yet.
  public init(_ configuration: TwoHostDemoConfiguration) throws {
    self.configuration = configuration
    lab = try SimulatedLab(
      seed: configuration.seed, latency: configuration.latency, jitter: configuration.jitter)
    if configuration.turn { try lab.addTURNRelay() }
    hostA = try configuration.a.addSite(
      to: lab, name: "a", loss: configuration.loss,
      largestDatagram: configuration.largestDatagramA)
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
      // As `natscope probe` does, each host also asks its router, read-only, about port
      // mapping and the router's own external address (at the same time as the probe).
      let ask =
        configuration.portMapping
        ? PortMappingSession(
          runtime: host, connector: host.rawStreamConnector(),
          generator: SeededGenerator(seed: configuration.seed &* 2 &+ (side == .a ? 101 : 102)))
        : nil
      var probeResult: Result<ProbeReport, RuntimeError>?
      var routerAnswer: PortMappingReport?
      var asked = ask == nil
      let settle = { [weak self] in
        guard let self, let result = probeResult, asked else { return }
        switch result {
        case .success(var report):
          if let routerAnswer { report.attach(portMapping: routerAnswer) }
          self.probes[side] = report
          self.emit(.probed(side, report))
        case .failure(let error):
          self.probeFailures[side] = "\(error)"
          self.emit(.probeFailed(side, "\(error)"))
        }
        self.probesPending -= 1
        if self.probesPending == 0 { self.connect() }
      }
      session.start { result in
        probeResult = result
        settle()
      }
      ask?.start { report in
        // The completion keeps the session alive until it has run.
        _ = ask
        routerAnswer = report
        asked = true
        settle()
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
    // Let the sessions release their TURN allocations and close (bounded virtual time).
    lab.network.run(for: .seconds(8))
    return result ?? makeResult()
  }

  /// The host on `side`.
  public func host(_ side: TwoHostDemoSide) -> SimulatedHost { side == .a ? hostA : hostB }

  // MARK: - Connecting

  /// Both hosts run a `ConnectSession` (what `natscope connect` runs): A offers, B answers,
  /// and each description travels as token text after the signalling delay, as if pasted.
  private func connect() {
    guard phase == .probing else { return }
    set(.connecting)
    let now = lab.network.now
    func session(_ side: TwoHostDemoSide) -> ConnectSession {
      // A host whose UDP is blocked reaches the relay over TCP, as its user would configure
      // (`--turn turn:…?transport=tcp`).
      let overTCP = (side == .a ? configuration.a : configuration.b).blocksOutgoingUDP
      let relay = lab.turnRelay
      let turn = relay.map { [overTCP ? $0.connectServerOverTCP : $0.connectServer] } ?? []
      var settings = ConnectSessionConfiguration(
        role: side == .a ? .offer : .answer, stunServers: [lab.stunServerAddress],
        turnServers: turn, gatheringTimeout: .seconds(3),
        // Both hosts ran the full probe already; its profiles go into the report.
        probeTimeout: nil,
        // As `natscope connect` does by default: a mapping on the host's default gateway.
        portMapping: configuration.portMapping ? ConnectPortMappingConfiguration() : nil)
      // DTLS after ICE, as `natscope connect` runs it (a certificate OpenSSL cannot make
      // leaves it out, and the report then says nothing about DTLS).
      if configuration.dtls { settings.dtls = try? ConnectDTLSSettings.fresh() }
      if configuration.pathMTU { settings.pathMTU = PathMTUConfiguration() }
      return ConnectSession(
        runtime: host(side),
        configuration: settings,
        streamConnector: overTCP ? relay?.streamConnector(for: host(side)) : nil,
        // UPnP IGD's HTTP to the router, over the simulated TCP.
        rawStreamConnector: host(side).rawStreamConnector(),
        generator: SeededGenerator(seed: configuration.seed &* 2 &+ (side == .a ? 1 : 2)))
    }
    let a = session(.a)
    let b = session(.b)
    sessionA = a
    sessionB = b
    wire(a, side: .a, to: b, expecting: .offer)
    wire(b, side: .b, to: a, expecting: .answer)
    a.start()
    b.start()
    let limit = deadline ?? now + configuration.timeLimit
    watchdog = hostA.schedule(at: max(limit, now + .seconds(10))) { [weak self] in
      self?.finish()
    }
  }

  /// Hands `from`'s description to `to` as token text after the signalling delay, reports
  /// `from`'s events, and finishes the run once both sessions have a verdict.
  private func wire(
    _ from: ConnectSession, side: TwoHostDemoSide, to: ConnectSession, expecting: SignalingRole
  ) {
    let peerHost = host(side == .a ? .b : .a)
    let delay = configuration.signalingDelay
    from.onEvent = { [weak self, weak to] entry in
      guard let self else { return }
      self.emit(.connect(side, entry))
      switch entry.event {
      case .localDescriptionReady(let d):
        let token = d.token
        _ = peerHost.schedule(at: peerHost.now + delay) {
          guard let to, let remote = try? SessionDescription(token: token, expecting: expecting)
          else { return }
          to.setRemoteDescription(remote)
        }
      case .finished:
        self.finishIfSettled()
      default:
        break
      }
    }
  }

  private func finishIfSettled() {
    guard phase == .connecting, sessionA?.report != nil, sessionB?.report != nil else { return }
    // Let the event handler that called us return first.
    _ = hostA.schedule(at: hostA.now) { [weak self] in self?.finish() }
  }

  private func finish() {
    guard phase != .finished else { return }
    watchdog?.cancel()
    watchdog = nil
    let r = makeResult()
    result = r
    // Release the TURN allocations and close the sockets (the sessions finish closing as the
    // network runs on).
    sessionA?.close()
    sessionB?.close()
    set(.finished)
    emit(.finished(r))
  }

  /// Why a host's probe verdict "UDP blocked" cannot stand: UDP answers came through later
  /// (the STUN server's answer gave a server-reflexive candidate, or a UDP check was
  /// answered), so the probe's unanswered requests were lost, not blocked. nil otherwise.
  func probeContradicted(_ side: TwoHostDemoSide) -> Finding? {
    guard probes[side]?.udpBlocked == true else { return nil }
    let mine = side == .a ? sessionA : sessionB
    let candidates = mine?.localDescription?.candidates ?? []
    // A relayed candidate from the TURN server over UDP is an answer over UDP too.
    let overUDP = !(side == .a ? configuration.a : configuration.b).blocksOutgoingUDP
    let gathered =
      candidates.contains { $0.kind == .srflx }
      || (overUDP && configuration.turn && candidates.contains { $0.kind == .relay })
    let pairs = sessionA?.report?.pairs ?? []
    let answered = pairs.contains { p in
      p.succeeded && p.local.protocol == .udp
        && (side == .a ? p.local.type != .relay : p.remote.type != .relay)
    }
    guard gathered || answered else { return nil }
    return ProbeFindings.udpBlockedContradicted(gathered: gathered)
  }

  private func makeResult() -> TwoHostDemoResult {
    let uncertainA = probeContradicted(.a)
    let uncertainB = probeContradicted(.b)
    // A probe verdict the evidence contradicts is no profile at all.
    let pa = uncertainA == nil ? probes[.a]?.profile : nil
    let pb = uncertainB == nil ? probes[.b]?.profile : nil
    func turn(_ site: SitePreset) -> [SignaledCandidate.Transport] {
      configuration.turn ? [site.blocksOutgoingUDP ? .tcp : .udp] : []
    }
    // Host A's report, rebuilt with both hosts' full probe profiles (the sessions skip their
    // quick probe); host A offers, so it is the controlling side.
    // Each host's port mapping: the demo knows both (a real peer's is not signalled).
    var b = ConnectReportBuilder(
      local: .init(
        profile: pa, candidates: sessionA?.localDescription?.candidates ?? [],
        turn: turn(configuration.a), portMapping: sessionA?.report?.local.portMapping),
      remote: .init(
        profile: pb, candidates: sessionA?.remoteDescription?.candidates ?? [],
        turn: turn(configuration.b), portMapping: sessionB?.report?.local.portMapping))
    b.role = .controlling
    // Host A's recorded evidence, with both hosts' full profiles in place of its own view.
    if let e = sessionA?.evidence {
      b.peerWait = e.peerWait
      b.peerChecksReceived = e.peerChecksReceived
      b.peerDescriptionReceived = e.peerDescriptionReceived
      b.peerWaitExpired = e.peerWaitExpired
      b.dtls = e.dtls
      b.pathMTU = e.pathMTU
    }
    if let report = sessionA?.report {
      b.pairs = sessionA?.evidence?.pairs ?? report.pairs
      b.selectedPair = report.selectedPair
      b.timings = report.timings
      // Counted from both descriptions held, as connect counts it (not from the start). The
      // demo's answer can reach host A while A still waits for its router, and A can connect
      // before it holds its own description: then from the start, never "in 0 ms".
      var early = false
      if let c = report.timings.connectedMs, let s = report.timings.checksStartedMs {
        early = c < s
      }
      b.timeToConnectedMs = early ? nil : report.timeToConnectedMs
      b.loss = report.loss
    }
    let connect = b.build()
    // A port mapping that counts (granted, not below another NAT) changes the prediction as it
    // changes the report's.
    // Worded by the report module (host A and host B), as the report words its own.
    let withMappings = b.reflexivePredictionNamingHosts()
    let prediction: PathPrediction =
      if pa != nil, pb != nil {
        withMappings.prediction
      } else if uncertainA != nil || uncertainB != nil {
        .none(.uncertainFromLoss)
      } else {
        .none(.probeUnfinished)
      }
    return TwoHostDemoResult(
      seed: configuration.seed, lossPercent: configuration.loss * 100,
      latencyMs: configuration.latency.milliseconds, jitterMs: configuration.jitter.milliseconds,
      turn: configuration.turn,
      a: .init(
        preset: configuration.a.name, nat: configuration.a.summary,
        host: hostA.localAddresses().first?.description ?? "?", probe: probes[.a],
        probeError: probeFailures[.a], probeUncertain: uncertainA?.text),
      b: .init(
        preset: configuration.b.name, nat: configuration.b.summary,
        host: hostB.localAddresses().first?.description ?? "?", probe: probes[.b],
        probeError: probeFailures[.b], probeUncertain: uncertainB?.text),
      turnServer: lab.turnRelay?.serverAddress.description, prediction: prediction,
      connect: connect, finishedAtMs: (lab.network.now.milliseconds * 10).rounded() / 10)
  }

  // MARK: - Events

  private func set(_ p: TwoHostDemoPhase) {
    phase = p
    emit(.phase(p))
  }

  private func emit(_ e: TwoHostDemoEvent) { onEvent?(e) }
}
