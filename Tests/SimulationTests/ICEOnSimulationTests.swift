import Foundation
import STUN
import Simulation
import Testing
import Traversal

/// Two `ICESession`s on `SimulatedLab` sites, gathering host and server-reflexive candidates
/// from the lab's STUN server and exchanging them in-process (50 ms signalling delay).
enum ICELab {
  struct Run {
    var lab: SimulatedLab
    var a: ICESession
    var b: ICESession
  }

  static let profiles: [String: NATProfile] = [
    "open": .openInternet, "full-cone": .fullCone, "restricted-cone": .restrictedCone,
    "port-restricted-cone": .portRestrictedCone, "symmetric": .symmetric,
    "udp-blocked": .udpBlocked,
  ]

  static let presetNames = [
    "open", "full-cone", "restricted-cone", "port-restricted-cone", "symmetric", "udp-blocked",
  ]

  /// Every unordered pair of presets, each once.
  static var presetPairs: [(String, String)] {
    presetNames.indices.flatMap { i in presetNames[i...].map { (presetNames[i], $0) } }
  }

  static func run(
    _ a: String, _ b: String, seed: UInt64 = 1, loss: Double = 0, sameLAN: Bool = false,
    duration: Duration = .seconds(15)
  ) throws -> Run {
    let lab = try SimulatedLab(seed: seed)
    let hostA = try lab.addSite("a", behavior: NATBehavior.preset(named: a), loss: loss)
    let hostB: SimulatedHost
    if sameLAN {
      let lan = try #require(lab.network.realms.first { $0.name == "a-lan" })
      hostB = try lab.network.addHost("a2", in: lan, address: IPAddress("192.168.1.11") ?? .anyV4)
    } else {
      hostB = try lab.addSite("b", behavior: NATBehavior.preset(named: b), loss: loss)
    }
    let config = ICESessionConfiguration(
      stunServers: [lab.stunServerAddress], gatheringTimeout: .seconds(3))
    let sa = ICESession(
      runtime: hostA, role: .controlling, configuration: config,
      generator: SeededGenerator(seed: seed &* 2 &+ 1))
    let sb = ICESession(
      runtime: hostB, role: .controlled, configuration: config,
      generator: SeededGenerator(seed: seed &* 2 &+ 2))
    sa.setRemoteCredentials(sb.localCredentials)
    sb.setRemoteCredentials(sa.localCredentials)
    signal(from: sa, on: hostA, to: sb)
    signal(from: sb, on: hostB, to: sa)
    sa.start()
    sb.start()
    lab.network.run(for: duration)
    return Run(lab: lab, a: sa, b: sb)
  }

  /// Forwards `from`'s candidates and end of candidates to `to`, 50 ms later.
  static func signal(from: ICESession, on host: SimulatedHost, to: ICESession) {
    from.onEvent = { [weak to] entry in
      guard let to else { return }
      switch entry.event {
      case .candidateGathered(let c) where c.type != .prflx:
        host.schedule(at: host.now + .milliseconds(50)) { to.addRemoteCandidate(c) }
      case .gatheringDone:
        host.schedule(at: host.now + .milliseconds(50)) { to.endOfRemoteCandidates() }
      default:
        break
      }
    }
  }

  static func time(_ s: ICESession, _ state: ICEAgentState) -> Instant? {
    s.log.first {
      if case .agentStateChanged(_, let to, _) = $0.event { return to == state }
      return false
    }?.at
  }
}

