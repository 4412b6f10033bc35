import STUN
import Traversal

extension FindingCode {
  /// The server took the offer and answered (`status`, `ms`, `candidates`, `iceLite`).
  public static let whipAnswered: FindingCode = "whip.answered"
  /// The answer says `a=ice-lite`: the server answers checks and sends none; expected.
  public static let whipICELite: FindingCode = "whip.ice-lite"
  /// 401 or 403 (`status`, `token`: whether the refused request carried one).
  public static let whipUnauthorized: FindingCode = "whip.unauthorized"
  /// 404: no endpoint at that URL.
  public static let whipNotFound: FindingCode = "whip.not-found"
  /// 400, 415, 422 or another 4xx: the server refused the offer (`status`, `reason`).
  public static let whipOfferRefused: FindingCode = "whip.offer-refused"
  /// 5xx (`status`, `reason`).
  public static let whipServerError: FindingCode = "whip.server-error"
  /// A redirect back to a URL already asked (`hops`).
  public static let whipRedirectLoop: FindingCode = "whip.redirect-loop"
  /// More redirects than natscope follows (`hops`).
  public static let whipTooManyRedirects: FindingCode = "whip.too-many-redirects"
  /// 301, 302 or 303, which would turn the POST into a GET (`status`).
  public static let whipRedirectChangesMethod: FindingCode = "whip.redirect-changes-method"
  /// A 307 or 308 without a usable Location (`status`).
  public static let whipRedirectWithoutLocation: FindingCode = "whip.redirect-without-location"
  /// A 2xx whose body is not application/sdp (`status`, `contentType`).
  public static let whipAnswerNotSDP: FindingCode = "whip.answer-not-sdp"
  /// An application/sdp body natscope cannot read as an answer (`detail`).
  public static let whipAnswerUnreadable: FindingCode = "whip.answer-unreadable"
  /// A status WHIP does not use for the POST (`status`).
  public static let whipUnexpectedStatus: FindingCode = "whip.unexpected-status"
  /// The connection was refused (`host`).
  public static let whipRefused: FindingCode = "whip.refused"
  /// The host name did not resolve (`host`).
  public static let whipUnresolved: FindingCode = "whip.unresolved"
  /// No connection in time (`ms`).
  public static let whipConnectTimeout: FindingCode = "whip.connect-timeout"
  /// Connected, no whole response in time (`ms`).
  public static let whipNoAnswer: FindingCode = "whip.no-answer"
  /// TLS failed (`detail`: the TLS problem in words).
  public static let whipTLS: FindingCode = "whip.tls"
  /// The connection closed before a whole response came.
  public static let whipClosed: FindingCode = "whip.closed"
  /// Another transport error (`detail`, the library's words).
  public static let whipTransportError: FindingCode = "whip.transport-error"
  /// Link headers of the OPTIONS before gathering named ICE servers (`servers`, `used`,
  /// `uris` of those used): gathered with beside --stun/--turn.
  public static let whipICEServersUsed: FindingCode = "whip.ice-servers"
  /// The 201 named ICE servers the OPTIONS had not (`servers`, `uris`): too late to gather
  /// with (natscope does not trickle), so not used.
  public static let whipICEServersTooLate: FindingCode = "whip.ice-servers-after-offer"
  /// The session was deleted at the end (`status`).
  public static let whipDeleted: FindingCode = "whip.deleted"
  /// The DELETE did not succeed (`status` or `detail`).
  public static let whipDeleteFailed: FindingCode = "whip.delete-failed"
  /// The answer had no Location, so the session could not be deleted.
  public static let whipNoLocation: FindingCode = "whip.no-location"
}

extension FindingAspect {
  /// The HTTP signalling of `connect --whip/--whep`.
  public static let whipSignalling: FindingAspect = "whip-signalling"
}

