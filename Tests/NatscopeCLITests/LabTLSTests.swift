import Foundation
import Testing

/// TURN over TLS in the lab (network namespaces, as root): a host behind a firewall that lets
/// out only TCP to port 443 connects to a peer through `turns:` on port 443, and `natscope
/// turn` behind a UDP-blocking firewall finds UDP unreachable while TCP and TLS work. coturn
/// gets a certificate for 203.0.113.10 from a CA the test makes with openssl.
@Suite(
  .serialized, .timeLimit(.minutes(5)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")),
  .enabled(if: LabPKI.openssl != nil, "openssl is not installed"))
struct LabTLSTests {
  /// Starts coturn with TURN (long-term user) and a TLS listener on SERVER_PRIMARY:443.
  func tlsLab(a: String, b: String, pki: LabPKI) throws -> Lab {
    let lab = try Lab(a: a, b: b)
    let r = try Lab.run(
      [
        Lab.script, "serve-coturn", lab.prefix, "--turn",
        "\(LabConnectTests.turnUser):\(LabConnectTests.turnPassword)", "--realm", "lab",
        "--tls-cert", pki.cert, "--tls-key", pki.key,
      ], timeout: 30)
    guard r.status == 0 else {
      lab.down()
      throw Lab.LabError("serve-coturn failed: \(r.output)")
    }
    try lab.refreshInfo()
    return lab
  }

  @Test func onlyTCP443OutConnectsThroughTURNSOn443() throws {
    let pki = try LabPKI(ip: "203.0.113.10")
    defer { pki.remove() }
    let lab = try tlsLab(a: "tcp443-only", b: "eim-apdf", pki: pki)
    defer { lab.down() }
    let server = lab["SERVER_PRIMARY"]
    let tests = LabConnectTests()
    let offer = LabConnectTests.End(
      agent: .natscope, node: "client-a", stun: false,
      extra: [
        "--turn", "turns:\(server):443", "--ca", pki.caFile, "--turn-user",
        LabConnectTests.turnUser, "--turn-password", LabConnectTests.turnPassword,
      ])
    let answer = LabConnectTests.End(agent: .natscope, node: "client-b")
    let (x, y) = try tests.connect(lab, offer: offer, answer: answer)
    tests.expectConnected(x, via: "relay")
    tests.expectConnected(y, via: "relay")
    #expect(x.json.path("selectedPair.local.type") as? String == "relay", x.note)
    #expect(x.json.path("paths.relay.succeeded") as? Bool == true, x.note)
    let relays = try #require(x.json.path("local.relays") as? [[String: Any]], x.note)
    #expect(relays.first?["allocated"] as? Bool == true, x.note)
    #expect(relays.first?["transport"] as? String == "tls", x.note)
    // The certificate the relay presented is named (valid 30 days: no expiry warning).
    let certificate = relays.first?["certificate"] as? [String: Any]
    #expect(certificate?["subject"] as? String == "natscope lab TURN", x.note)
    #expect(certificate?["issuer"] as? String == "natscope lab CA", x.note)
    #expect(
      (certificate?["subjectAlternativeNames"] as? [String])?.contains(server) == true, x.note)
    #expect(relays.first?["problem"] is NSNull, x.note)
    // The relayed address is the server's own (coturn's relay-ip), reached over TLS.
    #expect((relays.first?["relayedAddress"] as? String)?.hasPrefix("\(server):") == true, x.note)
    #expect((x.json["warnings"] as? [String]) == [], x.note)
  }

  @Test func udpBlockedFindsUDPUnreachableAndTCPAndTLSWorking() throws {
    let pki = try LabPKI(ip: "203.0.113.10")
    defer { pki.remove() }
    let lab = try tlsLab(a: "udp-blocked", b: "eim-apdf", pki: pki)
    defer { lab.down() }
    let server = lab["SERVER_PRIMARY"]
    let uris = [
      "turn:\(server):3478?transport=udp", "turn:\(server):3478?transport=tcp",
      "turns:\(server):443",
    ]
    func turn(_ json: Bool) -> [String] {
      [
        Lab.script, "exec", lab.prefix, "client-a", "--", Binary.url.path, "turn", "--turn-user",
        LabConnectTests.turnUser, "--turn-password", LabConnectTests.turnPassword, "--ca",
        pki.caFile,
      ] + (json ? ["--json"] : []) + uris
    }
    let p = try Spawned(turn(true), name: "turn-json")
    let status = p.wait(timeout: 120)
    let note = Comment(rawValue: "exit \(status)\n\(p.stdout)\n\(p.stderr)")
    #expect(status == 2, note)
    let json = try #require(p.json, note)
    #expect(json["verdict"] as? String == "broken", note)
    let servers = try #require(json["servers"] as? [[String: Any]], note)
    try #require(servers.count == 3, note)
    #expect(servers[0]["transport"] as? String == "udp", note)
    #expect(servers[0]["reachable"] as? Bool == false, note)
    let udpProblems = (servers[0]["problems"] as? [[String: Any]]) ?? []
    #expect(udpProblems.map { $0["code"] as? String } == ["unreachable"], note)
    for s in servers[1...] {
      #expect(s["reachable"] as? Bool == true, note)
      #expect(s["authenticated"] as? Bool == true, note)
      #expect((s["problems"] as? [Any])?.isEmpty == true, note)
      // Data went through the relay both ways (or the server's policy forbade the peer).
      #expect(s["relays"] as? Bool == true || s["peerForbidden"] as? Bool == true, note)
    }
    #expect(servers[1]["transport"] as? String == "tcp", note)
    #expect(servers[2]["transport"] as? String == "tls", note)
    #expect(!p.stdout.contains(LabConnectTests.turnPassword), note)
    #expect(!p.stderr.contains(LabConnectTests.turnPassword), note)
    // The text report of the same setup (the README's sample comes from it).
    let text = try Spawned(turn(false), name: "turn-text")
    let textStatus = text.wait(timeout: 120)
    let textNote = Comment(rawValue: "exit \(textStatus)\n\(text.stdout)\n\(text.stderr)")
    #expect(textStatus == 2, textNote)
    #expect(text.stdout.contains("✗"), textNote)
    if let path = ProcessInfo.processInfo.environment["NATSCOPE_LAB_SAMPLE"] {
      try? text.stdout.write(toFile: path, atomically: true, encoding: .utf8)
    }
  }
}

