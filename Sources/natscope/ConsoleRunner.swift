import ArgumentParser
import Console
import Foundation
import Logging
import Network
import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

/// `--no-tui` and `--ascii`, shared by the commands with a console view.
struct ConsoleArguments: ParsableArguments {
  @Flag(
    help:
      "Print the plain report even when standard output is a terminal (and show --log-level lines, which the live console hides)."
  )
  var noTui = false

  @Flag(help: "Draw the console with ASCII characters only (automatic without a UTF-8 locale).")
  var ascii = false

  /// Whether to run the live console: a terminal on both ends, and neither `--no-tui` nor
  /// `--json`.
  func wantsConsole(json: Bool) -> Bool {
    !json && !noTui && Terminal.isInteractive
      && ProcessInfo.processInfo.environment["TERM"].map { $0 != "dumb" && !$0.isEmpty } ?? false
  }

  var renderOptions: RenderOptions {
    RenderOptions.detect(environment: ProcessInfo.processInfo.environment, forceASCII: ascii)
  }
}

/// Runs the live console for `demo`, `probe` and `connect`, then prints the plain report to the
/// normal terminal so it stays in the scrollback. Every screen is fed by a ``SessionRunner``:
/// events drained on this (the UI) thread, commands from `update` handed back to it.
enum ConsoleRunner {
  /// Opens the terminal, runs the loop, and always restores the terminal; then runs `cleanup`
  /// (e.g. closing a session). The one open/restore path of every console. A SIGTERM or SIGHUP
  /// ends the loop as `q` does, so the command prints what `q` prints (the report, or how the
  /// session ended); the signal is kept in ``ConsoleStop`` and `Natscope.main` then exits
  /// with 128 + its number, as outside the console.
  static func withTerminal<S: ConsoleScreen>(
    options: RenderOptions, model: inout S, engine: (inout S) -> Void,
    perform: (ConsoleCommand, inout S) -> Void, stopAt deadline: Double? = nil,
    cleanup: () -> Void = {}
  ) throws -> ConsoleRunLoop.Exit {
    let terminal: Terminal
    do {
      terminal = try Terminal(options: options)
    } catch {
      cleanup()
      throw fail("cannot open the console: \(error); try --no-tui")
    }
    let exit = ConsoleRunLoop.run(
      terminal: terminal, model: &model,
      directory: FileManager.default.currentDirectoryPath, engine: engine, perform: perform,
      stopAt: deadline)
    terminal.restore()
    if case .signal(let sig) = exit {
      ConsoleStop.record(sig)
      // The terminal may be gone (SIGHUP): a write to it must not kill natscope before the
      // session is released and the report printed.
      signal(SIGPIPE, SIG_IGN)
    }
    cleanup()
    return exit
  }

  /// How a console's session stopped, for its "ended before a verdict" findings.
  static func stop(_ exit: ConsoleRunLoop.Exit) -> SessionEndFindings.Stop {
    if case .signal(let sig) = exit { return .signal(sig) }
    return .quit
  }

  // MARK: Demo

  /// One run of the simulated demo: a fresh lab with every probe scheduled, advanced in step
  /// with the wall clock so the probes can be watched. Lives on the UI thread (the simulated
  /// network runs there), inside the demo's ``SessionRunner``.
  final class DemoLabRun {
    /// Each host's probe starts this much simulated time after the previous one.
    static let stagger: Duration = .milliseconds(300)
    /// Simulated seconds per wall second.
    static let speed = 1.0
    let seed: UInt64
    let loss: Double
    let latency: Int
    let lab: SimulatedLab
    private(set) var hosts: [(name: String, host: SimulatedHost)] = []
    private(set) var reports: [String: ProbeReport] = [:]
    private let wallStart = ProcessInfo.processInfo.systemUptime
    private var emit: ((DemoScreen.Event) -> Void)?
    private var finished: (() -> Void)?
    private var clockMs: Double = -1

    init(seed: UInt64, loss: Double, latency: Int) throws {
      self.seed = seed
      self.loss = loss
      self.latency = latency
      lab = try SimulatedLab(seed: seed, latency: .milliseconds(Int64(latency)))
      for (name, _) in NATBehavior.presets {
        // The presets of `demo --a/--b`: the cgnat site's home router offers port mapping.
        let preset = try SitePreset.parse(name).get()
        hosts.append((name, try preset.addSite(to: lab, name: name, loss: loss / 100)))
      }
    }