/// The HTTP side of `connect --whip URL` / `--whep URL` (`whip` in connect's JSON): the
/// evidence the ``WHIPFindings`` are derived from. No secret is in it: URLs without user,
/// password or query, ICE servers without their credentials, never the bearer token.
public struct WHIPReport: Codable, Sendable, Hashable {
  /// One HTTP request: `{method, url, status, ms}` (status null when the transport failed).
  public struct Request: Codable, Sendable, Hashable {
    public var method: String
    public var url: String
    public var status: Int?
    public var ms: Double
    public init(method: String, url: String, status: Int?, ms: Double) {
      self.method = method
      self.url = url
      self.status = status
      self.ms = ms
    }
  }

  /// An ICE server from a `Link` header: its URI, whether it came with credentials, which
  /// response named it (`options`: the OPTIONS before gathering; `answer`: the 201) and
  /// whether natscope gathered with it.
  public struct ICEServer: Codable, Sendable, Hashable {
    public enum Source: String, Codable, Sendable, Hashable { case options, answer }
    /// Why a server named before the offer was not used.
    public enum Unused: String, Codable, Sendable, Hashable {
      /// A TURN server without username and credential.
      case noCredentials = "no-credentials"
      /// The URI could not be read as a stun:, turn: or turns: URI.
      case unreadable
      /// Its host name did not resolve.
      case unresolved
      /// Named only in the 201, after the offer (natscope does not trickle).
      case afterOffer = "after-offer"
    }
    public var uri: String
    public var withCredentials: Bool
    public var source: Source
    public var used: Bool
    public var unused: Unused?
    public init(
      uri: String, withCredentials: Bool, source: Source = .answer, used: Bool = false,
      unused: Unused? = nil
    ) {
      self.uri = uri
      self.withCredentials = withCredentials
      self.source = source
      self.used = used
      self.unused = unused
    }
    private enum CodingKeys: String, CodingKey { case uri, withCredentials, source, used, unused }
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(uri, forKey: .uri)
      try c.encode(withCredentials, forKey: .withCredentials)
      try c.encode(source, forKey: .source)
      try c.encode(used, forKey: .used)
      try c.encode(unused, forKey: .unused)
    }
  }

  /// `whip` or `whep`.
  public var kind: WHIPKind
  /// The endpoint, redacted.
  public var url: String
  /// Whether a bearer token was given (never the token).
  public var bearer: Bool
  /// Every request, in order: the POST, redirects, the DELETE.
  public var requests: [Request] = []
  /// The status of the OPTIONS sent before gathering; nil when it got no response (or was
  /// not sent).
  public var preflightStatus: Int?
  /// The final status of the POST; nil when no response came.
  public var status: Int?
  /// The session's resource (redacted); nil when none was given.
  public var location: String?
  public var iceServers: [ICEServer] = []
  /// `Link` values that could not be read.
  public var malformedLinks: Int = 0
  public var etag: String?
  /// `Accept-Patch: application/trickle-ice-sdpfrag`: the server takes trickled candidates.
  /// natscope sends a complete offer either way.
  public var trickleAllowed: Bool = false
  /// The answer says `a=ice-lite`.
  public var iceLite: Bool?
  /// Usable candidates in the answer.
  public var answerCandidates: Int?
  /// The problem code (a finding code) when the HTTP side failed; nil otherwise.
  public var problem: String?
  /// The DELETE's status (nil when none was sent or no response came).
  public var deleteStatus: Int?

  /// The HTTP side failed (the connect document then has no ICE results).
  public var failure: WHIPFailure?
  /// The transport failure of the DELETE, if any.
  public var deleteFailure: WHIPTransportFailure?
  /// Whether a DELETE was attempted.
  public var deleteSent = false

  public init(kind: WHIPKind, url: String, bearer: Bool) {
    self.kind = kind
    self.url = url
    self.bearer = bearer
  }

  private enum CodingKeys: String, CodingKey {
    case kind, url, bearer, requests, preflightStatus, status, location, iceServers
    case malformedLinks, etag
    case trickleAllowed, iceLite, answerCandidates, problem, deleteStatus, findings
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    kind = try c.decode(WHIPKind.self, forKey: .kind)
    url = try c.decode(String.self, forKey: .url)
    bearer = try c.decode(Bool.self, forKey: .bearer)
    requests = try c.decode([Request].self, forKey: .requests)
    preflightStatus = try c.decodeIfPresent(Int.self, forKey: .preflightStatus)
    status = try c.decodeIfPresent(Int.self, forKey: .status)
    location = try c.decodeIfPresent(String.self, forKey: .location)
    iceServers = try c.decode([ICEServer].self, forKey: .iceServers)
    malformedLinks = try c.decode(Int.self, forKey: .malformedLinks)
    etag = try c.decodeIfPresent(String.self, forKey: .etag)
    trickleAllowed = try c.decode(Bool.self, forKey: .trickleAllowed)
    iceLite = try c.decodeIfPresent(Bool.self, forKey: .iceLite)
    answerCandidates = try c.decodeIfPresent(Int.self, forKey: .answerCandidates)
    problem = try c.decodeIfPresent(String.self, forKey: .problem)
    deleteStatus = try c.decodeIfPresent(Int.self, forKey: .deleteStatus)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(kind, forKey: .kind)
    try c.encode(url, forKey: .url)
    try c.encode(bearer, forKey: .bearer)
    try c.encode(requests, forKey: .requests)
    try c.encode(preflightStatus, forKey: .preflightStatus)
    try c.encode(status, forKey: .status)
    try c.encode(location, forKey: .location)
    try c.encode(iceServers, forKey: .iceServers)
    try c.encode(malformedLinks, forKey: .malformedLinks)
    try c.encode(etag, forKey: .etag)
    try c.encode(trickleAllowed, forKey: .trickleAllowed)
    try c.encode(iceLite, forKey: .iceLite)
    try c.encode(answerCandidates, forKey: .answerCandidates)
    try c.encode(problem ?? WHIPFindings.problem(self), forKey: .problem)
    try c.encode(deleteStatus, forKey: .deleteStatus)
    try c.encode(WHIPFindings.findings(self).findings, forKey: .findings)
  }

  /// Fills the report from a finished exchange.
  public mutating func record(_ exchange: WHIPExchange) {
    if let e = exchange.established {
      status = e.status
      location = e.location.map(WHIPExchange.redacted)
      // The servers named before the offer stay; the 201's that are new were too late.
      let known = Set(iceServers.map(\.uri))
      iceServers += e.iceServers.filter { !known.contains($0.uri) }.map {
        ICEServer(
          uri: $0.uri, withCredentials: $0.credential != nil, source: .answer, used: false,
          unused: .afterOffer)
      }
      malformedLinks += e.malformedLinks
      etag = e.etag
      trickleAllowed = e.trickleAllowed
      iceLite = e.answer.iceLite
      answerCandidates = e.answer.description.usableCandidates.count
    } else {
      status = exchange.hops.last?.status
    }
    failure = exchange.failure
    problem = WHIPFindings.problem(self)
  }
}

