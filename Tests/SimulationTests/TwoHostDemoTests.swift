import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// The two-host demo (`natscope demo --a … --b …`) on every pair of presets.
enum TwoHostCases {
  static let names = [
    "open", "full-cone", "restricted", "port-restricted", "symmetric", "cgnat", "udp-blocked",
  ]

  /// What each preset really is (a carrier NAT behind a port-restricted home router behaves as
  /// a port-restricted cone end to end).
  static let truth: [String: NATProfile] = [
    "open": .openInternet, "full-cone": .fullCone, "restricted": .restrictedCone,
    "port-restricted": .portRestrictedCone, "symmetric": .symmetric,
    "cgnat": .portRestrictedCone, "udp-blocked": .udpBlocked,
  ]

  /// Every unordered pair, each once.
  static var pairs: [(String, String)] {
    names.indices.flatMap { i in names[i...].map { (names[i], $0) } }
  }

  static func preset(_ name: String) throws -> SitePreset {
    try SitePreset.parse(name).get()
  }

  static func run(
    _ a: String, _ b: String, turn: Bool = true, seed: UInt64 = 1, loss: Double = 0
  ) throws -> TwoHostDemoResult {
    let demo = try TwoHostDemo(
      TwoHostDemoConfiguration(
        a: try preset(a), b: try preset(b), turn: turn, seed: seed, loss: loss))
    return demo.runToEnd()
  }

  static func usesRelay(_ r: ConnectReport) -> Bool {
    r.selectedPair.map { $0.local.type == .relay || $0.remote.type == .relay } ?? false
  }

