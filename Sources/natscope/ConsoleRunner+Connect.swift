import Console
import Foundation
import Network
import Runtime
import STUN
import Scenarios
import Sessions
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

extension ConsoleRunner {
  /// `natscope connect` in the console: starts the session, feeds the connect screen from its
  /// events (NIO loop → locked queue → UI thread), hands an accepted peer token to the session,
  /// and on `q` (or Ctrl-C) closes it, releasing TURN allocations. Returns the verdict.
  static func runConnect(
    runtime: NIORuntime, configuration: ConnectSessionConfiguration, box: SessionBox,
    peerRole: SignalingRole, options: RenderOptions
  ) throws -> ConnectReport {
    let events = EventBox<ConnectScreen.Event>()
    let reports = EventBox<ConnectReport>()
    var model = ConnectScreen(peerRole: peerRole)
    model.model.role = configuration.role == .offer ? "controlling" : "controlled"
    let started = ProcessInfo.processInfo.systemUptime
    var finished = false

    let terminal: Terminal
    do {
      terminal = try Terminal(options: options)
    } catch {
      throw fail("cannot open the console: \(error); try --no-tui")
    }
    do {
      try runtime.onLoop { rt in
        let session = ConnectSession(
          runtime: rt, configuration: configuration,
          streamConnector: rt.streamConnector())
        let feed = ConnectFeed(start: rt.now)
        box.session = session
        box.observer = { entry, origin in
          for event in feed.events(for: entry, session: origin) { events.push(0, event) }
          if case .finished(let report) = entry.event { reports.push(0, report) }
        }
        session.onEvent = { entry in box.handle(entry, origin: session) }
        session.start()
      }
    } catch {
      events.push(0, .failed("the session could not start: \(error)"))
    }

    let exit = ConsoleRunLoop.run(
      terminal: terminal, model: &model, directory: FileManager.default.currentDirectoryPath,
      engine: { model in
        for (_, event) in events.drain() {
          if case .report = event { finished = true }
          ConsoleUpdate.update(&model, engine: event)
        }
        if let peer = model.pendingRemote {
          model.pendingRemote = nil
          do {
            // The console's answer goes to a person: wait for the offerer's first check.
            try runtime.onLoop { _ in
              box.session?.setRemoteDescription(peer, peerHoldsOurs: false)
            }
          } catch {
            ConsoleUpdate.update(&model, engine: .failed("cannot start the checks: \(error)"))
          }
        }
        if !finished {
          let ms = ((ProcessInfo.processInfo.systemUptime - started) * 1000).rounded()
          if ms - model.model.elapsedMs >= 100 {
            ConsoleUpdate.update(&model, engine: .elapsed(ms))
          }
        }
      },
      rerun: { _ in })
    terminal.restore()
    // Release TURN allocations (bounded) before anything else, as on SIGINT without the console.
    ConnectCommand.close(box, runtime)
    if case .signal(let sig) = exit {
      signal(sig, SIG_DFL)
      raise(sig)
    }
    guard let report = reports.drain().last?.event else {
      throw fail("stopped before a verdict (no report)")
    }
    return report
  }
}