/// Findings about the HTTP side of `connect --whip/--whep`, from a ``WHIPReport``.
public enum WHIPFindings {
  /// The problem code when the HTTP side failed.
  public static func problem(_ r: WHIPReport) -> String? {
    guard let f = r.failure else { return nil }
    return failureFinding(f, r).code.rawValue
  }

  /// Every finding of the exchange: the failure, or the answer (and ICE-lite), then the
  /// DELETE's outcome.
  public static func findings(_ r: WHIPReport) -> FindingSet {
    var out: [Finding] = []
    if let f = r.failure {
      out.append(failureFinding(f, r))
      return FindingSet(out)
    }
    guard let status = r.status else { return FindingSet(out) }
    var p: FindingParameters = ["status": .int(status), "kind": .text(r.kind.rawValue)]
    if let ms = r.requests.first(where: { $0.method == "POST" && $0.status == status })?.ms {
      p["ms"] = .milliseconds(ms)
    }
    p["candidates"] = .int(r.answerCandidates ?? 0)
    out.append(
      Finding(
        .whipAnswered, about: .peer, .measured, aspect: .whipSignalling, parameters: p,
        evidence: [EvidenceItem(.signalling, step: "POST", value: Double(status))]))
    if r.iceLite == true {
      out.append(
        Finding(
          .whipICELite, about: .peer, .measured,
          evidence: [EvidenceItem(.signalling, step: "answer")]))
    }
    let before = r.iceServers.filter { $0.source == .options }
    if !before.isEmpty {
      out.append(
        Finding(
          .whipICEServersUsed, about: .peer, .measured,
          parameters: [
            "servers": .int(before.count), "used": .int(before.filter(\.used).count),
            "uris": .text(before.filter(\.used).map(\.uri).joined(separator: ", ")),
          ],
          evidence: [EvidenceItem(.signalling, step: "OPTIONS", count: before.count)]))
    }
    let late = r.iceServers.filter { $0.unused == .afterOffer }
    if !late.isEmpty {
      out.append(
        Finding(
          .whipICEServersTooLate, about: .peer, .measured,
          parameters: [
            "servers": .int(late.count), "uris": .text(late.map(\.uri).joined(separator: ", ")),
          ],
          evidence: [EvidenceItem(.signalling, step: "answer", count: late.count)]))
    }
    if r.location == nil {
      out.append(
        Finding(
          .whipNoLocation, about: .peer, .measured, parameters: ["kind": .text(r.kind.rawValue)]))
    } else if r.deleteSent {
      if let s = r.deleteStatus, (200..<300).contains(s) {
        out.append(
          Finding(
            .whipDeleted, about: .session, .measured,
            parameters: ["status": .int(s), "kind": .text(r.kind.rawValue)],
            evidence: [EvidenceItem(.signalling, step: "DELETE", value: Double(s))]))
      } else {
        var q: FindingParameters = ["kind": .text(r.kind.rawValue)]
        if let s = r.deleteStatus { q["status"] = .int(s) }
        if let t = r.deleteFailure { q["detail"] = .text(transportWords(t)) }
        out.append(Finding(.whipDeleteFailed, about: .peer, .measured, parameters: q))
      }
    }
    return FindingSet(out)
  }

