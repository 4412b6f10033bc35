import Report
import Runtime
import STUN
import Traversal

/// One STUN Binding request over TCP (RFC 8489 §6.2.2): does a TCP path to the server exist
/// when UDP is blocked? Runs on any runtime that can open a stream to the server (real TCP, or
/// a simulated stream), and over TLS (`stuns:`, RFC 8489 §6.2.3) when the connector speaks it
/// and `transportName` is "TLS".
///
/// ```swift
/// let check = TCPBindingCheck(runtime: rt, server: server, connector: connector)
/// check.start { reachability in print(reachability.reason) }
/// ```
///
/// All calls and callbacks happen on the runtime's serial context.
public final class TCPBindingCheck {
  public let server: TransportAddress
  public let timeout: Duration
  /// "TCP" or "TLS", as the sentences name the transport.
  public let transportName: String
  /// Why the connection failed or closed before an answer (a TLS handshake failure, a
  /// refusal); nil when it did not.
  public private(set) var closeReason: StreamCloseReason?
  /// The server's TLS certificate, when the stream spoke TLS and the server answered over it.
  public private(set) var peerCertificate: TLSPeerCertificate?
  private let runtime: any NetworkRuntime
  private let connector: StreamConnector
  private var stream: (any StreamTransport)?
  private var timer: (any TimerHandle)?
  private var completion: ((TCPReachability) -> Void)?

  /// A check, not yet started.
  public init(
    runtime: any NetworkRuntime, server: TransportAddress, connector: @escaping StreamConnector,
    timeout: Duration = .seconds(3), transportName: String = "TCP"
  ) {
    self.transportName = transportName
    self.runtime = runtime
    self.server = server
    self.connector = connector
    self.timeout = timeout
  }

  /// Connects, sends one Binding request and calls `completion` once: answered, refused or
  /// closed, or no answer within the timeout.
  public func start(_ completion: @escaping (TCPReachability) -> Void) {
    guard self.completion == nil else { return }
    self.completion = completion
    let id = TransactionID.random()
    let started = runtime.now
    let server = self.server
    let name = transportName
    func worded(_ r: TCPReachability) -> TCPReachability {
      var r = r
      r.reason = ProbeFindings.tcpFinding(r, transport: name).text
      return r
    }
    timer = runtime.schedule(at: started + timeout) { [weak self] in
      guard let self else { return }
      self.finish(
        worded(
          TCPReachability(
            reachable: false, server: server, reason: "",
            timeoutMs: self.timeout.milliseconds)))
    }
    let s: any StreamTransport
    do {
      s = try connector(server)
    } catch {
      let reason = StreamCloseReason.failed("\(error)")
      closeReason = reason
      finish(
        worded(
          TCPReachability(
            reachable: false, server: server, reason: "", error: reason.explanation)))
      return
    }
    stream = s
    s.onFrame = { [weak self, weak s] bytes in
      guard let self, let m = try? Message(bytes: bytes), m.transactionID == id else { return }
      let mapped = (try? m.get(XORMappedAddress.self))?.address
      self.peerCertificate = s?.peerCertificate
      self.finish(
        worded(
          TCPReachability(
            reachable: true, server: server, mappedAddress: mapped,
            rttMs: (self.runtime.now - started).milliseconds, reason: "")))
    }
    s.onClose = { [weak self] reason in
      guard let self, self.completion != nil else { return }
      self.closeReason = reason
      self.finish(
        worded(
          TCPReachability(
            reachable: false, server: server, reason: "", refused: reason == .refused,
            error: reason.explanation)))
    }
    var b = MessageBuilder(type: .bindingRequest, transactionID: id)
    b.addFingerprint()
    s.send(b.bytes)
  }

  /// Stops without reporting.
  public func cancel() {
    completion = nil
    tearDown()
  }

  private func finish(_ result: TCPReachability) {
    guard let completion else { return }
    self.completion = nil
    tearDown()
    completion(result)
  }

  private func tearDown() {
    timer?.cancel()
    timer = nil
    stream?.onFrame = nil
    stream?.onClose = nil
    stream?.close()
    stream = nil
  }
}
