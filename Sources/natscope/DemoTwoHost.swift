import ArgumentParser
import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

/// The options of the two-host run of `natscope demo`.
struct DemoTwoHostOptions: ParsableArguments {
  @Option(
    name: .customLong("a"),
    help: ArgumentHelp(
      "Host A's NAT: a preset or mapping/filtering, +pcp/+nat-pmp/+upnp for port mapping (two-host run).",
      valueName: "nat"),
    completion: .list(Completions.natNames))
  var hostA: String?

  @Option(
    name: .customLong("b"),
    help: ArgumentHelp(
      "Host B's NAT: a preset or mapping/filtering, +pcp/+nat-pmp/+upnp for port mapping (two-host run).",
      valueName: "nat"),
    completion: .list(Completions.natNames))
  var hostB: String?

  @Flag(name: .customLong("no-turn"), help: "Two-host run without the TURN relay.")
  var noTURN = false

  /// Whether any two-host option was given.
  var isRequested: Bool { hostA != nil || hostB != nil || noTURN }
}

extension DemoCommand {
  /// The two-host paragraph of `natscope demo --help`.
  static let twoHostHelp = """
    NAT names: \(SitePreset.presets.map(\.name).joined(separator: ", ")) \
    (restricted-cone and port-restricted-cone work too), or a custom NAT written \
    mapping/filtering: mapping eim (endpoint-independent), adm (address-dependent) or apdm \
    (address-and-port-dependent), filtering eif, adf or apdf, e.g. eim/apdf, apdm/eif, adm/adf. \
    A suffix makes the site's router offer port mapping: +pcp, +nat-pmp, +upnp, e.g. \
    symmetric+upnp, eim/apdf+pcp+upnp; the cgnat preset's home router offers all three and \
    reports its address on the carrier's network. Each host asks its router as probe does, and \
    connects with a mapping as connect does. \
    In a two-host run each hop takes --latency to three times --latency (10-30 ms by default; --latency at most 100). \
    In a terminal it opens the live console on that pair (s, space and n pace it); with \
    --json, --no-tui or without a terminal it runs at once on virtual time.
    """

  /// The line the all-presets run ends with.
  static let twoHostHint =
    "Watch two of them connect: natscope demo --a symmetric --b port-restricted"

  /// `natscope demo --a … --b …`.
  func runTwoHost() throws {
    global.bootstrapLogging()
    guard let a = twoHost.hostA, let b = twoHost.hostB else {
      throw fail(
        "a two-host demo needs both --a and --b, e.g. natscope demo --a symmetric --b port-restricted."
      )
    }
    guard latency <= 100 else {
      throw fail(
        "--latency must be at most 100 ms in a two-host run (each hop then takes up to 300 ms, about the most natscope's timeouts allow)."
      )
    }
    let presetA = try Self.preset(a, option: "--a")
    let presetB = try Self.preset(b, option: "--b")
    let configuration = TwoHostDemoConfiguration(
      a: presetA, b: presetB, turn: !twoHost.noTURN, seed: seed, loss: loss / 100,
      latency: .milliseconds(Int64(latency)), jitter: .milliseconds(Int64(latency) * 2),
      // DTLS after ICE, as connect runs it: in the console (paced to real time) always; in
      // the text report when no loss is simulated (a run that skips idle time cannot wait for
      // OpenSSL's wall-clock retransmission timer); never in --json, which is the same bytes
      // for the same seed (each run's certificate is fresh).
      dtls: console.wantsConsole(json: json) || (!json && loss == 0))
    let demo: TwoHostDemo
    do {
      demo = try TwoHostDemo(configuration)
    } catch {
      throw fail("the simulated network could not be built (\(error)); this is a bug.")
    }
    let ascii = console.renderOptions.ascii
    if console.wantsConsole(json: json) {
      // The connect screen, live, paced to the wall clock; the report follows on exit.
      let (result, _) = try ConsoleRunner.runDemoPair(
        configuration, options: console.renderOptions)
      print(
        TerminalText.fit(
          DemoTwoHostText.render(
            result, configuration: configuration, intro: true, width: TerminalText.width),
          ascii: ascii))
      return
    }
    // A terminal without the console (TERM=dumb, standard input not a terminal): one line
    // per event in real time. With --no-tui or --json, or into a file, at once.
    let live = !json && !console.noTui && isatty(STDOUT_FILENO) == 1
    if live {
      print(
        DemoTwoHostText.intro(
          configuration, turnServer: demo.lab.turnRelay.map { "\($0.serverAddress)" }))
      print("")
      let log = DemoTwoHostLiveLog()
      demo.onEvent = { event in
        // Standard output is a terminal here, so it is line-buffered.
        if let line = log.line(for: event, at: demo.lab.network.now) {
          print(TerminalText.fit(line, ascii: ascii))
        }
      }
      demo.start()
      let budget = configuration.timeLimit + .seconds(30)
      demo.lab.network.runRealTime(for: budget) { !demo.isFinished }
    }
    let result = demo.runToEnd()
    if json {
      try JSONOutput.print(result, schema: .demoTwoHost)
    } else {
      if live { print("") }
      print(
        TerminalText.fit(
          DemoTwoHostText.render(
            result, configuration: configuration, intro: !live, width: TerminalText.width),
          ascii: ascii))
    }
  }

