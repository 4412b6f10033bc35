import Foundation
import Testing

/// `connect --whip` in the namespace lab: the aiortc WHIP endpoint on the lab's public server
/// (203.0.113.10), natscope on a host behind a real Linux NAT. Everything runs inside the
/// lab's namespaces; `scripts/lab down` kills what was spawned, by PID, also on failure.
@Suite(
  .serialized, .timeLimit(.minutes(6)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")),
  .enabled(if: WHIPFixture.python != nil, Comment(rawValue: WHIPFixture.skipReason)))
struct LabWHIPTests {
  static let turnUser = "whip"
  static let turnPassword = "LabWhipPass9"

  /// Starts the fixture on the server node; returns its event log path once it listens.
  static func startFixture(_ lab: Lab, _ extra: [String] = []) throws -> String {
    let events = "/tmp/natscope-labwhip-\(lab.prefix)-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    let python = try #require(WHIPFixture.python)
    try lab.spawn(
      "server", name: "whip-server",
      [
        python, WHIPFixture.script, "--host", lab["SERVER_PRIMARY"], "--port", "8080",
        "--events", events, "--ice-address", lab["SERVER_PRIMARY"],
      ] + extra)
    for _ in 0..<300 {
      if WHIPFixture.Server.read(events).contains(where: { $0["event"] as? String == "listening" })
      {
        return events
      }
      usleep(100_000)
    }
    throw Lab.LabError("the WHIP fixture did not start in the lab")
  }

  static func json(_ text: String) -> [String: Any]? {
    // The lab's exec puts standard error after standard output: the document is the first
    // object.
    guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}") else {
      return nil
    }
    return try? JSONSerialization.jsonObject(with: Data(text[start...end].utf8))
      as? [String: Any]
  }

  @Test func connectsThroughTheNATToTheServerAndDeletesTheSession() throws {
    let lab = try Lab(a: "eim-apdf")
    defer { lab.down() }
    try lab.startNatscopeServer()
    let events = try Self.startFixture(lab)
    defer { unlink(events) }
    let r = try lab.exec(
      "client-a",
      [
        Binary.url.path, "connect", "--whip", "http://\(lab["SERVER_PRIMARY"]):8080/whip",
        "--stun", lab["SERVER_PRIMARY"], "--no-port-mapping", "--json",
      ], timeout: 90)
    #expect(r.status == 0, Comment(rawValue: r.output))
    let doc = Self.json(r.output)
    #expect(doc?["state"] as? String == "connected", Comment(rawValue: r.output))
    #expect((doc?["dtls"] as? [String: Any])?["state"] as? String == "connected")
    let remote = (doc?["selectedPair"] as? [String: Any])?["remote"] as? [String: Any]
    #expect(remote?["address"] as? String == lab["SERVER_PRIMARY"])
    #expect((doc?["whip"] as? [String: Any])?["deleteStatus"] as? Int == 200)
    #expect(WHIPFixture.Server.read(events).contains { $0["event"] as? String == "delete" })
  }

  @Test func udpBlockedConnectsThroughTheServersTURNFromTheLinkHeader() throws {
    let lab = try Lab(a: "udp-blocked")
    defer { lab.down() }
    let c = try Lab.run(
      [Lab.script, "serve-coturn", lab.prefix, "--turn", "\(Self.turnUser):\(Self.turnPassword)"],
      timeout: 30)
    try #require(c.status == 0, Comment(rawValue: c.output))
    let link =
      "<turn:\(lab["SERVER_PRIMARY"]):3478?transport=tcp>; rel=\"ice-server\"; username=\"\(Self.turnUser)\"; credential=\"\(Self.turnPassword)\"; credential-type=\"password\""
    let events = try Self.startFixture(lab, ["--options-links", "--link", link])
    defer { unlink(events) }
    let r = try lab.exec(
      "client-a",
      [
        Binary.url.path, "connect", "--whip", "http://\(lab["SERVER_PRIMARY"]):8080/whip",
        "--no-port-mapping", "--no-probe", "--json",
      ], timeout: 120)
    #expect(r.status == 0, Comment(rawValue: r.output))
    let doc = Self.json(r.output)
    #expect(doc?["state"] as? String == "connected", Comment(rawValue: r.output))
    let local = (doc?["selectedPair"] as? [String: Any])?["local"] as? [String: Any]
    #expect(local?["type"] as? String == "relay", Comment(rawValue: r.output))
    #expect((doc?["dtls"] as? [String: Any])?["state"] as? String == "connected")
    let servers = (doc?["whip"] as? [String: Any])?["iceServers"] as? [[String: Any]] ?? []
    #expect(servers.first?["used"] as? Bool == true)
    #expect(!r.output.contains(Self.turnPassword))
    #expect(WHIPFixture.Server.read(events).contains { $0["event"] as? String == "delete" })
  }
}
