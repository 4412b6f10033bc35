import ArgumentParser
import Dispatch
import Foundation
import Logging
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

/// `connect --whip URL` / `--whep URL`: the media server is the peer. The session gathers as
/// `connect` does, its description goes out as an SDP offer by HTTP POST (WHIPExchange driven
/// by WHIPHTTPClient), the server's answer is the remote description, ICE (controlling), DTLS
/// and the path-MTU search run as for a natscope peer, and the session is DELETEd at the end,
/// also on Ctrl-C and SIGTERM.
extension ConnectCommand {
  /// The endpoint given with --whip or --whep, when one is.
  var whipEndpoint: (kind: WHIPKind, url: URL)? {
    if let whip, let u = URL(string: whip) { return (.whip, u) }
    if let whep, let u = URL(string: whep) { return (.whep, u) }
    return nil
  }

  /// The bearer token: --bearer, else NATSCOPE_WHIP_TOKEN (empty counts as none).
  var bearerToken: String? {
    let t = bearer ?? ProcessInfo.processInfo.environment["NATSCOPE_WHIP_TOKEN"]
    return (t?.isEmpty ?? true) ? nil : t
  }

  func validateWHIP() throws {
    let given = [whip, whep].compactMap { $0 }
    guard !given.isEmpty else {
      if bearer != nil {
        throw ValidationError("--bearer goes with --whip URL or --whep URL; add one or drop it.")
      }
      return
    }
    if given.count > 1 {
      throw ValidationError("give one of --whip and --whep, not both.")
    }
    let option = whip != nil ? "--whip" : "--whep"
    guard let url = URL(string: given[0]), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
    else {
      throw ValidationError(
        "\(option) takes an http:// or https:// URL with a host name or address.")
    }
    if answer {
      throw ValidationError(
        "\(option) makes the offer (the server answers), so drop --answer.")
    }
    if tokenIn != nil || tokenOut != nil || sdp {
      throw ValidationError(
        "\(option) carries the descriptions by HTTP: --token-in, --token-out and --sdp do not apply."
      )
    }
    if noDTLS {
      throw ValidationError(
        "\(option): a media server expects DTLS after ICE, so --no-dtls does not apply.")
    }
    if let b = bearer, b.isEmpty || b.contains(where: { $0.isNewline }) {
      throw ValidationError("--bearer takes a token of one line.")
    }
  }

