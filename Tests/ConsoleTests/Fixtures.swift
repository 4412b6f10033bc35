import Console
import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

/// Real engine output for the frames: probes run on `SimulatedLab` with a fixed seed.
enum Fixtures {
  /// Every action a probe behind a port-restricted cone NAT reported, and its report.
  static func probeRun() throws -> (actions: [ProbeAction], report: ProbeReport) {
    let lab = try SimulatedLab(seed: 7)
    let host = try lab.addSite("client", behavior: .portRestrictedCone)
    let session = ProbeSession(
      runtime: host,
      configuration: ProbeConfiguration(
        servers: [lab.stunServerAddress], localAddresses: host.localAddresses()))
    var actions: [ProbeAction] = []
    var report: ProbeReport?
    session.onStep = { actions.append($0) }
    session.start { result in
      if case .success(let r) = result {
        report = r
        actions.append(.finished(r))
      }
    }
    lab.network.run(for: .seconds(30))
    guard let report else { throw FixtureError.probeDidNotFinish }
    return (actions, report)
  }

  enum FixtureError: Error { case probeDidNotFinish, noHomeRouter }

  /// The probe screen of a host behind a home router (PCP and NAT-PMP) behind a carrier-grade
  /// NAT, with the router asked alongside the probe, as `natscope probe` does on the console;
  /// `finished` false stops after the router answered but before the probe is done.
  static func doubleNATProbeScreen(finished: Bool, rows: Int, cols: Int) throws -> ProbeScreen {
    let lab = try SimulatedLab(seed: 7)
    let host = try lab.addCarrierSite("client")
    guard let home = lab.network.nats.first(where: { $0.name == "client-home-nat" }) else {
      throw FixtureError.noHomeRouter
    }
    let router = RouterPortMapping(box: home, network: lab.network, protocols: [.pcp, .natPMP])
    var screen = ProbeScreen(
      server: "203.0.113.10:3478", asksRouter: true, rows: rows, cols: cols)
    let session = ProbeSession(
      runtime: host,
      configuration: ProbeConfiguration(
        servers: [lab.stunServerAddress], localAddresses: host.localAddresses()))
    let mapper = PortMappingSession(runtime: host, connector: nil)
    session.onStep = { ConsoleUpdate.update(&screen, engine: .action($0)) }
    session.start { result in
      if case .success(let r) = result {
        ConsoleUpdate.update(&screen, engine: .action(.finished(r)))
      }
    }
    mapper.start { ConsoleUpdate.update(&screen, engine: .portMapping($0)) }
    lab.network.run(for: finished ? .seconds(30) : .milliseconds(300))
    _ = router
    if !finished { ConsoleUpdate.update(&screen, engine: .clock(300)) }
    return screen
  }

  /// The probe screen after the first `count` actions (all when nil).
  static func probeScreen(after count: Int? = nil, rows: Int, cols: Int) throws -> ProbeScreen {
    let run = try probeRun()
    var screen = ProbeScreen(server: "203.0.113.10:3478", rows: rows, cols: cols)
    let actions = count.map { Array(run.actions.prefix($0)) } ?? run.actions
    for action in actions { ConsoleUpdate.update(&screen, engine: .action(action)) }
    if count != nil { ConsoleUpdate.update(&screen, engine: .clock(412)) }
    return screen
  }

  /// The demo: one host behind each preset, probes started 300 ms apart, events recorded with
  /// their simulated time.
  static func demoEvents() throws -> (
    sites: [DemoScreen.Site], events: [(Double, DemoScreen.Event)]
  ) {
    let lab = try SimulatedLab(seed: 1, latency: .milliseconds(10))
    var sites: [DemoScreen.Site] = []
    var events: [(Double, DemoScreen.Event)] = []
    for (i, (name, behavior)) in NATBehavior.presets.enumerated() {
      let host =
        name == "cgnat"
        ? try lab.addCarrierSite(name)
        : try lab.addSite(name, behavior: name == "open" ? nil : behavior)
      sites.append(
        DemoScreen.Site(preset: name, host: host.localAddresses().first?.description ?? "?"))
      let configuration = ProbeConfiguration(
        servers: [lab.stunServerAddress], localAddresses: host.localAddresses())
      _ = lab.network.schedule(at: .zero + .milliseconds(300) * i) {
        let session = ProbeSession(runtime: host, configuration: configuration)
        session.onStep = { events.append((lab.network.now.milliseconds, .step(site: i, $0))) }
        session.start { result in
          if case .success(let r) = result {
            events.append((lab.network.now.milliseconds, .step(site: i, .finished(r))))
          }
        }
      }
    }
    lab.network.run(for: .seconds(30))
    return (sites, events)
  }

