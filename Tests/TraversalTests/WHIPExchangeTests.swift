import Foundation
import STUN
import TestSupport
import Testing
import Traversal

/// The sans-IO WHIP/WHEP exchange (issue 23): the offer natscope POSTs, the answer it reads,
/// the `Link` header's ICE servers, redirects and the failures, from samples written here.
@Suite struct WHIPExchangeTests {
  static let fingerprint = DTLSFingerprint(bytes: (0..<32).map { UInt8($0 * 5 & 0xff) })!
  static let endpoint = URL(string: "https://media.example.com/whip/live?key=s3cret")!

  static var local: SessionDescription {
    var d = SignalingFixtures.typical
    d.dtls = DTLSParameters(fingerprint: fingerprint, setup: .actpass)
    return d
  }

  /// An answer as a media server writes it: ICE-lite, BUNDLE, candidates repeated in the
  /// second m-section and once with component 2.
  static let answerSDP =
    [
      "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=ice-lite",
      "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0",
      "a=ice-ufrag:srvU", "a=ice-pwd:serverpassword0123456789",
      "a=fingerprint:sha-256 \(fingerprint.text)", "a=setup:passive", "a=mid:0", "a=recvonly",
      "a=rtcp-mux", "a=rtpmap:111 opus/48000/2",
      "a=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host",
      "a=candidate:1 2 udp 2130706430 198.51.100.7 40001 typ host",
      "a=candidate:2 1 tcp 1671430143 198.51.100.7 443 typ host tcptype passive",
      "a=end-of-candidates", "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0",
      "a=ice-ufrag:srvU", "a=ice-pwd:serverpassword0123456789", "a=mid:1", "a=recvonly",
      "a=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host",
      "m=application 0 UDP/DTLS/SCTP webrtc-datachannel",
    ].joined(separator: "\r\n") + "\r\n"

  static func created(_ extra: [WHIPHeader] = []) -> WHIPResponse {
    WHIPResponse(
      status: 201,
      headers: [
        WHIPHeader("Content-Type", "application/sdp"), WHIPHeader("Location", "/whip/s/42"),
      ]
        + extra, body: Array(answerSDP.utf8))
  }

  // MARK: - The offer

