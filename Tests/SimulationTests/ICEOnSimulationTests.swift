import Foundation
import Report
import Runtime
import STUN
import Scenarios
import Sessions
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
    duration: Duration = .seconds(15),
    relayForA: ((SimulatedLab) throws -> RelayChannelFactory)? = nil
  ) throws -> Run {
    let lab = try SimulatedLab(seed: seed)
    let relays = try relayForA.map { [try $0(lab)] } ?? []
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
      runtime: hostA, role: .controlling, configuration: config, relays: relays,
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
      switch entry.event.agentEvent {
      case .candidateGathered(let c)? where c.type != .prflx:
        host.schedule(at: host.now + .milliseconds(50)) { to.addRemoteCandidate(c) }
      case .gatheringDone?:
        host.schedule(at: host.now + .milliseconds(50)) { to.endOfRemoteCandidates() }
      default:
        break
      }
    }
  }

  static func time(_ s: ICESession, _ state: ICEAgentState) -> Instant? {
    s.log.first {
      if case .agentStateChanged(_, let to, _)? = $0.event.agentEvent { return to == state }
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
    // No password anywhere in the session logs.
    let e = JSONEncoder()
    for log in [run.a.log, run.b.log] {
      let json = String(decoding: try e.encode(log), as: UTF8.self)
      let text = log.map { "\($0.event)" }.joined(separator: "\n")
      for secret in [run.a.localCredentials.password, run.b.localCredentials.password] {
        #expect(!json.contains(secret) && !text.contains(secret))
      }
    }
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
    let kinds = run.a.log.map(\.event.name)
    for k in [
      "candidateGathered", "gatheringDone", "remoteCandidateAdded", "pairAdded",
      "checkSent", "selectedPairChanged", "agentStateChanged",
    ] {
      #expect(kinds.contains(k), "missing \(k)")
    }
  }

  @Test func closeReleasesEverything() throws {
    let run = try ICELab.run("full-cone", "open", duration: .seconds(2))
    #expect(run.a.state == .completed)
    run.a.close()
    run.b.close()
    #expect(run.a.state == .closed)
    let logged = run.a.log.count
    let before = run.lab.network.counters
    run.lab.network.run(for: .seconds(60))
    #expect(run.a.log.count == logged)
    #expect(run.lab.network.counters == before)
    if case .agentStateChanged(_, .closed, _)? = run.a.log.last?.event.agentEvent {
    } else {
      Issue.record("last event is not the close")
    }
  }

  @Test func hostSocketsUseThePortRange() throws {
    let lab = try SimulatedLab(seed: 1)
    let host = try lab.addSite("a", behavior: .fullCone)
    let session = ICESession(
      runtime: host, role: .controlling,
      configuration: ICESessionConfiguration(
        stunServers: [lab.stunServerAddress], portRange: 40000...40010))
    session.start()
    lab.network.run(for: .seconds(2))
    defer { session.close() }
    let hostCandidate = try #require(session.localCandidates.first { $0.type == .host })
    #expect((40000...40010).contains(hostCandidate.address.port))
    #expect(session.gatheringDone)
    #expect(session.localCandidates.map(\.type) == [.host, .srflx])
  }
}

@Suite struct ICESimulationReport {
  /// Prints the virtual times of each preset pair (run with ICE_REPORT=1).
  @Test(
    .enabled(
      if: ProcessInfo.processInfo.environment["ICE_REPORT"] != nil,
      "prints the virtual times of every preset pair; run with ICE_REPORT=1"))
  func report() throws {
    for (a, b) in ICELab.presetPairs {
      let run = try ICELab.run(a, b)
      let connected = ICELab.time(run.a, .connected)
      let done = ICELab.time(run.a, .completed) ?? ICELab.time(run.a, .failed)
      let p = run.a.selectedPair
      print(
        "\(a) <-> \(b): connected \(connected.map { "\($0.milliseconds) ms" } ?? "-"); \(run.a.state)/\(run.b.state) at \(done.map { "\($0.milliseconds) ms" } ?? "-") selected \(p.map { "\($0.local) -> \($0.remote)" } ?? "-") pairs \(run.a.agent.pairs.count)"
      )
      if a == "port-restricted-cone" && b == a {
        for e in run.a.log { print("  \(e.at.milliseconds) ms  \(e.event)") }
      }
      run.a.close()
      run.b.close()
    }
  }
}

