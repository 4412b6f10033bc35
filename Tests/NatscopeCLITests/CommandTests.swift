import Foundation
import Testing

/// The real binary against a real server on loopback. Serialized: each test owns the port.
@Suite(.serialized) struct CommandTests {
  func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func bindingAgainstOwnServer() throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let r = try Binary.run(["binding", "127.0.0.1:\(server.port)", "--json"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let o = try json(r.stdout)
    #expect(o["answered"] as? Bool == true)
    #expect((o["reflexive"] as? String)?.hasPrefix("127.0.0.1:") == true)
    #expect((o["software"] as? String)?.hasPrefix("natscope") == true)
    #expect((o["rfc5780"] as? [String: Any])?["rfc5780"] as? Bool == true)
    let text = try Binary.run(["binding", "stun:127.0.0.1:\(server.port)"])
    #expect(text.stdout.contains("RFC 5780    yes"))
  }

  /// `--log-level debug` shows each socket and STUN message on standard error; standard
  /// output stays the clean JSON; the default level logs nothing.
  @Test func debugLogShowsWhatWasSentAndAnswered() throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let r = try Binary.run([
      "binding", "127.0.0.1:\(server.port)", "--json", "--log-level", "debug",
    ])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    #expect(try json(r.stdout)["answered"] as? Bool == true)
    #expect(r.stderr.contains("UDP socket open on"))
    #expect(r.stderr.contains("→ 127.0.0.1:\(server.port) from"))
    #expect(r.stderr.contains("Binding request"))
    #expect(r.stderr.contains("← 127.0.0.1:\(server.port)"))
    #expect(r.stderr.contains("Binding success response"))
    #expect(r.stderr.contains("XOR-MAPPED-ADDRESS"))
    let quiet = try Binary.run(["binding", "127.0.0.1:\(server.port)", "--json"])
    #expect(quiet.status == 0)
    #expect(!quiet.stderr.contains("Binding request"))
  }