  func runWHIP(kind: WHIPKind, url: URL) throws {
    let token = bearerToken
    let http: WHIPHTTPClient
    do {
      http = try WHIPHTTPClient(
        token: token, tls: TLSClientSettings(serverName: nil, caFile: ca, insecure: insecure))
    } catch let error as RuntimeError {
      throw fail(error.description)
    }
    defer { http.shutdown() }
    var whipReport = WHIPReport(
      kind: kind, url: WHIPExchange.redacted(url), bearer: token != nil)
    var configuration = try sessionConfiguration()
    // 0. OPTIONS first: ICE servers named there are gathered with beside --stun/--turn.
    if verbose { stderr("\(kind.rawValue.uppercased()): OPTIONS \(whipReport.url)") }
    let (preflight, preflightRecord) = http.send(
      WHIPExchange.preflight(endpoint: url, hasToken: token != nil), timeout: .seconds(5))
    whipReport.requests.append(Self.request(preflightRecord))
    switch preflight {
    case .success(let r):
      whipReport.preflightStatus = r.status
      if (200..<300).contains(r.status) {
        let (servers, malformed) = WHIPICEServer.servers(linkFields: r.values("Link"))
        whipReport.malformedLinks += malformed
        for server in servers {
          whipReport.iceServers.append(adopt(server, into: &configuration))
        }
      }
    case .failure(let f):
      // The host is down or refuses: the POST would fail the same way; say so at once.
      var exchange = WHIPExchange(kind: kind, endpoint: url, offer: "", hasToken: token != nil)
      exchange.transportFailed(f)
      whipReport.record(exchange)
      try output(WHIPConnectDocument(report: nil, whip: whipReport))
      throw ExitCode(NatscopeExit.unreachable.rawValue)
    }
    let runtime = NIORuntime(includeLoopback: includeLoopback)
    defer { runtime.shutdown() }
    // The server answers at once: no person to wait for.
    configuration.peerWaitTimeout = .seconds(30)
    let runner = Self.runner(runtime, configuration) { global.logged($0, "natscope.connect") }
    let events = HeadlessConnectEvents(
      verbose: verbose,
      logger: global.logLevel.level <= .debug ? Logger(label: "natscope.connect") : nil)
    events.omitsWaitingLines = true
    let delivery = DispatchQueue(label: "natscope.connect.events")
    runner.onAvailable = { delivery.async { events.handle(runner.drain()) } }
    defer { delivery.sync {} }

    // The session to DELETE, once the server made one: the signal handlers read it.
    let pending = PendingDelete()
    let sources = InterruptExit.onSignals {
      if let request = pending.take() {
        _ = http.send(request, timeout: .seconds(3))
      }
      Self.close(runner)
    }
    defer { sources.forEach { $0.cancel() } }

    // 1. Gather (and probe), as connect does.
    try runner.start()
    let gatherLimit = configuration.gatheringTimeout + .seconds(10)
    guard events.waitForLocalDescription(timeout: gatherLimit), let mine = events.localDescription
    else {
      Self.close(runner)
      throw fail(
        "gathering candidates did not finish within \(gatherLimit.components.seconds) s")
    }

    // 2. The offer by HTTP; redirects as the protocol allows.
    let offer = WHIPOffer.sdp(mine, kind: kind, sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
    if verbose { stderr("\(kind.rawValue.uppercased()): POST \(whipReport.url)") }
    var exchange = WHIPExchange(kind: kind, endpoint: url, offer: offer, hasToken: token != nil)
    let records = http.establish(&exchange)
    whipReport.requests += records.map(Self.request)
    whipReport.record(exchange)
    if let delete = exchange.deleteRequest() { pending.set(delete) }
    if verbose, let status = whipReport.status {
      stderr("\(kind.rawValue.uppercased()): answered \(status)")
    }
    guard let established = exchange.established else {
      Self.close(runner)
      try output(WHIPConnectDocument(report: nil, whip: whipReport))
      throw ExitCode(NatscopeExit.unreachable.rawValue)
    }

    // 3. ICE, DTLS and the path-MTU search against the answer.
    let limit = configuration.checkTimeout + configuration.holdTime + .seconds(30)
    do {
      try runner.send(.setRemoteDescription(established.answer.description, peerHoldsOurs: true))
    } catch {
      deleteSession(pending, http, &whipReport)
      Self.close(runner)
      throw fail("the checks could not start: \(error)")
    }
    guard runner.waitUntilFinished(timeout: limit) else {
      deleteSession(pending, http, &whipReport)
      Self.close(runner)
      throw fail("the checks did not finish within \(limit.components.seconds) s")
    }
    delivery.sync {}

    // 4. The session ends: DELETE, then the report.
    deleteSession(pending, http, &whipReport)
    guard let verdict = events.progress.report else {
      throw fail("the session closed without a verdict")
    }
    let report = withWarnings(verdict)
    try output(WHIPConnectDocument(report: report, whip: whipReport))
    if report.state != .connected { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }

  /// Sends the DELETE (once) and records its outcome.
  private func deleteSession(
    _ pending: PendingDelete, _ http: WHIPHTTPClient, _ report: inout WHIPReport
  ) {
    guard let request = pending.take() else { return }
    let (result, record) = http.send(request, timeout: .seconds(5))
    report.deleteSent = true
    report.requests.append(Self.request(record))
    switch result {
    case .success(let r): report.deleteStatus = r.status
    case .failure(let f): report.deleteFailure = f
    }
  }

  static func request(_ r: WHIPRequestRecord) -> WHIPReport.Request {
    WHIPReport.Request(method: r.method, url: r.url, status: r.status, ms: r.milliseconds)
  }

  /// Adds an ICE server the endpoint named to the session's servers when it can be used
  /// (a stun: URI; a turn:/turns: URI with username and credential, which stay secret), and
  /// says what became of it.
  func adopt(_ server: WHIPICEServer, into configuration: inout ConnectSessionConfiguration)
    -> WHIPReport.ICEServer
  {
    var entry = WHIPReport.ICEServer(
      uri: server.uri, withCredentials: server.credential != nil, source: .options)
    if server.isTURN {
      guard let uri = try? TURNServerURI.parse(server.uri) else {
        entry.unused = .unreadable
        return entry
      }
      guard let user = server.username, let credential = server.credential else {
        entry.unused = .noCredentials
        return entry
      }
      guard let address = try? Resolver.resolve(uri.server).first else {
        entry.unused = .unresolved
        return entry
      }
      configuration.turnServers.append(
        ConnectTURNServer(
          address: address, credentials: TURNCredentials(username: user, password: credential),
          transport: uri.transport == .tcp ? .tcp : .udp,
          tls: uri.secure
            ? TLSClientSettings(
              serverName: uri.server.literal == nil ? uri.server.host : nil, caFile: ca,
              insecure: insecure) : nil))
    } else {
      guard let uri = try? STUNServerURI.parse(server.uri), !uri.secure else {
        entry.unused = .unreadable
        return entry
      }
      guard let address = try? Resolver.resolve(uri.server).first else {
        entry.unused = .unresolved
        return entry
      }
      configuration.stunServers.append(address)
    }
    entry.used = true
    return entry
  }

  private func output(_ document: WHIPConnectDocument) throws {
    if json {
      try JSONOutput.print(document, schema: .connect)
    } else {
      print(TerminalText.fit(document.text, ascii: console.renderOptions.ascii))
    }
  }
}

/// The DELETE of a WHIP/WHEP session, taken once (by the end of the run or a signal).
final class PendingDelete: @unchecked Sendable {
  private let lock = NSLock()
  private var request: WHIPRequest?

  func set(_ r: WHIPRequest) { lock.withLock { request = r } }

  func take() -> WHIPRequest? {
    lock.withLock {
      defer { request = nil }
      return request
    }
  }
}
