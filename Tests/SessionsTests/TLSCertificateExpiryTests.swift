import Foundation
import Report
import Runtime
import STUN
import Sessions
import Testing

/// The certificate a TLS handshake saw, as turn's and stuns:'s reports show it, and the warning
/// for one near the end of its validity, judged by a fixed clock.
@Suite struct TLSCertificateExpiryTests {
  let certificate = TLSPeerCertificate(
    subject: "turn.example.org", issuer: "Example CA", notValidAfter: "2027-01-31T12:00:00Z",
    subjectAlternativeNames: ["turn.example.org", "192.0.2.1"])

  func date(_ iso: String) throws -> Date {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return try #require(f.date(from: iso))
  }

  @Test func summaryNamesSubjectIssuerExpiryAndNames() {
    #expect(
      certificate.summary
        == "certificate for turn.example.org (names turn.example.org, 192.0.2.1), issued by Example CA, valid until 2027-01-31 12:00 UTC"
    )
    var single = certificate
    single.subjectAlternativeNames = ["turn.example.org"]
    #expect(
      single.summary
        == "certificate for turn.example.org, issued by Example CA, valid until 2027-01-31 12:00 UTC"
    )
  }

  @Test func warnsWithinFourteenDaysOnly() throws {
    let uri = "turns:turn.example.org:5349"
    // 15 days before: no warning.
    #expect(certificate.expiryWarning(uri: uri, now: try date("2027-01-16T11:00:00Z")) == nil)
    // Just under 14 days before: a warning.
    let w14 = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-17T12:00:01Z")))
    #expect(w14.contains("expires on 2027-01-31 12:00 UTC, in 14 days"), "\(w14)")
    #expect(w14.contains(uri) && w14.contains("turn.example.org"))
    let w1 = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-30T06:00:00Z")))
    #expect(w1.contains("in 1 day;"), "\(w1)")
    let w0 = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-31T11:00:00Z")))
    #expect(w0.contains("in 1 hour;"), "\(w0)")
    let w5 = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-31T07:00:00Z")))
    #expect(w5.contains("in 5 hours;"), "\(w5)")
    let soon = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-31T11:30:00Z")))
    #expect(soon.contains("in less than an hour;"), "\(soon)")
    // Nearly two days: said as two, not one.
    let w2 = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-01-29T12:05:00Z")))
    #expect(w2.contains("in 2 days;"), "\(w2)")
    // After the end (a handshake only --insecure lets through): said as expired.
    let gone = try #require(
      certificate.expiryWarning(uri: uri, now: try date("2027-02-01T00:00:00Z")))
    #expect(
      gone == "the certificate of \(uri) (for turn.example.org) expired on 2027-01-31 12:00 UTC")
  }

  @Test func theWarningIsAWarningNotAFailure() throws {
    var server = TURNServerCheck(
      uri: "turns:192.0.2.1:5349", transport: "tls",
      server: TransportAddress(ip: try #require(IPAddress("192.0.2.1")), port: 5349))
    server.reachable = true
    server.authenticated = true
    server.relayedAddress = TransportAddress(
      ip: try #require(IPAddress("192.0.2.1")), port: 50_000)
    server.relays = true
    server.certificate = certificate
    let warning = try #require(
      certificate.expiryWarning(uri: server.uri, now: try date("2027-01-25T12:00:00Z")))
    let report = TURNCheckReport(servers: [server], warnings: [warning])
    #expect(report.verdict == .works)
    #expect(report.text.contains("warning: \(warning)"))
    #expect(
      report.text.contains("✓ TLS            handshake done: certificate for turn.example.org"))
    // In JSON under servers[].certificate; absent for a server without TLS.
    var plain = server
    plain.transport = "udp"
    plain.certificate = nil
    let json = try #require(
      try JSONSerialization.jsonObject(
        with: ReportJSON.encode(TURNCheckReport(servers: [server, plain]))) as? [String: Any])
    let servers = try #require(json["servers"] as? [[String: Any]])
    let c = try #require(servers[0]["certificate"] as? [String: Any])
    #expect(c["subject"] as? String == "turn.example.org")
    #expect(c["issuer"] as? String == "Example CA")
    #expect(c["notValidAfter"] as? String == "2027-01-31T12:00:00Z")
    #expect(c["subjectAlternativeNames"] as? [String] == ["turn.example.org", "192.0.2.1"])
    #expect(servers[1]["certificate"] == nil)
  }
}