  @Test func bindingOverIPv6() throws {
    let server = try ServerProcess(alternate: false, primary: "::1")
    defer { server.stop() }
    let r = try Binary.run(["binding", "[::1]:\(server.port)", "--json"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let o = try json(r.stdout)
    #expect((o["reflexive"] as? String)?.hasPrefix("[::1]:") == true)
    let p = try Binary.run(["probe", "[::1]:\(server.port)", "--json"])
    #expect(p.status == 0, Comment(rawValue: p.stderr))
    #expect(try json(p.stdout)["natDetected"] as? Bool == false)
  }

  @Test func probeAgainstOwnServerOnLoopback() throws {
    let server = try ServerProcess(extra: ["--mapped-address"])
    defer { server.stop() }
    let r = try Binary.run(["probe", "127.0.0.1:\(server.port)", "--json"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let o = try json(r.stdout)
    #expect(o["schemaVersion"] as? Int == 1)
    #expect(o["natDetected"] as? Bool == false)
    #expect(o["udpBlocked"] as? Bool == false)
    #expect((o["mapping"] as? [String: Any])?["behavior"] as? String == "endpoint-independent")
    #expect((o["filtering"] as? [String: Any])?["behavior"] as? String == "endpoint-independent")
    #expect(o["hairpinning"] is NSNull)
    // A server on this host says nothing about the path to the internet: no NAT type
    // (issue 18 #5; it said "Open Internet").
    #expect(o["legacyType"] as? String == "unknown")
    #expect((o["alg"] as? [String: Any])?["detected"] as? Bool == false)
    #expect((o["durationMs"] as? Double ?? 1e9) < 2000)
    // A loopback server says nothing about the router: it is not asked.
    #expect(o["portMapping"] == nil && o["doubleNAT"] == nil)
    let stats = server.stop()
    #expect(stats.contains("answered"))
  }

  @Test func plainServerMakesFilteringUnknown() throws {
    let server = try ServerProcess(alternate: false)
    defer { server.stop() }
    let r = try Binary.run(["probe", "127.0.0.1:\(server.port)", "--json"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let o = try json(r.stdout)
    #expect((o["filtering"] as? [String: Any])?["behavior"] as? String == "unknown")
    #expect((o["serverSupport"] as? [String: Any])?["rfc5780"] as? Bool == false)
  }

  @Test func aClosedPortIsNoServerAndExitsTwoAtOnce() throws {
    // Port 9 (discard) on loopback: nothing listens, the kernel answers with ICMP port
    // unreachable, which ends the wait at once (the default window is 39.5 s).
    let started = Date()
    let r = try Binary.run(["binding", "127.0.0.1:9", "--json"])
    #expect(Date().timeIntervalSince(started) < 2)
    #expect(r.status == 2)
    let o = try json(r.stdout)
    #expect(o["answered"] as? Bool == false)
    let u = try #require(o["unreachable"] as? [String: Any])
    #expect(u["kind"] as? String == "portUnreachable")
    #expect(u["destination"] as? String == "127.0.0.1:9")
    let text = try Binary.run(["binding", "127.0.0.1:9"])
    #expect(text.status == 2)
    #expect(
      text.stdout.contains(
        "no STUN server answers at 127.0.0.1:9 (ICMP port unreachable from 127.0.0.1)"))

    let probeStarted = Date()
    let p = try Binary.run(["probe", "127.0.0.1:9"])
    #expect(Date().timeIntervalSince(probeStarted) < 2)
    #expect(p.status == 2)
    #expect(p.stdout.contains("No STUN server answers at 127.0.0.1:9"), Comment(rawValue: p.stdout))
    #expect(!p.stdout.contains("blocked"), Comment(rawValue: p.stdout))
    let pj = try json(try Binary.run(["probe", "127.0.0.1:9", "--json"]).stdout)
    #expect(pj["udpBlocked"] as? Bool == false)
    #expect((pj["unreachable"] as? [[String: Any]])?.first?["kind"] as? String == "portUnreachable")
  }

  @Test func aBindAddressOfTheOtherFamilyIsAUsageError() throws {
    for args in [
      ["binding", "127.0.0.1:3478", "--bind", "::1"], ["probe", "127.0.0.1:3478", "--bind", "::1"],
      ["binding", "[::1]:3478", "--bind", "127.0.0.1"],
    ] {
      let started = Date()
      let r = try Binary.run(args)
      #expect(Date().timeIntervalSince(started) < 2)
      #expect(r.status == 1)
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.contains("--bind"), Comment(rawValue: r.stderr))
      #expect(r.stderr.split(separator: "\n").count == 1, Comment(rawValue: r.stderr))
    }
  }

  /// stuns: to a loopback port with nothing on it: one sentence (refused), exit 2, and the
  /// JSON carries the problem code.
  @Test func stunsToAClosedPortIsRefused() throws {
    let r = try Binary.run(["binding", "stuns:127.0.0.1:9", "--json"])
    #expect(r.status == 2)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let server = try #require((json["servers"] as? [[String: Any]])?.first)
    #expect(server["reachable"] as? Bool == false)
    let problem = try #require((server["problems"] as? [[String: Any]])?.first)
    #expect(problem["code"] as? String == "unreachable")
    #expect((problem["message"] as? String)?.lowercased().contains("refused") == true)
    let text = try Binary.run(["probe", "stuns:127.0.0.1:9"])
    #expect(text.status == 2)
    #expect(text.stdout.contains("RFC 5780's NAT behaviour tests"))
    #expect(text.stdout.contains("they were not run"))
  }

  /// `.invalid` names fail inside natscope (RFC 6761), so this never queries DNS.
  @Test func noServerReachable() throws {
    let r = try Binary.run(
      ["probe"], environment: ["NATSCOPE_DEFAULT_SERVERS": "no-such-host.invalid"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("no STUN server reachable"))
    #expect(r.stderr.contains("RFC 6761"))
    let b = try Binary.run(["binding", "stun.example.invalid"])
    #expect(b.status == 2)
    #expect(b.stderr.contains("cannot resolve stun.example.invalid"))
  }

  @Test(arguments: [
    ["binding", "stuns:127.0.0.1:99999"], ["binding", "127.0.0.1:99999"], ["binding", "[::1"],
    ["binding", "127.0.0.1", "--insecure"],
    ["binding", "stuns:127.0.0.1", "--insecure", "--ca", "x"],
    ["probe", "stun:127.0.0.1", "stuns:127.0.0.1"], ["connect", "--stun", "stuns:127.0.0.1"],
    ["binding", "127.0.0.1", "--port-range", "5000-4000"], ["binding", "127.0.0.1", "--rto", "0"],
    ["probe", "127.0.0.1", "--port-samples", "99"], ["serve", "--primary", "not-an-ip"],
    ["serve", "--primary", "127.0.0.1", "--alternate", "127.0.0.1"], ["demo", "--loss", "80"],
  ])
  func badInputGetsOneSentenceAndExitOne(_ args: [String]) throws {
    let r = try Binary.run(args)
    #expect(r.status == 1)
    #expect(!r.stderr.isEmpty)
    #expect(!r.stderr.contains("Fatal error"))
    #expect(r.stdout.isEmpty)
  }

  /// Input that used to be accepted silently or misread: each gets one sentence that says
  /// what is wrong (and what to do), exit 1, nothing on standard output.
  @Test(arguments: [
    (["help", "nosuch"], "there is no command nosuch"),
    (["demo", "--loss", "-1"], "--loss must be between 0 and 50"),
    (["demo", "--latency", "-5"], "--latency must be between 0 and 300"),
    (["demo", "--latency", "350"], "waits 1.4 s for a first answer"),
    (["connect", "--port-range", "5000-4000"], "the first port (5000) is above the last (4000)"),
    (["connect", "--port-range", "5000"], "write the range as LOW-HIGH"),
    (["connect", "--turn", "http://203.0.113.1", "--turn-user", "u"], "is not a TURN server URI"),
    (["connect", "--answer", "--aggressive"], "--aggressive applies to the offerer"),
    (["connect", "--turn-user", "u"], "go with --turn"),
    (["connect", "--bind", "127.0.0.1"], "only with --include-loopback"),
    (["connect", "--bind", "203.0.113.254"], "is not an address of this host"),
  ])
  func badInputIsExplained(_ args: [String], _ words: String) throws {
    let r = try Binary.run(args)
    #expect(r.status == 1)
    #expect(r.stderr.contains(words), Comment(rawValue: r.stderr))
    #expect(r.stdout.isEmpty)
  }

  /// At the highest latency the demo allows, every host still gets answers: the open host is
  /// "Open Internet", not "UDP Blocked" (which used to happen from 350 ms up).
  @Test func demoAtItsHighestLatencyStillClassifies() throws {
    let r = try Binary.run(["demo", "--json", "--latency", "300"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let sites = try #require(try json(r.stdout)["sites"] as? [[String: Any]])
    let legacy = sites.compactMap { ($0["report"] as? [String: Any])?["legacyType"] as? String }
    #expect(legacy.first == "Open Internet")
    #expect(legacy.filter { $0 == "UDP Blocked" }.count == 1)
  }

  /// The matrix asks each host's router as probe does: only the cgnat site's home router answers
  /// port mapping, with its carrier-side address, so only its row says double NAT, in the text
  /// and in its JSON report; the sites whose routers offer nothing say none.
  @Test func demoMatrixShowsTheNATAboveTheCGNATRouter() throws {
    let r = try Binary.run(["demo", "--json"])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let sites = try #require(try json(r.stdout)["sites"] as? [[String: Any]])
    for site in sites {
      let report = try #require(site["report"] as? [String: Any])
      let detected = (report["doubleNAT"] as? [String: Any])?["detected"] as? Bool
      let preset = site["preset"] as? String
      #expect((detected == true) == (preset == "cgnat"), "\(preset ?? "?"): \(detected as Any)")
    }
    let text = try Binary.run(["demo"])
    #expect(
      text.stdout.contains(
        "cgnat: double NAT (the router's own address 100.64.0.2, servers see 198.51.100.6)"),
      Comment(rawValue: text.stdout))
    #expect(text.stdout.components(separatedBy: "double NAT").count == 2)
  }

  /// `serve --port 0` binds a free port and says which (not "port 0").
  @Test func servePortZeroNamesTheBoundPort() throws {
    let process = Process()
    process.executableURL = Binary.url
    process.arguments = ["serve", "--primary", "127.0.0.1", "--port", "0"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    try process.run()
    defer {
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
    }
    var text = ""
    let deadline = Date().addingTimeInterval(10)
    let handle = err.fileHandleForReading
    while !text.contains("\n") && Date() < deadline {
      let chunk = handle.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    #expect(text.contains("listening on 127.0.0.1:"), Comment(rawValue: text))
    #expect(!text.contains("127.0.0.1:0 "))
    let port = text.split(separator: "127.0.0.1:").dropFirst().first.flatMap {
      UInt16($0.prefix { $0.isNumber })
    }
    let bound = try #require(port)
    #expect(bound != 0)
    let b = try Binary.run(["binding", "127.0.0.1:\(bound)", "--json"])
    #expect(b.status == 0, Comment(rawValue: b.stderr))
  }

  @Test func demoIsARealDeterministicRun() throws {
    let a = try Binary.run(["demo", "--json", "--seed", "3"])
    #expect(a.status == 0)
    let o = try json(a.stdout)
    let sites = try #require(o["sites"] as? [[String: Any]])
    #expect(sites.count == 7)
    let legacy = sites.compactMap { ($0["report"] as? [String: Any])?["legacyType"] as? String }
    #expect(
      legacy == [
        "Open Internet", "Full Cone", "Restricted Cone", "Port Restricted Cone", "Symmetric",
        "Port Restricted Cone", "UDP Blocked",
      ])
    let b = try Binary.run(["demo", "--json", "--seed", "3"])
    #expect(a.stdout == b.stdout)
    let c = try Binary.run(["demo", "--json", "--seed", "4"])
    #expect(a.stdout != c.stdout)
    let text = try Binary.run(["demo"])
    #expect(text.stdout.contains("Port Restricted Cone"))
    #expect(text.stdout.contains("only a TURN relay can connect them"))
  }

  @Test func helpDescribesEveryCommand() throws {
    let r = try Binary.run(["--help"])
    for command in ["demo", "probe", "binding", "serve"] {
      #expect(r.stdout.contains(command))
    }
    let b = try Binary.run(["help", "binding"])
    #expect(b.stdout.contains("--port-range"))
    let completion = try Binary.run(["--generate-completion-script", "bash"])
    #expect(completion.stdout.contains("natscope"))
  }
}
