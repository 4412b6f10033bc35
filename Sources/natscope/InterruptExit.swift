import Dispatch

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Exit statuses after a signal, the same for every command outside the console: a command
/// interrupted by SIGINT or SIGTERM exits 128 + the signal's number (130, 143), as a shell
/// reports a process the signal killed, but through `exit`, so a parent sees an exit status.
enum InterruptExit {
  /// The signals that interrupt a command.
  static let signals: [Int32] = [SIGINT, SIGTERM]

  /// Handlers that keep the process alive; they live until the process exits.
  nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
  private static let queue = DispatchQueue(label: "natscope.interrupt")

  /// From now on SIGINT and SIGTERM end the process at once with 128 + signal. For commands
  /// with nothing to release on the way out (probe, binding, demo outside the console).
  static func install() {
    queue.sync {
      guard sources.isEmpty else { return }
      for sig in signals {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler { exit(status(for: sig)) }
        source.resume()
        sources.append(source)
      }
    }
  }

  /// Until the returned sources are cancelled, SIGINT, SIGTERM and SIGHUP (the terminal or ssh
  /// session closed) run `release` (on a queue of their own), then end the process with
  /// 128 + signal. For commands that hold something to give back: TURN allocations, a port
  /// mapping, a WHIP session.
  static func onSignals(releasing release: @escaping @Sendable () -> Void)
    -> [any DispatchSourceSignal]
  {
    let queue = DispatchQueue(label: "natscope.interrupt.release")
    var sources: [any DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
      source.setEventHandler {
        release()
        exit(status(for: sig))
      }
      source.resume()
      sources.append(source)
    }
    return sources
  }

  /// The exit status for a command interrupted by `signal`.
  static func status(for signal: Int32) -> Int32 { 128 + signal }
}