    /// Schedules every probe; their steps go to `emit`.
    func start(emit: @escaping (DemoScreen.Event) -> Void, finished: @escaping () -> Void) {
      self.emit = emit
      self.finished = finished
      for (i, (name, host)) in hosts.enumerated() {
        let configuration = ProbeConfiguration(
          servers: [lab.stunServerAddress], localAddresses: host.localAddresses())
        _ = lab.network.schedule(at: Instant.zero + Self.stagger * i) { [weak self] in
          let session = ProbeSession(runtime: host, configuration: configuration)
          session.onStep = { [weak self] action in self?.emit?(.step(site: i, action)) }
          // As `natscope probe` does, each host also asks its router, read-only, about port
          // mapping and its own address; the report waits for both.
          let ask = PortMappingSession(
            runtime: host, connector: host.rawStreamConnector(),
            generator: SeededGenerator(seed: (self?.seed ?? 0) &+ UInt64(i) &* 7919))
          var probed: ProbeReport?
          var routerAnswer: PortMappingReport?
          let settle = { [weak self] in
            guard let self, var report = probed, let routerAnswer else { return }
            report.attach(portMapping: routerAnswer)
            self.reports[name] = report
            self.emit?(.step(site: i, .finished(report)))
            if self.isFinished { self.finished?() }
          }
          session.start { result in
            guard case .success(let report) = result else { return }
            probed = report
            settle()
          }
          ask.start { answer in
            // The completion keeps the session alive until it has run.
            _ = ask
            routerAnswer = answer
            settle()
          }
        }
      }
    }

    var isFinished: Bool { reports.count == hosts.count }

    func screen(setting: String) -> DemoScreen {
      DemoScreen(
        sites: hosts.map {
          DemoScreen.Site(
            preset: $0.name, host: $0.host.localAddresses().first.map(\.description) ?? "?")
        }, server: lab.stunServerAddress.description, setting: setting)
    }

    /// Runs the simulation up to the wall clock; says the simulated time when it moved.
    func advance() {
      if !isFinished {
        let wall = ProcessInfo.processInfo.systemUptime - wallStart
        let target = Instant(nanoseconds: Int64(min(wall * Self.speed, 120) * 1e9))
        lab.network.run(until: target)
      }
      let now = lab.network.now.milliseconds
      if now != clockMs {
        clockMs = now
        emit?(.clock(now))
      }
    }

    /// The plain-text report of the finished run, as `natscope demo --no-tui` prints it.
    func report() -> DemoReport? {
      guard isFinished else { return nil }
      let sites = hosts.compactMap { entry -> DemoSite? in
        guard let report = reports[entry.name] else { return nil }
        return DemoSite(
          preset: entry.name, host: entry.host.localAddresses().first.map(\.description) ?? "?",
          report: report)
      }
      return DemoReport(
        seed: seed, lossPercent: loss, latencyMs: latency, sites: sites,
        server: lab.stunServerAddress, serverStats: lab.stunServer.stats)
    }
  }

  // MARK: Benchmark

  /// The connect screen with a `pairs`-pair check list that changes every frame, for
  /// `seconds` (scripts/bench-console measures its CPU and memory).
  static func runConnectBenchmark(seconds: Int, pairs: Int, options: RenderOptions) throws {
    var tick = 0
    var model = ConnectScreen(model: .sample(pairs: pairs))
    let start = ProcessInfo.processInfo.systemUptime
    var frames = 0
    _ = try withTerminal(
      options: options, model: &model,
      engine: { model in
        let t = Int((ProcessInfo.processInfo.systemUptime - start) * 15)
        guard t != tick else { return }
        tick = t
        frames += 1
        ConsoleUpdate.update(&model, engine: .snapshot(.sample(pairs: pairs, tick: tick)))
      }, perform: { _, _ in }, stopAt: start + Double(seconds))
    print("console benchmark: \(frames) updates of a \(pairs)-pair check list in \(seconds) s")
  }

  // MARK: Probe

  /// The runner of a probe session on `runtime`, for the console and the plain report alike:
  /// its steps, then `.finished(report)` or `.failed(reason)`.
  /// - Parameter logged: wraps the runtime the session sees (logging under `--log-level`; the
  ///   console leaves it unwrapped, since log lines would land on its screen).
  static func probeRunner(
    runtime: NIORuntime, configuration: ProbeConfiguration, socketOptions: UDPSocketOptions,
    logged: @escaping @Sendable (any NetworkRuntime) -> any NetworkRuntime = { $0 }
  ) -> SessionRunner<ProbeScreen.Event, Never> {
    SessionRunner(hop: runtime.hop) { emit, finished in
      let sessionRuntime = logged(runtime)
      let session = ProbeSession(
        runtime: sessionRuntime, configuration: configuration, socketOptions: socketOptions,
        tcpConnector: runtime.streamConnector())
      // Steps as log records too (`--log-level debug`, headless only: see `logged`).
      let logger = Logger(label: "natscope.probe")
      let logsSteps = sessionRuntime is LoggingRuntime
      session.onStep = { step in
        if logsSteps {
          switch step {
          case .stepStarted(let s):
            logger.debug("step started: \(s.test.title) to \(s.query.destination)")
          case .stepFinished(let s):
            let answered = s.outcome.map { if case .answered = $0 { true } else { false } }
            logger.debug(
              "step finished: \(s.test.title): \(answered == true ? "answered" : "no answer")")
          default: break
          }
        }
        emit(.action(step))
      }
      session.start { result in
        switch result {
        case .success(let r): emit(.action(.finished(r)))
        case .failure(let e): emit(.failed("cannot open a UDP socket: \(e)"))
        }
        finished()
      }
      return { _ in }
    }
  }

