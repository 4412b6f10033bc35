import Foundation
import Testing

/// `connect --whip/--whep` against a real WebRTC stack: the aiortc WHIP/WHEP endpoint in
/// Fixtures/whip-server.py, on loopback only (its ICE host address is 127.0.0.1). Every
/// process started is stopped by PID (Spawned), also when a test fails.
@Suite(
  .serialized, .timeLimit(.minutes(5)),
  .enabled(if: WHIPFixture.python != nil, Comment(rawValue: WHIPFixture.skipReason)))
struct WHIPCommandTests {
  static let loopback = [
    "--bind", "127.0.0.1", "--include-loopback", "--no-probe", "--no-port-mapping",
  ]
  static let token = "whip-lab-token-4c1e9a"
  typealias Server = WHIPFixture.Server
  static func object(_ json: [String: Any]?, _ key: String) -> [String: Any]? {
    json?[key] as? [String: Any]
  }

  @Test func whipConnectsRunsDTLSAndDeletesTheSession() throws {
    let server = try Server(["--token", Self.token])
    let r = try Binary.run(
      ["connect", "--whip", server.url("/whip"), "--json"] + Self.loopback,
      environment: ["NATSCOPE_WHIP_TOKEN": Self.token], timeout: 90)
    #expect(r.status == 0, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(json?["state"] as? String == "connected")
    let pair = Self.object(json, "selectedPair")
    #expect(Self.object(pair, "remote")?["address"] as? String == "127.0.0.1")
    #expect(Self.object(json, "dtls")?["state"] as? String == "connected")
    #expect(Self.object(json, "dtls")?["fingerprintMatched"] as? Bool == true)
    let whip = try #require(Self.object(json, "whip"))
    #expect(whip["kind"] as? String == "whip")
    #expect(whip["status"] as? Int == 201)
    #expect(whip["bearer"] as? Bool == true)
    #expect(whip["deleteStatus"] as? Int == 200)
    #expect((whip["problem"] as? String) == nil)
    // The server's side: the offer authorized, DTLS connected there, the DELETE received.
    let log = server.log
    #expect(
      log.contains {
        $0["event"] as? String == "request" && $0["method"] as? String == "POST"
          && $0["authorized"] as? Bool == true
      })
    #expect(server.waitFor("dtls")?["state"] as? String == "connected")
    let delete = server.waitFor("delete")
    #expect(delete != nil, "the fixture saw no DELETE")
    #expect(
      delete?["session"] as? String == log.first { $0["event"] as? String == "answered" }?[
        "session"] as? String)
    // The token is a secret.
    #expect(!r.stdout.contains(Self.token) && !r.stderr.contains(Self.token))
    try SchemaValidator.validateIfAvailable([
      SchemaTests.Sample(name: "connect-whip", schema: "connect", text: r.stdout)
    ])
  }

  @Test func whepConnectsWithARecvonlyOffer() throws {
    let server = try Server()
    let r = try Binary.run(
      ["connect", "--whep", server.url("/whep")] + Self.loopback, timeout: 90)
    #expect(r.status == 0, Comment(rawValue: r.stderr + r.stdout))
    #expect(r.stdout.contains("The WHEP endpoint took the offer (201"), Comment(rawValue: r.stdout))
    #expect(r.stdout.contains("The WHEP session was deleted at the end (DELETE answered 200)."))
    #expect(r.stdout.contains("DTLS connected"), Comment(rawValue: r.stdout))
    #expect(
      server.log.contains {
        $0["event"] as? String == "answered" && $0["kind"] as? String == "whep"
      })
    #expect(server.waitFor("delete") != nil)
  }

  @Test func aWrongTokenIsNamedAsSuch() throws {
    let server = try Server(["--token", Self.token])
    let r = try Binary.run(
      ["connect", "--whip", server.url("/whip"), "--bearer", "not-the-token", "--json"]
        + Self.loopback, timeout: 60)
    #expect(r.status == 2, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(json?["state"] as? String == "failed")
    #expect(Self.object(json, "whip")?["problem"] as? String == "whip.unauthorized")
    #expect(Self.object(json, "whip")?["status"] as? Int == 401)
    #expect((json?["reason"] as? String)?.contains("refused the bearer token (401)") == true)
    #expect(!r.stdout.contains("not-the-token") && !r.stderr.contains("not-the-token"))
    try SchemaValidator.validateIfAvailable([
      SchemaTests.Sample(name: "connect-whip-unauthorized", schema: "connect", text: r.stdout)
    ])
    // No token at all: said differently.
    let none = try Binary.run(["connect", "--whip", server.url("/whip")] + Self.loopback)
    #expect(none.status == 2)
    #expect(none.stdout.contains("this request carried none"), Comment(rawValue: none.stdout))
  }

  @Test func aServerThatIsDownIsARefusedConnection() throws {
    // A port that was free a moment ago: bind, read its number, close.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    let port = Int(UInt16(bigEndian: a.sin_port))
    close(fd)
    let r = try Binary.run(
      ["connect", "--whip", "http://127.0.0.1:\(port)/whip", "--json"] + Self.loopback)
    #expect(r.status == 2, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(Self.object(json, "whip")?["problem"] as? String == "whip.refused")
    #expect((json?["reason"] as? String)?.contains("connection was refused") == true)
    try SchemaValidator.validateIfAvailable([
      SchemaTests.Sample(name: "connect-whip-refused", schema: "connect", text: r.stdout)
    ])
  }

  @Test func aRefusedOfferQuotesTheServersReason() throws {
    let server = try Server(["--refuse-offer", "no H264 profile we take"])
    let r = try Binary.run(["connect", "--whip", server.url("/whip"), "--json"] + Self.loopback)
    #expect(r.status == 2, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(Self.object(json, "whip")?["problem"] as? String == "whip.offer-refused")
    #expect(
      json?["reason"] as? String
        == "The WHIP endpoint refused the offer (400): \"no H264 profile we take\".")
    // A wrong path is a 404, its own problem.
    let missing = try Binary.run(["connect", "--whip", server.url("/nowhere")] + Self.loopback)
    #expect(missing.status == 2)
    #expect(
      missing.stdout.contains("There is no WHIP endpoint at"), Comment(rawValue: missing.stdout))
  }

  @Test func unreachableServerCandidatesFailAndTheSessionIsStillDeleted() throws {
    let server = try Server(["--blackhole"])
    let r = try Binary.run(
      ["connect", "--whip", server.url("/whip"), "--json"] + Self.loopback, timeout: 120)
    #expect(r.status == 2, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(json?["state"] as? String == "failed")
    #expect(json?["selectedPair"] is NSNull)
    let direct = Self.object(Self.object(json, "paths"), "direct")
    #expect(
      (direct?["reason"] as? String)?.contains("timed out") == true, Comment(rawValue: r.stdout))
    #expect(Self.object(json, "whip")?["status"] as? Int == 201)
    #expect(Self.object(json, "whip")?["deleteStatus"] as? Int == 200)
    #expect(server.waitFor("delete") != nil)
  }

  /// TURN REST API credentials (the scheme RESTCoturn's secret serves): user, password.
  static func restCredentials(secret: String) throws -> (String, String) {
    let user = "\(Int(Date().timeIntervalSince1970) + 3600):whip"
    let python = try #require(WHIPFixture.python)
    let p = try Spawned(
      [
        python, "-c",
        "import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha1).digest()).decode())",
        secret, user,
      ], name: "hmac")
    #expect(p.wait(timeout: 20) == 0)
    return (user, p.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  @Test(
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: "/usr/bin/turnserver"),
      "coturn (/usr/bin/turnserver) is not installed"))
  func aTURNServerNamedInTheOPTIONSLinkIsUsedForGathering() throws {
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    let (user, password) = try Self.restCredentials(secret: "cli-secret")
    let link =
      "<turn:127.0.0.1:\(coturn.port)?transport=udp>; rel=\"ice-server\"; username=\"\(user)\"; credential=\"\(password)\"; credential-type=\"password\""
    let server = try Server(["--options-links", "--link", link])
    let r = try Binary.run(
      ["connect", "--whip", server.url("/whip"), "--json"] + Self.loopback, timeout: 90)
    #expect(r.status == 0, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let whip = try #require(Self.object(json, "whip"))
    #expect(whip["preflightStatus"] as? Int == 204)
    let servers = whip["iceServers"] as? [[String: Any]] ?? []
    #expect(servers.count == 1)
    #expect(servers.first?["used"] as? Bool == true)
    #expect(servers.first?["source"] as? String == "options")
    let relays = Self.object(json, "local")?["relays"] as? [[String: Any]] ?? []
    #expect(relays.first?["allocated"] as? Bool == true, Comment(rawValue: r.stdout))
    // The relayed candidate went to the server in the offer.
    let offer = server.log.first { $0["event"] as? String == "offer" }?["sdp"] as? String ?? ""
    #expect(offer.contains("typ relay"), Comment(rawValue: offer))
    // The server's credential is a secret.
    #expect(!r.stdout.contains(password) && !r.stderr.contains(password))
    #expect(!r.stdout.contains(user))
    try SchemaValidator.validateIfAvailable([
      SchemaTests.Sample(name: "connect-whip-link-turn", schema: "connect", text: r.stdout)
    ])
  }

  @Test func aServerNamedOnlyInTheAnswerIsReportedAsTooLate() throws {
    let link =
      "<turn:127.0.0.1:9?transport=udp>; rel=\"ice-server\"; username=\"u\"; credential=\"late-secret-1\""
    let server = try Server(["--link", link])
    let r = try Binary.run(["connect", "--whip", server.url("/whip"), "--json"] + Self.loopback)
    #expect(r.status == 0, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let servers = Self.object(json, "whip")?["iceServers"] as? [[String: Any]] ?? []
    #expect(servers.first?["unused"] as? String == "after-offer")
    #expect(servers.first?["used"] as? Bool == false)
    let codes = (Self.object(json, "whip")?["findings"] as? [[String: Any]] ?? []).compactMap {
      $0["code"] as? String
    }
    #expect(codes.contains("whip.ice-servers-after-offer"))
    #expect(!r.stdout.contains("late-secret-1"))
  }

  @Test func sigtermDeletesTheSessionBeforeExiting() throws {
    let server = try Server(["--blackhole"])
    let p = try Spawned(
      [Binary.url.path, "connect", "--whip", server.url("/whip")] + Self.loopback,
      name: "natscope connect --whip")
    // The checks are running (they go to a port that drops them) once the server answered.
    #expect(server.waitFor("answered", seconds: 20) != nil, Comment(rawValue: p.stderr))
    usleep(200_000)
    kill(p.pid, SIGTERM)
    let status = p.wait(timeout: 15)
    #expect(status == 143, Comment(rawValue: p.stderr))
    #expect(server.waitFor("delete") != nil, "SIGTERM: the fixture saw no DELETE")
  }
}

