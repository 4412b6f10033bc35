import Runtime
import STUN
import Traversal

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

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
  /// Why the connection failed or closed before an answer (the stream's own sentence, e.g. a
  /// TLS handshake failure); nil when it did not.
  public private(set) var closeReason: String?
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
    timer = runtime.schedule(at: started + timeout) { [weak self] in
      guard let self else { return }
      self.finish(
        TCPReachability(
          reachable: false, server: server,
          reason:
            "STUN over \(name) to \(server) got no answer within \(Int(self.timeout.milliseconds)) ms.",
          timeoutMs: self.timeout.milliseconds))
    }
    let s: any StreamTransport
    do {
      s = try connector(server)
    } catch {
      closeReason = "\(error)"
      finish(
        TCPReachability(
          reachable: false, server: server,
          reason: "STUN over \(name) to \(server) failed: \(error).", error: "\(error)"))
      return
    }
    stream = s
    s.onFrame = { [weak self, weak s] bytes in
      guard let self, let m = try? Message(bytes: bytes), m.transactionID == id else { return }
      let mapped = (try? m.get(XORMappedAddress.self))?.address
      self.peerCertificate = s?.peerCertificate
      self.finish(
        TCPReachability(
          reachable: true, server: server, mappedAddress: mapped,
          rttMs: (self.runtime.now - started).milliseconds,
          reason: "A Binding request over \(name) to \(server) was answered."))
    }
    s.onClose = { [weak self] reason in
      guard let self, self.completion != nil else { return }
      self.closeReason = reason
      // Over TCP this check runs because UDP failed ("too"); over TLS it is the only try.
      self.finish(
        TCPReachability(
          reachable: false, server: server,
          reason: "STUN over \(name) to \(server) failed\(name == "TCP" ? " too" : ""): \(reason).",
          refused: Self.isRefusal(reason), error: reason))
    }
    var b = MessageBuilder(type: .bindingRequest, transactionID: id)
    b.addFingerprint()
    s.send(b.bytes)
  }

  /// Whether a stream's close reason is the system's "connection refused" (the host answered
  /// the connection attempt with a reset): the stream carries only its reason's words, which
  /// end with the C library's text for ECONNREFUSED.
  static func isRefusal(_ reason: String) -> Bool {
    guard let text = strerror(ECONNREFUSED) else { return false }
    return reason.hasSuffix(String(cString: text))
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
