import ArgumentParser
import Console
import Foundation
import Network
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
  @Flag(help: "Print the plain report even when standard output is a terminal.")
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

/// Runs the live console for `demo` and `probe`, then prints the plain report to the normal
/// terminal so it stays in the scrollback.
enum ConsoleRunner {
  /// Opens the terminal, runs the loop, and always restores the terminal. A SIGTERM or
  /// SIGHUP is re-raised (default action) after the terminal is back.
  static func withTerminal<S: ConsoleScreen>(
    options: RenderOptions, model: inout S, engine: (inout S) -> Void, rerun: (inout S) -> Void,
    stopAt deadline: Double? = nil
  ) throws -> ConsoleRunLoop.Exit {
    let terminal: Terminal
    do {
      terminal = try Terminal(options: options)
    } catch {
      throw fail("cannot open the console: \(error); try --no-tui")
    }
    let exit = ConsoleRunLoop.run(
      terminal: terminal, model: &model,
      directory: FileManager.default.currentDirectoryPath, engine: engine, rerun: rerun,
      stopAt: deadline)
    terminal.restore()
    if case .signal(let sig) = exit {
      signal(sig, SIG_DFL)
      raise(sig)
    }
    return exit
  }

  // MARK: Demo

  /// The simulated demo, advanced in step with the wall clock so the probes can be watched.
  final class DemoDriver {
    let seed: UInt64
    let loss: Double
    let latency: Int
    /// Each host's probe starts this much simulated time after the previous one.
    static let stagger: Duration = .milliseconds(300)
    /// Simulated seconds per wall second.
    static let speed = 1.0
    private(set) var lab: SimulatedLab
    private(set) var hosts: [(name: String, host: SimulatedHost)] = []
    private var pending: [DemoScreen.Event] = []
    private(set) var reports: [String: ProbeReport] = [:]
    private var wallStart = ProcessInfo.processInfo.systemUptime

    init(seed: UInt64, loss: Double, latency: Int) throws {
      self.seed = seed
      self.loss = loss
      self.latency = latency
      lab = try SimulatedLab(seed: seed, latency: .milliseconds(Int64(latency)))
      try build()
    }

    /// Builds a fresh lab and schedules every probe.
    func build() throws {
      lab = try SimulatedLab(seed: seed, latency: .milliseconds(Int64(latency)))
      hosts = []
      reports = [:]
      pending = []
      for (i, (name, behavior)) in NATBehavior.presets.enumerated() {
        let host =
          name == "cgnat"
          ? try lab.addCarrierSite(name, loss: loss / 100)
          : try lab.addSite(name, behavior: name == "open" ? nil : behavior, loss: loss / 100)
        hosts.append((name, host))
        let configuration = ProbeConfiguration(
          servers: [lab.stunServerAddress], localAddresses: host.localAddresses())
        let at = Instant.zero + Self.stagger * i
        _ = lab.network.schedule(at: at) { [weak self] in
          let session = ProbeSession(runtime: host, configuration: configuration)
          session.onStep = { [weak self] action in self?.pending.append(.step(site: i, action)) }
          session.start { [weak self] result in
            guard let self else { return }
            if case .success(let report) = result {
              self.reports[name] = report
              self.pending.append(.step(site: i, .finished(report)))
            }
          }
        }
      }
      wallStart = ProcessInfo.processInfo.systemUptime
    }

    var finished: Bool { reports.count == hosts.count }

    func screen(setting: String) -> DemoScreen {
      DemoScreen(
        sites: hosts.map {
          DemoScreen.Site(
            preset: $0.name, host: $0.host.localAddresses().first.map(\.description) ?? "?")
        }, server: lab.stunServerAddress.description, setting: setting)
    }

