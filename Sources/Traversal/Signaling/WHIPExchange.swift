import Foundation

/// An HTTP request the WHIP/WHEP exchange wants sent. The bearer token is not part of it:
/// `authorized` says the driver adds `Authorization: Bearer …` itself, so the token never
/// enters the machine's evidence.
public struct WHIPRequest: Sendable, Hashable {
  public var method: String
  public var url: URL
  /// Header fields besides Authorization.
  public var headers: [String: String]
  public var body: [UInt8]
  public var authorized: Bool
}

/// What an HTTP response was, as the driver read it: status, header fields (names as sent;
/// a field sent several times appears several times) and the body (at most
/// ``WHIPExchange/bodyLimit`` bytes; `truncated` when more came).
public struct WHIPResponse: Sendable, Hashable {
  public var status: Int
  public var headers: [WHIPHeader]
  public var body: [UInt8]
  public var truncated: Bool

  public init(status: Int, headers: [WHIPHeader], body: [UInt8], truncated: Bool = false) {
    self.status = status
    self.headers = headers
    self.body = body
    self.truncated = truncated
  }

  /// Every value of a field (case-insensitive name).
  public func values(_ name: String) -> [String] {
    let n = name.lowercased()
    return headers.filter { $0.name.lowercased() == n }.map(\.value)
  }

  public func first(_ name: String) -> String? { values(name).first }
}

public struct WHIPHeader: Sendable, Hashable {
  public var name: String
  public var value: String
  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = value
  }
}

/// Why the HTTP side of a WHIP/WHEP exchange failed: the evidence, typed; Report words it.
public enum WHIPFailure: Sendable, Hashable {
  /// 401 or 403: the server refused the bearer token, or its absence: `hadToken` says whether
  /// the refused request carried one (a token goes only to the endpoint's origin).
  case unauthorized(status: Int, hadToken: Bool)
  /// 404: no endpoint at that path.
  case notFound
  /// 400, 415, 422 or another 4xx: the server refused the offer; `reason` is its body,
  /// sanitized and bounded.
  case offerRefused(status: Int, reason: String?)
  /// 5xx.
  case serverError(status: Int, reason: String?)
  /// A redirect back to a URL already requested.
  case redirectLoop(hops: Int)
  /// More than ``WHIPExchange/maxRedirects`` redirects.
  case tooManyRedirects(hops: Int)
  /// 301, 302 or 303, which turn a POST into a GET (RFC 9110 §15.4): RFC 9725 §4.5 asks for
  /// 307 or 308.
  case redirectChangesMethod(status: Int)
  /// A 3xx without a usable Location.
  case redirectWithoutLocation(status: Int)
  /// 2xx whose body is not `application/sdp` (its Content-Type, or nil when none).
  case answerNotSDP(status: Int, contentType: String?)
  /// `application/sdp` that cannot be read as an answer (the reader's typed error).
  case answerUnreadable(SignalingError)
  /// A status the protocol does not use here (1xx, 3xx others, 2xx other than 200/201).
  case unexpectedStatus(Int)
  /// The transport: no connection, no answer in time, TLS.
  case transport(WHIPTransportFailure)
}

/// How the HTTP connection itself failed, as the driver saw it.
public enum WHIPTransportFailure: Error, Sendable, Hashable {
  /// The host name did not resolve.
  case unresolved(host: String)
  /// The connection was refused (ECONNREFUSED: the host was reached, nothing listens there).
  case refused
  /// No connection within this many milliseconds.
  case connectTimeout(milliseconds: Int)
  /// Connected, but no whole response within this many milliseconds.
  case responseTimeout(milliseconds: Int)
  /// TLS failed (the same typed problem `turn` reports for turns: servers).
  case tls(TLSProblem)
  /// The server's certificate does not name the URL's host.
  case tlsWrongName(host: String)
  /// The connection closed before a whole response came.
  case closed
  /// Another error, in the operating system's or the HTTP library's own words.
  case other(String)
}