  static func preset(_ text: String, option: String) throws -> SitePreset {
    switch SitePreset.parse(text) {
    case .success(let p): return p
    case .failure(let e): throw fail("\(option) \(e.description)")
    }
  }
}

/// One line per notable event for the live (real-time) run; the TUI replaces it.
final class DemoTwoHostLiveLog {
  func line(for event: TwoHostDemoEvent, at now: Instant) -> String? {
    let t = String(format: "%6.3f s  ", now.milliseconds / 1000)
    switch event {
    case .phase(.probing):
      return t + "Both hosts probe their NATs (RFC 5780) …"
    case .phase(.connecting):
      return t + "Both hosts gather candidates and run ICE checks …"
    case .probed(let side, let r):
      let found =
        r.udpBlocked
        ? ProbeFindings.udpSilentSoFar.text
        : "public address \(r.mappedAddress?.description ?? "?")"
      return t + "host \(side.label): \(r.legacyType), \(found)"
    case .probeFailed(let side, let why):
      return t + "host \(side.label): the probe could not run: \(why)"
    case .connect(let side, let entry):
      switch entry.event {
      case .ice(.candidateGathered(let c)) where c.type != .prflx:
        return t + "host \(side.label): candidate \(c.type.rawValue) \(c.address)"
      case .relay(_, .allocated(let relayed, _, _)):
        return t + "host \(side.label): TURN relay allocated \(relayed)"
      case .gathering(.relayFailed(let why)):
        return t + "host \(side.label): no relay candidate: \(why)"
      case .localDescriptionReady(let d):
        return t
          + "host \(side.label): description sent to the peer (\(counted(d.candidates.count, "candidate")))"
      case .ice(.selectedPairChanged(let p)):
        return t
          + "host \(side.label): selected \(p.local.type.rawValue) \(p.local.address) ↔ \(p.remote.type.rawValue) \(p.remote.address)"
      case .finished(let r):
        return t + "host \(side.label): \(r.state == .connected ? "connected" : "no path worked")"
      default:
        return nil
      }
    default:
      return nil
    }
  }
}

/// The plain-text report of a two-host demo.
enum DemoTwoHostText {
  static func intro(_ c: TwoHostDemoConfiguration, turnServer: String?) -> String {
    let lat = Int(c.latency.milliseconds)
    let hop = "\(lat)-\(lat + Int(c.jitter.milliseconds)) ms per hop"
    let turn = turnServer.map { " and TURN relay at \($0)" } ?? " (no TURN relay)"
    let text = """
      natscope demo: host A behind \(c.a.name) (\(c.a.summary)) and host B behind \(c.b.name) \
      (\(c.b.summary)) on a simulated internet (seed \(c.seed), \(hop), \
      \((c.loss * 100).formatted())% loss), with natscope's STUN server at \
      \(SimulatedLab.serverPrimary):3478\(turn).
      """
    return ConnectReportTextWrap.wrap(text, indent: "").joined(separator: "\n")
  }