    /// Runs the simulation up to the wall clock and applies what happened.
    func pump(_ model: inout DemoScreen) {
      if !finished {
        let wall = ProcessInfo.processInfo.systemUptime - wallStart
        let target = Instant(nanoseconds: Int64(min(wall * Self.speed, 120) * 1e9))
        lab.network.run(until: target)
      }
      for event in pending { ConsoleUpdate.update(&model, engine: event) }
      pending.removeAll()
      if model.clockMs != lab.network.now.milliseconds {
        ConsoleUpdate.update(&model, engine: .clock(lab.network.now.milliseconds))
      }
    }

    /// The plain-text report of the finished run, as `natscope demo --no-tui` prints it.
    func report() -> DemoReport? {
      guard finished else { return nil }
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

  static func runDemo(seed: UInt64, loss: Double, latency: Int, options: RenderOptions) throws {
    let driver = try DemoDriver(seed: seed, loss: loss, latency: latency)
    let setting = "seed \(seed), \(latency) ms per hop, \(loss.formatted())% loss"
    var model = driver.screen(setting: setting)
    _ = try withTerminal(
      options: options, model: &model, engine: { driver.pump(&$0) },
      rerun: { model in
        do {
          try driver.build()
          ConsoleUpdate.update(&model, engine: .restarted)
        } catch {
          model.chrome.status = "cannot restart: \(error)"
        }
      })
    guard let report = driver.report() else {
      throw fail("the demo was stopped before every probe finished")
    }
    print(report.text)
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
      }, rerun: { _ in }, stopAt: start + Double(seconds))
    print("console benchmark: \(frames) updates of a \(pairs)-pair check list in \(seconds) s")
  }

  // MARK: Probe

  /// Engine events from the runtime's event loop to the UI thread.
  final class EventBox<Event: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [(generation: Int, event: Event)] = []

    func push(_ generation: Int, _ event: Event) {
      lock.lock()
      events.append((generation, event))
      lock.unlock()
    }

    func drain() -> [(generation: Int, event: Event)] {
      lock.lock()
      defer { lock.unlock() }
      let out = events
      events.removeAll()
      return out
    }
  }

  static func runProbe(
    runtime: NIORuntime, configuration: ProbeConfiguration, socketOptions: UDPSocketOptions,
    limit: Duration, options: RenderOptions
  ) throws -> ProbeReport {
    let box = EventBox<ProbeScreen.Event>()
    var generation = 0
    var started = ProcessInfo.processInfo.systemUptime
    var report: ProbeReport?
    func start() {
      generation += 1
      let gen = generation
      started = ProcessInfo.processInfo.systemUptime
      report = nil
      do {
        try runtime.onLoop { rt in
          let session = ProbeSession(
            runtime: rt, configuration: configuration, socketOptions: socketOptions,
            tcpConnector: rt.streamConnector())
          session.onStep = { box.push(gen, .action($0)) }
          session.start { result in
            switch result {
            case .success(let r): box.push(gen, .action(.finished(r)))
            case .failure(let e): box.push(gen, .failed("cannot open a UDP socket: \(e)"))
            }
          }
        }
      } catch {
        box.push(gen, .failed("the probe could not start: \(error)"))
      }
    }
    var plan = ProbeScreen.defaultPlan
    if !configuration.testHairpinning { plan.removeAll { $0 == .hairpinning } }
    if configuration.portAllocationSamples == 0 { plan.removeAll { $0 == .portAllocation } }
    if configuration.lifetime != nil { plan.append(.bindingLifetime) }
    var model = ProbeScreen(
      server: configuration.servers.map(\.description).joined(separator: ", "), plan: plan)
    start()
    let limitSeconds = Double(limit.nanoseconds) / 1e9
    _ = try withTerminal(
      options: options, model: &model,
      engine: { model in
        for (gen, event) in box.drain() where gen == generation {
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
      rerun: { model in
        ConsoleUpdate.update(&model, engine: .restarted)
        start()
      })
    if let failure = model.failure { throw fail(failure) }
    guard let report else { throw fail("the probe was stopped before it finished") }
    return report
  }
}
