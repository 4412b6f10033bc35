import Foundation
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// Two `ConnectSession`s on `SimulatedLab` sites exchanging their descriptions through token
/// text (50 ms signalling delay), as two terminals would.
enum ConnectLab {
  struct Run {
    var lab: SimulatedLab
    var offer: ConnectSession
    var answer: ConnectSession
  }

  static let turnAddress = TransportAddress(ip: SimulatedLab.serverPrimary, port: 3480)
  static let turnPassword = "sim-turn-secret-42"

  static func run(
    _ a: String, _ b: String, seed: UInt64 = 7, turnForA: Bool = false, sameLAN: Bool = false,
    answererQuits: Bool = false, duration: Duration = .seconds(20),
    configure: (SimulatedLab) -> Void = { _ in }
  ) throws -> Run {
    let lab = try SimulatedLab(seed: seed)
    var turnServers: [ConnectTURNServer] = []
    var turn: TURNServerSession?
    if turnForA {
      turn = try TURNServerSession(
        runtime: lab.serverHost,
        configuration: TURNServerConfiguration(
          listen: turnAddress, relayIP: turnAddress.ip, realm: "sim.test",
          users: ["carol": turnPassword]))
      turnServers = [
        ConnectTURNServer(
          address: turnAddress,
          credentials: TURNCredentials(username: "carol", password: turnPassword))
      ]
    }
    let hostA = try lab.addSite("a", behavior: NATBehavior.preset(named: a))
    let hostB: SimulatedHost
    if sameLAN {
      let lan = try #require(lab.network.realms.first { $0.name == "a-lan" })
      hostB = try lab.network.addHost("a2", in: lan, address: IPAddress("192.168.1.11") ?? .anyV4)
    } else {
      hostB = try lab.addSite("b", behavior: NATBehavior.preset(named: b))
    }
    configure(lab)
    let offer = ConnectSession(
      runtime: hostA,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress], turnServers: turnServers),
      generator: SeededGenerator(seed: seed &* 2 &+ 1))
    let answer = ConnectSession(
      runtime: hostB,
      configuration: ConnectSessionConfiguration(
        role: .answer, stunServers: [lab.stunServerAddress]),
      generator: SeededGenerator(seed: seed &* 2 &+ 2))
    // Offer token → answerer (which then answers) → offerer.
    offer.onEvent = { entry in
      guard case .localDescriptionReady(let d) = entry.event else { return }
      let token = d.token
      hostB.schedule(at: hostB.now + .milliseconds(50)) {
        guard let peer = try? SessionDescription(token: token, expecting: .offer) else { return }
        answer.onEvent = { entry in
          guard case .localDescriptionReady(let mine) = entry.event else { return }
          let back = mine.token
          hostB.schedule(at: hostB.now) {
            // A peer that quit after sending its token: its sockets are gone.
            if answererQuits { answer.close() } else { answer.setRemoteDescription(peer) }
          }
          hostA.schedule(at: hostA.now + .milliseconds(50)) {
            guard let d = try? SessionDescription(token: back, expecting: .answer) else { return }
            offer.setRemoteDescription(d)
          }
        }
        answer.start()
      }
    }
    offer.start()
    lab.network.run(for: duration)
    _ = turn
    return Run(lab: lab, offer: offer, answer: answer)
  }
}

@Suite struct ConnectSessionTests {
  @Test func portRestrictedConesConnectThroughTheNATs() throws {
    let run = try ConnectLab.run("port-restricted-cone", "port-restricted-cone")
    let a = try #require(run.offer.report)
    let b = try #require(run.answer.report)
    #expect(a.state == .connected && b.state == .connected)
    #expect(a.paths.reflexive.succeeded)
    #expect(!a.paths.direct.succeeded && a.paths.direct.attempted)
    let p = try #require(a.selectedPair)
    #expect(ConnectReport.PathKind.of(p.local.type, p.remote.type) == .reflexive)
    #expect(a.timings.gatheringMs != nil && a.timings.firstCheckMs != nil)
    #expect((a.timeToConnectedMs ?? 0) > 0)
    #expect(run.offer.phase == .closed && run.answer.phase == .closed)
    // Both sides ran the quick probe and signalled their profiles.
    #expect(a.local.profile?.filtering == .addressAndPortDependent)
    #expect(a.remote.profile?.mapping == .endpointIndependent)
  }

  @Test func sameLANSelectsAHostPair() throws {
    let run = try ConnectLab.run("port-restricted-cone", "", sameLAN: true)
    let a = try #require(run.offer.report)
    let p = try #require(a.selectedPair)
    #expect(p.local.type == .host && p.remote.type == .host)
    #expect(a.paths.direct.succeeded)
  }

  @Test func symmetricAgainstPortRestrictedFailsWithReasonsWithoutRelay() throws {
    let run = try ConnectLab.run("symmetric", "port-restricted-cone")
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    #expect(a.selectedPair == nil)
    #expect(a.paths.reflexive.attempted && !a.paths.reflexive.succeeded)
    #expect(a.paths.relay.reason.contains("--turn"))
    #expect(run.offer.phase == .closed)
    // The verdict came within a few seconds of the checks starting.
    let finished = try #require(
      run.offer.log.first {
        if case .finished = $0.event { return true }
        return false
      }?.at)
    #expect(finished < .zero + .seconds(8))
  }

  @Test func symmetricAgainstPortRestrictedConnectsThroughTURN() throws {
    let run = try ConnectLab.run("symmetric", "port-restricted-cone", turnForA: true)
    let a = try #require(run.offer.report)
    let b = try #require(run.answer.report)
    #expect(a.state == .connected && b.state == .connected)
    let p = try #require(a.selectedPair)
    #expect(p.local.type == .relay)
    #expect(a.paths.relay.succeeded)
    // The allocation was released when the session closed.
    #expect(
      run.offer.log.contains {
        if case .relay(_, .released) = $0.event { return true }
        return false
      })
    // No password in the events.
    let json = String(decoding: try JSONEncoder().encode(run.offer.log), as: UTF8.self)
    #expect(!json.contains(ConnectLab.turnPassword))
    let local = try #require(run.offer.localDescription)
    #expect(!json.contains(local.password))
    #expect(json.contains("localDescriptionReady"))
  }

  @Test func eventsRoundTripThroughJSON() throws {
    let run = try ConnectLab.run("full-cone", "full-cone")
    let data = try JSONEncoder().encode(run.answer.log)
    let back = try JSONDecoder().decode([ConnectLogEntry].self, from: data)
    #expect(back.count == run.answer.log.count)
    #expect(back.last?.event == .phaseChanged(.closed))
  }
}