/// What a successful POST established: the answer and the headers that matter later.
public struct WHIPEstablished: Sendable, Hashable {
  public var status: Int
  public var answer: WHIPAnswer
  /// The session's resource (Location resolved against the URL that answered), nil when the
  /// server sent none (it then cannot be DELETEd).
  public var location: URL?
  public var iceServers: [WHIPICEServer]
  public var malformedLinks: Int
  public var etag: String?
  /// `Accept-Patch: application/trickle-ice-sdpfrag` (RFC 9725 §4.3): trickle allowed.
  public var trickleAllowed: Bool
}

/// The HTTP half of WHIP/WHEP as a sans-IO machine: it says which request to send, reads
/// each response, follows redirects as the protocol allows (307 and 308 keep the method and
/// the body; the token goes only to the same origin), and ends with the established session
/// or a typed ``WHIPFailure``. ``deleteRequest()`` ends the session.
public struct WHIPExchange: Sendable {
  public static let maxRedirects = 5
  /// How much of a body is kept (answers are a few KiB; error bodies are quoted short).
  public static let bodyLimit = 256 * 1024

  public let kind: WHIPKind
  public let endpoint: URL
  public let offer: String
  public let hasToken: Bool
  /// Every URL requested, in order, and each response's status.
  public private(set) var hops: [(url: URL, status: Int?)] = []
  public private(set) var established: WHIPEstablished?
  /// Whether the last request sent carried the token.
  public private(set) var lastAuthorized = false
  public private(set) var failure: WHIPFailure?

  public init(kind: WHIPKind, endpoint: URL, offer: String, hasToken: Bool) {
    self.kind = kind
    self.endpoint = endpoint
    self.offer = offer
    self.hasToken = hasToken
  }

  /// The first request: POST of the offer.
  public mutating func start() -> WHIPRequest {
    hops = [(endpoint, nil)]
    return post(to: endpoint)
  }

  mutating func post(to url: URL) -> WHIPRequest {
    lastAuthorized = hasToken && Self.sameOrigin(url, endpoint)
    return WHIPRequest(
      method: "POST", url: url,
      headers: ["Content-Type": "application/sdp", "Accept": "application/sdp"],
      body: Array(offer.utf8), authorized: lastAuthorized)
  }

  /// What to do after a response: send another request (a redirect), or the exchange is over
  /// (``established`` or ``failure`` is set) and nil is returned.
  public mutating func receive(_ r: WHIPResponse) -> WHIPRequest? {
    guard let current = hops.last?.url, established == nil, failure == nil else { return nil }
    hops[hops.count - 1].status = r.status
    switch r.status {
    case 200, 201:
      let type = r.first("Content-Type")
      let mediaType = type?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
        .lowercased()
      guard mediaType == "application/sdp" else {
        failure = .answerNotSDP(status: r.status, contentType: type.map { Self.sanitize($0) })
        return nil
      }
      let text = String(decoding: r.body, as: UTF8.self)
      let answer: WHIPAnswer
      do {
        answer = try WHIPAnswer(sdp: text)
      } catch {
        failure = .answerUnreadable(error)
        return nil
      }
      let location = r.first("Location").flatMap { URL(string: $0, relativeTo: current) }?
        .absoluteURL
      let (servers, malformed) = WHIPICEServer.servers(linkFields: r.values("Link"))
      let patch = r.values("Accept-Patch").flatMap { $0.split(separator: ",") }
        .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
      established = WHIPEstablished(
        status: r.status, answer: answer, location: location, iceServers: servers,
        malformedLinks: malformed, etag: r.first("ETag"),
        trickleAllowed: patch.contains { $0.hasPrefix("application/trickle-ice-sdpfrag") })
      return nil
    case 301, 302, 303:
      failure = .redirectChangesMethod(status: r.status)
      return nil
    case 307, 308:
      guard let l = r.first("Location"),
        let next = URL(string: l, relativeTo: current)?.absoluteURL,
        next.scheme == "http" || next.scheme == "https"
      else {
        failure = .redirectWithoutLocation(status: r.status)
        return nil
      }
      if hops.contains(where: { $0.url == next }) {
        failure = .redirectLoop(hops: hops.count)
        return nil
      }
      guard hops.count <= Self.maxRedirects else {
        failure = .tooManyRedirects(hops: hops.count)
        return nil
      }
      hops.append((next, nil))
      return post(to: next)
    case 401, 403:
      failure = .unauthorized(status: r.status, hadToken: lastAuthorized)
    case 404:
      failure = .notFound
    case 400..<500:
      failure = .offerRefused(status: r.status, reason: Self.reason(r))
    case 500..<600:
      failure = .serverError(status: r.status, reason: Self.reason(r))
    default:
      failure = .unexpectedStatus(r.status)
    }
    return nil
  }