/// A throwaway CA and a server certificate for one IP address, made with openssl.
struct LabPKI {
  static let openssl: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  let directory: String
  var caFile: String { directory + "/ca.pem" }
  var cert: String { directory + "/server.pem" }
  var key: String { directory + "/server.key" }

  init(ip: String) throws {
    directory =
      NSTemporaryDirectory() + "natscope-labpki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    try run(
      ["req", "-x509"] + ec + [
        "-keyout", directory + "/ca.key", "-out", caFile, "-days", "30", "-subj",
        "/CN=natscope lab CA",
      ])
    try run(
      ["req"] + ec + [
        "-keyout", key, "-out", directory + "/server.csr", "-subj", "/CN=natscope lab TURN",
      ])
    try "subjectAltName=IP:\(ip)\n".write(
      toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
    try run([
      "x509", "-req", "-in", directory + "/server.csr", "-CA", caFile, "-CAkey",
      directory + "/ca.key", "-CAcreateserial", "-out", cert, "-days", "30", "-extfile",
      directory + "/server.ext",
    ])
  }

  func run(_ arguments: [String]) throws {
    guard let openssl = Self.openssl else { throw Lab.LabError("openssl is not installed") }
    let r = try Lab.run([openssl] + arguments, timeout: 30)
    guard r.status == 0 else { throw Lab.LabError("openssl \(arguments[0]) failed: \(r.output)") }
  }

  func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
