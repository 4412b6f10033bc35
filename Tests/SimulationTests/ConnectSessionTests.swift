import Foundation
import Report
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
    clientTURNPassword: String = turnPassword, answererQuits: Bool = false,
    duration: Duration = .seconds(20), configure: (SimulatedLab) -> Void = { _ in }
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
          credentials: TURNCredentials(username: "carol", password: clientTURNPassword))
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

  /// A wrong TURN password: the relay path's reason and the JSON say the server rejected the
  /// credentials (401), not only that there was no relay address; the password is nowhere.
  @Test func wrongTURNPasswordIsTheRelayReason() throws {
    let run = try ConnectLab.run(
      "symmetric", "port-restricted-cone", turnForA: true, clientTURNPassword: "wrong-password-1")
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    #expect(!a.paths.relay.succeeded)
    #expect(a.paths.relay.reason.contains("rejected the username or password"))
    #expect(a.paths.relay.reason.contains(ConnectLab.turnAddress.description))
    let relay = try #require(a.local.relays.first)
    #expect(!relay.allocated)
    #expect(relay.code == 401)
    #expect(relay.relayedAddress == nil)
    let flat = a.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(
      flat.contains(
        "at \(ConnectLab.turnAddress) over udp, the TURN server rejected the username or password"))
    let json = String(decoding: try JSONEncoder().encode(a), as: UTF8.self)
    #expect(json.contains("\"relays\""))
    #expect(!json.contains("wrong-password-1"))
    #expect(!json.contains(ConnectLab.turnPassword))
  }

  @Test func allocatedRelayIsListedWithItsAddress() throws {
    let run = try ConnectLab.run("symmetric", "port-restricted-cone", turnForA: true)
    let a = try #require(run.offer.report)
    let relay = try #require(a.local.relays.first)
    #expect(relay.allocated)
    #expect(relay.reason == nil && relay.code == nil)
    #expect(relay.relayedAddress?.hasPrefix(ConnectLab.turnAddress.ip.description) == true)
  }

  @Test func eventsRoundTripThroughJSON() throws {
    let run = try ConnectLab.run("full-cone", "full-cone")
    let data = try JSONEncoder().encode(run.answer.log)
    let back = try JSONDecoder().decode([ConnectLogEntry].self, from: data)
    #expect(back.count == run.answer.log.count)
    #expect(back.last?.event == .phaseChanged(.closed))
  }
}

/// Two sessions where a person carries the tokens: the offer reaches the answerer 50 ms after
/// it is ready, the answer reaches the offerer `answerDelay` later, and the answerer (whose
/// answer went to that person) waits for the offerer's first check.
enum HumanSpeedLab {
  struct Run {
    var lab: SimulatedLab
    var offer: ConnectSession
    var answer: ConnectSession
  }

  /// A port-restricted cone NAT that forgets an idle mapping after 30 s, as Linux does.
  static let linuxLike: NATBehavior = {
    var b = NATBehavior.portRestrictedCone
    b.mappingLifetime = .seconds(30)
    return b
  }()

  /// A symmetric NAT with the same 30 s mapping lifetime.
  static let symmetricLinuxLike: NATBehavior = {
    var b = NATBehavior.symmetric
    b.mappingLifetime = .seconds(30)
    return b
  }()