  /// The demo screen at simulated time `ms` (everything when nil).
  static func demoScreen(at ms: Double? = nil, rows: Int, cols: Int) throws -> DemoScreen {
    let run = try demoEvents()
    var screen = DemoScreen(
      sites: run.sites, server: "203.0.113.10:3478",
      setting: "seed 1, 10 ms per hop, 0% loss", rows: rows, cols: cols)
    var last = 0.0
    for (t, event) in run.events where ms.map({ t <= $0 }) ?? true {
      ConsoleUpdate.update(&screen, engine: event)
      last = t
    }
    ConsoleUpdate.update(&screen, engine: .clock(ms ?? last))
    return screen
  }

  /// A connect screen mid-way through checks (until the ICE engine feeds real events).
  static func connectModel(pairs: Int = 9) -> ConnectViewModel {
    var m = ConnectViewModel()
    m.agentState = .checking
    m.role = "controlling"
    m.elapsedMs = 1834
    m.candidates = [
      .init(
        side: .local, kind: "host", address: "192.168.1.10:50000", priority: 2_130_706_431,
        foundation: "1"),
      .init(
        side: .local, kind: "srflx", address: "198.51.100.1:61000", related: "192.168.1.10:50000",
        priority: 1_694_498_815, foundation: "2"),
      .init(
        side: .local, kind: "relay", address: "203.0.113.20:49152", related: "198.51.100.1:61000",
        priority: 16_777_215, foundation: "3"),
      .init(
        side: .remote, kind: "host", address: "10.0.0.5:40000", priority: 2_130_706_431,
        foundation: "1"),
      .init(
        side: .remote, kind: "srflx", address: "198.51.100.2:42000", related: "10.0.0.5:40000",
        priority: 1_694_498_815, foundation: "2"),
    ]
    let locals = [
      ("host", "192.168.1.10:50000"), ("srflx", "198.51.100.1:61000"),
      ("relay", "203.0.113.20:49152"),
    ]
    let remotes = [
      ("host", "10.0.0.5:40000"), ("srflx", "198.51.100.2:42000"), ("relay", "203.0.113.21:49153"),
    ]
    let states: [ConnectViewModel.Pair.State] = [
      .failed, .succeeded, .inProgress, .waiting, .frozen,
    ]
    for k in 0..<pairs {
      let l = locals[k % 3]
      let r = remotes[(k / 3) % 3]
      let state = k == 4 ? ConnectViewModel.Pair.State.succeeded : states[k % states.count]
      m.pairs.append(
        .init(
          id: "\(k % 3 + 1):\((k / 3) % 3 + 1)#\(k)", local: l.1, remote: r.1, localKind: l.0,
          remoteKind: r.0, state: state, nominated: k == 4, selected: k == 4,
          rttMs: state == .succeeded ? 21.5 + Double(k) : nil, checksSent: k % 4 + 1,
          checksAnswered: state == .succeeded ? 1 : 0,
          failureReason: state == .failed
            ? "no answer after 7 checks (private address not routable)" : nil,
          priority: UInt64(9_000_000_000 - k * 1000)))
    }
    m.log = [
      "0.000 gathering started (STUN 203.0.113.10:3478, TURN 203.0.113.20:3478)",
      "0.002 candidate host 192.168.1.10:50000",
      "0.041 candidate srflx 198.51.100.1:61000 raddr 192.168.1.10 rport 50000",
      "0.093 candidate relay 203.0.113.20:49152",
      "0.094 gathering done (3 candidates)",
      "1.210 remote candidates: 2 (a=candidate lines parsed)",
      "1.211 state checking",
      "1.420 check 192.168.1.10:50000 -> 10.0.0.5:40000 timed out",
      "1.533 pair srflx 198.51.100.1:61000 -> srflx 198.51.100.2:42000 succeeded (25.5 ms)",
      "1.534 nominated srflx/srflx",
    ]
    m.localToken =
      "natscope1:eyJ1ZnJhZyI6ImFiY2QiLCJwd2QiOiIwMTIzNDU2Nzg5YWJjZGVmIiwiY2FuZGlkYXRlcyI6WyIxIDEgdWRwIl19"
    return m
  }

