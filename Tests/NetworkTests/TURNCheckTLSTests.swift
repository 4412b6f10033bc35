import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// A throwaway CA and server certificates made with openssl in a temporary directory.
struct TestPKI {
  let directory: URL
  var caFile: String { directory.appendingPathComponent("ca.pem").path }
  func cert(_ name: String) -> String { directory.appendingPathComponent("\(name).pem").path }
  func key(_ name: String) -> String { directory.appendingPathComponent("\(name).key").path }

  static let openssl: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  /// A CA, plus `good` (localhost and 127.0.0.1) and `wrong` (other.test only) server
  /// certificates it signed.
  init() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    try run(
      ["req", "-x509"] + ec + [
        "-keyout", key("ca"), "-out", caFile, "-days", "2", "-subj", "/CN=natscope test CA",
      ])
    for (name, san) in [("good", "DNS:localhost,IP:127.0.0.1"), ("wrong", "DNS:other.test")] {
      try run(
        ["req"] + ec + [
          "-keyout", key(name), "-out", directory.appendingPathComponent("\(name).csr").path,
          "-subj", "/CN=\(name) server",
        ])
      let ext = directory.appendingPathComponent("\(name).ext")
      try "subjectAltName=\(san)\n".write(to: ext, atomically: true, encoding: .utf8)
      try run([
        "x509", "-req", "-in", directory.appendingPathComponent("\(name).csr").path, "-CA",
        caFile, "-CAkey", key("ca"), "-CAcreateserial", "-out", cert(name), "-days", "2",
        "-extfile", ext.path,
      ])
    }
  }

  func run(_ arguments: [String]) throws {
    guard let openssl = Self.openssl else { throw RuntimeError.failed("openssl missing") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: openssl)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw RuntimeError.failed("openssl \(arguments.first ?? "") failed")
    }
  }

  func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// `natscope turn`'s TLS path (turns:) against coturn's TLS listener on loopback.
@Suite(
  "TURN over TLS against a real coturn on loopback", .serialized, .timeLimit(.minutes(2)),
  .enabled(if: turnserverPath != nil, "coturn's turnserver is not installed"),
  .enabled(if: TestPKI.openssl != nil, "openssl is not installed"),
  .enabled(
    if: Coturn.bindable(port: 0, type: Int32(SOCK_DGRAM.rawValue)),
    "cannot bind 127.0.0.1 here"))
struct TURNCheckTLSTests {
  func check(
    cert: String, pki: TestPKI, settings: TLSClientSettings, serverName: String? = nil
  ) throws -> TURNCheckReport {
    let tlsPort = try Coturn.freePort()
    let coturn = try Coturn.launch(
      staleNonce: 600,
      extra: [
        "--tls-listening-port=\(tlsPort)", "--cert=\(pki.cert(cert))", "--pkey=\(pki.key(cert))",
      ])
    defer { coturn.stop() }
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let server = TransportAddress(ip: .loopbackV4, port: tlsPort)
    return try runtime.run(timeout: .seconds(60)) { rt, done in
      let session = TURNCheckSession(
        runtime: rt,
        targets: [
          TURNCheckTarget(
            uri: "turns:\(server)", address: server, transport: .tls,
            credentials: TURNCredentials(username: "natscope", password: "secret"),
            serverName: serverName)
        ], tlsConnector: { _ in rt.tlsStreamConnector(settings) })
      session.start { done.succeed($0) }
    }
  }