  static func failureFinding(_ f: WHIPFailure, _ r: WHIPReport) -> Finding {
    var p: FindingParameters = ["kind": .text(r.kind.rawValue), "url": .text(r.url)]
    let code: FindingCode
    var subject: FindingSubject = .peer
    let step = r.requests.last?.method ?? "POST"
    var evidence = [EvidenceItem(.signalling, step: step, count: r.requests.count)]
    switch f {
    case .unauthorized(let status, let hadToken):
      code = .whipUnauthorized
      p["status"] = .int(status)
      p["token"] = .flag(hadToken)
    case .notFound:
      code = .whipNotFound
      p["status"] = .int(404)
    case .offerRefused(let status, let reason):
      code = .whipOfferRefused
      p["status"] = .int(status)
      if let reason { p["reason"] = .text(reason) }
    case .serverError(let status, let reason):
      code = .whipServerError
      p["status"] = .int(status)
      if let reason { p["reason"] = .text(reason) }
    case .redirectLoop(let hops):
      code = .whipRedirectLoop
      p["hops"] = .int(hops)
    case .tooManyRedirects(let hops):
      code = .whipTooManyRedirects
      p["hops"] = .int(hops)
    case .redirectChangesMethod(let status):
      code = .whipRedirectChangesMethod
      p["status"] = .int(status)
    case .redirectWithoutLocation(let status):
      code = .whipRedirectWithoutLocation
      p["status"] = .int(status)
    case .answerNotSDP(let status, let type):
      code = .whipAnswerNotSDP
      p["status"] = .int(status)
      if let type { p["contentType"] = .text(type) }
    case .answerUnreadable(let error):
      code = .whipAnswerUnreadable
      p["detail"] = .text(error.message)
    case .unexpectedStatus(let status):
      code = .whipUnexpectedStatus
      p["status"] = .int(status)
    case .transport(let t):
      subject = .network
      evidence = [EvidenceItem(.tcp, step: step, count: r.requests.count)]
      switch t {
      case .refused:
        code = .whipRefused
      case .unresolved(let host):
        code = .whipUnresolved
        p["host"] = .text(host)
      case .connectTimeout(let ms):
        code = .whipConnectTimeout
        p["ms"] = .int(ms)
        evidence = [EvidenceItem(.noAnswer, step: "connect", value: Double(ms))]
      case .responseTimeout(let ms):
        code = .whipNoAnswer
        p["ms"] = .int(ms)
        evidence = [EvidenceItem(.noAnswer, step: step, value: Double(ms))]
      case .tls, .tlsWrongName:
        code = .whipTLS
        p["detail"] = .text(transportWords(t))
        evidence = [EvidenceItem(.tls, step: step)]
      case .closed:
        code = .whipClosed
      case .other(let words):
        code = .whipTransportError
        p["detail"] = .text(words)
      }
    }
    return Finding(
      code, about: subject, .measured, aspect: .whipSignalling, covers: [.whipSignalling],
      parameters: p, evidence: evidence)
  }

