import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// `connect`'s port mapping on the simulated network: a symmetric NAT whose router answers PCP
/// (``RouterPortMapping``) against a symmetric NAT without one, STUN only (no TURN).
@Suite struct ConnectPortMappingTests {
  struct Run {
    var lab: SimulatedLab
    var box: NATBox
    var offer: ConnectSession
    var answer: ConnectSession
  }

  static func run(
    portMapping: Bool, protocols: Set<PortMappingResult.Method> = [.pcp],
    answerDelay: Duration = .milliseconds(50), lifetime: UInt32 = 120,
    duration: Duration = .seconds(30)
  ) throws -> Run {
    let lab = try SimulatedLab(seed: 31)
    let hostA = try lab.addSite("a", behavior: .symmetric)
    let hostB = try lab.addSite("b", behavior: .symmetric)
    let box = try #require(lab.network.nats.first { $0.name == "a-nat" })
    let router = RouterPortMapping(box: box, network: lab.network, protocols: protocols)
    let offer = ConnectSession(
      runtime: hostA,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress],
        portMapping: portMapping ? ConnectPortMappingConfiguration(lifetime: lifetime) : nil),
      generator: SeededGenerator(seed: 41))
    let answer = ConnectSession(
      runtime: hostB,
      configuration: ConnectSessionConfiguration(
        role: .answer, stunServers: [lab.stunServerAddress],
        portMapping: ConnectPortMappingConfiguration()),
      generator: SeededGenerator(seed: 42))
    offer.onEvent = { entry in
      guard case .localDescriptionReady(let d) = entry.event else { return }
      let token = d.token
      hostB.schedule(at: hostB.now + .milliseconds(50)) {
        guard let peer = try? SessionDescription(token: token, expecting: .offer) else { return }
        answer.onEvent = { entry in
          guard case .localDescriptionReady(let mine) = entry.event else { return }
          let back = mine.token
          hostB.schedule(at: hostB.now) { answer.setRemoteDescription(peer, peerHoldsOurs: false) }
          hostA.schedule(at: hostA.now + answerDelay) {
            guard let d = try? SessionDescription(token: back, expecting: .answer) else { return }
            offer.setRemoteDescription(d)
          }
        }
        answer.start()
      }
    }
    offer.start()
    lab.network.run(for: duration)
    _ = router
    return Run(lab: lab, box: box, offer: offer, answer: answer)
  }

  @Test func twoSymmetricNATsConnectThroughThePCPMappingWithoutARelay() throws {
    let run = try Self.run(portMapping: true)
    let a = try #require(run.offer.report)
    let b = try #require(
      run.answer.report,
      Comment(rawValue: run.answer.log.map { $0.event.logLine }.joined(separator: "\n")))
    #expect(a.state == .connected, Comment(rawValue: a.text))
    #expect(b.state == .connected, Comment(rawValue: b.text))
    let m = try #require(a.local.portMapping)
    #expect(m.protocol == "pcp")
    #expect(m.externalAddress == "198.51.100.1")
    let port = try #require(m.externalPort)
    let s = try #require(a.selectedPair)
    #expect(s.local.type == .srflx && s.local.address == "198.51.100.1" && s.local.port == port)
    #expect(ConnectReport.PathKind.of(s.local.type, s.remote.type) == .reflexive)
    #expect(
      a.paths.reflexive.reason.hasPrefix(
        "Connected through the port mapping natscope made on your router (PCP"),
      Comment(rawValue: a.paths.reflexive.reason))
    #expect(
      a.prediction.reflexive.reason.contains("PCP mapping"),
      Comment(rawValue: a.prediction.reflexive.reason))
    // The answerer's router has no port-mapping service: nothing granted, gathering bounded.
    let bm = try #require(b.local.portMapping)
    #expect(bm.externalAddress == nil && bm.error?.contains("did not answer") == true)
    // Closed: the mapping was deleted and nothing is left on the router.
    #expect(run.offer.phase == .closed)
    #expect(run.box.forwards.isEmpty, "the router keeps no forward after the session")
    let deleted = run.offer.log.contains {
      if case .portMapping(let p) = $0.event { return p.deleted }
      return false
    }
    #expect(deleted)
    // The mapped candidate was offered with srflx priority (type preference 100).
    let mapped = try #require(
      run.offer.localDescription?.candidates.first {
        $0.kind == .srflx && $0.port == port && $0.address.ip.map { "\($0)" } == "198.51.100.1"
      })
    #expect(mapped.priority >> 24 == 100)
  }

  /// A NAT-PMP-only router answers PCP with "unsupported version": natscope falls back to
  /// NAT-PMP at once, and the two symmetric NATs connect through that mapping.
  @Test func aNATPMPOnlyRouterIsUsedAfterItsUnsupportedVersionAnswer() throws {
    let run = try Self.run(portMapping: true, protocols: [.natPMP])
    let a = try #require(run.offer.report)
    #expect(a.state == .connected, Comment(rawValue: a.text))
    let m = try #require(a.local.portMapping)
    #expect(m.protocol == "nat-pmp" && m.externalAddress == "198.51.100.1" && m.deleted)
    let s = try #require(a.selectedPair)
    #expect(s.local.address == "198.51.100.1" && s.local.port == m.externalPort)
    #expect(
      a.paths.reflexive.reason.contains("(NAT-PMP,"), Comment(rawValue: a.paths.reflexive.reason))
    #expect(run.box.forwards.isEmpty)
  }

  @Test func withoutPortMappingTheTwoSymmetricNATsDoNotConnect() throws {
    let run = try Self.run(portMapping: false)
    let a = try #require(run.offer.report)
    #expect(a.state == .failed, Comment(rawValue: a.text))
    #expect(a.local.portMapping == nil)
  }

  @Test func theMappingIsRenewedWhileThePersonTakesMinutes() throws {
    // 20 s lifetime: renewed at 10 s, 20 s, … while the answer takes 65 s to come back.
    let run = try Self.run(
      portMapping: true, answerDelay: .seconds(65), lifetime: 20, duration: .seconds(100))
    let a = try #require(run.offer.report)
    #expect(
      a.state == .connected,
      Comment(rawValue: run.offer.log.map { $0.event.logLine }.joined(separator: "\n")))
    let m = try #require(a.local.portMapping)
    #expect(m.renewals >= 5, "renewals: \(m.renewals)")
    #expect(m.deleted)
    #expect(run.box.forwards.isEmpty)
  }

  /// Closed while waiting for the person (as on Ctrl-C): the mapping is deleted before the
  /// session reports itself closed.
  @Test func closingWhileWaitingDeletesTheMappingFirst() throws {
    let lab = try SimulatedLab(seed: 32)
    let host = try lab.addSite("a", behavior: .symmetric)
    let box = try #require(lab.network.nats.first { $0.name == "a-nat" })
    let router = RouterPortMapping(box: box, network: lab.network, protocols: [.pcp, .natPMP])
    let offer = ConnectSession(
      runtime: host,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress],
        portMapping: ConnectPortMappingConfiguration()),
      generator: SeededGenerator(seed: 43))
    offer.start()
    lab.network.run(for: .seconds(5))
    #expect(box.forwards.count == 1, "PCP granted the mapping")
    let mapped = try #require(
      offer.localDescription?.candidates.first {
        $0.kind == .srflx && $0.port == box.forwards.first?.external.port
      })
    #expect(mapped.address.ip.map { "\($0)" } == "198.51.100.1")
    offer.close()
    #expect(offer.phase != .closed, "closing waits for the router's answer")
    lab.network.run(for: .seconds(2))
    #expect(offer.phase == .closed)
    #expect(box.forwards.isEmpty)
    let last = offer.log.compactMap { e -> ConnectReport.PortMapping? in
      if case .portMapping(let p) = e.event { return p }
      return nil
    }.last
    #expect(last?.protocol == "pcp" && last?.deleted == true)
    _ = router
  }

  @Test func gatheringDoesNotWaitLongForASilentRouter() throws {
    let run = try Self.run(portMapping: true, protocols: [])
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    let gathering = try #require(a.timings.gatheringMs)
    #expect(gathering < 1600, "gathering took \(gathering) ms")
    #expect(a.local.portMapping?.error?.contains("did not answer PCP within 1000 ms") == true)
    // The session ended at once: no deletion of an unanswered request held it up.
    let closedAt = try #require(run.offer.log.last { $0.event == .phaseChanged(.closed) }?.at)
    let finishedAt = try #require(
      run.offer.log.first {
        if case .finished = $0.event { return true }
        return false
      }?.at)
    #expect(closedAt - finishedAt < .milliseconds(100))
  }
}