  /// The transport failed on the current request.
  public mutating func transportFailed(_ f: WHIPTransportFailure) {
    failure = .transport(f)
  }

  /// The OPTIONS request sent before gathering: some servers answer it (as WHIP drafts before
  /// RFC 9725 described) with the same `Link: <…>; rel="ice-server"` headers as the 201, early enough to gather with them
  /// (the 201's come after the offer, which natscope sends complete). The token goes with it.
  public static func preflight(endpoint: URL, hasToken: Bool) -> WHIPRequest {
    WHIPRequest(
      method: "OPTIONS", url: endpoint, headers: [:], body: [], authorized: hasToken)
  }

  /// The DELETE that ends the session (RFC 9725 §4.4), nil when there is no Location.
  public func deleteRequest() -> WHIPRequest? {
    guard let url = established?.location else { return nil }
    return WHIPRequest(
      method: "DELETE", url: url, headers: [:], body: [],
      authorized: hasToken && Self.sameOrigin(url, endpoint))
  }

  /// Scheme, host and port equal (the token is sent only there).
  public static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
    func port(_ u: URL) -> Int? { u.port ?? (u.scheme == "https" ? 443 : 80) }
    return a.scheme?.lowercased() == b.scheme?.lowercased()
      && a.host?.lowercased() == b.host?.lowercased() && port(a) == port(b)
  }

  /// A URL fit for a report: no user name or password, the query replaced by `?…` (tokens
  /// are often passed there), no fragment.
  public static func redacted(_ url: URL) -> String {
    guard var c = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return "?" }
    let hadQuery = c.query != nil
    c.user = nil
    c.password = nil
    c.query = nil
    c.fragment = nil
    return (c.string ?? "?") + (hadQuery ? "?…" : "")
  }

  /// The longest reason quoted from a body.
  public static let reasonLimit = 200

  /// A refusal's reason from its body: text only (not HTML markup), controls removed,
  /// whitespace collapsed, at most ``reasonLimit`` characters; nil when empty.
  static func reason(_ r: WHIPResponse) -> String? {
    var text = String(decoding: r.body.prefix(4096), as: UTF8.self)
    let type = (r.first("Content-Type") ?? "").lowercased()
    if type.contains("html") || text.hasPrefix("<") {
      // Tags out, what is between them kept.
      var out = ""
      var inTag = false
      for ch in text {
        if ch == "<" {
          inTag = true
        } else if ch == ">" {
          inTag = false; out.append(" ")
        } else if !inTag {
          out.append(ch)
        }
      }
      text = out
    }
    let s = sanitize(text)
    return s.isEmpty ? nil : s
  }

  /// Printable characters only, runs of whitespace as one space, bounded.
  public static func sanitize(_ text: String) -> String {
    var out = ""
    var space = false
    for scalar in text.unicodeScalars {
      if scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F {
        space = !out.isEmpty
        continue
      }
      if scalar.properties.generalCategory == .format
        || scalar.properties.generalCategory == .control
        || scalar.properties.generalCategory == .unassigned
      {
        continue
      }
      if out.count + (space ? 1 : 0) >= reasonLimit {
        out += "…"
        break
      }
      if space {
        out.append(" ")
        space = false
      }
      out.unicodeScalars.append(scalar)
    }
    return out
  }
}
