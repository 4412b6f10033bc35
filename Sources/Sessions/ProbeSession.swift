import Runtime
import STUN
import Traversal

/// Runs a `BehaviorProbe` over a `NetworkRuntime` with a `STUNClient`: the same code probes a
/// real NAT on real sockets and a simulated one in tests and the demo. When UDP turns out to be
/// blocked and a stream connector was given, it also tries one STUN Binding over TCP to the
/// first server (``TCPBindingCheck``) and adds that to the report.
public final class ProbeSession {
  public let runtime: any NetworkRuntime
  public private(set) var probe: BehaviorProbe
  public let client: STUNClient
  /// Called for every step started and finished (for live views); on the runtime's context.
  public var onStep: ((ProbeAction) -> Void)?

  private var completion: ((Result<ProbeReport, RuntimeError>) -> Void)?
  private var queue: [BehaviorProbe.Output] = []
  private var draining = false
  private var timers: [any TimerHandle] = []
  /// A running session keeps itself alive until it finishes, so a caller may start it and
  /// drop its reference (runtime callbacks only hold it weakly).
  private var keepAlive: ProbeSession?
  private let tcpConnector: StreamConnector?
  private var tcpCheck: TCPBindingCheck?

  /// A probe, not yet started.
  /// - Parameter tcpConnector: opens TCP streams for the STUN-over-TCP check when UDP is
  ///   blocked; nil skips that check.
  public init(
    runtime: any NetworkRuntime, configuration: ProbeConfiguration,
    policy: RetransmissionPolicy = .probe, socketOptions: UDPSocketOptions = UDPSocketOptions(),
    tcpConnector: StreamConnector? = nil
  ) {
    self.runtime = runtime
    self.probe = BehaviorProbe(configuration: configuration)
    self.client = STUNClient(runtime: runtime, policy: policy, socketOptions: socketOptions)
    self.tcpConnector = tcpConnector
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

  private func enqueue(_ actions: [BehaviorProbe.Output]) {
    queue += actions
    guard !draining else { return }
    draining = true
    defer { draining = false }
    while !queue.isEmpty {
      let action = queue.removeFirst()
      switch action {
      case .event(.query(let id, let query)):
        do {
          try client.send(query) { [weak self] outcome, local in
            guard let self else { return }
            self.enqueue(
              self.probe.handleInput(outcome, localAddress: local, for: id, at: self.runtime.now))
          }
        } catch let error as RuntimeError {
          fail(error)
          return
        } catch {
          fail(.failed("\(error)"))
          return
        }
      case .timeout(let at):
        for t in timers { t.cancel() }
        timers = [
          runtime.schedule(at: at) { [weak self] in
            guard let self else { return }
            self.enqueue(self.probe.handleTimeout(at: self.runtime.now))
          }
        ]
      case .event(.stepStarted), .event(.stepFinished):
        if case .event(let step) = action { onStep?(step) }
      case .event(.finished(let report)):
        if report.udpBlocked, let connector = tcpConnector,
          let server = probe.configuration.servers.first
        {
          client.close()
          for t in timers { t.cancel() }
          timers.removeAll()
          let check = TCPBindingCheck(runtime: runtime, server: server, connector: connector)
          tcpCheck = check
          check.start { [weak self] tcp in self?.complete(report, tcp: tcp) }
        } else {
          complete(report, tcp: nil)
        }
        return
      }
    }
  }

  private func complete(_ report: ProbeReport, tcp: TCPReachability?) {
    var report = report
    if let tcp {
      report.tcp = tcp
      if tcp.reachable {
        report.summary +=
          " STUN over TCP does reach \(tcp.server), so a TURN relay over TCP (or TLS) can carry traffic."
      }
    }
    let done = completion
    finish()
    done?(.success(report))
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
    tcpCheck?.cancel()
    tcpCheck = nil
    keepAlive = nil
  }
}
