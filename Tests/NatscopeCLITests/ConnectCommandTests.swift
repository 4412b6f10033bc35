import Foundation
import Testing

/// `natscope connect` on loopback: two processes exchanging tokens through FIFOs, and the
/// one-sentence errors for bad input. Only 127.0.0.1 is used (`--bind`).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ConnectCommandTests {
  static let loopback = ["--bind", "127.0.0.1", "--include-loopback", "--no-probe"]

  @Test(arguments: [false, true])
  func twoProcessesConnectThroughFIFOs(sdp: Bool) throws {
    let fifos = try FIFOPair()
    let extra = sdp ? ["--sdp"] : []
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--token-out", fifos.offer, "--token-in",
        fifos.answer,
      ]
        + Self.loopback + extra, name: "offer")
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--token-in", fifos.offer,
        "--token-out", fifos.answer,
      ] + Self.loopback + extra, name: "answer")
    let sa = offer.wait(timeout: 30)
    let sb = answer.wait(timeout: 30)
    #expect(sa == 0, Comment(rawValue: offer.stderr))
    #expect(sb == 0, Comment(rawValue: answer.stderr))
    for p in [offer, answer] {
      let o = try #require(p.json, Comment(rawValue: p.stdout + p.stderr))
      #expect(o["schemaVersion"] as? Int == 1)
      #expect(o["state"] as? String == "connected")
      #expect(o.path("selectedPair.local.type") as? String == "host")
      #expect(o.path("selectedPair.remote.type") as? String == "host")
      #expect(o.path("selectedPair.remote.address") as? String == "127.0.0.1")
      #expect(o.path("selectedPair.local.port") as? Int != nil)
      #expect(o["timeToConnectedMs"] as? Double != nil)
      #expect(o.path("paths.direct.succeeded") as? Bool == true)
      #expect(o.path("paths.direct.attempted") as? Bool == true)
      for k in ["direct", "reflexive", "relay"] {
        #expect(o.path("paths.\(k).reason") as? String != nil)
      }
    }
  }

  @Test func aBadTokenIsOneSentenceAndExit1() throws {
    let fifos = try FIFOPair()  // for its directory
    let path = fifos.dir + "/garbage"
    try "this is not a token\n".write(toFile: path, atomically: true, encoding: .utf8)
    let p = try Spawned(
      [Binary.url.path, "connect", "--answer", "--token-in", path, "--token-out", "/dev/null"]
        + Self.loopback, name: "answer")
    #expect(p.wait(timeout: 20) == 1)
    #expect(
      p.stderr.contains("natscope: This is neither a natscope token nor SDP lines"),
      Comment(rawValue: p.stderr))
    #expect(p.stderr.split(separator: "\n").count == 1, Comment(rawValue: p.stderr))
  }

  @Test func aTokenFromAPeerThatQuitFailsAtOnceAndSaysSo() throws {
    let fifos = try FIFOPair()
    // A real offer token, made by an offerer that then quits: its port is closed, so the
    // kernel answers the checks with ICMP port unreachable.
    let maker = try Spawned(
      [Binary.url.path, "connect", "--token-out", fifos.dir + "/token", "--token-in", fifos.answer]
        + Self.loopback, name: "maker")
    var token = ""
    for _ in 0..<200 where token.isEmpty {
      token = (try? String(contentsOfFile: fifos.dir + "/token", encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    kill(maker.pid, SIGTERM)
    maker.wait(timeout: 5)
    let started = Date()
    let p = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--token-in", fifos.dir + "/token",
        "--token-out", "/dev/null",
      ] + Self.loopback, name: "answer")
    #expect(p.wait(timeout: 20) == 2, Comment(rawValue: p.stderr))
    #expect(Date().timeIntervalSince(started) < 3)
    let o = try #require(p.json, Comment(rawValue: p.stdout + p.stderr))
    #expect(o["state"] as? String == "failed")
    let reason = try #require(o.path("paths.direct.reason") as? String)
    #expect(reason.hasPrefix("The peer is not listening on 127.0.0.1:"), Comment(rawValue: reason))
    #expect(
      reason.hasSuffix(
        "(ICMP port unreachable from 127.0.0.1): it may have quit, or the token is old."))
  }

  @Test func anOfferPastedIntoTheOffererSaysWhatToDo() throws {
    let fifos = try FIFOPair()
    // A real offer token, made by an offerer that is then stopped.
    let maker = try Spawned(
      [Binary.url.path, "connect", "--token-out", fifos.dir + "/token", "--token-in", fifos.answer]
        + Self.loopback, name: "maker")
    var token = ""
    for _ in 0..<200 where token.isEmpty {
      token = (try? String(contentsOfFile: fifos.dir + "/token", encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    kill(maker.pid, SIGTERM)
    maker.wait(timeout: 5)
    #expect(token.hasPrefix("natscope1."))
    let p = try Spawned(
      [Binary.url.path, "connect", "--token-in", fifos.dir + "/token", "--token-out", "/dev/null"]
        + Self.loopback, name: "offer")
    #expect(p.wait(timeout: 20) == 1)
    #expect(p.stderr.contains("This is an offer token"), Comment(rawValue: p.stderr))
  }

  @Test func theTURNPasswordIsNeverEchoed() throws {
    let secret = "Sup3rSecretTurnPw"
    let fifos = try FIFOPair()
    let path = fifos.dir + "/garbage"
    try "natscope1.AAAA\n".write(toFile: path, atomically: true, encoding: .utf8)
    for (args, env) in [
      (["--turn-password", secret], [String: String]()),
      ([], ["NATSCOPE_TURN_PASSWORD": secret]),
    ] {
      // TURN on a loopback port where nothing listens: the allocation fails, the token is bad.
      let p = try Spawned(
        [
          Binary.url.path, "connect", "--answer", "-v", "--json", "--turn", "turn:127.0.0.1:9",
          "--turn-user", "alice", "--token-in", path, "--token-out", "-", "--log-level", "trace",
        ] + args + Self.loopback, name: "answer", env: env)
      #expect(p.wait(timeout: 30) == 1)
      #expect(!p.stdout.contains(secret) && !p.stderr.contains(secret))
      #expect(p.stderr.contains("turn 127.0.0.1:9"), Comment(rawValue: p.stderr))
    }
    let missing = try Spawned(
      [Binary.url.path, "connect", "--turn", "turn:127.0.0.1:9", "--turn-user", "alice"]
        + Self.loopback, name: "missing", env: ["NATSCOPE_TURN_PASSWORD": ""])
    #expect(missing.wait(timeout: 10) == 1)
    #expect(missing.stderr.contains("NATSCOPE_TURN_PASSWORD"))
  }

  @Test func badTURNURIsAreUsageErrors() throws {
    let p = try Spawned(
      [
        Binary.url.path, "connect", "--turn", "turns:127.0.0.1?transport=udp", "--turn-user",
        "a", "--turn-password", "b",
      ] + Self.loopback, name: "bad")
    #expect(p.wait(timeout: 10) == 1)
    #expect(p.stderr.contains("TLS"))
    #expect(p.stderr.contains("DTLS"))
    // --insecure without a turns: server says what it applies to.
    let insecure = try Spawned(
      [
        Binary.url.path, "connect", "--turn", "turn:127.0.0.1", "--turn-user", "a",
        "--turn-password", "b", "--insecure",
      ] + Self.loopback, name: "insecure")
    #expect(insecure.wait(timeout: 10) == 1)
    #expect(insecure.stderr.contains("turns:"))
  }
}

extension ConnectCommandTests {
  @Test func helpListsTheOptions() throws {
    let r = try Binary.run(["connect", "--help"])
    #expect(r.status == 0)
    for option in [
      "--answer", "--stun <uri>", "--turn <uri>", "--turn-user", "--turn-password", "--port-range",
      "--include-loopback", "--timeout", "--aggressive", "--sdp", "--token-in", "--token-out",
      "--json", "NATSCOPE_TURN_PASSWORD", "--ca <file>", "--insecure", "turns:",
    ] {
      #expect(r.stdout.contains(option), Comment(rawValue: option))
    }
  }
}