  /// A token as long as a real one with a few candidates (about 300 characters).
  static let longToken: String = {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var body = ""
    for _ in 0..<290 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      body.append(alphabet[Int(state >> 58)])
    }
    return "natscope1." + body
  }()

  /// The lines of a connect report, in the shape ConnectReportText writes them.
  static func connectReportLines(connected: Bool) -> [String] {
    let head =
      connected
      ? [
        "Connected in 412 ms, through the NATs (srflx ↔ srflx).",
        "Selected pair: 198.51.100.1:61000 ↔ 198.51.100.2:42000, RTT 25.5 ms.",
      ]
      : [
        "Not connected: no pair answered within 15 s (7 checks on each of 5 pairs).",
        "Consent to send was lost on the selected pair after 9.2 s.",
      ]
    return head + [
      "",
      "NATs: this host port-restricted cone (EIM, APDF), peer port-restricted cone (EIM, APDF).",
      "Prediction: a direct path through the NATs should work (both map independently of the destination).",
      "",
      "Paths",
      "  ✗ direct     192.168.1.10:50000 ↔ 10.0.0.5:40000: no answer after 7 checks (private address not routable from the peer).",
      connected
        ? "  ✓ reflexive  Worked: 198.51.100.1:61000 ↔ 198.51.100.2:42000 answered in 25.5 ms."
        : "  ✗ reflexive  198.51.100.1:61000 ↔ 198.51.100.2:42000: no answer after 7 checks.",
      "  – relay      Not needed: a better path worked first; no TURN server was given.",
      "",
      "Timings",
      "  gathering        94 ms (3 candidates)",
      "  waited for peer  1.1 s (the peer's answer)",
      "  checks           318 ms to the selected pair",
      "",
      "Candidates",
      "  local   host 192.168.1.10:50000, srflx 198.51.100.1:61000, relay 203.0.113.20:49152",
      "  remote  host 10.0.0.5:40000, srflx 198.51.100.2:42000",
      "",
      "Pairs: 5 formed, 4 checked, 2 succeeded, 1 failed.",
      "Last line of the report.",
    ]
  }
}

extension Fixtures {
  /// The demo's live story on virtual time: host A behind a symmetric NAT, host B behind a
  /// port-restricted cone (so host, server-reflexive and relayed pairs are all tried), its
  /// events mapped for the live screen as `natscope demo` maps them, with their simulated time.
  static func demoLiveEvents() throws -> [(ms: Double, event: DemoLiveScreen.Event)] {
    let configuration = TwoHostDemoConfiguration(
      a: try SitePreset.parse("symmetric").get(), b: try SitePreset.parse("port-restricted").get())
    let demo = try TwoHostDemo(configuration)
    var feed = DemoLiveFeed(natA: configuration.a.name, natB: configuration.b.name)
    var events: [(ms: Double, event: DemoLiveScreen.Event)] = []
    demo.onEvent = { event in
      var out: [DemoLiveScreen.Event] = []
      switch event {
      case .probed(let side, let report): out = feed.probed(hostA: side == .a, report)
      case .probeFailed(let side, let why): out = feed.probeFailed(hostA: side == .a, why)
      case .connect(.a, let entry): out = feed.hostA(entry)
      case .connect(.b, let entry): out = feed.hostB(entry)
      case .finished(let r): out = [feed.outcome(prediction: r.prediction, report: r.connect)]
      default: break
      }
      let ms = demo.lab.network.now.milliseconds
      for e in out { events.append((ms, e)) }
      if !out.isEmpty { events.append((ms, .clock(ms))) }
    }
    demo.runToEnd()
    return events
  }

  /// The live screen after each event of one run, in order.
  static func demoLiveScreens(rows: Int, cols: Int) throws -> [DemoLiveScreen] {
    var screen = DemoLiveScreen(natA: "symmetric", natB: "port-restricted", rows: rows, cols: cols)
    var out: [DemoLiveScreen] = []
    for (_, event) in try demoLiveEvents() {
      ConsoleUpdate.update(&screen, engine: event)
      out.append(screen)
    }
    return out
  }
}
