import Console
import Foundation
import Report
import Scenarios
import Sessions
import Simulation
import Traversal

/// One live two-host run for the demo console: a ``TwoHostDemo`` whose simulated clock is
/// paced to the wall clock (at the screen's pace: real time, 1/4, 1/10, paused), or moved one
/// event at a time. Lives on the UI thread (the simulated network runs there), inside a
/// ``SessionRunner`` whose pump is ``advance()``.
final class DemoLiveRun {
  /// Virtual time the network runs on after the verdict (the sessions release their TURN
  /// allocations and close); then the run stands still.
  static let tail: Duration = .seconds(10)
  /// The most wall time one pass may turn into virtual time (after a stall, the run resumes
  /// where it was instead of jumping).
  static let maxPass = 0.25

  let demo: TwoHostDemo
  /// The screen's pace, handed over by the engine before each pump.
  var pace = DemoLiveScreen.Pace()
  /// Steps (`n`) handed over by the engine and not taken yet.
  var steps = 0
  private var feed: DemoLiveFeed
  private var emit: ((DemoConsole.Event) -> Void)?
  private var lastWall: Double?
  private var target = Instant.zero
  /// Events that changed the screen (a step runs until this grows).
  private var shown = 0
  private var clockMs = -1.0
  private var finishedAt: Instant?

  init(_ configuration: TwoHostDemoConfiguration) throws {
    demo = try TwoHostDemo(configuration)
    feed = DemoLiveFeed(natA: configuration.a.name, natB: configuration.b.name)
  }

  var result: TwoHostDemoResult? { demo.result }

  func start(emit: @escaping (DemoConsole.Event) -> Void, finished: @escaping () -> Void) {
    self.emit = emit
    emit(.liveStarted(a: demo.configuration.a.name, b: demo.configuration.b.name))
    demo.onEvent = { [weak self] event in
      self?.handle(event)
      if case .finished = event { finished() }
    }
    target = demo.lab.network.now
    demo.start()
  }

  private func handle(_ event: TwoHostDemoEvent) {
    var out: [DemoLiveScreen.Event] = []
    switch event {
    case .phase(.probing):
      out = [.connect(.log("both hosts probe their NATs (RFC 5780) against the STUN server"))]
    case .phase(.connecting):
      out = [
        .connect(
          .log("both hosts gather candidates and run ICE: host A offers, host B answers"))
      ]
    case .phase: break
    case .probeStep: break
    case .probed(let side, let report): out = feed.probed(hostA: side == .a, report)
    case .probeFailed(let side, let why): out = feed.probeFailed(hostA: side == .a, why)
    case .connect(.a, let entry): out = feed.hostA(entry)
    case .connect(.b, let entry): out = feed.hostB(entry)
    case .finished(let r):
      finishedAt = demo.lab.network.now
      out = [feed.outcome(prediction: r.prediction, report: r.connect)]
    }
    guard !out.isEmpty else { return }
    shown += 1
    for e in out { emit?(.live(e)) }
  }

  /// Moves the simulation: by the wall time since the last pass times the pace, or, when
  /// steps are pending, to the next event that changes the screen (one per step).
  func advance() {
    let network = demo.lab.network
    let wall = ProcessInfo.processInfo.systemUptime
    let elapsed = lastWall.map { min(max(0, wall - $0), Self.maxPass) } ?? 0
    lastWall = wall
    let end = finishedAt.map { $0 + Self.tail }
    while steps > 0 {
      steps -= 1
      let before = shown
      // Bounded: at most this many network events for one step.
      for _ in 0..<100_000 where shown == before {
        guard let next = network.nextEventTime, end.map({ next <= $0 }) ?? true else { break }
        network.run(until: next, limit: 1)
      }
      target = network.now
    }
    if pace.speed > 0 {
      target = target + .nanoseconds(Int64(elapsed * pace.speed * 1e9))
      if let end, target > end { target = max(end, network.now) }
      if target > network.now { network.run(until: target) }
    }
    let now = network.now.milliseconds
    if now != clockMs {
      clockMs = now
      emit?(.live(.clock(now)))
    }
  }

  /// Runs what is left on virtual time (when the person quit before the verdict) and returns
  /// the result.
  func finishAtOnce() -> TwoHostDemoResult { demo.result ?? demo.runToEnd() }
}

extension ConsoleRunner {
  /// How long the finished NAT table stays before the live story starts by itself (a key
  /// pressed on the table keeps it there).
  static let storyHold = 4.0

  /// The configuration of a live pair in the demo console.
  static func livePair(
    _ pick: DemoConsole.Pick, seed: UInt64, loss: Double, latency: Int
  ) throws -> TwoHostDemoConfiguration {
    let a = try DemoCommand.preset(pick.a, option: "--a")
    let b = try DemoCommand.preset(pick.b, option: "--b")
    // A two-host run allows at most 100 ms per hop (its timeouts); the table allows 300.
    let hop = min(latency, 100)
    return TwoHostDemoConfiguration(
      a: a, b: b, turn: true, seed: seed, loss: loss / 100,
      latency: .milliseconds(Int64(hop)), jitter: .milliseconds(Int64(hop) * 2),
      // Paced to the wall clock: OpenSSL's retransmission timer keeps up, loss or not.
      dtls: true)
  }

