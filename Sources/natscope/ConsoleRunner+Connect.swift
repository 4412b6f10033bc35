import Console
import Network
import Sessions
import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension ConsoleRunner {
  /// `natscope connect` in the console: the session runs behind a ``SessionRunner``; its
  /// events, drained on the UI thread, feed the connect screen through ``ConnectFeed``; an
  /// accepted peer token leaves `update` as a command the runner hands to the session; on `q`
  /// (or Ctrl-C) the session is closed, releasing TURN allocations. Returns the verdict.
  static func runConnect(
    runtime: NIORuntime, configuration: ConnectSessionConfiguration, peerRole: SignalingRole,
    options: RenderOptions
  ) throws -> ConnectReport {
    let runner = ConnectCommand.runner(runtime, configuration)
    var feed = ConnectFeed()
    var model = ConnectScreen(peerRole: peerRole)
    model.model.role = configuration.role == .offer ? "controlling" : "controlled"
    let started = ProcessInfo.processInfo.systemUptime
    do {
      try runner.start()
    } catch {
      ConsoleUpdate.update(&model, engine: .failed("the session could not start: \(error)"))
    }
    _ = try withTerminal(
      options: options, model: &model,
      engine: { model in
        for entry in runner.drain() {
          for event in feed.events(for: entry) { ConsoleUpdate.update(&model, engine: event) }
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
        // The console's answer goes to a person: the answerer waits for the offerer's checks.
        do {
          try runner.send(.setRemoteDescription(peer, peerHoldsOurs: false))
        } catch {
          ConsoleUpdate.update(&model, engine: .failed("cannot start the checks: \(error)"))
        }
      },
      // Release TURN allocations (bounded) before anything else, as on SIGINT without the
      // console.
      cleanup: { ConnectCommand.close(runner) })
    for entry in runner.drain() { _ = feed.events(for: entry) }
    guard let report = feed.progress.report else {
      throw fail("stopped before a verdict (no report)")
    }
    return report
  }
}
