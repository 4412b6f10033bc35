import Foundation
import Report
import Runtime
import STUN
import Traversal

/// STUN over TLS (`stuns:`) to several servers at once: one ``TCPBindingCheck`` per server
/// over the connector each target gives (TLS with SNI and certificate verification on the
/// real runtime), collected into a ``STUNTLSReport`` in the order given.
///
/// All calls and callbacks happen on the runtime's serial context.
public final class STUNTLSCheckSession {
  /// One server to check.
  public struct Target: Sendable {
    /// Shown in the report (`stuns:host:port`).
    public var uri: String
    public var address: TransportAddress
    public init(uri: String, address: TransportAddress) {
      self.uri = uri
      self.address = address
    }
  }

  private let runtime: any NetworkRuntime
  private let targets: [Target]
  private let connector: (Target) -> StreamConnector
  private let timeout: Duration
  private var checks: [TCPBindingCheck] = []
  private var results: [STUNTLSServerCheck?] = []
  private var completion: ((STUNTLSReport) -> Void)?
  private var keepAlive: STUNTLSCheckSession?
  /// Sentences every report carries (e.g. that certificates were not verified).
  public var warnings: [String] = []
  /// Set on the report (probe's note that RFC 5780 tests need UDP).
  public var note: String?
  /// The wall clock a certificate's expiry is judged by (fixed in tests).
  public var now: () -> Date = Date.init

  /// - Parameter timeout: per server, from opening the connection to the answer (TCP connect,
  ///   TLS handshake and the Binding exchange).
  public init(
    runtime: any NetworkRuntime, targets: [Target],
    connector: @escaping (Target) -> StreamConnector, timeout: Duration = .seconds(6)
  ) {
    self.runtime = runtime
    self.targets = targets
    self.connector = connector
    self.timeout = timeout
  }

  /// Starts every check; `completion` is called once, when all have finished.
  public func start(_ completion: @escaping (STUNTLSReport) -> Void) {
    guard self.completion == nil else { return }
    self.completion = completion
    keepAlive = self
    results = Array(repeating: nil, count: targets.count)
    guard !targets.isEmpty else {
      complete()
      return
    }
    for target in targets {
      let check = TCPBindingCheck(
        runtime: runtime, server: target.address, connector: connector(target),
        timeout: timeout, transportName: "TLS")
      checks.append(check)
    }
    for (i, check) in checks.enumerated() {
      let uri = targets[i].uri
      check.start { [weak self, weak check] result in
        guard let self else { return }
        self.results[i] = STUNTLSServerCheck(
          uri: uri, result: result, closeReason: check?.closeReason,
          certificate: check?.peerCertificate)
        if self.results.allSatisfy({ $0 != nil }) { self.complete() }
      }
    }
  }

  /// Stops every check without reporting.
  public func cancel() {
    completion = nil
    checks.forEach { $0.cancel() }
    checks.removeAll()
    keepAlive = nil
  }

  private func complete() {
    let done = completion
    completion = nil
    checks.removeAll()
    keepAlive = nil
    let servers = results.compactMap { $0 }
    let date = now()
    let expiring = servers.compactMap { s in
      s.certificate?.expiryWarning(uri: s.uri, now: date)
    }
    done?(STUNTLSReport(servers: servers, warnings: warnings + expiring, note: note))
  }
}