  /// A transport failure in words (no capital, no full stop).
  static func transportWords(_ t: WHIPTransportFailure) -> String {
    switch t {
    case .refused: return StreamCloseReason.refused.explanation
    case .unresolved(let host): return "the name \(host) did not resolve"
    case .connectTimeout(let ms): return StreamCloseReason.timedOut(milliseconds: ms).explanation
    case .responseTimeout(let ms): return "no whole response within \(ms) ms"
    case .tls(let problem): return problem.explanation
    case .tlsWrongName(let host):
      return "TLS certificate problem: the server's certificate is not for \(host)"
    case .closed: return "the server closed the connection before a whole response came"
    case .other(let words): return words
    }
  }

  /// The sentences of this domain (registered in ``FindingText``).
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let name = p.text("kind") == "whep" ? "WHEP" : "WHIP"
    let url = p.text("url") ?? "the endpoint"
    let status = p.int("status").map(String.init) ?? "?"
    func quoted(_ reason: String?) -> String {
      reason.map { ": \"\($0)\"" } ?? " (no reason given)"
    }
    switch f.code {
    case .whipAnswered:
      let ms = p.milliseconds("ms").map { " in \(ConnectReportText.ms($0))" } ?? ""
      return
        "The \(name) endpoint took the offer (\(status)\(ms)) and answered with \(ConnectFindings.plural(p.int("candidates") ?? 0, "usable candidate"))."
    case .whipICELite:
      return
        "The server is ICE-lite: it answers natscope's checks and sends none of its own, as media servers do; that is expected, not a failure."
    case .whipUnauthorized:
      if p.flag("token") == true {
        return
          "The \(name) endpoint refused the bearer token (\(status)): check --bearer or NATSCOPE_WHIP_TOKEN."
      }
      return
        "The \(name) endpoint wants a bearer token (\(status)) and this request carried none: give --bearer or NATSCOPE_WHIP_TOKEN (a token is sent only to the endpoint's own origin, not after a redirect elsewhere)."
    case .whipNotFound:
      return "There is no \(name) endpoint at \(url) (404 Not Found): check the path."
    case .whipOfferRefused:
      return "The \(name) endpoint refused the offer (\(status))\(quoted(p.text("reason")))."
    case .whipServerError:
      return "The \(name) server failed (\(status))\(quoted(p.text("reason")))."
    case .whipRedirectLoop:
      return
        "The \(name) endpoint's redirects lead back to a URL already asked (after \(ConnectFindings.plural(p.int("hops") ?? 0, "request"))): a redirect loop."
    case .whipTooManyRedirects:
      return
        "The \(name) endpoint redirected more than \(WHIPExchange.maxRedirects) times; natscope stopped following."
    case .whipRedirectChangesMethod:
      return
        "The \(name) endpoint redirected with \(status), which turns the POST into a GET; WHIP redirects use 307 or 308."
    case .whipRedirectWithoutLocation:
      return "The \(name) endpoint redirected (\(status)) without a usable Location."
    case .whipAnswerNotSDP:
      let type = p.text("contentType").map { "Content-Type \($0)" } ?? "no Content-Type"
      return
        "The \(name) endpoint answered \(status) with \(type), not an SDP answer (application/sdp)."
    case .whipAnswerUnreadable:
      return "The \(name) endpoint's SDP answer cannot be used: \(p.text("detail") ?? "?")."
    case .whipUnexpectedStatus:
      return "The \(name) endpoint answered the offer with \(status), which WHIP does not use here."
    case .whipRefused:
      return
        "Nothing accepts connections at \(url): the host was reached, but the connection was refused (Connection refused); is the server running on that port?"
    case .whipUnresolved:
      return "The host name \(p.text("host") ?? "?") of \(url) did not resolve."
    case .whipConnectTimeout:
      return
        "No answer to the connection to \(url) within \(p.int("ms") ?? 0) ms: the host is down or a firewall drops the packets."
    case .whipNoAnswer:
      return
        "The \(name) server took the connection but sent no whole response within \(p.int("ms") ?? 0) ms."
    case .whipTLS:
      return "HTTPS to \(url) failed: \(p.text("detail") ?? "?")."
    case .whipClosed:
      return "The \(name) server closed the connection before a whole response came."
    case .whipTransportError:
      return "The HTTP request to \(url) failed: \(p.text("detail") ?? "?")."
    case .whipICEServersUsed:
      let n = p.int("servers") ?? 0
      let used = p.int("used") ?? 0
      let which = p.text("uris").map { $0.isEmpty ? "" : " (\($0))" } ?? ""
      let verb = n == 1 ? "it" : "them"
      return used == n
        ? "The server named \(ConnectFindings.plural(n, "ICE server")) before the offer (Link headers of the OPTIONS request); natscope gathered with \(verb)\(which) beside --stun and --turn."
        : "The server named \(ConnectFindings.plural(n, "ICE server")) before the offer (Link headers of the OPTIONS request); natscope gathered with \(used) of them\(which): the others lack credentials, cannot be read or do not resolve."
    case .whipICEServersTooLate:
      let n = p.int("servers") ?? 0
      return
        "The answer named \(ConnectFindings.plural(n, "ICE server")) (\(p.text("uris") ?? "?")) natscope did not gather with: they came after the offer, which natscope sends complete (no trickle), and the OPTIONS request before it did not name them."
    case .whipDeleted:
      return "The \(name) session was deleted at the end (DELETE answered \(status))."
    case .whipDeleteFailed:
      if let d = p.text("detail") { return "The DELETE of the \(name) session failed: \(d)." }
      return "The DELETE of the \(name) session was answered \(status), not a 2xx."
    case .whipNoLocation:
      return
        "The answer carried no Location, so natscope could not delete the session: the server has to end it by itself."
    default:
      return nil
    }
  }
}