  /// `natscope demo` in a terminal: the NAT table, then the live ICE story for
  /// ``DemoConsole/defaultPair`` (or the pair picked on the matrix); prints the table's report
  /// and the last pair's report when the person quits.
  static func runDemo(seed: UInt64, loss: Double, latency: Int, options: RenderOptions) throws {
    var current = try DemoLabRun(seed: seed, loss: loss, latency: latency)
    var live: DemoLiveRun?
    // The simulated networks run on this thread: the runners' hops are plain calls and their
    // pumps advance the labs.
    let tableRunner = SessionRunner<DemoScreen.Event, Never>(
      hop: inlineHop, pump: { current.advance() },
      start: { emit, finished in
        current.start(emit: emit, finished: finished)
        return { _ in }
      })
    let liveRunner = SessionRunner<DemoConsole.Event, Never>(
      hop: inlineHop, pump: { live?.advance() },
      start: { emit, finished in
        live?.start(emit: emit, finished: finished)
        return { _ in }
      })
    let setting = "seed \(seed), \(latency) ms per hop, \(loss.formatted())% loss"
    var model = DemoConsole(table: current.screen(setting: setting))
    var tableDoneAt: Double?
    var countdown = false

    func watch(_ pick: DemoConsole.Pick, _ model: inout DemoConsole) {
      do {
        live = try DemoLiveRun(livePair(pick, seed: seed, loss: loss, latency: latency))
        try liveRunner.start()
      } catch {
        model.chrome.status = "cannot start the pair: \(error)"
      }
    }

    try tableRunner.start()
    let exit = try withTerminal(
      options: options, model: &model,
      engine: { model in
        for event in tableRunner.drain() { ConsoleUpdate.update(&model, engine: .table(event)) }
        if model.readyForStory {
          let now = ProcessInfo.processInfo.systemUptime
          let doneAt = tableDoneAt ?? now
          tableDoneAt = doneAt
          let left = storyHold - (now - doneAt)
          let pick = DemoConsole.defaultPair
          if left <= 0 {
            countdown = false
            watch(pick, &model)
          } else {
            countdown = true
            model.table?.chrome.status =
              "\(pick.a) and \(pick.b) connect live in \(Int(left.rounded(.up))) s (a key stays)"
          }
        } else if countdown && !model.showingLive {
          countdown = false
          model.table?.chrome.status = ""
        }
        if let run = live {
          if var screen = model.live {
            run.pace = screen.pace
            run.steps += screen.pace.pendingSteps
            if screen.pace.pendingSteps > 0 {
              screen.pace.pendingSteps = 0
              model.live = screen
            }
          }
          for event in liveRunner.drain() { ConsoleUpdate.update(&model, engine: event) }
        }
      },
      perform: { command, model in
        guard command == .rerun else { return }
        if let pick = model.watchRequest {
          model.watchRequest = nil
          watch(pick, &model)
        } else if model.showingLive, let screen = model.live {
          watch(DemoConsole.Pick(a: screen.natA, b: screen.natB), &model)
        } else {
          do {
            current = try DemoLabRun(seed: seed, loss: loss, latency: latency)
            try tableRunner.start()
            tableDoneAt = nil
            ConsoleUpdate.update(&model, engine: .table(.restarted))
          } catch {
            model.chrome.status = "cannot restart: \(error)"
          }
        }
      })
    guard let report = current.report() else {
      let end = SessionEndFindings.derive(
        .init(stop: stop(exit), stage: .probe, verdictIn: false))
      throw fail(end.map(\.text).joined(separator: " "), code: NatscopeExit.endedEarly)
    }
    print(TerminalText.fit(report.text(width: TerminalText.width), ascii: options.ascii))
    if let live {
      let result = live.finishAtOnce()
      print("")
      print(
        TerminalText.fit(
          DemoTwoHostText.render(
            result, configuration: live.demo.configuration, intro: true,
            width: TerminalText.width), ascii: options.ascii))
    }
  }

  /// `natscope demo --a … --b …` in a terminal: the live ICE run of that pair alone; `r` runs it
  /// again. Returns the last run's result (finished on virtual time if the person quit early).
  static func runDemoPair(
    _ configuration: TwoHostDemoConfiguration, options: RenderOptions
  ) throws -> (TwoHostDemoResult, TwoHostDemoConfiguration) {
    var live = try DemoLiveRun(configuration)
    let runner = SessionRunner<DemoConsole.Event, Never>(
      hop: inlineHop, pump: { live.advance() },
      start: { emit, finished in
        live.start(emit: emit, finished: finished)
        return { _ in }
      })
    var model = DemoConsole(
      live: DemoLiveScreen(natA: configuration.a.name, natB: configuration.b.name))
    try runner.start()
    _ = try withTerminal(
      options: options, model: &model,
      engine: { model in
        if var screen = model.live {
          live.pace = screen.pace
          live.steps += screen.pace.pendingSteps
          if screen.pace.pendingSteps > 0 {
            screen.pace.pendingSteps = 0
            model.live = screen
          }
        }
        for event in runner.drain() { ConsoleUpdate.update(&model, engine: event) }
      },
      perform: { command, model in
        guard command == .rerun else { return }
        do {
          live = try DemoLiveRun(configuration)
          try runner.start()
        } catch {
          model.chrome.status = "cannot run again: \(error)"
        }
      })
    return (live.finishAtOnce(), configuration)
  }
}
