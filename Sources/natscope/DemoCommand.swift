import ArgumentParser
import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract:
      "Probe every kind of NAT, or connect two hosts, on a simulated network (offline, no privileges).",
    discussion: """
      Builds a simulated internet with natscope's own RFC 5780 STUN server on two public \
      addresses (203.0.113.10 and .11) and one host behind each NAT preset: \
      \(DemoCommand.presetNames.joined(separator: ", ")). Each host runs the same probe as \
      `natscope probe`, with real STUN packets through the simulated NATs, and asks its router \
      about port mapping as probe does; the table shows what each probe found, and a line under \
      it where a router's own address shows a NAT above it (cgnat's home router). A second table \
      predicts, from the measured behaviours, which pairs of hosts could connect through their \
      NATs.

      The run is deterministic for a given --seed.

      In a terminal the story goes on: a few seconds after the table is complete (unless a key \
      was pressed on it), a host behind symmetric and a host behind port-restricted run ICE \
      live on the connect screen: candidates, every pair's state, nomination, the selected \
      pair, then the report with the prediction against the outcome. On the matrix, arrows \
      choose a cell, Enter shows its prediction, Enter again (or w) watches that pair; m \
      switches between the table and the live run. The clock runs in real time: s slows it \
      (1/4, 1/10), space pauses, n moves on by one event.

      With --a and --b, two hosts behind the NATs you name probe their NATs, then connect to \
      each other with ICE (host, server-reflexive and relayed candidates, through natscope's own \
      TURN relay at 203.0.113.20 unless --no-turn; a host behind udp-blocked reaches it over \
      simulated TCP), and the report shows which path worked and \
      why the others did not. \(DemoCommand.twoHostHelp)

      Exit status: 0 the run finished (also when the simulated hosts could not connect: that \
      is the result), 1 usage error, 3 the console was quit (q, Ctrl-C) before every probe \
      finished; 130 or 143 when interrupted by SIGINT (Ctrl-C) or SIGTERM outside the console; \
      in the console, SIGTERM and SIGHUP print what q prints, then exit 143 or 129.
      """)

  static let presetNames = NATBehavior.presets.map(\.name)

  @Flag(help: "Print the reports as JSON.")
  var json = false

  @OptionGroup var twoHost: DemoTwoHostOptions

  @Option(help: "Seed of the simulated network; the same seed gives the same run.")
  var seed: UInt64 = 1

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Packet loss on each site's uplink, each way, in percent.", valueName: "pct")
  )
  var loss: Double = 0

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "One-way latency of each hop onto the internet, in milliseconds (0-300).", valueName: "ms"))
  var latency: Int = 10

  /// Hidden: runs the connect screen on made-up data for this many seconds (for
  /// scripts/bench-console).
  @Option(help: .hidden) var consoleBench: Int?

  @OptionGroup var console: ConsoleArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    guard (0...50).contains(loss) else { throw ValidationError("--loss must be between 0 and 50.") }
    // A two-host run has a tighter bound of its own (runTwoHost).
    guard (0...300).contains(latency) || (twoHost.isRequested && latency > 300) else {
      throw ValidationError(
        "--latency must be between 0 and 300 milliseconds: a probe's round trip crosses four hops, and natscope probe waits 1.4 s for a first answer before it concludes that UDP is blocked."
      )
    }
  }

  func run() throws {
    // Outside the console, Ctrl-C or SIGTERM exits 130 or 143 (the console restores the
    // terminal and handles them itself).
    if !console.wantsConsole(json: json) { InterruptExit.install() }
    if twoHost.isRequested { return try runTwoHost() }
    global.bootstrapLogging()
    if let seconds = consoleBench {
      try ConsoleRunner.runConnectBenchmark(
        seconds: max(1, min(seconds, 600)), pairs: 100, options: console.renderOptions)
      return
    }
    if console.wantsConsole(json: json) {
      try ConsoleRunner.runDemo(
        seed: seed, loss: loss, latency: latency, options: console.renderOptions)
      return
    }
    // The same run the console shows (probes staggered, routers asked), on virtual time.
    let run = try ConsoleRunner.DemoLabRun(seed: seed, loss: loss, latency: latency)
    run.start(emit: { _ in }, finished: {})
    // Bounded: a probe ends within a few seconds of simulated time even when every packet is
    // lost, and the router questions within 2 s.
    var events = 0
    for _ in 0..<600 where !run.isFinished {
      events += run.lab.network.run(for: .milliseconds(100)).events
    }
    guard let demo = run.report() else {
      throw fail("the simulated probes did not all finish (\(events) events); this is a bug")
    }
    if json {
      try JSONOutput.print(demo, schema: .demo)
    } else {
      let text = demo.text(width: TerminalText.width) + "\n" + DemoCommand.twoHostHint
      print(TerminalText.fit(text, ascii: console.renderOptions.ascii))
    }
  }
}

struct DemoSite: Codable, Sendable {
  var preset: String
  var host: String
  var report: ProbeReport
}

/// The `--json` schema of `natscope demo` (schemaVersion 1).
struct DemoReport: Codable, Sendable {
  var schemaVersion = 1
  var seed: UInt64
  var lossPercent: Double
  var latencyMs: Int
  var sites: [DemoSite]
  var server: TransportAddress
  var serverStats: STUNServerStats
  var pairs: [Pair] = []

