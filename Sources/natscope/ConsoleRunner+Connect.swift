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
    model.clipboard = ClipboardPath.detect(environment: ProcessInfo.processInfo.environment)
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
    // Quit before a verdict (no answer came, or no checks from the offerer): the token goes to
    // the normal terminal, where it can be selected and copied (the session that made it has
    // ended, though).
    let quitEarly = model.model.connected == nil
    for entry in runner.drain() { _ = feed.events(for: entry) }
    if quitEarly, !model.model.localToken.isEmpty {
      let what = configuration.role == .offer ? "offer" : "answer"
      print(
        "Your \(what) token (\(model.model.localToken.count) characters); the session that made it has ended, so a new natscope connect makes a new one:"
      )
      print(model.model.localToken)
    }
    guard let report = feed.progress.report else {
      throw fail("stopped before a verdict (no report)")
    }
    return report
  }
}