/// The connect document of `connect --whip/--whep` (schema connect-1): the connect report
/// with a `whip` object beside its keys, or, when the HTTP side failed before ICE could run,
/// `state: failed`, the HTTP failure's sentence as `reason`, its findings and `whip`.
public struct WHIPConnectDocument: Encodable, Sendable {
  public var report: ConnectReport?
  public var whip: WHIPReport

  public init(report: ConnectReport?, whip: WHIPReport) {
    self.report = report
    self.whip = whip
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, state, reason, findings, warnings, whip
  }

  public func encode(to encoder: any Encoder) throws {
    if let report {
      try report.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(whip, forKey: .whip)
      return
    }
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(ConnectReport.currentSchemaVersion, forKey: .schemaVersion)
    try c.encode(ConnectReport.State.failed, forKey: .state)
    let findings = WHIPFindings.findings(whip)
    try c.encode(findings.findings.first?.text, forKey: .reason)
    try c.encode(findings, forKey: .findings)
    try c.encode([String](), forKey: .warnings)
    try c.encode(whip, forKey: .whip)
  }

  /// The text report: the HTTP exchange's sentences first, then connect's report.
  public var text: String {
    let lines = WHIPFindings.findings(whip).findings.map(\.text)
    guard let report else { return lines.joined(separator: "\n") }
    return (lines + ["", report.text]).joined(separator: "\n")
  }
}
