import Report
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
  /// The probe's timer (it never transmits: its queries go through the STUN client).
  private lazy var driver = MachineDriver<ProbeEvent>(
    runtime: runtime, transmit: { _ in },
    timeout: { [weak self] now in
      guard let self else { return }
      self.apply(self.probe.handleTimeout(at: now))
    })
  /// The probe's events, carried out one at a time after the probe's call has returned.
  private lazy var events = EventDrain<ProbeEvent> { [weak self] e in self?.carryOut(e) }
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
    apply(probe.start(at: runtime.now))
  }

  /// Stops the probe early; no completion is called.
  public func cancel() {
    completion = nil
    finish()
  }

  private func apply(_ outputs: [BehaviorProbe.Output]) {
    events.post(contentsOf: driver.carryOut(outputs))
  }

  private func carryOut(_ event: ProbeEvent) {
    switch event {
    case .query(let id, let query):
      do {
        try client.send(query) { [weak self] outcome, local in
          guard let self else { return }
          self.apply(
            self.probe.handleInput(outcome, localAddress: local, for: id, at: self.runtime.now))
        }
      } catch let error as RuntimeError {
        fail(error)
      } catch {
        fail(.failed("\(error)"))
      }
    case .stepStarted, .stepFinished:
      onStep?(event)
    case .finished(let report):
      events.removeAll()
      if report.udpBlocked, let connector = tcpConnector,
        let server = probe.configuration.servers.first
      {
        client.close()
        driver.stop()
        let check = TCPBindingCheck(runtime: runtime, server: server, connector: connector)
        tcpCheck = check
        check.start { [weak self] tcp in self?.complete(report, tcp: tcp) }
      } else {
        complete(report, tcp: nil)
      }
    }
  }

  private func complete(_ report: ProbeReport, tcp: TCPReachability?) {
    var report = report
    if let tcp { report.tcp = tcp }
    // Every sentence of the report (reasons, summary) comes from its findings.
    report = ProbeFindings.apply(to: report)
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
    events.removeAll()
    driver.stop()
    client.close()
    tcpCheck?.cancel()
    tcpCheck = nil
    keepAlive = nil
  }
}
