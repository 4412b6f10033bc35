import Foundation
import Traversal

/// Drives one session for a front (the headless CLI, the console, tests): starts it on the
/// runtime's serial context, queues its events in order for the front's thread to drain, and
/// hands the front's commands to it on the runtime's context. The front never touches the
/// session: events out, commands in. Nothing the front does runs inside a session callback,
/// and nothing the session does calls into the front (events wait in the queue).
///
/// ```swift
/// let runner = SessionRunner.connect(hop: hop) { ConnectSession(runtime: rt, configuration: c) }
/// try runner.start()
/// for entry in runner.drain() { progress.apply(entry) }   // on the front's thread
/// try runner.send(.setRemoteDescription(peer))
/// ```
///
/// Thread-safe: `start`, `send`, `drain` and `waitUntilFinished` may be called from any thread
/// but the runtime's own (`hop` may block until the runtime ran the body).
public final class SessionRunner<Event: Sendable, Command>: @unchecked Sendable {
  /// Runs `body` on the runtime's serial context: an event loop hop (blocking until done), or
  /// a plain call where the front's thread is the runtime's (a simulated network it runs).
  public typealias Hop = (_ body: @escaping () -> Void) throws -> Void
  /// Creates and starts the session (on the runtime's context), wiring its events to `emit`
  /// and its end to `finished`; returns what to do with a command.
  public typealias Start = (
    _ emit: @escaping (Event) -> Void, _ finished: @escaping () -> Void
  ) -> (Command) -> Void

  private let hop: Hop
  private let starter: Start
  private let pump: (() -> Void)?
  private let condition = NSCondition()
  // Guarded by `condition`.
  private var queue: [Event] = []
  private var generation = 0
  private var finishedGeneration = 0
  // Touched only on the runtime's context.
  private var handler: ((Command) -> Void)?

  /// Called (on the runtime's context) each time events were queued; e.g. to schedule a drain
  /// on the front's own queue. Set it before `start`.
  public var onAvailable: (@Sendable () -> Void)?

  /// - Parameters:
  ///   - hop: how to reach the runtime's context.
  ///   - pump: run before each drain and wait, on the caller's thread (a simulated network
  ///     advanced by its front); nil when the runtime runs by itself.
  ///   - start: creates and starts the session.
  public init(hop: @escaping Hop, pump: (() -> Void)? = nil, start: @escaping Start) {
    self.hop = hop
    self.pump = pump
    self.starter = start
  }

  /// Starts a (new) session. Events of an earlier one still queued or still coming are dropped.
  public func start() throws {
    condition.lock()
    generation += 1
    let current = generation
    queue.removeAll()
    condition.unlock()
    try hop { [self] in
      handler = starter(
        { [weak self] event in self?.push(event, current) },
        { [weak self] in self?.finish(current) })
    }
  }

  /// Hands a command to the session on the runtime's context.
  public func send(_ command: Command) throws {
    try hop { [self] in handler?(command) }
  }

  /// The events queued since the last drain, in order (after running `pump`).
  public func drain() -> [Event] {
    pump?()
    condition.lock()
    defer { condition.unlock() }
    let out = queue
    queue.removeAll()
    return out
  }

  /// Whether the current session said it finished.
  public var isFinished: Bool {
    condition.lock()
    defer { condition.unlock() }
    return generation > 0 && finishedGeneration == generation
  }

  /// Waits until the current session finished, at most `timeout` (wall clock). Queued events
  /// stay queued. Returns whether it finished.
  public func waitUntilFinished(timeout: Duration) -> Bool {
    let deadline = Date(timeIntervalSinceNow: Double(timeout.milliseconds) / 1000)
    if let pump {
      while !isFinished {
        if Date() >= deadline { return false }
        pump()
      }
      return true
    }
    condition.lock()
    defer { condition.unlock() }
    while !(generation > 0 && finishedGeneration == generation) {
      if !condition.wait(until: deadline) {
        return generation > 0 && finishedGeneration == generation
      }
    }
    return true
  }

  private func push(_ event: Event, _ from: Int) {
    condition.lock()
    guard from == generation else {
      condition.unlock()
      return
    }
    queue.append(event)
    condition.broadcast()
    condition.unlock()
    onAvailable?()
  }

  private func finish(_ from: Int) {
    condition.lock()
    if from == generation { finishedGeneration = from }
    condition.broadcast()
    condition.unlock()
    onAvailable?()
  }
}

/// A ``SessionRunner`` hop for a runtime whose context is the caller's own thread (a simulated
/// network the caller runs): a plain call.
public func inlineHop(_ body: @escaping () -> Void) { body() }

/// What a front may ask of a ``ConnectSession`` (through a ``SessionRunner``).
public enum ConnectSessionCommand: Sendable, Hashable {
  /// The peer's description: checks start. `peerHoldsOurs` is false when our own description
  /// went to a person who still has to pass it on (see
  /// ``ConnectSession/setRemoteDescription(_:peerHoldsOurs:)``).
  case setRemoteDescription(SessionDescription, peerHoldsOurs: Bool = true)
  /// Stop: release TURN allocations, close sockets (the runner finishes once closed).
  case close
}

extension SessionRunner where Event == ConnectLogEntry, Command == ConnectSessionCommand {
  /// A runner for a ``ConnectSession`` made by `make` on the runtime's context; it finishes
  /// when the session is closed.
  public static func connect(
    hop: @escaping Hop, pump: (() -> Void)? = nil, make: @escaping () -> ConnectSession
  ) -> SessionRunner {
    SessionRunner(hop: hop, pump: pump) { emit, finished in
      let session = make()
      session.onEvent = { entry in
        emit(entry)
        if case .phaseChanged(.closed) = entry.event { finished() }
      }
      session.start()
      return { command in
        switch command {
        case .setRemoteDescription(let d, let holds):
          session.setRemoteDescription(d, peerHoldsOurs: holds)
        case .close: session.close()
        }
      }
    }
  }
}
