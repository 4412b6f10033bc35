import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// STUN over TLS (stuns:) against coturn's TLS listener on loopback, with a CA made by openssl.
@Suite(
  "STUN over TLS against a real coturn on loopback", .serialized, .timeLimit(.minutes(2)),
  .enabled(if: turnserverPath != nil, "coturn's turnserver is not installed"),
  .enabled(if: TestPKI.openssl != nil, "openssl is not installed"),
  .enabled(
    if: Coturn.bindable(port: 0, type: Int32(SOCK_DGRAM.rawValue)),
    "cannot bind 127.0.0.1 here"))
struct STUNOverTLSTests {
  func check(cert: String, pki: TestPKI, settings: TLSClientSettings) throws -> STUNTLSReport {
    let tlsPort = try Coturn.freePort()
    let coturn = try Coturn.launch(
      staleNonce: 600,
      extra: [
        "--tls-listening-port=\(tlsPort)", "--cert=\(pki.cert(cert))", "--pkey=\(pki.key(cert))",
      ])
    defer { coturn.stop() }
    return try run(port: tlsPort, settings: settings)
  }

  func run(port: UInt16, settings: TLSClientSettings) throws -> STUNTLSReport {
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let server = TransportAddress(ip: .loopbackV4, port: port)
    return try runtime.run(timeout: .seconds(30)) { rt, done in
      let session = STUNTLSCheckSession(
        runtime: rt, targets: [.init(uri: "stuns:\(server)", address: server)],
        connector: { _ in rt.tlsStreamConnector(settings) })
      session.start { done.succeed($0) }
    }
  }

  @Test func answersOverTLSWithThePrivateCA() throws {
    let pki = try TestPKI()
    defer { pki.remove() }
    let report = try check(
      cert: "good", pki: pki, settings: TLSClientSettings(serverName: nil, caFile: pki.caFile))
    let s = try #require(report.servers.first)
    #expect(s.reachable, "\(s.problems)")
    #expect(s.problems == [])
    // The server saw this host's TCP connection from loopback.
    #expect(s.reflexiveAddress?.ip == .loopbackV4)
    #expect((s.rttMs ?? -1) >= 0)
    #expect(report.allReachable)
    #expect(report.text.contains("✓ TLS handshake done and the Binding request answered"))
    let c = try #require(s.certificate)
    #expect(c.subject == "good server")
    #expect(c.issuer == "natscope test CA")
    #expect(c.subjectAlternativeNames == ["localhost", "127.0.0.1"])
    let expiry = try #require(c.expiry)
    #expect(abs(expiry.timeIntervalSinceNow - 2 * 86_400) < 600, "\(c.notValidAfter)")
    #expect(
      report.text.contains(
        "  certificate for good server (names localhost, 127.0.0.1), issued by natscope test CA, valid until "
      ), "\(report.text)")
    #expect(
      report.warnings.contains {
        $0.hasPrefix("the certificate of stuns:\(s.server) (for good server) expires on ")
      }, "\(report.warnings)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: ReportJSON.encode(report)) as? [String: Any])
    let entry = try #require((json["servers"] as? [[String: Any]])?.first)
    let certificate = try #require(entry["certificate"] as? [String: Any])
    #expect(certificate["subject"] as? String == "good server")
    #expect(certificate["issuer"] as? String == "natscope test CA")
    #expect(certificate["notValidAfter"] as? String == c.notValidAfter)
    #expect(certificate["subjectAlternativeNames"] as? [String] == ["localhost", "127.0.0.1"])
    // By name: SNI and the DNS name in the certificate.
    let byName = try check(
      cert: "good", pki: pki,
      settings: TLSClientSettings(serverName: "localhost", caFile: pki.caFile))
    #expect(byName.allReachable, "\(byName.servers.first?.problems ?? [])")
  }

  @Test func anUntrustedCAIsACertificateProblem() throws {
    let pki = try TestPKI()
    defer { pki.remove() }
    let report = try check(cert: "good", pki: pki, settings: TLSClientSettings(serverName: nil))
    let s = try #require(report.servers.first)
    #expect(!s.reachable)
    #expect(s.problems.map(\.code) == [.tlsCertificate])
    let message = s.problems.first?.message ?? ""
    #expect(message.contains("natscope test CA") && message.contains("--ca"), "\(message)")
    #expect(s.certificate == nil)
    #expect(!report.allReachable)
  }

  @Test func aWrongNameNamesWhatTheCertificateHas() throws {
    let pki = try TestPKI()
    defer { pki.remove() }
    let report = try check(
      cert: "wrong", pki: pki, settings: TLSClientSettings(serverName: nil, caFile: pki.caFile))
    let s = try #require(report.servers.first)
    #expect(s.problems.map(\.code) == [.tlsCertificate])
    let message = s.problems.first?.message ?? ""
    #expect(message.contains("not for 127.0.0.1") && message.contains("other.test"), "\(message)")
  }

  @Test func aRefusedConnectionIsUnreachable() throws {
    let port = try Coturn.freePort()
    let report = try run(port: port, settings: TLSClientSettings(serverName: nil))
    let s = try #require(report.servers.first)
    #expect(!s.reachable)
    #expect(s.problems.map(\.code) == [.unreachable])
    let message = s.problems.first?.message ?? ""
    // A refusal is typed: it proves the host was reached, and says so.
    #expect(message.contains("127.0.0.1:\(port) refused the TCP connection"), "\(message)")
    #expect(message.contains("that host is up"), "\(message)")
  }
}
