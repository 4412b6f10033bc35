import Runtime
import STUN
import Traversal

/// Carries out one sans-IO machine's ``MachineOutput``s on a `NetworkRuntime`: hands each
/// transmit to the session's router (which picks the socket by `Transmit/from`), keeps one
/// runtime timer armed at the machine's latest `.timeout` (re-armed when it moves, cancelled
/// when a call returns none), and hands back the events for the session to queue.
///
/// It never delivers an event itself: sessions post them to an ``EventDrain`` so a handler
/// runs only after the machine call (and this driver's bookkeeping) has returned.
///
/// ```swift
/// lazy var driver = MachineDriver<TURNClientEvent>(
///   runtime: runtime,
///   transmit: { [weak self] t in self?.socket?.send(t.bytes, to: t.to) },
///   timeout: { [weak self] now in self?.apply(self?.client.handleTimeout(at: now) ?? []) })
/// drain.post(contentsOf: driver.carryOut(client.start(at: runtime.now)))
/// ```
///
/// All calls happen on the runtime's serial context.
public final class MachineDriver<Event: Sendable> {
  /// The runtime whose clock and timers are used.
  public let runtime: any NetworkRuntime
  private let transmit: (Transmit) -> Void
  private let timeout: (Instant) -> Void
  private var timer: (any TimerHandle)?
  /// The instant the timer is armed for; nil when it is not armed.
  public private(set) var deadline: Instant?
  /// True after ``stop()``: outputs are ignored and the timer stays off.
  public private(set) var isStopped = false

  /// A driver with no timer armed.
  /// - Parameters:
  ///   - transmit: sends one transmit (the session's routing by `from`).
  ///   - timeout: called with the runtime's time when the armed deadline is reached; it should
  ///     call the machine's `handleTimeout(at:)` and pass the outputs back to ``carryOut(_:)``.
  public init(
    runtime: any NetworkRuntime, transmit: @escaping (Transmit) -> Void,
    timeout: @escaping (Instant) -> Void
  ) {
    self.runtime = runtime
    self.transmit = transmit
    self.timeout = timeout
  }

  /// Sends the transmits in order, arms the timer at the last `.timeout` (or cancels it when
  /// there is none: the machine has no deadline) and returns the events, in order, for the
  /// caller to queue. After ``stop()`` it does nothing and returns no events.
  @discardableResult
  public func carryOut(_ outputs: [MachineOutput<Event>]) -> [Event] {
    guard !isStopped else { return [] }
    var events: [Event] = []
    for output in outputs {
      switch output {
      case .transmit(let t): transmit(t)
      case .timeout: break
      case .event(let e): events.append(e)
      }
    }
    // A transmit handler may have stopped the driver (its socket closed the session).
    guard !isStopped else { return events }
    arm(outputs.timeout())
    return events
  }

  /// Arms the timer for `deadline` (an unchanged deadline keeps the armed timer), or cancels
  /// it when `deadline` is nil.
  public func arm(_ deadline: Instant?) {
    guard !isStopped, let deadline else {
      cancel()
      return
    }
    if self.deadline == deadline, timer != nil { return }
    timer?.cancel()
    self.deadline = deadline
    timer = runtime.schedule(at: deadline) { [weak self] in
      guard let self, !self.isStopped else { return }
      self.timer = nil
      self.deadline = nil
      self.timeout(self.runtime.now)
    }
  }

  /// Cancels the timer (a later ``carryOut(_:)`` may arm it again).
  public func cancel() {
    timer?.cancel()
    timer = nil
    deadline = nil
  }

  /// Cancels the timer for good: later outputs are ignored.
  public func stop() {
    cancel()
    isStopped = true
  }
}

/// A queue of events (or deferred callbacks) delivered one at a time, in order, never
/// re-entrantly: an item posted while another is being delivered (by a handler that called
/// back into its session) waits until that handler has returned.
///
/// All calls happen on the runtime's serial context.
public final class EventDrain<Item> {
  private let deliver: (Item) -> Void
  private var queue: [Item] = []
  private var draining = false

  /// A drain that hands each item to `deliver`.
  public init(deliver: @escaping (Item) -> Void) {
    self.deliver = deliver
  }

  /// True while an item is being delivered.
  public var isDraining: Bool { draining }

  /// The number of items waiting.
  public var pendingCount: Int { queue.count }

  /// Queues `item` and delivers everything queued unless a delivery is already under way
  /// (then the running drain delivers it after the current handler returns).
  public func post(_ item: Item) {
    post(contentsOf: [item])
  }

  /// Queues `items` in order and drains as ``post(_:)`` does.
  public func post(contentsOf items: [Item]) {
    queue += items
    guard !draining else { return }
    draining = true
    defer { draining = false }
    while !queue.isEmpty {
      deliver(queue.removeFirst())
    }
  }

  /// Drops everything queued (for a session that has closed).
  public func removeAll() {
    queue.removeAll()
  }
}
