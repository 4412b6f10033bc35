import Foundation
import Testing

/// `natscope probe` behind a real port-mapping router: miniupnpd (NAT-PMP, PCP, UPnP IGD) in the
/// lab's router namespace `nat-a`, which learns its public address by STUN from the lab's
/// RFC 5780 server as miniupnpd requires for an address in a documentation range.
@Suite(
  .serialized,
  .enabled(
    if: LabPortMapping.unavailableReason == nil,
    Comment(rawValue: LabPortMapping.unavailableReason ?? "")))
struct LabPortMappingTests {
  @Test func probeFindsNATPMPPCPAndUPnPIGDWithTheRoutersAddressAndNoMappingIsMade() throws {
    let lab = try Lab(a: "eim-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    let wan = lab["NAT_A_WAN"]
    try LabPortMapping.startMiniupnpd(lab)

    let r = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json"], timeout: 60)
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
      Comment(rawValue: r.output))
    let pm = try #require(o["portMapping"] as? [String: Any], Comment(rawValue: r.output))
    #expect(pm["gateway"] as? String == lab["NAT_A_LAN"])
    #expect(pm["externalAddress"] as? String == wan)
    let protocols = try #require(pm["protocols"] as? [[String: Any]])
    #expect(protocols.compactMap { $0["name"] as? String } == ["pcp", "nat-pmp", "upnp-igd"])
    for p in protocols {
      let name = Comment(rawValue: "\(p)")
      #expect(p["answered"] as? Bool == true, name)
      #expect(p["error"] == nil, name)
      #expect(p["rttMilliseconds"] is Double, name)
    }
    #expect(protocols[1]["externalAddress"] as? String == wan)
    #expect(protocols[2]["externalAddress"] as? String == wan)
    // The router's own address is the one the server saw: no NAT above it.
    #expect((o["mappedAddress"] as? String)?.hasPrefix(wan + ":") == true)
    let double = try #require(o["doubleNAT"] as? [String: Any])
    #expect(double["detected"] as? Bool == false)
    #expect(double["routerAddress"] as? String == wan)

    // Read-only: miniupnpd holds no mapping afterwards (its chains stay empty).
    for table in ["nat", "filter"] {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", table, "-S", "MINIUPNPD"])
      #expect(rules.status == 0, Comment(rawValue: rules.output))
      #expect(!rules.output.contains("-A MINIUPNPD"), Comment(rawValue: rules.output))
    }
    // A second opinion on the address: natpmpc.
    let natpmpc = try lab.exec("client-a", ["natpmpc", "-g", lab["NAT_A_LAN"]], timeout: 15)
    #expect(
      natpmpc.output.contains("Public IP address : \(wan)"), Comment(rawValue: natpmpc.output))