/// A stand-in for a TURN allocation: a socket on a public "relay" host that sends for the
/// client and hands back what peers send to it (no client-to-server leg, no permissions).
final class FakeRelayChannel: RelayChannel {
  static let relayIP = IPAddress("203.0.113.50") ?? .anyV4
  private var socket: (any DatagramSocket)?
  let relayedAddress: TransportAddress
  let mappedAddress: TransportAddress? = nil
  let serverAddress = TransportAddress(ip: relayIP, port: 3478)
  var onReceive: ((_ bytes: [UInt8], _ from: TransportAddress) -> Void)?
  private(set) var sent = 0
  private(set) var received = 0

  init(on host: SimulatedHost) throws {
    var me: FakeRelayChannel?
    let s = try host.openUDP(UDPSocketOptions(address: Self.relayIP)) { datagram in
      me?.received += 1
      me?.onReceive?(datagram.bytes, datagram.source)
    }
    socket = s
    relayedAddress = s.localAddress
    me = self
  }

  func send(_ bytes: [UInt8], to peer: TransportAddress) {
    sent += 1
    socket?.send(bytes, to: peer)
  }

  func close() {
    socket?.close()
    socket = nil
    onReceive = nil
  }
}

@Suite struct ICEGatheringOnSimulationTests {
  @Test func symmetricPairConnectsThroughARelayedCandidate() throws {
    var relay: FakeRelayChannel?
    let run = try ICELab.run("symmetric", "symmetric") { lab in
      let host = try lab.network.addHost(
        "relay", in: lab.internet, address: FakeRelayChannel.relayIP)
      let channel = try FakeRelayChannel(on: host)
      relay = channel
      return { completion in
        // The allocation takes 100 ms.
        host.schedule(at: host.now + .milliseconds(100)) { completion(.success(channel)) }
      }
    }
    defer {
      run.a.close()
      run.b.close()
    }
    #expect(run.a.state == .completed)
    #expect(run.b.state == .completed)
    let pa = try #require(run.a.selectedPair)
    #expect(pa.local.type == .relay)
    #expect(pa.local.relatedAddress == TransportAddress(ip: FakeRelayChannel.relayIP, port: 3478))
    let channel = try #require(relay)
    #expect(channel.sent > 0 && channel.received > 0)
    #expect(
      run.a.localCandidates.contains { $0.type == .relay && $0.address == channel.relayedAddress })
    #expect(run.b.selectedPair?.remote.address == channel.relayedAddress)
  }

  @Test func aRelayThatNeverAnswersEndsInAGatheringTimeout() throws {
    let run = try ICELab.run("full-cone", "full-cone") { _ in { _ in } }
    defer {
      run.a.close()
      run.b.close()
    }
    let timedOut = try #require(
      run.a.log.first { if case .gathering(.gatheringTimedOut) = $0.event { true } else { false } })
    #expect(timedOut.at == .zero + .seconds(3))
    let done = try #require(
      run.a.log.first { if case .agent(.gatheringDone) = $0.event { true } else { false } })
    #expect(done.at == timedOut.at)
    // Checks ran meanwhile (trickle): the agent did not wait for gathering to connect.
    #expect(try #require(ICELab.time(run.a, .connected)) < timedOut.at)
    #expect(run.a.state == .completed)
  }

  @Test func anUnreachableSTUNServerIsReported() throws {
    let run = try ICELab.run("udp-blocked", "full-cone")
    defer {
      run.a.close()
      run.b.close()
    }
    let entry = try #require(
      run.a.log.first { if case .gathering(.serverUnreachable) = $0.event { true } else { false } })
    guard case .gathering(.serverUnreachable(let server, _, let attempts)) = entry.event else {
      return
    }
    #expect(server == run.lab.stunServerAddress)
    #expect(attempts == 6)
    #expect(entry.at == .zero + .milliseconds(1400))
    #expect(run.a.localCandidates.map(\.type) == [.host])
  }

  @Test func aFailedRelayIsReportedAndGatheringStillEnds() throws {
    let run = try ICELab.run("full-cone", "full-cone") { _ in
      { completion in completion(.failure(.failed("TURN server refused the allocation (486)"))) }
    }
    defer {
      run.a.close()
      run.b.close()
    }
    #expect(
      run.a.log.contains { if case .gathering(.relayFailed) = $0.event { true } else { false } })
    #expect(run.a.gatheringDone)
    #expect(run.a.state == .completed)
  }
}
