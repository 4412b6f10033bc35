import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Testing
import Traversal

/// `TURNCheckSession` against natscope's own TURN server on the simulated internet.
@Suite struct TURNCheckSimulationTests {
  func check(
    _ lab: SimulatedLab, host: some NetworkRuntime, relay: SimulatedTURNRelay,
    credentials: TURNCredentials, transport: TURNCheckTarget.Transport = .udp,
    connector: StreamConnector? = nil
  ) -> TURNCheckReport? {
    let session = TURNCheckSession(
      runtime: host,
      targets: [
        TURNCheckTarget(
          uri: "turn:\(relay.serverAddress)", address: relay.serverAddress,
          transport: transport, credentials: credentials)
      ], connector: connector)
    var report: TURNCheckReport?
    session.start { report = $0 }
    lab.network.run(for: .seconds(40))
    return report
  }

  @Test func aWorkingRelayPassesEveryStage() throws {
    let lab = try SimulatedLab(seed: 11)
    let host = try lab.addSite("a", behavior: .fullCone)
    let relay = try lab.addTURNRelay()
    let report = try #require(
      check(lab, host: host, relay: relay, credentials: relay.connectServer.credentials))
    let s = try #require(report.servers.first)
    #expect(s.problems == [])
    #expect(s.reachable && s.authenticated)
    #expect(s.realm == SimulatedTURNRelay.realm)
    #expect(s.software == "natscope (simulated)")
    #expect(s.relayedAddress?.ip == SimulatedTURNRelay.address)
    #expect(s.refreshed == true)
    #expect(s.relays == true)
    #expect(s.relay?.indicationsReceived == 5 && s.relay?.channelReceived == 5)
    #expect(s.relay?.lost == 0)
    #expect(s.released)
    #expect(report.verdict == .works)
    #expect(relay.server.server.allocationCount == 0)
    #expect(report.text.contains("verdict: works"))
  }

  @Test func overTCPToo() throws {
    let lab = try SimulatedLab(seed: 12)
    let host = try lab.addSite("a", behavior: .udpBlocked)
    let relay = try lab.addTURNRelay()
    let report = try #require(
      check(
        lab, host: host, relay: relay, credentials: relay.connectServerOverTCP.credentials,
        transport: .tcp, connector: relay.streamConnector(for: host)))
    #expect(report.verdict == .works)
    #expect(report.servers.first?.transport == "tcp")
    #expect(relay.server.server.allocationCount == 0)
  }

  @Test func aWrongPasswordIsUnauthorized() throws {
    let lab = try SimulatedLab(seed: 13)
    let host = try lab.addSite("a", behavior: .fullCone)
    let relay = try lab.addTURNRelay()
    let report = try #require(
      check(
        lab, host: host, relay: relay,
        credentials: TURNCredentials(username: SimulatedTURNRelay.username, password: "wrong")))
    let s = try #require(report.servers.first)
    #expect(s.reachable)
    #expect(!s.authenticated)
    #expect(s.problems.map(\.code) == [.unauthorized])
    #expect(report.verdict == .broken)
    #expect(!report.text.contains("wrong"))
  }

  @Test func noServerIsUnreachable() throws {
    let lab = try SimulatedLab(seed: 14)
    let host = try lab.addSite("a", behavior: .fullCone)
    let session = TURNCheckSession(
      runtime: host,
      targets: [
        TURNCheckTarget(
          uri: "turn:203.0.113.99",
          address: TransportAddress(ip: IPAddress("203.0.113.99")!, port: 3478),
          transport: .udp, credentials: TURNCredentials(username: "u", password: "p"))
      ])
    var report: TURNCheckReport?
    session.start { report = $0 }
    lab.network.run(for: .seconds(40))
    let s = try #require(report?.servers.first)
    #expect(!s.reachable)
    #expect(s.problems.map(\.code) == [.unreachable])
  }
}
