import Runtime
import Traversal

/// Owns one sans-IO ``Machine`` on a runtime: calls it, hands each output to `perform`, and
/// keeps one runtime timer armed at the machine's ``Machine/nextDeadline`` (re-read after every
/// call). Call sites never copy the machine out and back.
///
/// Inputs that arrive while an output is being carried out (a socket that answers at once, a
/// handler that calls back) wait until the current call's outputs are all carried out, so the
/// machine is never entered twice. After ``stop()`` nothing is called or carried out.
///
/// All calls happen on the runtime's serial context.
public final class MachineHost<M: Machine> {
  /// The machine as it is now.
  public private(set) var machine: M
  /// Carries out one output (set by the owning session before the first call).
  public var perform: ((M.Output) -> Void)?
  /// True after ``stop()``.
  public private(set) var isStopped = false

  private let runtime: any NetworkRuntime
  private var timer: (any TimerHandle)?
  private var armedFor: Instant?
  private var busy = false
  private var pending: [(inout M, Instant) -> [M.Output]] = []

  public init(_ machine: M, runtime: any NetworkRuntime) {
    self.machine = machine
    self.runtime = runtime
  }

  /// Calls `body` on the machine at the runtime's now (a command such as `start(at:)`) and
  /// carries out what it returns.
  public func step(_ body: @escaping (inout M, Instant) -> [M.Output]) {
    guard !isStopped else { return }
    pending.append(body)
    guard !busy else { return }
    busy = true
    defer { busy = false }
    while !pending.isEmpty, !isStopped {
      let next = pending.removeFirst()
      let outputs = next(&machine, runtime.now)
      for output in outputs where !isStopped { perform?(output) }
    }
    arm()
  }

  /// Hands the machine one input.
  public func input(_ input: M.Input) {
    step { m, now in m.handleInput(input, at: now) }
  }

  /// Cancels the timer for good; later calls do nothing.
  public func stop() {
    isStopped = true
    pending.removeAll()
    timer?.cancel()
    timer = nil
    armedFor = nil
  }

  private func arm() {
    guard !isStopped, let deadline = machine.nextDeadline else {
      timer?.cancel()
      timer = nil
      armedFor = nil
      return
    }
    if armedFor == deadline, timer != nil { return }
    timer?.cancel()
    armedFor = deadline
    timer = runtime.schedule(at: deadline) { [weak self] in
      guard let self, !self.isStopped else { return }
      self.timer = nil
      self.armedFor = nil
      self.step { m, now in m.handleTimeout(at: now) }
    }
  }
}

extension MachineHost {
  /// For a machine whose outputs are ``MachineOutput``s: sends each transmit with `transmit`
  /// and hands each event to `event` (the host keeps the timer itself, so `.timeout` outputs
  /// need nothing).
  public func route<Event>(
    transmit: @escaping (Transmit) -> Void, event: @escaping (Event) -> Void
  ) where M.Output == MachineOutput<Event> {
    perform = { output in
      switch output {
      case .transmit(let t): transmit(t)
      case .timeout: break
      case .event(let e): event(e)
      }
    }
  }
}
