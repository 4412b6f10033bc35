import Foundation
import Report
import TestSupport
import Testing

/// DTLS after ICE (issue 22), the built binary on loopback: two `connect` processes through
/// FIFOs, each row asserting the findings both `--json` reports must and must not make, and
/// every document validated against `schema/connect-1.json` when a validator is installed.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SituationsDTLSTests {
  static let loopback = SituationsConnectTests.loopback + ["--no-probe"]

  /// Runs an offerer and an answerer; `relay`, when given, is a shell filter the offer passes
  /// through on its way to the answerer (to alter it).
  static func pair(
    offerer: [String] = [], answerer: [String] = [], relay: String? = nil
  ) throws -> (offer: Spawned, answer: Spawned) {
    let fifos = try FIFOPair()
    var offerPath = fifos.offer
    var filter: Spawned?
    if let relay {
      let altered = fifos.dir + "/offer-altered"
      guard mkfifo(altered, 0o600) == 0 else {
        throw Spawned.Failure(description: "mkfifo failed: errno \(errno)")
      }
      filter = try Spawned(
        ["/bin/sh", "-c", "\(relay) < '\(fifos.offer)' > '\(altered)'"], name: "relay")
      offerPath = altered
    }
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--token-out", fifos.offer, "--token-in",
        fifos.answer,
      ] + loopback + offerer, name: "offer")
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--token-in", offerPath,
        "--token-out", fifos.answer,
      ] + loopback + answerer, name: "answer")
    _ = offer.wait(timeout: 40)
    _ = answer.wait(timeout: 40)
    _ = filter?.wait(timeout: 5)
    return (offer, answer)
  }

  static func report(_ p: Spawned) throws -> ConnectReport {
    let data = try #require(p.stdout.data(using: .utf8))
    return try JSONDecoder().decode(ConnectReport.self, from: data)
  }

  @Test func natscopeToNatscopeCompletesDTLS() throws {
    let (offer, answer) = try Self.pair()
    #expect(offer.wait(timeout: 1) == 0, Comment(rawValue: offer.stderr))
    #expect(answer.wait(timeout: 1) == 0, Comment(rawValue: answer.stderr))
    let row = Situation(
      "natscope to natscope on loopback: DTLS completes", mustFind: [.dtlsConnected],
      mustNotFind: [.dtlsFailedAfterICE, .dtlsNotRun, .dtlsOff, .dtlsPeerOfferedNone])
    var roles: Set<String> = []
    for p in [offer, answer] {
      let problems = try SituationsConnectTests.check(row, p.stdout)
      #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
      let r = try Self.report(p)
      #expect(r.state == .connected)
      let d = try #require(r.dtls)
      #expect(d.state == .connected)
      #expect(d.srtpProfile == "SRTP_AEAD_AES_128_GCM")
      #expect(d.fingerprintMatched == true)
      #expect(d.cipher?.hasPrefix("ECDHE-ECDSA") == true)
      #expect(d.handshakeMs != nil)
      #expect(d.largestDatagramSent <= 1200)
      roles.insert(d.role ?? "")
    }
    // The offerer offered actpass; the answerer took the client role.
    #expect(try Self.report(answer).dtls?.role == "client")
    #expect(roles == ["client", "server"])
    try SituationsConnectTests.validate([
      SchemaTests.Sample(name: "connect-dtls-offer", schema: "connect", text: offer.stdout),
      SchemaTests.Sample(name: "connect-dtls-answer", schema: "connect", text: answer.stdout),
    ])
  }

  @Test func aTamperedFingerprintIsReportedAsAMismatch() throws {
    // The offer's a=fingerprint loses its first hexadecimal digit on the way.
    let sed =
      "sed -u -e 's/^\\(a=fingerprint:sha-256 \\)0/\\11/;t' -e 's/^\\(a=fingerprint:sha-256 \\)./\\10/'"
    let (offer, answer) = try Self.pair(
      offerer: ["--sdp"], answerer: ["--sdp"], relay: sed)
    #expect(answer.wait(timeout: 1) == 2, Comment(rawValue: answer.stderr))
    #expect(offer.wait(timeout: 1) == 2, Comment(rawValue: offer.stderr))
    let answerer = Situation(
      "tampered fingerprint (the side that checks it)",
      mustFind: [.connectConnected, .dtlsFingerprintMismatch, .dtlsFailedAfterICE],
      mustNotFind: [.dtlsConnected])
    var problems = try SituationsConnectTests.check(answerer, answer.stdout)
    let offerer = Situation(
      "tampered fingerprint (the side told by an alert)",
      mustFind: [.dtlsAlertReceived, .dtlsFailedAfterICE], mustNotFind: [.dtlsConnected])
    problems += try SituationsConnectTests.check(offerer, offer.stdout)
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
    let a = try Self.report(answer)
    #expect(a.state == .failed)
    #expect(a.selectedPair != nil)
    #expect(a.dtls?.failure == .fingerprintMismatch)
    #expect(a.dtls?.fingerprintMatched == false)
    #expect(a.reason?.contains("does not match the fingerprint") == true)
    #expect(try Self.report(offer).dtls?.detail == "bad certificate")
    try SituationsConnectTests.validate([
      SchemaTests.Sample(name: "connect-dtls-mismatch", schema: "connect", text: answer.stdout),
      SchemaTests.Sample(name: "connect-dtls-alert", schema: "connect", text: offer.stdout),
    ])
  }

  @Test func noDTLSSkipsItAndThePeerSaysItWasNotOffered() throws {
    let (offer, answer) = try Self.pair(answerer: ["--no-dtls"])
    #expect(offer.wait(timeout: 1) == 0, Comment(rawValue: offer.stderr))
    #expect(answer.wait(timeout: 1) == 0, Comment(rawValue: answer.stderr))
    let off = Situation(
      "--no-dtls", mustFind: [.connectConnected, .dtlsOff],
      mustNotFind: [.dtlsConnected, .dtlsFailedAfterICE, .dtlsNotRun])
    let none = Situation(
      "the peer offered no DTLS", mustFind: [.connectConnected, .dtlsPeerOfferedNone],
      mustNotFind: [.dtlsConnected, .dtlsFailedAfterICE, .dtlsNotRun])
    let problems =
      try SituationsConnectTests.check(off, answer.stdout)
      + SituationsConnectTests.check(none, offer.stdout)
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
    #expect(try Self.report(answer).dtls?.state == .off)
    #expect(try Self.report(offer).dtls?.state == .peerOfferedNone)
    try SituationsConnectTests.validate([
      SchemaTests.Sample(name: "connect-no-dtls", schema: "connect", text: answer.stdout),
      SchemaTests.Sample(name: "connect-dtls-not-offered", schema: "connect", text: offer.stdout),
    ])
  }
}