  /// Checks a run against the prediction from the presets' true behaviour.
  ///
  /// With loss and a relay, a pair through the NATs that should work may still be pending
  /// when the relayed pair has been valid for the nomination delay (500 ms); the relayed pair
  /// then wins, as it would in any ICE agent with that policy. Such runs only need to connect.
  static func check(
    _ r: TwoHostDemoResult, _ a: String, _ b: String, turn: Bool, lossy: Bool = false
  ) throws {
    let prediction = PathPrediction.reflexive(
      try #require(truth[a]), try #require(truth[b]))
    let c = r.connect
    let note = Comment(
      rawValue:
        "\(a) ↔ \(b) turn \(turn): predicted \(prediction.outcome) (\(prediction.reason)); got \(c.state), selected \(c.selectedPair.map { "\($0.local.type) ↔ \($0.remote.type)" } ?? "-"); relay: \(c.paths.relay.reason)"
    )
    // The probes measured what the presets are.
    #expect(r.prediction.outcome == prediction.outcome, note)
    #expect(c.prediction.reflexive.outcome == prediction.outcome, note)
    let blocked = a == "udp-blocked" || b == "udp-blocked"
    switch prediction.outcome {
    case .works:
      #expect(c.state == .connected, note)
      if !(lossy && turn) { #expect(!usesRelay(c), note) }
    case .fails:
      #expect(!c.paths.reflexive.succeeded && !c.paths.direct.succeeded, note)
      #expect(!c.paths.reflexive.reason.isEmpty, note)
      if turn {
        // A host whose UDP is blocked reaches the relay over TCP.
        #expect(c.state == .connected, note)
        #expect(usesRelay(c), note)
        #expect(c.paths.relay.succeeded, note)
      } else {
        #expect(c.state == .failed, note)
        #expect(c.selectedPair == nil, note)
      }
      if blocked {
        #expect(c.paths.reflexive.reason.contains("UDP is blocked"), note)
        #expect(c.paths.reflexive.reason.contains("TCP"), note)
      }
    case .unknown:
      Issue.record(note)
    }
    if !turn {
      #expect(!c.paths.relay.succeeded && r.turnServer == nil, note)
    }
  }
}

@Suite struct TwoHostDemoTests {
  @Test(arguments: TwoHostCases.pairs)
  func everyPairWithTURNEndsAsPredicted(a: String, b: String) throws {
    try TwoHostCases.check(try TwoHostCases.run(a, b), a, b, turn: true)
  }

  @Test(arguments: TwoHostCases.pairs)
  func everyPairWithoutTURNEndsAsPredicted(a: String, b: String) throws {
    try TwoHostCases.check(try TwoHostCases.run(a, b, turn: false), a, b, turn: false)
  }

  @Test(arguments: [
    ("port-restricted", "restricted"), ("symmetric", "port-restricted"), ("full-cone", "symmetric"),
    ("cgnat", "cgnat"),
  ])
  func tenPercentLossStillEndsAsPredicted(a: String, b: String) throws {
    for seed: UInt64 in [1, 2] {
      for turn in [false, true] {
        try TwoHostCases.check(
          try TwoHostCases.run(a, b, turn: turn, seed: seed, loss: 0.1), a, b, turn: turn,
          lossy: true)
      }
    }
  }

  @Test func sameSeedGivesIdenticalJSON() throws {
    func json(_ seed: UInt64) throws -> Data {
      let e = JSONEncoder()
      e.outputFormatting = .sortedKeys
      return try e.encode(try TwoHostCases.run("symmetric", "port-restricted", seed: seed))
    }
    let first = try json(5)
    #expect(try json(5) == first)
    #expect(try json(6) != first)
  }

  @Test func timeToConnectedCountsFromBothDescriptionsAsConnectDoes() throws {
    let c = try TwoHostCases.run("symmetric", "port-restricted").connect
    let started = try #require(c.timings.checksStartedMs)
    let connected = try #require(c.timings.connectedMs)
    let took = try #require(c.timeToConnectedMs)
    #expect(started > 0)
    #expect(abs(took - (connected - started)) < 0.2, "\(took) vs \(connected) - \(started)")
  }

  @Test func symmetricToPortRestrictedConnectsThroughTheRelay() throws {
    let r = try TwoHostCases.run("symmetric", "port-restricted")
    let c = r.connect
    #expect(c.state == .connected)
    #expect(c.selectedPair?.local.type == .relay || c.selectedPair?.remote.type == .relay)
    #expect(c.paths.reflexive.attempted && !c.paths.reflexive.succeeded)
    // The reason names the cause: A's NAT changes ports per destination, B's filters by port.
    let reason = c.paths.reflexive.reason
    #expect(
      reason.contains("new public port for each destination") || reason.contains("changes ports"),
      Comment(rawValue: reason))
    #expect(reason.contains("exact address") || reason.contains("filters by address and port"))
    #expect(c.prediction.reflexive.outcome == .fails)
    #expect(c.prediction.relay.outcome == .works)
    #expect(r.turnServer == "203.0.113.20:3478")
    let timings = c.timings
    #expect((timings.connectedMs ?? 0) > (timings.firstCheckMs ?? .infinity))
    #expect(r.a.probe?.mapping.behavior == .addressAndPortDependent)
    #expect(r.b.probe?.filtering.behavior == .addressAndPortDependent)
  }

  @Test func customNATsParseAndRun() throws {
    let p = try SitePreset.parse("APDM/eif").get()
    guard case .nat(let b) = p.kind else {
      Issue.record("not a NAT: \(p)")
      return
    }
    #expect(p.name == "apdm/eif")
    #expect(b.mapping == .addressAndPortDependent && b.filtering == .endpointIndependent)
    #expect(try SitePreset.parse("port-restricted-cone").get().name == "port-restricted")
    #expect(try SitePreset.parse("restricted-cone").get().name == "restricted")
    // apdm/eif lets anything in, and an eim/adf peer takes the answer from another port.
    let r = try TwoHostCases.run("apdm/eif", "eim/adf", turn: false)
    #expect(r.connect.state == .connected)
    #expect(r.prediction.outcome == .works)
    // With an eim/apdf peer the answer comes from a port it never sent to: only a relay.
    let strict = try TwoHostCases.run("apdm/eif", "eim/apdf", turn: false)
    #expect(strict.prediction.outcome == .fails)
    #expect(strict.connect.state == .failed)
    let adm = try TwoHostCases.run("adm/adf", "adm/adf", turn: false)
    #expect(adm.a.probe?.mapping.behavior == .addressDependent)
    #expect(adm.b.probe?.filtering.behavior == .addressDependent)
    #expect((adm.connect.state == .connected) == (adm.prediction.outcome == .works))
  }

  @Test(arguments: ["bogus", "eim/xyz", "foo/apdf", "eim", "a/b/c", ""])
  func badNamesGiveOneSentence(name: String) {
    guard case .failure(let e) = SitePreset.parse(name) else {
      Issue.record("\(name) parsed")
      return
    }
    let text = e.description
    #expect(text.hasSuffix(".") && !text.contains("\n"))
    #expect(text.contains("eim/apdf"))
  }

  @Test func bothHostsAllocateOnTheRelay() throws {
    let demo = try TwoHostDemo(
      TwoHostDemoConfiguration(
        a: try TwoHostCases.preset("symmetric"), b: try TwoHostCases.preset("symmetric")))
    var events: [String] = []
    demo.onEvent = { events.append("\($0)") }
    let r = demo.runToEnd()
    let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
    let relay = try #require(demo.lab.turnRelay)
    #expect(json.contains("203.0.113.20"))
    #expect(relay.server.stats.allocations == 2 && relay.server.stats.relayedToPeer > 0)
    // Released when the sessions closed.
    #expect(relay.server.server.allocationCount == 0)
    #expect(events.contains { $0.contains("relayed address ") })
    #expect(r.connect.state == .connected)
  }
}

@Suite struct TwoHostDemoReport {
  /// Prints each pair's outcome and timings (run with TWO_HOST_REPORT=1).
  @Test(
    .enabled(
      if: ProcessInfo.processInfo.environment["TWO_HOST_REPORT"] != nil,
      "prints every preset pair's outcome and timings; run with TWO_HOST_REPORT=1"))
  func report() throws {
    for turn in [true, false] {
      for (a, b) in TwoHostCases.pairs {
        let r = try TwoHostCases.run(a, b, turn: turn)
        let c = r.connect
        print(
          "\(a) <-> \(b) turn=\(turn): \(c.state) \(c.selectedPair.map { "\($0.local.type)->\($0.remote.type)" } ?? "-") connected \(c.timings.connectedMs.map { "\(Int($0)) ms" } ?? "-") end \(Int(r.finishedAtMs)) ms | relay: \(c.paths.relay.reason)"
        )
      }
    }
  }
}

@Suite struct SimulatedTURNRelayTests {
  /// `relayFactory(for:)` gives a plain `ICESession` a relayed candidate on the lab's relay:
  /// two symmetric NATs connect through it.
  @Test func relayFactoryConnectsTwoSymmetricNATs() throws {
    let lab = try SimulatedLab(seed: 3)
    let relay = try lab.addTURNRelay()
    #expect(try lab.addTURNRelay() === relay)
    let hostA = try lab.addSite("a", behavior: .symmetric)
    let hostB = try lab.addSite("b", behavior: .symmetric)
    var events: [TURNClientEvent] = []
    let config = ICESessionConfiguration(
      stunServers: [lab.stunServerAddress], gatheringTimeout: .seconds(3))
    let a = ICESession(
      runtime: hostA, role: .controlling, configuration: config,
      relays: [relay.relayFactory(for: hostA) { events.append($0) }],
      generator: SeededGenerator(seed: 1))
    let b = ICESession(
      runtime: hostB, role: .controlled, configuration: config,
      generator: SeededGenerator(seed: 2))
    a.setRemoteCredentials(b.localCredentials)
    b.setRemoteCredentials(a.localCredentials)
    ICELab.signal(from: a, on: hostA, to: b)
    ICELab.signal(from: b, on: hostB, to: a)
    a.start()
    b.start()
    lab.network.run(for: .seconds(10))
    #expect(a.state == .completed && b.state == .completed)
    #expect(a.selectedPair?.local.type == .relay)
    #expect(a.selectedPair?.local.address.ip == SimulatedTURNRelay.address)
    #expect(events.contains { if case .allocated = $0 { true } else { false } })
    #expect(relay.allocations.count == 1)
    a.close()
    b.close()
    relay.closeAllocations()
    lab.network.run(for: .seconds(2))
    #expect(relay.server.server.allocationCount == 0)
    // The demo user's password is not in the relay's description.
    #expect("\(relay.connectServer)".contains("password hidden"))
  }
}
