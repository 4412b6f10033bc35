import STUN

/// Runs a `BehaviorProbe` over a `NetworkRuntime` with a `STUNClient`: the same code probes a
/// real NAT on real sockets and a simulated one in tests and the demo.
public final class ProbeSession {
  public let runtime: any NetworkRuntime
  public private(set) var probe: BehaviorProbe
  public let client: STUNClient
  /// Called for every step started and finished (for live views); on the runtime's context.
  public var onStep: ((ProbeAction) -> Void)?

  private var completion: ((Result<ProbeReport, RuntimeError>) -> Void)?
  private var queue: [ProbeAction] = []
  private var draining = false
  private var timers: [any TimerHandle] = []
  /// A running session keeps itself alive until it finishes, so a caller may start it and
  /// drop its reference (runtime callbacks only hold it weakly).
  private var keepAlive: ProbeSession?

  public init(
    runtime: any NetworkRuntime, configuration: ProbeConfiguration,
    policy: RetransmissionPolicy = .probe, socketOptions: UDPSocketOptions = UDPSocketOptions()
  ) {
    self.runtime = runtime
    self.probe = BehaviorProbe(configuration: configuration)
    self.client = STUNClient(runtime: runtime, policy: policy, socketOptions: socketOptions)
  }

  /// Starts the probe; `completion` is called once, with the report or with the reason a
  /// socket could not be opened.
  public func start(completion: @escaping (Result<ProbeReport, RuntimeError>) -> Void) {
    self.completion = completion
    keepAlive = self
    enqueue(probe.start(at: runtime.now))
  }

  /// Stops the probe early; no completion is called.
  public func cancel() {
    completion = nil
    finish()
  }

  private func enqueue(_ actions: [ProbeAction]) {
    queue += actions
    guard !draining else { return }
    draining = true
    defer { draining = false }
    while !queue.isEmpty {
      let action = queue.removeFirst()
      switch action {
      case .query(let id, let query):
        do {
          try client.send(query) { [weak self] outcome, local in
            guard let self else { return }
            self.enqueue(
              self.probe.handle(outcome, localAddress: local, for: id, at: self.runtime.now))
          }
        } catch let error as RuntimeError {
          fail(error)
          return
        } catch {
          fail(.failed("\(error)"))
          return
        }
      case .wake(let at):
        timers.append(
          runtime.schedule(at: at) { [weak self] in
            guard let self else { return }
            self.enqueue(self.probe.handleWake(at: self.runtime.now))
          })
      case .stepStarted, .stepFinished:
        onStep?(action)
      case .finished(let report):
        let done = completion
        finish()
        done?(.success(report))
        return
      }
    }
  }

  private func fail(_ error: RuntimeError) {
    let done = completion
    finish()
    done?(.failure(error))
  }

  private func finish() {
    completion = nil
    queue.removeAll()
    for t in timers { t.cancel() }
    timers.removeAll()
    client.close()
    keepAlive = nil
  }
}
