import Foundation
import Testing

/// `natscope demo --a … --b …`: the real binary, on the simulated network (no TTY, so it runs
/// at once on virtual time).
@Suite struct DemoTwoHostTests {
  func object(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func symmetricToPortRestrictedConnectsThroughTheRelay() throws {
    let r = try Binary.run(["demo", "--a", "symmetric", "--b", "port-restricted", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try object(r.stdout)
    #expect(o["schemaVersion"] as? Int == 1)
    let a = try #require(o["a"] as? [String: Any])
    let probeA = try #require(a["probe"] as? [String: Any])
    #expect(probeA["legacyType"] as? String == "Symmetric")
    let b = try #require(o["b"] as? [String: Any])
    #expect((b["probe"] as? [String: Any])?["legacyType"] as? String == "Port Restricted Cone")
    let connect = try #require(o["connect"] as? [String: Any])
    #expect(connect["state"] as? String == "connected")
    let selected = try #require(connect["selectedPair"] as? [String: Any])
    let local = (selected["local"] as? [String: Any])?["type"] as? String
    let remote = (selected["remote"] as? [String: Any])?["type"] as? String
    #expect(local == "relay" || remote == "relay")
    let paths = try #require(connect["paths"] as? [String: Any])
    let reflexive = try #require(paths["reflexive"] as? [String: Any])
    #expect(reflexive["succeeded"] as? Bool == false)
    #expect(((reflexive["reason"] as? String) ?? "").count > 20)
    #expect((paths["relay"] as? [String: Any])?["succeeded"] as? Bool == true)
    // Same seed, same bytes.
    let again = try Binary.run(["demo", "--a", "symmetric", "--b", "port-restricted", "--json"])
    #expect(again.stdout == r.stdout)
  }

  /// Each process hashes with its own random seed: a run that depended on dictionary order
  /// would differ between processes (it did, through the RTT estimator a new destination
  /// borrows, until ties were broken by address).
  @Test func lossyRunsAreIdenticalAcrossProcesses() throws {
    for args in [
      ["demo", "--a", "symmetric", "--b", "port-restricted", "--loss", "10", "--seed", "3"],
      ["demo", "--loss", "10", "--seed", "3"],
    ] {
      let runs = try (0..<3).map { _ in try Binary.run(args + ["--json"]).stdout }
      #expect(Set(runs).count == 1, "\(args)")
    }
  }

  @Test func textTellsTheWholeStory() throws {
    let r = try Binary.run(["demo", "--a", "symmetric", "--b", "port-restricted-cone"])
    #expect(r.status == 0)
    for part in [
      "1. Each host probes its NAT", "2. Prediction", "3. Host A connects to host B",
      "through a TURN relay", "Selected pair", "Timings",
    ] {
      #expect(r.stdout.contains(part), "missing \(part)")
    }
  }

  @Test func withoutTURNTheSymmetricPairFails() throws {
    let r = try Binary.run(
      ["demo", "--a", "symmetric", "--b", "symmetric", "--no-turn", "--json"])
    #expect(r.status == 0)
    let connect = try #require(try object(r.stdout)["connect"] as? [String: Any])
    #expect(connect["state"] as? String == "failed")
    #expect(connect["selectedPair"] is NSNull)
  }

  /// The host whose UDP is blocked reaches the relay over (simulated) TCP; the UDP paths say
  /// why they could not work.
  @Test func udpBlockedConnectsThroughTURNOverTCP() throws {
    let r = try Binary.run(["demo", "--a", "udp-blocked", "--b", "full-cone", "--json"])
    let connect = try #require(try object(r.stdout)["connect"] as? [String: Any])
    #expect(connect["state"] as? String == "connected")
    let selected = connect["selectedPair"] as? [String: Any]
    #expect((selected?["local"] as? [String: Any])?["type"] as? String == "relay")
    let turn = (connect["local"] as? [String: Any])?["turn"] as? [String]
    #expect(turn == ["tcp"])
    let paths = connect["paths"] as? [String: Any]
    let reflexive = (paths?["reflexive"] as? [String: Any])?["reason"] as? String ?? ""
    #expect(reflexive.contains("UDP is blocked") && reflexive.contains("TCP"))
    #expect((paths?["relay"] as? [String: Any])?["succeeded"] as? Bool == true)
    // And without a relay, nothing can connect.
    let none = try Binary.run([
      "demo", "--a", "udp-blocked", "--b", "full-cone", "--no-turn", "--json",
    ])
    let failed = try #require(try object(none.stdout)["connect"] as? [String: Any])
    #expect(failed["state"] as? String == "failed")
  }

  /// A router with PCP turns two symmetric NATs into a direct connection; a home router behind
  /// a carrier-grade NAT is reported as double NAT, in the text and the JSON.
  @Test func portMappingPresetsShowWhatTheRouterSaid() throws {
    let r = try Binary.run(["demo", "--a", "cgnat", "--b", "symmetric+pcp", "--no-turn"])
    #expect(r.status == 0, "\(r.stderr)")
    let text = r.stdout.replacingOccurrences(of: "\n   ", with: " ")
    for part in [
      "host A behind cgnat (home router (offers PCP, NAT-PMP and UPnP",
      "Host A's router: port mapping by PCP, NAT-PMP and UPnP IGD; its own internet address is 100.64.0.2.",
      "Host A: Your router's own internet address is 100.64.0.2, but servers see 198.51.100.1: there is another NAT above your router",
      "Host B's router: port mapping by PCP.",
    ] {
      #expect(text.contains(part), "missing \(part) in\n\(r.stdout)")
    }
    let json = try Binary.run(["demo", "--a", "cgnat", "--b", "symmetric+pcp", "--json"])
    let a = try #require(try object(json.stdout)["a"] as? [String: Any])
    let probe = try #require(a["probe"] as? [String: Any])
    let double = try #require(probe["doubleNAT"] as? [String: Any])
    #expect(double["detected"] as? Bool == true)
    let pm = try #require(probe["portMapping"] as? [String: Any])
    #expect(pm["externalAddress"] as? String == "100.64.0.2")

    let direct = try Binary.run(["demo", "--a", "symmetric+pcp", "--b", "symmetric", "--no-turn"])
    #expect(direct.stdout.contains("Connected in"), "\(direct.stdout)")
    #expect(direct.stdout.contains("Connected through the port mapping natscope made"))
  }

  @Test(arguments: [
    ["demo", "--a", "open+pcp", "--b", "symmetric"],
    ["demo", "--a", "symmetric+foo", "--b", "open"],
    ["demo", "--a", "bogus", "--b", "symmetric"], ["demo", "--a", "eim/xyz", "--b", "open"],
    ["demo", "--a", "symmetric"], ["demo", "--b", "symmetric", "--json"],
    ["demo", "--a", "open", "--b", "open", "--latency", "500"],
  ])
  func badPresetsGetOneSentenceAndExitOne(_ args: [String]) throws {
    let r = try Binary.run(args)
    #expect(r.status == 1)
    #expect(r.stdout.isEmpty)
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(r.stderr)")
    #expect(r.stderr.hasPrefix("natscope: ") && r.stderr.contains("--"))
    #expect(r.stderr.trimmingCharacters(in: .newlines).hasSuffix("."))
  }

  @Test func theAllPresetsRunPointsToTheTwoHostRun() throws {
    let r = try Binary.run(["demo"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("natscope demo --a symmetric --b port-restricted"))
    let help = try Binary.run(["demo", "--help"])
    for part in ["--a <nat>", "--b <nat>", "--no-turn", "eim/apdf", "+pcp", "+nat-pmp", "+upnp"] {
      #expect(help.stdout.contains(part), "missing \(part)")
    }
  }
}