  static func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0)
  }

  /// The report; below 100 columns the hosts' own addresses are left out of the table so
  /// that it fits 80 columns.
  static func render(
    _ r: TwoHostDemoResult, configuration: TwoHostDemoConfiguration, intro: Bool,
    width: Int = 200
  ) -> String {
    let narrow = width < 100
    let addressW = narrow ? 0 : 15
    var out: [String] = []
    if intro {
      out.append(DemoTwoHostText.intro(configuration, turnServer: r.turnServer))
      out.append("")
    }
    out.append("1. Each host probes its NAT (RFC 5780)")
    out.append(
      "   " + pad("host", 6) + pad("NAT", 19) + (narrow ? "" : pad("address", addressW))
        + pad("public address", 21) + pad("map", 5) + pad("filter", 7) + "legacy name")
    for (label, h) in [("A", r.a), ("B", r.b)] {
      guard let p = h.probe else {
        out.append(
          "   " + pad(label, 6) + pad(h.preset, 19) + "probe failed: \(h.probeError ?? "?")")
        continue
      }
      let publicAddress = p.udpBlocked ? "(no answer)" : p.mappedAddress?.description ?? "?"
      let mapping =
        p.udpBlocked ? "-" : (p.natDetected ? p.mapping.behavior.abbreviation : "none")
      let filtering = p.udpBlocked ? "-" : p.filtering.behavior.abbreviation
      let legacy = h.probeUncertain == nil ? p.legacyType : "uncertain (loss)"
      out.append(
        "   " + pad(label, 6) + pad(h.preset, 19) + (narrow ? "" : pad(h.host, addressW))
          + pad(publicAddress, 21) + pad(mapping, 5) + pad(filtering, 7) + legacy)
    }
    out.append("   EI endpoint-independent, AD address-dependent, APD address-and-port-dependent")
    // What each host's router said when asked, read-only, about port mapping (as probe asks).
    for (label, h) in [("A", r.a), ("B", r.b)] {
      guard let p = h.probe, let line = routerLine(p) else { continue }
      out += ConnectReportTextWrap.wrap("Host \(label)'s router: \(line)", indent: "   ")
      if let d = p.doubleNAT, d.detected == true {
        out += ConnectReportTextWrap.wrap("Host \(label): \(d.reason)", indent: "   ")
      }
    }
    for (label, h) in [("A", r.a), ("B", r.b)] {
      guard let why = h.probeUncertain else { continue }
      out += ConnectReportTextWrap.wrap("Host \(label): \(why)", indent: "   ")
    }
    out.append("")
    let verdict: String
    switch r.prediction.outcome {
    case .works: verdict = "should work"
    case .fails: verdict = "should fail"
    case .unknown: verdict = "unknown"
    }
    out.append("2. Prediction for the path through the NATs: \(verdict)")
    out += ConnectReportTextWrap.wrap(r.prediction.reason, indent: "   ")
    out.append("")
    let kinds =
      r.turnServer == nil ? "host and server-reflexive" : "host, server-reflexive and relayed"
    out += TextWrap.lines(
      "3. Host A connects to host B with ICE (\(kinds) candidates)", width: min(width, 200),
      indent: "   ", first: "")
    for (label, list) in [("A", r.connect.candidates.local), ("B", r.connect.candidates.remote)] {
      let items = list.map { "\($0.type.rawValue) \(endpoint($0.address, $0.port))" }
      out += ConnectReportTextWrap.wrapItems(
        items.isEmpty ? ["no candidates"] : items, first: "   host \(label) offers ",
        indent: "                  ")
    }
    out.append("")
    out.append("Connect report, as host A sees it (\"this host\" is A, \"the peer\" is B):")
    out.append(r.connect.text.trimmingCharacters(in: .newlines))
    out.append("")
    var command = "natscope demo --a \(r.a.preset) --b \(r.b.preset)"
    if !r.turn { command += " --no-turn" }
    command += " --seed \(r.seed)"
    if r.lossPercent > 0 { command += " --loss \(r.lossPercent.formatted())" }
    if r.latencyMs != 10 { command += " --latency \(Int(r.latencyMs))" }
    let json = "The same run as JSON: \(command) --json"
    if json.count > width {
      out.append("The same run as JSON:")
      out.append("  \(command) --json")
    } else {
      out.append(json)
    }
    return out.joined(separator: "\n")
  }

  /// What the router said about port mapping, one sentence: which protocols answered and the
  /// address it claims for itself; nil when the host has no router.
  static func routerLine(_ p: ProbeReport) -> String? {
    guard let pm = p.portMapping, pm.gateway != nil else { return nil }
    let answered = pm.protocols.filter { $0.answered && $0.error == nil }.map(\.name.displayName)
    guard !answered.isEmpty else {
      return "no port mapping (PCP, NAT-PMP and UPnP IGD went unanswered)."
    }
    let list =
      answered.count == 1
      ? answered[0] : answered.dropLast().joined(separator: ", ") + " and " + (answered.last ?? "")
    let own = pm.externalAddress.map { "; its own internet address is \($0)" } ?? ""
    return "port mapping by \(list)\(own)."
  }

  static func endpoint(_ address: String, _ port: UInt16) -> String {
    address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
  }
}

/// Word wrap for the demo's own paragraphs (80 columns).
enum ConnectReportTextWrap {
  /// Comma-separated items, never split inside an item.
  static func wrapItems(_ items: [String], width: Int = 80, first: String, indent: String)
    -> [String]
  {
    var lines: [String] = []
    var line = first
    var empty = true
    for (i, item) in items.enumerated() {
      let piece = item + (i == items.count - 1 ? "" : ",")
      if !empty && line.count + 1 + piece.count > width {
        lines.append(line)
        line = indent
        empty = true
      }
      line += (empty ? "" : " ") + piece
      empty = false
    }
    lines.append(line)
    return lines
  }

  static func wrap(_ text: String, width: Int = 80, indent: String) -> [String] {
    let lines = TextWrap.lines(text, width: width, indent: indent)
    return lines.isEmpty ? [indent] : lines
  }
}
