import AsyncHTTPClient
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Runtime
import Traversal

/// One HTTP request of a WHIP/WHEP exchange as it went: what was asked (the URL redacted: no
/// user, password or query), the status that came back (nil when the transport failed) and
/// how long it took.
public struct WHIPRequestRecord: Sendable, Hashable {
  public var method: String
  public var url: String
  public var status: Int?
  public var milliseconds: Double
}

/// The HTTP driver of ``WHIPExchange`` on AsyncHTTPClient: it sends the requests the machine
/// asks for, adds `Authorization: Bearer` where the machine says the request may carry the
/// token, reads each response (bounded), and hands it back. Redirects are the machine's
/// (the client follows none itself), TLS is verified as for turns: servers (`--ca`,
/// `--insecure`), and each request is bounded in time. Blocking calls, for the CLI thread.
public final class WHIPHTTPClient: @unchecked Sendable {
  private let client: HTTPClient
  private let token: String?
  /// The most a request may take, connection included.
  public let requestTimeout: Duration
  public let connectTimeout: Duration
  private let lock = NSLock()
  private var shutDown = false

  /// - Parameters:
  ///   - token: the bearer token (secret: it goes in the Authorization header only).
  ///   - tls: `caFile`/`insecure` as given; `serverName` is unused (each URL's host is the
  ///     name verified).
  /// - Throws: `RuntimeError` with one sentence when the CA file cannot be used.
  public init(
    token: String?, tls: TLSClientSettings, connectTimeout: Duration = .seconds(5),
    requestTimeout: Duration = .seconds(15)
  ) throws {
    self.token = token
    self.connectTimeout = connectTimeout
    self.requestTimeout = requestTimeout
    var pool = HTTPClient.Configuration.ConnectionPool()
    // A refused connection is the evidence: not retried until the deadline.
    pool.retryConnectionEstablishment = false
    var configuration = HTTPClient.Configuration(
      tlsConfiguration: try tls.tlsConfiguration(),
      redirectConfiguration: .disallow,
      timeout: .init(
        connect: .milliseconds(Int64(connectTimeout.milliseconds)),
        read: .milliseconds(Int64(requestTimeout.milliseconds))),
      connectionPool: pool)
    configuration.httpVersion = .automatic
    client = HTTPClient(
      eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
  }

  deinit {
    if !shutDown { try? client.syncShutdown() }
  }

  /// Stops the client (its connections close); bounded.
  public func shutdown() {
    lock.lock()
    let already = shutDown
    shutDown = true
    lock.unlock()
    if !already { try? client.syncShutdown() }
  }

  /// Sends one request and waits (at most `timeout`, by default the request timeout, plus a
  /// second) for its response or the transport's failure.
  public func send(_ request: WHIPRequest, timeout: Duration? = nil) -> (
    Result<WHIPResponse, WHIPTransportFailure>, WHIPRequestRecord
  ) {
    let box = ResultBox()
    let done = DispatchSemaphore(value: 0)
    let start = DispatchTime.now()
    let client = self.client
    let token = self.token
    let timeout = timeout ?? requestTimeout
    let connect = connectTimeout
    Task {
      let r = await Self.perform(
        request, client: client, token: token, timeout: timeout, connect: connect)
      box.set(r)
      done.signal()
    }
    let waited = done.wait(timeout: .now() + .milliseconds(Int(timeout.milliseconds) + 1000))
    let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
    let result: Result<WHIPResponse, WHIPTransportFailure> =
      waited == .success
      ? (box.get() ?? .failure(.responseTimeout(milliseconds: Int(timeout.milliseconds))))
      : .failure(.responseTimeout(milliseconds: Int(timeout.milliseconds)))
    var status: Int?
    if case .success(let r) = result { status = r.status }
    let record = WHIPRequestRecord(
      method: request.method, url: WHIPExchange.redacted(request.url), status: status,
      milliseconds: (ms * 10).rounded() / 10)
    return (result, record)
  }

  /// Runs the exchange to its end: the POST, each redirect the machine follows, the answer
  /// or failure (in `exchange`). Returns every request as it went.
  public func establish(_ exchange: inout WHIPExchange) -> [WHIPRequestRecord] {
    var records: [WHIPRequestRecord] = []
    var next: WHIPRequest? = exchange.start()
    // Bounded: the machine follows at most maxRedirects redirects.
    while let request = next, records.count <= WHIPExchange.maxRedirects + 1 {
      let (result, record) = send(request)
      records.append(record)
      switch result {
      case .success(let response):
        next = exchange.receive(response)
      case .failure(let f):
        exchange.transportFailed(f)
        next = nil
      }
    }
    return records
  }

  private static func perform(
    _ request: WHIPRequest, client: HTTPClient, token: String?, timeout: Duration, connect: Duration
  ) async -> Result<WHIPResponse, WHIPTransportFailure> {
    var r = HTTPClientRequest(url: request.url.absoluteString)
    r.method = HTTPMethod(rawValue: request.method)
    for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
      r.headers.add(name: name, value: value)
    }
    if request.authorized, let token {
      r.headers.add(name: "Authorization", value: "Bearer " + token)
    }
    if !request.body.isEmpty {
      r.body = .bytes(ByteBuffer(bytes: request.body))
    }
    do {
      let response = try await client.execute(
        r, timeout: .milliseconds(Int64(timeout.milliseconds)))
      var body: [UInt8] = []
      var truncated = false
      for try await chunk in response.body {
        let room = WHIPExchange.bodyLimit - body.count
        if chunk.readableBytes > room {
          body += chunk.readableBytesView.prefix(room)
          truncated = true
          break
        }
        body += chunk.readableBytesView
      }
      let headers = response.headers.map { WHIPHeader($0.name, $0.value) }
      return .success(
        WHIPResponse(
          status: Int(response.status.code), headers: headers, body: body, truncated: truncated))
    } catch {
      return .failure(
        classify(
          error, host: request.url.host ?? "", connectMs: Int(connect.milliseconds),
          requestMs: Int(timeout.milliseconds)))
    }
  }