@Suite struct ICEOnSimulationTests {
  @Test(arguments: ICELab.presetPairs)
  func connectsExactlyWhenThePredictionSaysSo(a: String, b: String) throws {
    let run = try ICELab.run(a, b)
    defer {
      run.a.close()
      run.b.close()
    }
    let prediction = PathPrediction.reflexive(
      try #require(ICELab.profiles[a]), try #require(ICELab.profiles[b]))
    let note = Comment(
      rawValue:
        "\(a) ↔ \(b): predicted \(prediction.outcome) (\(prediction.reason)); got \(run.a.state)/\(run.b.state)"
    )
    switch prediction.outcome {
    case .works:
      #expect(run.a.state == .completed, note)
      #expect(run.b.state == .completed, note)
      let pa = try #require(run.a.selectedPair)
      let pb = try #require(run.b.selectedPair)
      // Both ends agree on the path (modulo NAT: A's remote is what B's local maps to).
      #expect(pa.nominated && pb.nominated)
      #expect(try #require(ICELab.time(run.a, .completed)) < .zero + .seconds(5), note)
    case .fails:
      #expect(run.a.state == .failed, note)
      #expect(run.b.state == .failed, note)
      // Fail fast: gathering (≤ 3 s) plus about 2 s of checks, not 30-60 s.
      let failed = try #require(ICELab.time(run.a, .failed))
      #expect(failed < .zero + .seconds(8), note)
    case .unknown:
      Issue.record(note)
    }
  }

  @Test func sameLANHostsSelectAHostPair() throws {
    let run = try ICELab.run("port-restricted-cone", "", sameLAN: true)
    defer {
      run.a.close()
      run.b.close()
    }
    #expect(run.a.state == .completed)
    let p = try #require(run.a.selectedPair)
    #expect(p.local.type == .host && p.remote.type == .host)
    #expect(p.remote.address.ip == IPAddress("192.168.1.11"))
    // Server-reflexive candidates were gathered too (through the shared NAT).
    #expect(run.a.localCandidates.contains { $0.type == .srflx })
  }

  @Test(arguments: [UInt64(1), 2, 3])
  func tenPercentLossStillConnects(seed: UInt64) throws {
    let run = try ICELab.run(
      "port-restricted-cone", "restricted-cone", seed: seed, loss: 0.1, duration: .seconds(20))
    defer {
      run.a.close()
      run.b.close()
    }
    #expect(run.a.state == .completed)
    #expect(run.b.state == .completed)
  }

  @Test func resultsAreDeterministicPerSeed() throws {
    func transcript(_ seed: UInt64) throws -> (Data, Data) {
      let run = try ICELab.run("symmetric", "full-cone", seed: seed, loss: 0.05)
      defer {
        run.a.close()
        run.b.close()
      }
      let e = JSONEncoder()
      e.outputFormatting = .sortedKeys
      return (try e.encode(run.a.log), try e.encode(run.b.log))
    }
    let first = try transcript(7)
    let second = try transcript(7)
    #expect(first.0 == second.0)
    #expect(first.1 == second.1)
    #expect(try transcript(8).0 != first.0)
  }

  @Test func serverReflexiveCandidatesShareTheHostSocket() throws {
    let run = try ICELab.run("full-cone", "full-cone")
    defer {
      run.a.close()
      run.b.close()
    }
    let host = try #require(run.a.localCandidates.first { $0.type == .host })
    let srflx = try #require(run.a.localCandidates.first { $0.type == .srflx })
    #expect(srflx.base == host.address)
    #expect(srflx.relatedAddress == host.address)
    #expect(srflx.address.ip == IPAddress("198.51.100.1"))
    // The seed log's story, as events: gathered, done, remote candidates, pairs, selected.
    let kinds = run.a.log.map { "\($0.event)".prefix(while: { $0 != "(" }) }
    for k in [
      "candidateGathered", "gatheringDone", "remoteCandidateAdded", "pairAdded",
      "checkSent", "selectedPairChanged", "agentStateChanged",
    ] {
      #expect(kinds.contains(Substring(k)), "missing \(k)")
    }
  }

  @Test func closeReleasesEverything() throws {
    let run = try ICELab.run("full-cone", "open", duration: .seconds(2))
    run.a.close()
    run.b.close()
    #expect(run.a.state == .closed)
    let pending = run.lab.network.pendingEvents
    run.lab.network.run(for: .seconds(60))
    #expect(run.a.log.last.map { "\($0.event)".contains("closed") } == true)
    _ = pending
  }
}

@Suite struct ICESimulationReport {
  /// Prints the virtual times of each preset pair (run with ICE_REPORT=1).
  @Test(.enabled(if: ProcessInfo.processInfo.environment["ICE_REPORT"] != nil))
  func report() throws {
    for (a, b) in ICELab.presetPairs {
      let run = try ICELab.run(a, b)
      let done = ICELab.time(run.a, .completed) ?? ICELab.time(run.a, .failed)
      let p = run.a.selectedPair
      print(
        "\(a) <-> \(b): \(run.a.state)/\(run.b.state) at \(done.map { "\($0.milliseconds) ms" } ?? "-") selected \(p.map { "\($0.local) -> \($0.remote)" } ?? "-") pairs \(run.a.agent.pairs.count)"
      )
      run.a.close()
      run.b.close()
    }
  }
}