    // The text report names the protocols; --no-port-mapping leaves the keys out.
    let text = try lab.exec("client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"]])
    #expect(
      text.output.contains("port mapping  PCP, NAT-PMP, UPnP IGD"), Comment(rawValue: text.output))
    #expect(text.output.contains("double NAT    none seen"), Comment(rawValue: text.output))
    let skipped = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json", "--no-port-mapping"])
    let so = try #require(
      try JSONSerialization.jsonObject(with: Data(skipped.output.utf8)) as? [String: Any],
      Comment(rawValue: skipped.output))
    #expect(so["portMapping"] == nil && so["doubleNAT"] == nil)
  }

  @Test func portMappingMakesATestMappingProvesPeersGetInAndDeletesIt() throws {
    let lab = try Lab(a: "eim-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    let wan = lab["NAT_A_WAN"]
    let gateway = lab["NAT_A_LAN"]
    try LabPortMapping.startMiniupnpd(lab)

    let r = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json", "--port-mapping"],
      timeout: 90)
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
      Comment(rawValue: r.output))
    let pm = try #require(o["portMapping"] as? [String: Any], Comment(rawValue: r.output))
    let protocols = try #require(pm["protocols"] as? [[String: Any]])
    #expect(protocols.allSatisfy { $0["answered"] as? Bool == true }, Comment(rawValue: r.output))
    let t = try #require(pm["testMapping"] as? [String: Any], Comment(rawValue: r.output))
    let comment = Comment(rawValue: "\(t)")
    #expect(t["protocol"] as? String == "pcp", comment)
    #expect(t["gateway"] as? String == "\(gateway):5351", comment)
    #expect(t["created"] as? Bool == true, comment)
    #expect(t["externalAddress"] as? String == wan, comment)
    #expect(t["externalPort"] is Int, comment)
    #expect(t["requestedLifetime"] as? Int == 30, comment)
    // miniupnpd may grant more than asked (its PCP minimum is 120 s); the deletion ends it anyway.
    #expect((t["lifetime"] as? Int).map { $0 >= 30 } == true, comment)
    #expect(t["verified"] as? Bool == true, comment)
    // The control: this NAT filters by address and port, so an answer from the server's other
    // address and port gets in only through the mapping.
    #expect(
      (o["filtering"] as? [String: Any])?["behavior"] as? String == "address-and-port-dependent")
    #expect((t["verification"] as? String)?.contains("got in through the mapping") == true)
    #expect(t["deleted"] as? Bool == true, comment)
    #expect(t["error"] == nil, comment)
    let sent = try #require(t["sent"] as? [String])
    #expect(sent.count == 2, comment)
    #expect(sent.first?.hasPrefix("PCP MAP request to \(gateway):5351: UDP") == true, comment)
    #expect(sent.last?.contains("lifetime 0 (delete)") == true, comment)

    // miniupnpd holds no mapping afterwards: its chains are empty again.
    for (table, chain) in [
      ("nat", "MINIUPNPD"), ("nat", "MINIUPNPD-POSTROUTING"), ("filter", "MINIUPNPD"),
    ] {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", table, "-S", chain])
      #expect(rules.status == 0, Comment(rawValue: rules.output))
      #expect(!rules.output.contains("-A \(chain)"), Comment(rawValue: rules.output))
    }

    // The text report says what was sent to the router.
    let text = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--port-mapping"], timeout: 90)
    #expect(
      text.output.contains("test mapping  created, peers got in, deleted"),
      Comment(rawValue: text.output))
    #expect(text.output.contains("sent to the router:"), Comment(rawValue: text.output))
    #expect(text.output.contains("- PCP MAP request to"), Comment(rawValue: text.output))
  }

  /// Two natscope connects through FIFOs, offerer on client-a (behind miniupnpd), STUN only.
  func connectPair(_ lab: Lab, extra: [String] = []) throws -> (Spawned, Spawned, Int32, Int32) {
    let fifos = try FIFOPair()
    let stun = "stun:\(lab["SERVER_PRIMARY"]):\(lab["STUN_PORT"])"
    func command(_ offer: Bool) -> [String] {
      let (input, output) = offer ? (fifos.answer, fifos.offer) : (fifos.offer, fifos.answer)
      return [
        Binary.url.path, "connect", "--json", "--sdp", "--token-in", input, "--token-out", output,
        "--stun", stun,
      ] + (offer ? extra : ["--answer"])
    }
    let a = try Spawned(
      [Lab.script, "exec", lab.prefix, "client-a", "--"] + command(true), name: "offer")
    let b = try Spawned(
      [Lab.script, "exec", lab.prefix, "client-b", "--"] + command(false), name: "answer")
    let sa = a.wait(timeout: 45)
    let sb = b.wait(timeout: 20)
    return (a, b, sa, sb)
  }

  /// ``connectPair(_:extra:)``, run again (once) when the offerer's quick NAT probe did not
  /// finish within its 1.2 s (its `local.profile` is null): without a profile the report rightly
  /// makes no claim about what the mapping changed, and on this 2-core machine under a full
  /// parallel test run the probe was seen to miss its bound (checks then start at about 1.4 s).
  func connectPairWithProfile(_ lab: Lab) throws -> (Spawned, Spawned, Int32, Int32) {
    let first = try connectPair(lab)
    guard first.0.json?.path("local.profile") is NSNull else { return first }
    return try connectPair(lab)
  }

  /// After a run that mapped through miniupnpd: the router holds no mapping (its chains are
  /// empty), and the control, `--no-port-mapping` between the two symmetric NATs with no relay,
  /// does not connect.
  func expectNoMappingLeftAndNoConnectionWithout(_ lab: Lab) throws {
    for (table, chain) in [
      ("nat", "MINIUPNPD"), ("nat", "MINIUPNPD-POSTROUTING"), ("filter", "MINIUPNPD"),
    ] {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", table, "-S", chain])
      #expect(!rules.output.contains("-A \(chain)"), Comment(rawValue: rules.output))
    }
    let (c, _, sc, _) = try connectPair(lab, extra: ["--no-port-mapping"])
    let off = try #require(c.json, Comment(rawValue: c.stdout + c.stderr))
    #expect(sc == 2 && off["state"] as? String == "failed", Comment(rawValue: c.stdout))
    #expect(off.path("local.portMapping") == nil)
  }

  /// A symmetric NAT with miniupnpd against a symmetric NAT without: STUN only, they connect
  /// through the PCP mapping natscope makes (deleted at the end), and not without it.
  @Test func connectThroughTwoSymmetricNATsUsesThePCPMappingAndDeletesIt() throws {
    let lab = try Lab(a: "apdm-apdf", b: "apdm-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    try LabPortMapping.startMiniupnpd(lab)
    let wan = lab["NAT_A_WAN"]

    let (a, b, sa, sb) = try connectPairWithProfile(lab)
    let note = Comment(
      rawValue:
        "offer exit \(sa)\n\(a.stdout)\n\(a.stderr)\nanswer exit \(sb)\n\(b.stdout)\n\(b.stderr)")
    let o = try #require(a.json, note)
    #expect(sa == 0 && o["state"] as? String == "connected", note)
    #expect(sb == 0, note)
    let local = try #require(o.path("selectedPair.local") as? [String: Any], note)
    let pm = try #require(o.path("local.portMapping") as? [String: Any], note)
    #expect(pm["protocol"] as? String == "pcp", note)
    #expect(pm["externalAddress"] as? String == wan, note)
    #expect(pm["deleted"] as? Bool == true, note)
    #expect(pm["error"] is NSNull, note)
    #expect(local["type"] as? String == "srflx", note)
    #expect(local["address"] as? String == wan, note)
    #expect(local["port"] as? Int == pm["externalPort"] as? Int, note)
    #expect(
      (o.path("paths.reflexive.reason") as? String)?.hasPrefix(
        "Connected through the port mapping natscope made on your router (PCP") == true, note)
    // The answerer's router has no port-mapping service: ICMP, at once.
    let bpm = try #require(b.json?.path("local.portMapping") as? [String: Any], note)
    #expect((bpm["error"] as? String)?.contains("ICMP port unreachable") == true, note)
    // ... so gathering did not wait out the 1 s the router is given.
    let gathered = b.json?.path("timings.gatheringMs") as? Double
    #expect(gathered.map { $0 < 900 } == true, note)
    try expectNoMappingLeftAndNoConnectionWithout(lab)
  }

  /// SIGTERM while the offerer waits for the answer: the mapping it holds on miniupnpd (PCP, or
  /// with NAT-PMP and PCP off, UPnP IGD's DeletePortMapping) is deleted before natscope exits
  /// with 143.
  @Test(arguments: [true, false])
  func sigtermWhileWaitingDeletesTheConnectMappingFirst(pcp: Bool) throws {
    let lab = try Lab(a: "apdm-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    try LabPortMapping.startMiniupnpd(lab, natpmp: pcp)
    let fifos = try FIFOPair()
    let a = try Spawned(
      [
        Lab.script, "exec", lab.prefix, "client-a", "--", Binary.url.path, "connect", "--json",
        "--sdp", "--token-in", fifos.answer, "--token-out", fifos.offer, "--stun",
        "stun:\(lab["SERVER_PRIMARY"]):\(lab["STUN_PORT"])",
      ], name: "offer")
    func mapped() throws -> Bool {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", "nat", "-S", "MINIUPNPD"])
      return rules.output.contains("-A MINIUPNPD")
    }
    var held = false
    for _ in 0..<100 {
      if try mapped() {
        held = true
        break
      }
      usleep(100_000)
    }
    #expect(held, "the mapping appeared on the router within 10 s")
    kill(a.pid, SIGTERM)
    let status = a.wait(timeout: 15)
    #expect(status == 143, Comment(rawValue: a.stdout + a.stderr))
    #expect(try !mapped(), "the mapping was deleted before natscope exited")
  }

  /// A symmetric NAT whose router offers UPnP IGD only (no PCP, no NAT-PMP) against a
  /// symmetric NAT without port mapping, STUN only: they connect through the UPnP mapping
  /// natscope adds (and deletes at the end), and not without it.
  @Test func connectThroughTwoSymmetricNATsUsesAUPnPIGDOnlyRouter() throws {
    let lab = try Lab(a: "apdm-apdf", b: "apdm-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    try LabPortMapping.startMiniupnpd(lab, natpmp: false)
    let wan = lab["NAT_A_WAN"]

    let (a, b, sa, sb) = try connectPairWithProfile(lab)
    let note = Comment(
      rawValue:
        "offer exit \(sa)\n\(a.stdout)\n\(a.stderr)\nanswer exit \(sb)\n\(b.stdout)\n\(b.stderr)")
    let o = try #require(a.json, note)
    #expect(sa == 0 && o["state"] as? String == "connected", note)
    #expect(sb == 0, note)
    let pm = try #require(o.path("local.portMapping") as? [String: Any], note)
    #expect(pm["protocol"] as? String == "upnp-igd", note)
    #expect(pm["gateway"] as? String == "\(lab["NAT_A_LAN"]):5000", note)
    #expect(pm["externalAddress"] as? String == wan, note)
    #expect(pm["lifetime"] as? Int == 120, note)
    #expect(pm["deleted"] as? Bool == true, note)
    #expect(pm["error"] is NSNull, note)
    let local = try #require(o.path("selectedPair.local") as? [String: Any], note)
    #expect(local["type"] as? String == "srflx", note)
    #expect(local["address"] as? String == wan, note)
    #expect(local["port"] as? Int == pm["externalPort"] as? Int, note)
    #expect(
      (o.path("paths.reflexive.reason") as? String)?.hasPrefix(
        "Connected through the port mapping natscope made on your router (UPnP IGD") == true,
      note)
    // PCP (nothing listens on 5351) and SSDP, in parallel: the mapping is there well within
    // the 1 s bound (SSDP answers in about 70 ms here, each HTTP exchange in a few ms).
    let gatheredA = o.path("timings.gatheringMs") as? Double
    #expect(gatheredA.map { $0 < 900 } == true, note)
    // The answerer's router runs neither: ICMP from 5351 and from 1900, at once.
    let bpm = try #require(b.json?.path("local.portMapping") as? [String: Any], note)
    let berror = bpm["error"] as? String ?? ""
    #expect(berror.contains("ICMP port unreachable (no PCP or NAT-PMP service"), note)
    #expect(berror.contains("ICMP port unreachable (no UPnP IGD on the router)"), note)
    let gatheredB = b.json?.path("timings.gatheringMs") as? Double
    #expect(gatheredB.map { $0 < 900 } == true, note)
    try expectNoMappingLeftAndNoConnectionWithout(lab)
  }

  /// A real double NAT: miniupnpd on the home router `nat-a`, which sits behind a carrier NAT
  /// (`cgn-a`, address-and-port-dependent filtering). miniupnpd learns the carrier's address by
  /// STUN, reports it over all three protocols (so the addresses match), and refuses every
  /// mapping: PCP NO_RESOURCES, NAT-PMP Network Failure, UPnP ActionFailed.
  @Test func aRouterBehindASecondNATIsReportedAsDoubleNAT() throws {
    let lab = try Lab(a: "eim-apdf", extra: ["--carrier-a", "eim-apdf"])
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    try LabPortMapping.startMiniupnpd(lab)
    let outer = lab["CGN_A_WAN"]
    #expect(lab["NAT_A_WAN"] == "100.64.1.2")

    // Read-only: the router claims the outer address, so the addresses alone cannot tell.
    let ro = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json"], timeout: 60)
    let r = try #require(
      try JSONSerialization.jsonObject(with: Data(ro.output.utf8)) as? [String: Any],
      Comment(rawValue: ro.output))
    #expect((r["portMapping"] as? [String: Any])?["externalAddress"] as? String == outer)
    #expect((r["mappedAddress"] as? String)?.hasPrefix(outer + ":") == true)
    let rd = try #require(r["doubleNAT"] as? [String: Any], Comment(rawValue: ro.output))
    #expect(rd["detected"] as? Bool == false)
    #expect(rd["likely"] == nil)
    #expect((rd["reason"] as? String)?.contains("does not rule one out") == true)

    // With --port-mapping: every protocol refuses the test mapping as a router behind a NAT.
    let out = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json", "--port-mapping"],
      timeout: 90)
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(out.output.utf8)) as? [String: Any],
      Comment(rawValue: out.output))
    let note = Comment(rawValue: out.output)
    let t = try #require(o.path("portMapping.testMapping") as? [String: Any], note)
    #expect(t["created"] as? Bool == false, note)
    let refusals = try #require(t["refusals"] as? [[String: Any]], note)
    #expect(refusals.compactMap { $0["protocol"] as? String } == ["pcp", "nat-pmp", "upnp-igd"])
    #expect(refusals.compactMap { $0["code"] as? Int } == [8, 3, 501], note)
    let d = try #require(o["doubleNAT"] as? [String: Any], note)
    #expect(d["likely"] as? Bool == true, note)
    #expect(d["detected"] == nil || d["detected"] is NSNull, note)
    #expect(d["routerAddress"] as? String == outer, note)
    let reason = d["reason"] as? String ?? ""
    #expect(
      reason.hasPrefix(
        "Likely: your router reports the address servers see, \(outer), yet it refused to open a port over every protocol asked: PCP result 8 (NO_RESOURCES), NAT-PMP result 3 (Network Failure) and UPnP IGD error 501 (Action Failed)."
      ), note)
    #expect((o["summary"] as? String)?.contains("Likely: your router reports") == true, note)
    // Nothing was mapped, so nothing is left.
    for (table, chain) in [
      ("nat", "MINIUPNPD"), ("nat", "MINIUPNPD-POSTROUTING"), ("filter", "MINIUPNPD"),
    ] {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", table, "-S", chain])
      #expect(!rules.output.contains("-A \(chain)"), Comment(rawValue: rules.output))
    }
    // The text report says "likely".
    let text = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--port-mapping"], timeout: 90)
    #expect(text.output.contains("double NAT    likely"), Comment(rawValue: text.output))

    // connect meets the same refusals (PCP, then UPnP IGD) and says the same in its JSON.
    let (a, b, sa, sb) = try connectPair(lab)
    let cnote = Comment(
      rawValue:
        "offer exit \(sa)\n\(a.stdout)\n\(a.stderr)\nanswer exit \(sb)\n\(b.stdout)\n\(b.stderr)")
    let pm = try #require(a.json?.path("local.portMapping") as? [String: Any], cnote)
    #expect(pm["externalAddress"] is NSNull, cnote)
    let crefusals = try #require(pm["refusals"] as? [[String: Any]], cnote)
    #expect(crefusals.compactMap { $0["protocol"] as? String } == ["pcp", "upnp-igd"], cnote)
    #expect(crefusals.compactMap { $0["code"] as? Int } == [8, 501], cnote)
    let cd = try #require(pm["doubleNAT"] as? [String: Any], cnote)
    #expect(cd["likely"] as? Bool == true, cnote)
    #expect(cd["serverSeenAddress"] as? String == outer, cnote)
    #expect((cd["reason"] as? String)?.hasPrefix("Likely: your router reports") == true, cnote)
  }

  @Test func withOnlyUPnPIGDTheTestMappingIsAddedAndDeletedOverSOAP() throws {
    let lab = try Lab(a: "eim-apdf")
    defer {
      lab.down()
      LabPortMapping.removeFiles(lab)
    }
    try lab.startNatscopeServer()
    try LabPortMapping.startMiniupnpd(lab, natpmp: false)
    let r = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json", "--port-mapping"],
      timeout: 90)
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
      Comment(rawValue: r.output))
    let pm = try #require(o["portMapping"] as? [String: Any], Comment(rawValue: r.output))
    let t = try #require(pm["testMapping"] as? [String: Any], Comment(rawValue: r.output))
    let comment = Comment(rawValue: "\(t)")
    #expect(t["protocol"] as? String == "upnp-igd", comment)
    #expect(t["created"] as? Bool == true, comment)
    #expect(t["externalAddress"] as? String == lab["NAT_A_WAN"], comment)
    #expect(t["verified"] as? Bool == true, comment)
    #expect(t["deleted"] as? Bool == true, comment)
    let sent = try #require(t["sent"] as? [String])
    #expect(sent.first?.hasPrefix("SSDP M-SEARCH") == true, comment)
    #expect(sent.contains { $0.contains("AddPortMapping") && $0.contains("lease 30 s") }, comment)
    #expect(sent.last?.contains("DeletePortMapping") == true, comment)
    for (table, chain) in [
      ("nat", "MINIUPNPD"), ("nat", "MINIUPNPD-POSTROUTING"), ("filter", "MINIUPNPD"),
    ] {
      let rules = try lab.exec("nat-a", ["iptables-legacy", "-t", table, "-S", chain])
      #expect(!rules.output.contains("-A \(chain)"), Comment(rawValue: rules.output))
    }
  }

  @Test func aRouterWithoutPortMappingIsReportedUnansweredWithinBounds() throws {
    let lab = try Lab(a: "eim-apdf")
    defer { lab.down() }
    try lab.startNatscopeServer()
    let started = Date()
    let r = try lab.exec(
      "client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json"], timeout: 60)
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
      Comment(rawValue: r.output))
    let pm = try #require(o["portMapping"] as? [String: Any])
    let protocols = try #require(pm["protocols"] as? [[String: Any]])
    #expect(protocols.count == 3)
    #expect(protocols.allSatisfy { $0["answered"] as? Bool == false })
    #expect(pm["externalAddress"] == nil)
    let double = try #require(o["doubleNAT"] as? [String: Any])
    #expect(double["detected"] == nil)
    #expect(Date().timeIntervalSince(started) < 30)
  }
}

