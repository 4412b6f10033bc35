import Console
import Network
import Report
import Sessions
import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// How a console's `connect` ended: with the verdict, or before one (the findings say how, and
/// that this side's token is no longer usable).
enum ConsoleConnectEnd {
  case verdict(ConnectReport)
  case endedEarly(FindingSet)
}

extension ConsoleRunner {
  /// `natscope connect` in the console: the session runs behind a ``SessionRunner``; its
  /// events, drained on the UI thread, feed the connect screen through ``ConnectFeed``; an
  /// accepted peer token leaves `update` as a command the runner hands to the session; on `q`,
  /// Ctrl-C, SIGTERM or SIGHUP the session is closed, releasing TURN allocations and the port
  /// mapping. Returns the verdict, or how the session ended before one.
  /// - Parameter finish: applied to the session's report before the screen (and `j`) gets it:
  ///   the command's warnings, as `--json` has them.
  static func runConnect(
    runtime: NIORuntime, configuration: ConnectSessionConfiguration, peerRole: SignalingRole,
    options: RenderOptions, finish: @escaping (ConnectReport) -> ConnectReport = { $0 }
  ) throws -> ConsoleConnectEnd {
    let runner = ConnectCommand.runner(runtime, configuration)
    var feed = ConnectFeed()
    var model = ConnectScreen(peerRole: peerRole)
    model.model.role = configuration.role == .offer ? "controlling" : "controlled"
    model.clipboard = ClipboardPath.detect(environment: ProcessInfo.processInfo.environment)
    // The first thing to do, on the status line until something else is said.
    model.chrome.status =
      peerRole == .offer
      ? "paste the offer token from the other host here (p, or just paste)"
      : "give your offer token to the other host (t shows it, c copies), then paste its answer"
    let started = ProcessInfo.processInfo.systemUptime
    do {
      try runner.start()
    } catch {
      ConsoleUpdate.update(&model, engine: .failed("the session could not start: \(error)"))
    }
    func apply(_ events: [ConnectScreen.Event], _ model: inout ConnectScreen) {
      for event in events {
        if case .finalReport(let report) = event {
          ConsoleUpdate.update(&model, engine: .finalReport(finish(report)))
        } else {
          ConsoleUpdate.update(&model, engine: event)
        }
      }
    }
    // A peer description accepted before our own is ready waits here, as the headless run
    // reads the offer first and hands it over once gathering is done: the session then starts
    // waiting for the offerer's checks before its own checks can fail, so ICMP port
    // unreachable from an offerer that has quit ends the wait at once.
    var held: SessionDescription?
    func handOver(_ peer: SessionDescription, _ model: inout ConnectScreen) {
      // The console's answer goes to a person: the answerer waits for the offerer's checks.
      do {
        try runner.send(.setRemoteDescription(peer, peerHoldsOurs: false))
      } catch {
        ConsoleUpdate.update(&model, engine: .failed("cannot start the checks: \(error)"))
      }
    }
    let exit = try withTerminal(
      options: options, model: &model,
      engine: { model in
        for entry in runner.drain() { apply(feed.events(for: entry), &model) }
        if let peer = held, feed.progress.localDescription != nil {
          held = nil
          handOver(peer, &model)
        }
        if feed.progress.report == nil {
          let ms = ((ProcessInfo.processInfo.systemUptime - started) * 1000).rounded()
          if ms - model.model.elapsedMs >= 100 {
            ConsoleUpdate.update(&model, engine: .elapsed(ms))
          }
        }
      },
      perform: { command, model in
        guard case .setRemoteDescription(let peer) = command else { return }
        if feed.progress.localDescription == nil {
          held = peer
        } else {
          handOver(peer, &model)
        }
      },
      // Release TURN allocations and the port mapping (bounded) before anything else, as on
      // SIGINT without the console.
      cleanup: { ConnectCommand.close(runner) })
    // What the session was doing when it stopped, from its events up to the close.
    let waitingFor = feed.waitingFor
    let gathered = feed.progress.localDescription != nil
    for entry in runner.drain() { _ = feed.events(for: entry) }
    if let report = feed.progress.report, model.model.connected != nil {
      return .verdict(finish(report))
    }
    // Quit before a verdict (no answer came, or no checks from the offerer): the session has
    // ended, and with it the token it made (its ports are closed).
    let stage: SessionEndFindings.Stage =
      switch waitingFor {
      case .checks?: .offererChecks
      case .answer?: .peerToken
      case nil:
        !gathered ? .gathering : (model.remoteAccepted ? .checks : .peerToken)
      }
    return .endedEarly(
      SessionEndFindings.derive(
        .init(
          stop: stop(exit), stage: stage, verdictIn: false,
          token: model.model.localToken.isEmpty
            ? nil : (configuration.role == .offer ? "offer" : "answer"),
          peerRole: peerRole == .offer ? "offer" : "answer")))
  }
}