  struct Pair: Codable, Sendable {
    var a: String
    var b: String
    var reflexive: PathPrediction
  }

  init(
    seed: UInt64, lossPercent: Double, latencyMs: Int, sites: [DemoSite],
    server: TransportAddress, serverStats: STUNServerStats
  ) {
    self.seed = seed
    self.lossPercent = lossPercent
    self.latencyMs = latencyMs
    self.sites = sites
    self.server = server
    self.serverStats = serverStats
    for (i, a) in sites.enumerated() {
      for b in sites[i...] {
        pairs.append(
          Pair(a: a.preset, b: b.preset, reflexive: .reflexive(a.report.profile, b.report.profile)))
      }
    }
  }

  /// The plain report, laid out for a wide terminal.
  var text: String { text(width: 200) }

  /// The plain report; below 100 columns the host column is left out and long lines wrap, so
  /// that it fits 80 columns.
  func text(width: Int) -> String {
    let narrow = width < 100
    func pad(_ s: String, _ n: Int) -> String {
      s.count >= n
        ? String(s.prefix(n - 1)) + " " : s.padding(toLength: n, withPad: " ", startingAt: 0)
    }
    var out: [String] = []
    let intro = [
      "natscope demo: one host behind each kind of NAT probes natscope's RFC 5780 STUN server",
      "at \(server) on a simulated internet (seed \(seed), \(latencyMs) ms per hop, \(lossPercent.formatted())% loss).",
    ]
    if width < 200 {
      // One paragraph, wrapped to the terminal.
      out += ConnectReportTextWrap.wrap(intro.joined(separator: " "), width: width, indent: "")
    } else {
      out += intro
    }
    out.append("")
    let natW = narrow ? 16 : 21
    let hostW = narrow ? 0 : 16
    func name(_ preset: String) -> String {
      narrow && preset.hasSuffix("-cone") && preset != "full-cone"
        ? String(preset.dropLast("-cone".count)) : preset
    }
    out.append(
      pad("NAT", natW) + (narrow ? "" : pad("host", hostW)) + pad("public address", 21)
        + pad("map", 5) + pad("filter", 7) + pad("hairpin", 8) + "legacy name")
    for site in sites {
      let r = site.report
      let publicAddress = r.udpBlocked ? "(no answer)" : r.mappedAddress?.description ?? "?"
      let hairpin = r.hairpinning.map { $0 ? "yes" : "no" } ?? "-"
      let mapping = r.udpBlocked ? "-" : (r.natDetected ? r.mapping.behavior.abbreviation : "none")
      let filtering = r.udpBlocked ? "-" : r.filtering.behavior.abbreviation
      out.append(
        pad(name(site.preset), natW) + (narrow ? "" : pad(site.host, hostW))
          + pad(publicAddress, 21) + pad(mapping, 5) + pad(filtering, 7) + pad(hairpin, 8)
          + r.legacyType)
    }
    out.append("  EI endpoint-independent, AD address-dependent, APD address-and-port-dependent")
    // What the routers said, where it shows a NAT above the router (the cgnat site's home
    // router answers port mapping with its own, carrier-side address); --json has the reason.
    for site in sites {
      guard let d = site.report.doubleNAT, d.detected == true, let router = d.routerAddress,
        let seen = d.serverSeenAddress
      else { continue }
      out.append(
        "  \(name(site.preset)): double NAT (the router's own address \(router), servers see \(seen))"
      )
    }
    out.append("")
    out.append(
      "Could two of these hosts connect through their NATs (no relay)? From the measured behaviour:"
    )
    let names = sites.map(\.preset)
    let cellW = 6
    out.append(
      pad("", natW) + names.map { pad(String($0.prefix(cellW - 1)), cellW) }.joined())
    for a in names {
      var line = pad(name(a), natW)
      for b in names {
        let pair = pairs.first { ($0.a == a && $0.b == b) || ($0.a == b && $0.b == a) }
        let mark: String
        switch pair?.reflexive.outcome {
        case .works?: mark = "yes"
        case .fails?: mark = "no"
        default: mark = "?"
        }
        line += pad(mark, cellW)
      }
      out.append(line)
    }
    out.append(
      "  \"no\": only a TURN relay can connect them. Try `natscope demo --json` for every reason.")
    out.append("")
    let tests = sites.reduce(0) { $0 + $1.report.steps.count }
    let durations = sites.map(\.report.durationMs)
    out.append(
      "\(counted(tests, "probe test")), \(counted(serverStats.answered, "answer")) from the server; each probe took "
        + String(
          format: "%.2f-%.2f s of simulated time.", (durations.min() ?? 0) / 1000,
          (durations.max() ?? 0) / 1000))
    guard width < 200 else { return out.joined(separator: "\n") }
    // Sentences wider than the terminal wrap (the table rows fit by their layout).
    return out.flatMap { line -> [String] in
      guard line.count > width else { return [line] }
      let indent = String(line.prefix { $0 == " " })
      return ConnectReportTextWrap.wrap(line, width: width, indent: indent)
    }.joined(separator: "\n")
  }
}