  static func run(
    answerDelay: Duration, keepalives: Bool = true, deliverAnswer: Bool = true,
    peerWait: Duration = .seconds(300), offererSymmetricWithTURN: Bool = false,
    duration: Duration
  ) throws -> Run {
    let lab = try SimulatedLab(seed: 11)
    var turnServers: [ConnectTURNServer] = []
    var turn: TURNServerSession?
    if offererSymmetricWithTURN {
      turn = try TURNServerSession(
        runtime: lab.serverHost,
        configuration: TURNServerConfiguration(
          listen: ConnectLab.turnAddress, relayIP: ConnectLab.turnAddress.ip, realm: "sim.test",
          users: ["carol": ConnectLab.turnPassword]))
      turnServers = [
        ConnectTURNServer(
          address: ConnectLab.turnAddress,
          credentials: TURNCredentials(username: "carol", password: ConnectLab.turnPassword))
      ]
    }
    defer { _ = turn }
    let hostA = try lab.addSite(
      "a", behavior: offererSymmetricWithTURN ? symmetricLinuxLike : linuxLike)
    let hostB = try lab.addSite("b", behavior: linuxLike)
    var agent = ICEConfiguration()
    if !keepalives { agent.keepaliveInterval = .seconds(3600) }
    func configuration(_ role: SignalingRole) -> ConnectSessionConfiguration {
      ConnectSessionConfiguration(
        role: role, stunServers: [lab.stunServerAddress],
        turnServers: role == .offer ? turnServers : [], agent: agent,
        peerWaitTimeout: peerWait, serverKeepaliveInterval: keepalives ? .seconds(15) : nil)
    }
    let offer = ConnectSession(
      runtime: hostA, configuration: configuration(.offer),
      generator: SeededGenerator(seed: 21))
    let answer = ConnectSession(
      runtime: hostB, configuration: configuration(.answer),
      generator: SeededGenerator(seed: 22))
    offer.onEvent = { entry in
      guard case .localDescriptionReady(let d) = entry.event else { return }
      let token = d.token
      hostB.schedule(at: hostB.now + .milliseconds(50)) {
        guard let peer = try? SessionDescription(token: token, expecting: .offer) else { return }
        answer.onEvent = { entry in
          guard case .localDescriptionReady(let mine) = entry.event else { return }
          let back = mine.token
          hostB.schedule(at: hostB.now) {
            answer.setRemoteDescription(peer, peerHoldsOurs: false)
          }
          guard deliverAnswer else { return }
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
    _ = turn
    return Run(lab: lab, offer: offer, answer: answer)
  }

  static func at(_ s: ConnectSession, _ match: (ConnectEvent) -> Bool) -> [Instant] {
    s.log.filter { match($0.event) }.map(\.at)
  }
}

@Suite struct HumanSpeedConnectTests {
  /// The answer comes back a minute later through two NATs that drop idle mappings after
  /// 30 s: keepalives hold them, the answerer waits for the offerer's checks, and both
  /// connect through the NATs; the reports keep the wait apart from the ICE time.
  @Test func anAnswerPastedAMinuteLaterStillConnects() throws {
    let run = try HumanSpeedLab.run(answerDelay: .seconds(60), duration: .seconds(90))
    let a = try #require(run.offer.report)
    let b = try #require(run.answer.report)
    #expect(a.state == .connected, Comment(rawValue: a.text))
    #expect(b.state == .connected, Comment(rawValue: b.text))
    let p = try #require(a.selectedPair)
    #expect(ConnectReport.PathKind.of(p.local.type, p.remote.type) == .reflexive)
    // The offerer waited a minute for the answer; the answerer for the offerer's first check.
    let waitedA = try #require(a.timings.waitedForPeerMs)
    let waitedB = try #require(b.timings.waitedForPeerMs)
    #expect(a.timings.waitedFor == "answer" && b.timings.waitedFor == "checks")
    #expect(waitedA >= 60_000 && waitedA < 61_000)
    #expect(waitedB >= 59_000 && waitedB < 61_000)
    // Connected in well under the check timeout, counted from the checks' start.
    for r in [a, b] {
      let t = try #require(r.timeToConnectedMs)
      #expect(t > 0 && t < 3000, Comment(rawValue: r.text))
      let started = try #require(r.timings.checksStartedMs)
      let connected = try #require(r.timings.connectedMs)
      #expect(started > 60_000)
      #expect(abs((connected - started) - t) < 0.5)
      #expect(r.text.contains("Waited "))
    }
    #expect(a.text.contains("for the peer's answer"))
    #expect(b.text.contains("for the offerer's first check"))
    // Keepalives went to the STUN server and on the answerer's failed pairs while it waited.
    let stun = HumanSpeedLab.at(run.answer) {
      if case .gathering(.serverKeepaliveSent) = $0 { return true }
      return false
    }
    #expect(stun.count >= 3)
    let pairs = HumanSpeedLab.at(run.answer) {
      if case .ice(.keepaliveSent) = $0 { return true }
      return false
    }
    #expect(pairs.count >= 3)
    // The waits were announced, with the time waited, every 15 s.
    let ticks = run.answer.log.compactMap { e -> Double? in
      if case .waitingForPeer(.checks, let w, let limit) = e.event, limit == 300_000 { return w }
      return nil
    }
    #expect(ticks.count >= 4 && ticks.first == 0 && ticks.contains(45_000))
    #expect(
      run.offer.log.contains {
        if case .waitingForPeer(.answer, 0, _) = $0.event { return true }
        return false
      })
  }

  /// A symmetric offerer relaying through TURN: its allocation, and its NAT's mapping to the
  /// TURN server (TURN keepalives), survive the minute, and the relay path works.
  @Test func theRelayOutlivesTheMinute() throws {
    let run = try HumanSpeedLab.run(
      answerDelay: .seconds(60), offererSymmetricWithTURN: true, duration: .seconds(90))
    let a = try #require(run.offer.report)
    let b = try #require(run.answer.report)
    #expect(a.state == .connected, Comment(rawValue: a.text))
    #expect(b.state == .connected, Comment(rawValue: b.text))
    #expect(a.selectedPair?.local.type == .relay)
    #expect(a.paths.relay.succeeded)
    #expect((a.timeToConnectedMs ?? .infinity) < 3000)
  }

  /// The control: without keepalives the same minute loses the NAT state and no path works,
  /// and the answerer, whose checks never come, says so when its wait runs out.
  @Test func withoutKeepalivesTheMinuteLosesTheNATState() throws {
    let run = try HumanSpeedLab.run(
      answerDelay: .seconds(60), keepalives: false, peerWait: .seconds(120),
      duration: .seconds(150))
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    let b = try #require(run.answer.report)
    #expect(b.state == .failed)
    #expect(b.reason?.contains("No check came from the offerer within 2 min") == true)
  }

  /// The check timeout starts when this side holds both descriptions: an answerer whose
  /// answer is never pasted waits its whole peer wait (not 15 s) and then says what did not
  /// come; the offerer says no answer came.
  @Test func theCheckTimeoutStartsOnlyWhenBothDescriptionsAreHeld() throws {
    let run = try HumanSpeedLab.run(
      answerDelay: .seconds(1), deliverAnswer: false, peerWait: .seconds(40),
      duration: .seconds(60))
    let b = try #require(run.answer.report)
    #expect(b.state == .failed)
    let ready = try #require(
      HumanSpeedLab.at(run.answer) {
        if case .waitingForPeer(.checks, 0, _) = $0 { return true }
        return false
      }.first)
    let verdict = try #require(
      HumanSpeedLab.at(run.answer) {
        if case .finished = $0 { return true }
        return false
      }.first)
    #expect(verdict - ready == .seconds(40))
    #expect(b.timings.checksStartedMs == nil && b.timeToConnectedMs == nil)
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    #expect(a.reason?.hasPrefix("No answer was pasted within 40 s") == true)
    #expect(run.offer.phase == .closed && run.answer.phase == .closed)
  }
}