/// The aiortc WHIP/WHEP endpoint (Fixtures/whip-server.py) and the Python that runs it.
enum WHIPFixture {
  /// The Python that imports aiortc (NATSCOPE_AIOICE_PYTHON, else /opt/natscope-venv), or nil.
  static let python: String? = {
    let candidates = [
      ProcessInfo.processInfo.environment["NATSCOPE_AIOICE_PYTHON"],
      "/opt/natscope-venv/bin/python",
    ].compactMap { $0 }
    for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
      if let r = try? Binary.runTool([python, "-c", "import aiortc"], timeout: 30), r == 0 {
        return python
      }
    }
    return nil
  }()

  static let skipReason =
    "aiortc cannot be imported (/opt/natscope-venv/bin/pip install aiortc, or set NATSCOPE_AIOICE_PYTHON to a Python that has it)"

  static let script = SchemaValidator.repository
    .appendingPathComponent("Tests/NatscopeCLITests/Fixtures/whip-server.py").path

  /// A running fixture: its port and its event log (one JSON object a line).
  final class Server {
    let process: Spawned
    let events: String
    let port: Int

    init(_ extra: [String] = []) throws {
      events =
        FileManager.default.temporaryDirectory
        .appendingPathComponent(
          "natscope-whip-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        )
        .path
      let python = try #require(WHIPFixture.python)
      process = try Spawned(
        [
          python, WHIPFixture.script, "--host", "127.0.0.1", "--port", "0", "--events",
          events, "--ice-address", "127.0.0.1",
        ] + extra, name: "whip-server")
      // Bounded: aiortc's import takes a few seconds here.
      var found: Int?
      for _ in 0..<300 where found == nil {
        found = Self.read(events).first { $0["event"] as? String == "listening" }?["port"] as? Int
        if found == nil { usleep(100_000) }
      }
      guard let found else {
        process.wait(timeout: 0)
        throw Spawned.Failure(description: "the WHIP fixture did not start: \(process.stderr)")
      }
      port = found
    }

    deinit {
      process.wait(timeout: 0)
      unlink(events)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    static func read(_ path: String) -> [[String: Any]] {
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
      return text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
      }
    }

    var log: [[String: Any]] { Self.read(events) }

    /// Waits (bounded) until an event of this kind is in the log.
    func waitFor(_ kind: String, seconds: Double = 5) -> [String: Any]? {
      let deadline = Date().addingTimeInterval(seconds)
      repeat {
        if let e = log.first(where: { $0["event"] as? String == kind }) { return e }
        usleep(50_000)
      } while Date() < deadline
      return nil
    }
  }

}

extension SchemaValidator {
  /// Validates when a Python with jsonschema is there (SchemaTests says when it is not).
  static func validateIfAvailable(_ samples: [SchemaTests.Sample]) throws {
    guard python != nil else { return }
    try validate(samples)
  }
}

extension Binary {
  /// Runs a tool (not natscope) and returns its exit status, bounded in time.
  static func runTool(_ arguments: [String], timeout: TimeInterval) throws -> Int32 {
    let p = try Spawned(arguments, name: arguments.first ?? "tool")
    return p.wait(timeout: timeout)
  }
}