  @Test func worksWithThePrivateCA() throws {
    let pki = try TestPKI()
    defer { pki.remove() }
    let byIP = try check(
      cert: "good", pki: pki, settings: TLSClientSettings(serverName: nil, caFile: pki.caFile))
    let s = try #require(byIP.servers.first)
    #expect(s.problems == [])
    #expect(s.transport == "tls")
    #expect(s.relays == true)
    #expect(byIP.verdict == .works)
    #expect(byIP.text.contains("✓ TLS"))
    // The certificate the handshake saw: the test CA's "good" leaf, valid for two days.
    let c = try #require(s.certificate)
    #expect(c.subject == "good server")
    #expect(c.issuer == "natscope test CA")
    #expect(c.subjectAlternativeNames == ["localhost", "127.0.0.1"])
    let expiry = try #require(c.expiry)
    #expect(abs(expiry.timeIntervalSinceNow - 2 * 86_400) < 600, "\(c.notValidAfter)")
    #expect(
      byIP.text.contains(
        "handshake done: certificate for good server (names localhost, 127.0.0.1), issued by natscope test CA, valid until "
      ), "\(byIP.text)")
    // Two days left: a warning, and still a working server.
    #expect(
      byIP.warnings.contains {
        $0.hasPrefix("the certificate of turns:\(s.server) (for good server) expires on ")
      }, "\(byIP.warnings)")
    let json = try #require(
      try JSONSerialization.jsonObject(with: ReportJSON.encode(byIP)) as? [String: Any])
    let entry = try #require((json["servers"] as? [[String: Any]])?.first)
    let certificate = try #require(entry["certificate"] as? [String: Any])
    #expect(certificate["subject"] as? String == "good server")
    #expect(certificate["issuer"] as? String == "natscope test CA")
    #expect(certificate["notValidAfter"] as? String == c.notValidAfter)
    #expect(certificate["subjectAlternativeNames"] as? [String] == ["localhost", "127.0.0.1"])
    // By name: SNI and the DNS name in the certificate.
    let byName = try check(
      cert: "good", pki: pki,
      settings: TLSClientSettings(serverName: "localhost", caFile: pki.caFile),
      serverName: "localhost")
    #expect(byName.verdict == .works, "\(byName.servers.first?.problems ?? [])")
  }

  @Test func anUntrustedCAIsACertificateProblem() throws {
    let pki = try TestPKI()
    defer { pki.remove() }
    let report = try check(
      cert: "good", pki: pki, settings: TLSClientSettings(serverName: nil))
    let s = try #require(report.servers.first)
    #expect(s.problems.map(\.code) == [.tlsCertificate])
    #expect(s.problems.first?.message.contains("natscope test CA") == true)
    #expect(s.problems.first?.message.contains("--ca") == true)
    #expect(s.certificate == nil)
    #expect(s.reachable && !s.authenticated)
    #expect(report.verdict == .broken)
    // --insecure skips verification: it works, and the session does not pretend otherwise.
    let insecure = try check(
      cert: "good", pki: pki, settings: TLSClientSettings(serverName: nil, insecure: true))
    #expect(insecure.verdict == .works)
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

  /// A server that answers the ClientHello with plain text: a handshake problem, said so.
  @Test func aServerThatDoesNotSpeakTLSIsAHandshakeProblem() throws {
    let (fd, port) = try #require(rawTCPListener(backlog: 4))
    defer { close(fd) }
    // One connection: accept (bounded by a 10 s poll), answer in plain text, close.
    let server = Thread {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, 10_000) == 1 else { return }
      let client = accept(fd, nil, nil)
      guard client >= 0 else { return }
      var buffer = [UInt8](repeating: 0, count: 512)
      _ = read(client, &buffer, buffer.count)
      let reply = Array("HTTP/1.0 400 Bad Request\r\n\r\n".utf8)
      _ = write(client, reply, reply.count)
      close(client)
    }
    server.start()
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let address = TransportAddress(ip: .loopbackV4, port: port)
    let report: TURNCheckReport = try runtime.run(timeout: .seconds(30)) { rt, done in
      let session = TURNCheckSession(
        runtime: rt,
        targets: [
          TURNCheckTarget(
            uri: "turns:\(address)", address: address, transport: .tls,
            credentials: TURNCredentials(username: "u", password: "p"))
        ], tlsConnector: { _ in rt.tlsStreamConnector(TLSClientSettings(serverName: nil)) })
      session.start { done.succeed($0) }
    }
    let s = try #require(report.servers.first)
    #expect(s.problems.map(\.code) == [.tlsHandshake], "\(s.problems)")
    #expect(s.problems.first?.message.contains("TLS handshake") == true)
    #expect(!s.authenticated)
  }
}