  /// The runner of the read-only port-mapping questions (``PortMappingSession``) on `runtime`:
  /// one `.portMapping(report)` when every protocol answered or gave up.
  static func portMappingRunner(runtime: NIORuntime) -> SessionRunner<ProbeScreen.Event, Never> {
    SessionRunner(hop: runtime.hop) { emit, finished in
      let session = PortMappingSession(runtime: runtime, connector: runtime.rawStreamConnector())
      // The completion keeps the session alive until it has run.
      session.start { report in
        emit(.portMapping(report))
        finished()
        _ = session
      }
      return { _ in }
    }
  }

  /// The probe on the console; with `askRouter`, the router's port-mapping questions run
  /// alongside it (their rows fill in as they answer) and the returned report carries them.
  static func runProbe(
    runtime: NIORuntime, configuration: ProbeConfiguration, socketOptions: UDPSocketOptions,
    limit: Duration, askRouter: Bool, options: RenderOptions
  ) throws -> ProbeReport {
    let runner = probeRunner(
      runtime: runtime, configuration: configuration, socketOptions: socketOptions)
    let router = askRouter ? portMappingRunner(runtime: runtime) : nil
    var started = ProcessInfo.processInfo.systemUptime
    var report: ProbeReport?
    var plan = ProbeScreen.defaultPlan
    if !configuration.testHairpinning { plan.removeAll { $0 == .hairpinning } }
    if configuration.portAllocationSamples == 0 { plan.removeAll { $0 == .portAllocation } }
    if configuration.lifetime != nil { plan.append(.bindingLifetime) }
    var model = ProbeScreen(
      server: configuration.servers.map(\.description).joined(separator: ", "), plan: plan,
      asksRouter: askRouter)
    func start(_ model: inout ProbeScreen) {
      started = ProcessInfo.processInfo.systemUptime
      report = nil
      do {
        try runner.start()
        try router?.start()
      } catch {
        ConsoleUpdate.update(&model, engine: .failed("the probe could not start: \(error)"))
      }
    }
    start(&model)
    let limitSeconds = Double(limit.nanoseconds) / 1e9
    let exit = try withTerminal(
      options: options, model: &model,
      engine: { model in
        for event in runner.drain() + (router?.drain() ?? []) {
          if case .action(.finished(let r)) = event { report = r }
          ConsoleUpdate.update(&model, engine: event)
        }
        if report == nil && model.failure == nil {
          let elapsed = ProcessInfo.processInfo.systemUptime - started
          ConsoleUpdate.update(&model, engine: .clock((elapsed * 1000).rounded()))
          if elapsed > limitSeconds {
            ConsoleUpdate.update(&model, engine: .failed("the probe did not finish in time"))
          }
        }
      },
      perform: { command, model in
        guard command == .rerun else { return }
        ConsoleUpdate.update(&model, engine: .restarted)
        start(&model)
      })
    if let failure = model.failure { throw fail(failure) }
    guard var report else {
      let end = SessionEndFindings.derive(
        .init(stop: stop(exit), stage: .probe, verdictIn: false))
      throw fail(end.map(\.text).joined(separator: " "), code: NatscopeExit.endedEarly)
    }
    // Quit before the router answered: its questions finish (each gives up on its own) and
    // still make the printed report.
    if let router, model.portMapping == nil,
      router.waitUntilFinished(timeout: ProbeCommand.portMappingLimit)
    {
      for case .portMapping(let pm) in router.drain() {
        ConsoleUpdate.update(&model, engine: .portMapping(pm))
      }
    }
    if let pm = model.portMapping { report.attach(portMapping: pm) }
    return report
  }
}

extension NIORuntime {
  /// A ``SessionRunner`` hop onto this runtime's loop: runs the body there and waits for it.
  var hop: SessionRunner<ConnectLogEntry, ConnectSessionCommand>.Hop {
    { body in
      let call = LoopCall(body: body)
      try self.onLoop { _ in call.body() }
    }
  }
}

/// The signal (SIGTERM, SIGHUP) that stopped a console, once one has: the command prints what
/// `q` prints, then `Natscope.main` exits with 128 + its number. Set and read on the main
/// thread (the console's) only.
enum ConsoleStop {
  nonisolated(unsafe) private static var stoppedBy: Int32?

  static func record(_ signal: Int32) { stoppedBy = signal }

  /// The signal that stopped a console in this process, if one did.
  static var signal: Int32? { stoppedBy }
}

/// A body carried onto the loop, where it alone runs (the runner's contract).
private struct LoopCall: @unchecked Sendable {
  let body: () -> Void
}