/// miniupnpd in a lab router namespace, set up as `/work/shared/notes/machine.md` describes.
enum LabPortMapping {
  static let miniupnpd = ["/usr/sbin/miniupnpd", "/usr/local/sbin/miniupnpd"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  /// Why these tests cannot run here, or nil when they can.
  static let unavailableReason: String? = {
    if let reason = Lab.unavailableReason { return reason }
    guard miniupnpd != nil else {
      return "miniupnpd is not installed (apt-get install miniupnpd-iptables miniupnpc natpmpc)"
    }
    for tool in ["iptables-legacy", "natpmpc"] {
      let found = ["/usr/sbin/", "/usr/bin/", "/sbin/"].contains {
        FileManager.default.isExecutableFile(atPath: $0 + tool)
      }
      if !found { return "\(tool) is not installed (apt-get install iptables natpmpc)" }
    }
    return nil
  }()

  /// The directory of miniupnpd's configuration and pid file for `lab`.
  static func directory(_ lab: Lab) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-miniupnpd-\(lab.prefix)")
  }

  /// Removes that directory (after the lab is down and miniupnpd killed).
  static func removeFiles(_ lab: Lab) {
    try? FileManager.default.removeItem(at: directory(lab))
  }

  /// Creates miniupnpd's iptables-legacy chains in `nat-a`, lets the STUN server's answers in
  /// through the router's input firewall, starts miniupnpd (killed by PID when the lab goes
  /// down) and waits, bounded, until it listens for NAT-PMP/PCP and HTTP.
  static func startMiniupnpd(_ lab: Lab, natpmp: Bool = true) throws {
    guard let miniupnpd else { throw Lab.LabError("miniupnpd is not installed") }
    let dir = directory(lab)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let lanNet = "192.168.10.0/24"
    let setup: [[String]] = [
      ["iptables-legacy", "-t", "nat", "-N", "MINIUPNPD"],
      ["iptables-legacy", "-t", "nat", "-N", "MINIUPNPD-POSTROUTING"],
      ["iptables-legacy", "-t", "nat", "-A", "PREROUTING", "-i", "wan", "-j", "MINIUPNPD"],
      [
        "iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j",
        "MINIUPNPD-POSTROUTING",
      ],
      ["iptables-legacy", "-t", "filter", "-N", "MINIUPNPD"],
      ["iptables-legacy", "-t", "filter", "-A", "FORWARD", "-i", "wan", "-j", "MINIUPNPD"],
      // Both server addresses: RFC 5780's change-address answers come from the alternate.
      [
        "nft", "insert", "rule", "ip", "natlab", "input", "iifname", "wan", "ip", "saddr",
        "\(lab["SERVER_PRIMARY"])/31", "accept",
      ],
    ]
    for command in setup {
      let r = try lab.exec("nat-a", command)
      guard r.status == 0 else {
        throw Lab.LabError("\(command.joined(separator: " ")) failed: \(r.output)")
      }
    }
    let config = """
      ext_ifname=wan
      listening_ip=lan
      http_port=5000
      enable_natpmp=\(natpmp ? "yes" : "no")
      enable_upnp=yes
      secure_mode=yes
      ext_perform_stun=yes
      ext_stun_host=\(lab["SERVER_PRIMARY"])
      ext_stun_port=\(lab["STUN_PORT"])
      uuid=3e5a4b7c-0d1e-4f2a-9b3c-5d6e7f801234
      allow 1024-65535 \(lanNet) 1024-65535
      deny 0-65535 0.0.0.0/0 0-65535

      """
    let conf = dir.appendingPathComponent("miniupnpd.conf").path
    try config.write(toFile: conf, atomically: true, encoding: .utf8)
    let pid = dir.appendingPathComponent("miniupnpd.pid").path
    try lab.spawn("nat-a", name: "miniupnpd", [miniupnpd, "-f", conf, "-P", pid, "-d"])
    // miniupnpd runs its STUN tests (up to about 10 s) before it listens.
    for _ in 0..<100 {
      let udp = try lab.exec("nat-a", ["ss", "-Hlnu"]).output
      let tcp = try lab.exec("nat-a", ["ss", "-Hlnt"]).output
      if udp.contains(":5351 ") || !natpmp, tcp.contains(":5000 ") { return }
      usleep(200_000)
    }
    throw Lab.LabError("miniupnpd did not start listening within 20 s")
  }
}