  /// The transport failure an error stands for.
  static func classify(_ error: any Error, host: String, connectMs: Int, requestMs: Int)
    -> WHIPTransportFailure
  {
    if let e = error as? HTTPClientError {
      switch e {
      case .connectTimeout: return .connectTimeout(milliseconds: connectMs)
      case .readTimeout, .deadlineExceeded: return .responseTimeout(milliseconds: requestMs)
      case .remoteConnectionClosed: return .closed
      case .tlsHandshakeTimeout: return .connectTimeout(milliseconds: connectMs)
      default: return .other("\(e)")
      }
    }
    if let e = error as? NIOConnectionError {
      if let inner = e.connectionErrors.first?.error {
        return classify(inner, host: host, connectMs: connectMs, requestMs: requestMs)
      }
      return .unresolved(host: host)
    }
    if let e = error as? IOError {
      if e.errnoCode == ECONNREFUSED { return .refused }
      return .other("\(e)")
    }
    if let e = error as? ChannelError, case .connectTimeout = e {
      return .connectTimeout(milliseconds: connectMs)
    }
    if let e = error as? NIOSSLExtraError, e == .failedToValidateHostname {
      return .tlsWrongName(host: host)
    }
    if let e = error as? NIOSSLError {
      if case .handshakeFailed(let boring) = e {
        let text = "\(boring)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return .tls(.unverified) }
        if text.contains("WRONG_VERSION_NUMBER") { return .tls(.notTLS(detail: text)) }
        if text.contains("EOF during handshake") { return .tls(.closedDuringHandshake) }
        return .tls(.handshake(detail: text))
      }
      if case .uncleanShutdown = e { return .tls(.closedDuringHandshake) }
      return .tls(.handshake(detail: "\(e)"))
    }
    if let e = error as? NIOSSLCloseTimedOutError { return .other("\(e)") }
    if "\(error)".contains("NXDOMAIN") || "\(type(of: error))".contains("Resolution") {
      return .unresolved(host: host)
    }
    return .other("\(error)")
  }
}

private final class ResultBox: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Result<WHIPResponse, WHIPTransportFailure>?
  func set(_ v: Result<WHIPResponse, WHIPTransportFailure>) { lock.withLock { value = v } }
  func get() -> Result<WHIPResponse, WHIPTransportFailure>? { lock.withLock { value } }
}