  @Test(arguments: WHIPKind.allCases)
  func theOfferIsBundledAudioAndVideoInTheProtocolsDirection(_ kind: WHIPKind) throws {
    let sdp = WHIPOffer.sdp(Self.local, kind: kind, sessionID: 77)
    let lines = sdp.components(separatedBy: "\r\n")
    #expect(sdp.hasSuffix("\r\n"))
    #expect(lines.first == "v=0")
    #expect(lines.contains("a=group:BUNDLE 0 1"))
    #expect(
      lines.filter { $0.hasPrefix("m=") } == [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
      ])
    let direction = kind == .whip ? "a=sendonly" : "a=recvonly"
    #expect(lines.filter { $0 == direction }.count == 2)
    #expect(!lines.contains(kind == .whip ? "a=recvonly" : "a=sendonly"))
    #expect(lines.contains("a=mid:0") && lines.contains("a=mid:1"))
    #expect(lines.filter { $0 == "a=rtcp-mux" }.count == 2)
    #expect(lines.filter { $0 == "a=setup:actpass" }.count == 2)
    #expect(lines.contains("a=rtpmap:111 opus/48000/2"))
    #expect(lines.contains("a=rtpmap:96 VP8/90000"))
    #expect(lines.contains("a=rtpmap:102 H264/90000"))
    #expect(lines.filter { $0 == "a=ice-ufrag:\(Self.local.ufrag)" }.count == 2)
    #expect(lines.filter { $0 == "a=fingerprint:sha-256 \(Self.fingerprint.text)" }.count == 2)
    let candidates = lines.filter { $0.hasPrefix("a=candidate:") }
    #expect(candidates.count == 2 * Self.local.candidates.count)
    // natscope's own attributes stay out of an offer to another stack.
    #expect(!sdp.contains("x-natscope"))
  }

  @Test func theOfferReadsBackAsTheSameICEDescription() throws {
    let sdp = WHIPOffer.sdp(Self.local, kind: .whip, sessionID: 1)
    let back = try SessionDescription(sdp: sdp, assumedRole: .offer)
    #expect(back.ufrag == Self.local.ufrag)
    #expect(back.password == Self.local.password)
    #expect(back.dtls?.fingerprint == Self.fingerprint)
    #expect(back.dtls?.setup == .actpass)
    #expect(
      Set(back.candidates.map(\.sdpAttribute)) == Set(Self.local.candidates.map(\.sdpAttribute)))
  }

  // MARK: - The answer

  @Test func theAnswerGivesCredentialsCandidatesFingerprintSetupAndICELite() throws {
    let a = try WHIPAnswer(sdp: Self.answerSDP)
    #expect(a.iceLite)
    #expect(a.description.ufrag == "srvU")
    #expect(a.description.password == "serverpassword0123456789")
    #expect(a.description.dtls?.setup == .passive)
    #expect(a.description.dtls?.fingerprint == Self.fingerprint)
    // Repeats under BUNDLE and the RTCP component are dropped; the TCP candidate is kept.
    #expect(a.description.candidates.count == 2)
    #expect(a.description.candidates.allSatisfy { $0.component == 1 })
    #expect(a.description.endOfCandidates)
    #expect(a.mediaSections == 3)
    #expect(a.rejectedSections == 1)
  }

  @Test func anAnswerWithoutICECredentialsIsATypedError() {
    #expect(throws: SignalingError.self) { try WHIPAnswer(sdp: "v=0\r\ns=-\r\n") }
  }

  // MARK: - The exchange

  @Test func a201IsEstablishedWithLocationResolvedAgainstTheURLThatAnswered() throws {
    var x = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "v=0\r\n", hasToken: true)
    let post = x.start()
    #expect(post.method == "POST")
    #expect(post.headers["Content-Type"] == "application/sdp")
    #expect(post.authorized)
    #expect(post.body == Array("v=0\r\n".utf8))
    let next = x.receive(
      Self.created([
        WHIPHeader("ETag", "\"xyz\""),
        WHIPHeader("Accept-Patch", "application/trickle-ice-sdpfrag"),
        WHIPHeader(
          "Link",
          "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"u;1\"; credential=\"p,\\\"w\"; credential-type=\"password\""
        ),
        WHIPHeader("Link", "<stun:stun.example.net>; rel=ice-server, </style.css>; rel=stylesheet"),
      ]))
    #expect(next == nil)
    let e = try #require(x.established)
    #expect(x.failure == nil)
    #expect(e.location?.absoluteString == "https://media.example.com/whip/s/42")
    #expect(e.etag == "\"xyz\"")
    #expect(e.trickleAllowed)
    #expect(e.answer.iceLite)
    #expect(e.iceServers.count == 2)
    #expect(e.iceServers[0].uri == "turn:turn.example.net?transport=udp")
    #expect(e.iceServers[0].username == "u;1")
    #expect(e.iceServers[0].credential == "p,\"w")
    #expect(e.iceServers[0].isTURN)
    #expect(!e.iceServers[0].description.contains("p,"))
    #expect(e.iceServers[1].uri == "stun:stun.example.net")
    #expect(e.iceServers[1].credential == nil)
    let delete = try #require(x.deleteRequest())
    #expect(delete.method == "DELETE")
    #expect(delete.url == e.location)
    #expect(delete.authorized)
  }

  @Test func redirects307And308KeepMethodAndBodyAndAreBounded() throws {
    var x = WHIPExchange(kind: .whep, endpoint: Self.endpoint, offer: "o", hasToken: true)
    _ = x.start()
    let n1 = x.receive(
      WHIPResponse(status: 307, headers: [WHIPHeader("Location", "/whep/b")], body: []))
    let r1 = try #require(n1)
    #expect(r1.method == "POST" && r1.body == Array("o".utf8))
    #expect(r1.url.absoluteString == "https://media.example.com/whep/b")
    #expect(r1.authorized)
    // Another origin does not get the token.
    let n2 = x.receive(
      WHIPResponse(
        status: 308, headers: [WHIPHeader("Location", "https://edge.example.net/whep")], body: []))
    let r2 = try #require(n2)
    #expect(!r2.authorized)
    _ = x.receive(WHIPResponse(status: 401, headers: [], body: []))
    #expect(x.failure == .unauthorized(status: 401, hadToken: false))
  }

  @Test func aRedirectBackIsALoopAndTooManyAreCounted() throws {
    var x = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "o", hasToken: false)
    _ = x.start()
    _ = x.receive(WHIPResponse(status: 307, headers: [WHIPHeader("Location", "/a")], body: []))
    _ = x.receive(
      WHIPResponse(
        status: 307, headers: [WHIPHeader("Location", Self.endpoint.absoluteString)], body: []))
    #expect(x.failure == .redirectLoop(hops: 2))

    var y = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "o", hasToken: false)
    _ = y.start()
    var sent = 0
    for n in 0..<20 {
      guard
        y.receive(WHIPResponse(status: 308, headers: [WHIPHeader("Location", "/r\(n)")], body: []))
          != nil
      else { break }
      sent += 1
    }
    #expect(sent == WHIPExchange.maxRedirects)
    #expect(y.failure == .tooManyRedirects(hops: WHIPExchange.maxRedirects + 1))
  }

  @Test(arguments: [301, 302, 303])
  func aRedirectThatTurnsPOSTIntoGETIsRefused(_ status: Int) {
    var x = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "o", hasToken: false)
    _ = x.start()
    #expect(
      x.receive(WHIPResponse(status: status, headers: [WHIPHeader("Location", "/b")], body: []))
        == nil)
    #expect(x.failure == .redirectChangesMethod(status: status))
  }

  @Test func eachHTTPFailureIsTyped() {
    func outcome(_ r: WHIPResponse, token: Bool = true) -> WHIPFailure? {
      var x = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "o", hasToken: token)
      _ = x.start()
      _ = x.receive(r)
      return x.failure
    }
    #expect(
      outcome(WHIPResponse(status: 403, headers: [], body: []))
        == .unauthorized(status: 403, hadToken: true))
    #expect(
      outcome(WHIPResponse(status: 401, headers: [], body: []), token: false)
        == .unauthorized(status: 401, hadToken: false))
    #expect(outcome(WHIPResponse(status: 404, headers: [], body: [])) == .notFound)
    #expect(
      outcome(
        WHIPResponse(
          status: 400, headers: [WHIPHeader("Content-Type", "text/html")],
          body: Array("<html><body><h1>Bad offer</h1>\n\tno   H264\u{7}</body></html>".utf8)))
        == .offerRefused(status: 400, reason: "Bad offer no H264"))
    #expect(
      outcome(WHIPResponse(status: 415, headers: [], body: []))
        == .offerRefused(status: 415, reason: nil))
    #expect(
      outcome(WHIPResponse(status: 503, headers: [], body: Array("busy".utf8)))
        == .serverError(status: 503, reason: "busy"))
    #expect(
      outcome(
        WHIPResponse(status: 201, headers: [WHIPHeader("Content-Type", "text/plain")], body: []))
        == .answerNotSDP(status: 201, contentType: "text/plain"))
    #expect(
      outcome(WHIPResponse(status: 201, headers: [], body: []))
        == .answerNotSDP(status: 201, contentType: nil))
    if case .answerUnreadable = outcome(
      WHIPResponse(
        status: 201, headers: [WHIPHeader("Content-Type", "application/sdp")],
        body: Array("v=0".utf8)))
    {
    } else {
      Issue.record("an SDP answer without ICE credentials is unreadable")
    }
    #expect(
      outcome(WHIPResponse(status: 307, headers: [], body: []))
        == .redirectWithoutLocation(status: 307))
    #expect(outcome(WHIPResponse(status: 204, headers: [], body: [])) == .unexpectedStatus(204))
  }

  @Test func aLongReasonIsBoundedAndControlsAreRemoved() throws {
    let body = Array(String(repeating: "x\u{1b}[31m", count: 500).utf8)
    var x = WHIPExchange(kind: .whip, endpoint: Self.endpoint, offer: "o", hasToken: false)
    _ = x.start()
    _ = x.receive(WHIPResponse(status: 422, headers: [], body: body))
    guard case .offerRefused(422, let reason?) = x.failure else {
      Issue.record("422 is a refused offer")
      return
    }
    #expect(reason.count <= WHIPExchange.reasonLimit + 1)
    #expect(!reason.unicodeScalars.contains { $0.value < 0x20 })
  }

  @Test func aRedactedURLHasNoCredentialsOrQuery() {
    let u = URL(string: "https://user:pw@media.example.com:8443/whip/live?token=abc#x")!
    #expect(WHIPExchange.redacted(u) == "https://media.example.com:8443/whip/live?…")
    #expect(WHIPExchange.redacted(URL(string: "http://h/w")!) == "http://h/w")
  }

  // MARK: - Link header grammar (RFC 8288 §3)

  @Test func linkValuesWithQuotedCommasAndSemicolonsAndMalformedOnes() {
    let (links, bad) = HTTPLink.parse(
      "<turn:a.example:3478>; rel=\"ice-server other\"; username=\"a,b;c\", garbage, <stun:b.example>;REL=ice-server;x"
    )
    #expect(bad == 1)
    #expect(links.count == 2)
    #expect(links[0].relations == ["ice-server", "other"])
    #expect(links[0].parameter("username") == "a,b;c")
    #expect(links[1].relations == ["ice-server"])
    #expect(links[1].parameter("x") == nil)
    let (none, unclosed) = HTTPLink.parse("<turn:a; rel=\"ice-server")
    #expect(none.isEmpty && unclosed == 1)
    let (_, unquoted) = HTTPLink.parse("<turn:a>; rel=\"ice-server; username=x")
    #expect(unquoted == 1)
  }
}
