import Foundation
import Testing

/// `natscope connect` on real Linux NATs (network namespaces, nftables) with coturn as STUN and
/// TURN server: natscope against natscope in both roles, and against aioice (a Python ICE
/// agent) through `scripts/aioice-peer.py`, which speaks natscope's SDP form. Descriptions go
/// through two FIFOs, as in two terminals. Every process is waited for with a bound and
/// killed by PID; each lab is torn down when its test ends.
@Suite(
  .serialized, .timeLimit(.minutes(10)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")))
struct LabConnectTests {
  static let turnUser = "natscope"
  static let turnPassword = "LabTurnSecret9"

  /// The Python that imports aioice (`NATSCOPE_AIOICE_PYTHON`, else /opt/natscope-venv), or
  /// nil.
  static let aioicePython: String? = {
    let candidates = [
      ProcessInfo.processInfo.environment["NATSCOPE_AIOICE_PYTHON"],
      "/opt/natscope-venv/bin/python",
    ].compactMap { $0 }
    for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
      if let r = try? Lab.run([python, "-c", "import aioice"], timeout: 20), r.status == 0 {
        return python
      }
    }
    return nil
  }()

  static let aioiceSkipReason =
    "aioice cannot be imported (python3 -m venv /opt/natscope-venv && /opt/natscope-venv/bin/pip install aioice, or set NATSCOPE_AIOICE_PYTHON)"

  static let peerScript = Lab.root.appendingPathComponent("scripts/aioice-peer.py").path

  enum Agent: String, Sendable { case natscope, aioice }

  /// One end: which agent, on which lab node, with which servers.
  struct End {
    var agent: Agent
    var node: String
    var stun = true
    var turn: String?  // "udp" or "tcp"
    /// natscope: `-v` (events with times on standard error).
    var verbose = false
    /// aioice: SDP without `a=end-of-candidates`, as regular (non-trickle) agents write it.
    var regular = false
    /// More arguments for the agent (natscope: e.g. a turns: server with --ca; aioice: --log).
    var extra: [String] = []
  }

  /// What one end printed: the JSON result and how it exited.
  struct Outcome {
    var agent: Agent
    var status: Int32
    var json: [String: Any]
    var stdout: String
    var stderr: String
    var seconds: Double

    var state: String? { json["state"] as? String }
    var localType: String? { json.path("selectedPair.local.type") as? String }
    var remoteType: String? { json.path("selectedPair.remote.type") as? String }
    var note: Comment { Comment(rawValue: "\(agent): exit \(status)\n\(stdout)\n\(stderr)") }

    /// direct, reflexive or relay, from the selected pair's types.
    var pathKind: String? {
      guard let l = localType, let r = remoteType else { return nil }
      if l == "relay" || r == "relay" { return "relay" }
      if l == "host" && r == "host" { return "direct" }
      return "reflexive"
    }
  }

  func command(_ end: End, offer: Bool, lab: Lab, fifos: FIFOPair) throws -> [String] {
    let server = lab["SERVER_PRIMARY"]
    let (input, output) = offer ? (fifos.answer, fifos.offer) : (fifos.offer, fifos.answer)
    switch end.agent {
    case .natscope:
      var c = [
        Binary.url.path, "connect", "--json", "--sdp", "--token-in", input, "--token-out", output,
      ]
      if !offer { c.append("--answer") }
      if end.verbose { c.append("-v") }
      if end.stun { c += ["--stun", "stun:\(server)"] }
      if let t = end.turn {
        c += [
          "--turn", "turn:\(server):3478?transport=\(t)", "--turn-user", Self.turnUser,
          "--turn-password", Self.turnPassword,
        ]
      }
      return c + end.extra
    case .aioice:
      let python = try #require(Self.aioicePython)
      var c = [
        python, Self.peerScript, offer ? "--controlling" : "--controlled", "--in", input, "--out",
        output, "--timeout", "20", "--read-timeout", "30",
      ]
      if end.regular { c.append("--no-end-of-candidates") }
      if end.stun { c += ["--stun", "\(server):3478"] }
      if let t = end.turn {
        c += [
          "--turn", "\(server):3478", "--turn-transport", t, "--turn-user", Self.turnUser,
          "--turn-password", Self.turnPassword,
        ]
      }
      return c + end.extra
    }
  }

  /// Runs `offer` and `answer` at once, exchanging descriptions through two FIFOs.
  func connect(_ lab: Lab, offer: End, answer: End) throws -> (Outcome, Outcome) {
    let fifos = try FIFOPair()
    let start = Date()
    let a = try Spawned(
      [Lab.script, "exec", lab.prefix, offer.node, "--"]
        + command(offer, offer: true, lab: lab, fifos: fifos), name: "offer")
    let b = try Spawned(
      [Lab.script, "exec", lab.prefix, answer.node, "--"]
        + command(answer, offer: false, lab: lab, fifos: fifos), name: "answer")
    // Both are bounded: a side whose peer died blocks on a FIFO and is killed here.
    let sa = a.wait(timeout: 45)
    let ta = Date().timeIntervalSince(start)
    let sb = b.wait(timeout: max(5, 45 - ta))
    let tb = Date().timeIntervalSince(start)
    func outcome(_ p: Spawned, _ agent: Agent, _ s: Int32, _ t: Double) -> Outcome {
      let json =
        p.stdout.split(separator: "\n").last.flatMap { line in
          agent == .aioice
            ? (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] : nil
        } ?? p.json ?? [:]
      return Outcome(
        agent: agent, status: s, json: json, stdout: p.stdout, stderr: p.stderr, seconds: t)
    }
    return (outcome(a, offer.agent, sa, ta), outcome(b, answer.agent, sb, tb))
  }

  func expectConnected(_ o: Outcome, via kind: String) {
    #expect(o.status == 0, o.note)
    #expect(o.state == "connected", o.note)
    #expect(o.pathKind == kind, o.note)
    #expect(!o.stdout.contains(Self.turnPassword) && !o.stderr.contains(Self.turnPassword))
  }

  func coturnLab(a: String, b: String) throws -> Lab {
    let lab = try Lab(a: a, b: b)
    let r = try Lab.run(
      [
        Lab.script, "serve-coturn", lab.prefix, "--turn", "\(Self.turnUser):\(Self.turnPassword)",
        "--realm", "lab",
      ], timeout: 30)
    guard r.status == 0 else { throw Lab.LabError("serve-coturn failed: \(r.output)") }
    try lab.refreshInfo()
    return lab
  }

  /// One run: a lab, who offers and who answers, and the expected path (nil: no path).
  struct Scenario: Sendable, CustomTestStringConvertible {
    var a: String
    var b: String
    var offer: End
    var answer: End
    var expect: String?

    var testDescription: String {
      func side(_ e: End) -> String {
        "\(e.agent.rawValue)@\(e.node == "client-a" ? a : b)\(e.turn.map { "+turn/\($0)" } ?? "")"
      }
      return "\(side(offer)) offers to \(side(answer)) → \(expect ?? "failed")"
    }
  }

  static func natscopeScenarios() -> [Scenario] {
    let n = Agent.natscope
    return [
      // No NAT on either side: host pair.
      Scenario(
        a: "none", b: "none", offer: End(agent: n, node: "client-a"),
        answer: End(agent: n, node: "client-b"), expect: "direct"),
      // Two port-restricted cones: hole punching, reflexive pair.
      Scenario(
        a: "eim-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-a"),
        answer: End(agent: n, node: "client-b"), expect: "reflexive"),
      // Symmetric against port-restricted: relay, with the TURN side offering and answering.
      Scenario(
        a: "apdm-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-a", turn: "udp"),
        answer: End(agent: n, node: "client-b"), expect: "relay"),
      Scenario(
        a: "apdm-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-b"),
        answer: End(agent: n, node: "client-a", turn: "udp"), expect: "relay"),
      // UDP blocked on one side: TURN over TCP.
      Scenario(
        a: "udp-blocked", b: "eim-apdf", offer: End(agent: n, node: "client-a", turn: "tcp"),
        answer: End(agent: n, node: "client-b"), expect: "relay"),
      // No TURN and no direct path: failed, fast, with reasons.
      Scenario(
        a: "apdm-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-a"),
        answer: End(agent: n, node: "client-b"), expect: nil),
    ]
  }

  static func aioiceScenarios() -> [Scenario] {
    let n = Agent.natscope
    let p = Agent.aioice
    return [
      Scenario(
        a: "none", b: "none", offer: End(agent: n, node: "client-a"),
        answer: End(agent: p, node: "client-b"), expect: "direct"),
      Scenario(
        a: "none", b: "none", offer: End(agent: p, node: "client-a"),
        answer: End(agent: n, node: "client-b"), expect: "direct"),
      Scenario(
        a: "eim-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-a"),
        answer: End(agent: p, node: "client-b"), expect: "reflexive"),
      Scenario(
        a: "eim-apdf", b: "eim-apdf", offer: End(agent: p, node: "client-a"),
        answer: End(agent: n, node: "client-b"), expect: "reflexive"),
      Scenario(
        a: "apdm-apdf", b: "eim-apdf", offer: End(agent: n, node: "client-a", turn: "udp"),
        answer: End(agent: p, node: "client-b"), expect: "relay"),
      Scenario(
        a: "apdm-apdf", b: "eim-apdf", offer: End(agent: p, node: "client-a", turn: "udp"),
        answer: End(agent: n, node: "client-b"), expect: "relay"),
      Scenario(
        a: "udp-blocked", b: "eim-apdf", offer: End(agent: p, node: "client-b"),
        answer: End(agent: n, node: "client-a", turn: "tcp"), expect: "relay"),
    ]
  }

  func check(_ s: Scenario) throws {
    let lab = try coturnLab(a: s.a, b: s.b)
    defer { lab.down() }
    let (x, y) = try connect(lab, offer: s.offer, answer: s.answer)
    guard let kind = s.expect else {
      for o in [x, y] {
        #expect(o.status == 2, o.note)
        #expect(o.state == "failed", o.note)
        guard o.agent == .natscope else { continue }
        #expect(o.json["selectedPair"] is NSNull, o.note)
        #expect(o.json.path("paths.reflexive.attempted") as? Bool == true, o.note)
        #expect(o.json.path("paths.reflexive.succeeded") as? Bool == false, o.note)
        #expect(
          (o.json.path("paths.reflexive.reason") as? String ?? "").contains("symmetric"), o.note)
        #expect((o.json.path("paths.relay.reason") as? String ?? "").contains("--turn"), o.note)
        // Gathering and the quick probe (about 1 s) plus about 2 s of checks.
        #expect(o.seconds < 8, o.note)
      }
      return
    }
    expectConnected(x, via: kind)
    expectConnected(y, via: kind)
    for (o, end) in [(x, s.offer), (y, s.answer)] where o.agent == .natscope {
      #expect(o.json["schemaVersion"] as? Int == 1)
      #expect(o.json.path("paths.\(kind).succeeded") as? Bool == true, o.note)
      #expect(o.json["timeToConnectedMs"] as? Double != nil, o.note)
      let kindHere = end.node == "client-a" ? s.a : s.b
      let legacy = [
        "none": "Open Internet", "eim-apdf": "Port Restricted Cone", "apdm-apdf": "Symmetric",
        "udp-blocked": "UDP Blocked",
      ][kindHere]
      #expect(o.json.path("local.legacyType") as? String == legacy, o.note)
    }
    if kind == "direct" {
      let remote = x.json.path("selectedPair.remote.address") as? String
      #expect(
        remote == lab[s.answer.node == "client-b" ? "CLIENT_B_ADDR" : "CLIENT_A_ADDR"], x.note)
    }
  }

  /// The `-v` time (ms) of the first line of `stderr` containing every one of `texts`, or of
  /// the last one.
  static func eventTime(_ stderr: String, containing texts: String..., last: Bool = false)
    -> Double?
  {
    let lines = stderr.split(separator: "\n").filter { l in texts.allSatisfy { l.contains($0) } }
    guard let line = last ? lines.last : lines.first else { return nil }
    let number = line.drop { $0 == " " }.prefix { $0.isNumber || $0 == "." }
    return Double(number)
  }

  /// aioice writes regular (non-trickle) SDP: no `a=ice-options:trickle`, no
  /// `a=end-of-candidates`. natscope takes it as complete, so when no path exists (symmetric
  /// NAT against a port-restricted cone, no TURN) its failed verdict comes as the last pair
  /// fails, not when the 15 s check timeout runs out; in either role.
  @Test(
    .enabled(if: aioicePython != nil, Comment(rawValue: aioiceSkipReason)),
    arguments: [true, false])
  func failedVerdictAgainstARegularPeerComesAtOnce(natscopeOffers: Bool) throws {
    let lab = try coturnLab(a: "apdm-apdf", b: "eim-apdf")
    defer { lab.down() }
    // An answerer waits for the offerer's first check (aioice sends no NAT profile, so
    // nothing rules the paths out): here for 20 s, then its verdict says no check came.
    let natscope = End(
      agent: .natscope, node: "client-a", verbose: true,
      extra: natscopeOffers ? [] : ["--timeout", "20"])
    let aioice = End(agent: .aioice, node: "client-b", regular: true)
    let (x, y) = try connect(
      lab, offer: natscopeOffers ? natscope : aioice, answer: natscopeOffers ? aioice : natscope)
    let o = natscopeOffers ? x : y
    #expect(o.status == 2, o.note)
    #expect(o.state == "failed", o.note)
    guard natscopeOffers else {
      let codes = (o.json["findings"] as? [[String: Any]] ?? []).compactMap {
        $0["code"] as? String
      }
      #expect(codes.contains("connect.failed.wait-expired"), o.note)
      #expect(!o.stdout.contains("firewall"), o.note)
      #expect(o.seconds > 19 && o.seconds < 30, o.note)
      return
    }
    let set = try #require(Self.eventTime(o.stderr, containing: "remote description set"), o.note)
    let lastPair = try #require(
      Self.eventTime(o.stderr, containing: "ice pair #", "-> Failed", last: true), o.note)
    let verdict = try #require(Self.eventTime(o.stderr, containing: "finished: failed"), o.note)
    #expect(verdict - lastPair <= 2500, o.note)
    // Well inside the 15 s check timeout: about 2 s of checks.
    #expect(verdict - set < 5000, o.note)
  }

  /// Two port-restricted cones (Linux MASQUERADE: conntrack forgets an unanswered UDP flow
  /// after 30 s), and the answer reaches the offerer a minute after it was written, as a
  /// person would carry it. The answerer waits for the offerer's checks while keepalives hold
  /// both NATs' state, and both connect through the NATs, reporting the wait apart.
  @Test func anAnswerCarriedAcrossInAMinuteConnectsThroughTwoNATs() throws {
    let lab = try coturnLab(a: "eim-apdf", b: "eim-apdf")
    defer { lab.down() }
    let fifos = try FIFOPair()
    let answerFile = fifos.dir + "/answer.txt"
    let server = lab["SERVER_PRIMARY"]
    let offer = try Spawned(
      [
        Lab.script, "exec", lab.prefix, "client-a", "--", Binary.url.path, "connect", "--json",
        "--token-out", fifos.offer, "--token-in", fifos.answer, "--stun", "stun:\(server)",
      ], name: "offer")
    let answer = try Spawned(
      [
        Lab.script, "exec", lab.prefix, "client-b", "--", Binary.url.path, "connect", "--answer",
        "--json", "-v", "--token-in", fifos.offer, "--token-out", answerFile, "--stun",
        "stun:\(server)",
      ], name: "answer")
    var token = ""
    for _ in 0..<400 where !token.hasSuffix("\n") {
      token = (try? String(contentsOfFile: answerFile, encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    try #require(token.hasPrefix("natscope1."), Comment(rawValue: answer.stderr))
    Thread.sleep(forTimeInterval: 60)
    let fd = HumanSpeedCommandTests.openWriter(fifos.answer, seconds: 5)
    try #require(fd >= 0, Comment(rawValue: offer.stderr))
    let bytes = Array(token.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    #expect(written == bytes.count)
    let sa = offer.wait(timeout: 30)
    let sb = answer.wait(timeout: 30)
    for (p, status, what) in [(offer, sa, "answer"), (answer, sb, "checks")] {
      let note = Comment(rawValue: "exit \(status)\n\(p.stdout)\n\(p.stderr)")
      #expect(status == 0, note)
      let o = try #require(p.json, note)
      #expect(o["state"] as? String == "connected", note)
      #expect(o.path("paths.reflexive.succeeded") as? Bool == true, note)
      let waited = try #require(o.path("timings.waitedForPeerMs") as? Double, note)
      #expect(waited > 59_000 && waited < 70_000, note)
      #expect(o.path("timings.waitedFor") as? String == what, note)
      let t = try #require(o["timeToConnectedMs"] as? Double, note)
      #expect(t < 3000, note)
    }
    // Keepalives went out while the person was away.
    #expect(answer.stderr.contains("keeps the NAT mapping of the server-reflexive candidate"))
    #expect(answer.stderr.contains("keeps the NAT open for the peer's checks"))
  }

  @Test(arguments: natscopeScenarios())
  func natscopeAgainstNatscope(_ s: Scenario) throws { try check(s) }

  @Test(
    .enabled(if: aioicePython != nil, Comment(rawValue: aioiceSkipReason)),
    arguments: aioiceScenarios())
  func natscopeAgainstAioice(_ s: Scenario) throws { try check(s) }
}
