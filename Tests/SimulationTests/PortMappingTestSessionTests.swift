import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// `probe --port-mapping`'s test mapping on the simulated network: the real PCP and NAT-PMP
/// client machines against simulated routers (``RouterPortMapping``) that turn granted
/// mappings into port forwards, with natscope's RFC 5780 server answering the verification.
@Suite struct PortMappingTestSessionTests {
  struct Site {
    let lab: SimulatedLab
    let box: NATBox
    let host: SimulatedHost
    let router: RouterPortMapping

    /// A host behind a symmetric NAT (address-and-port-dependent mapping and filtering) whose
    /// router answers `protocols`.
    init(_ protocols: Set<PortMappingResult.Method>, seed: UInt64 = 5) throws {
      lab = try SimulatedLab(seed: seed)
      let lan = try lab.network.addRealm("lan", prefix: "192.168.7.0/24")
      box = try lab.network.addNAT(
        "home", behavior: .symmetric, outside: lab.internet, publicIPs: [ip("198.51.100.77")],
        inside: lan, insideAddress: ip("192.168.7.1"))
      host = try lab.network.addHost("laptop", in: lan, address: ip("192.168.7.10"))
      router = RouterPortMapping(box: box, network: lab.network, protocols: protocols)
    }
  }

  static func run(
    _ lab: SimulatedLab, on host: SimulatedHost, protocols: [PortMappingResult.Method],
    serverSeen: IPAddress?, interruptAfter: Duration? = nil
  ) -> PortMappingTestReport? {
    let session = PortMappingTestSession(
      runtime: host,
      configuration: .init(
        protocols: protocols, stunServer: lab.stunServerAddress, serverSupportsChange: true,
        serverSeen: serverSeen),
      connector: nil)
    var report: PortMappingTestReport?
    session.start { report = $0 }
    if let interruptAfter {
      lab.network.run(for: interruptAfter)
      session.interrupt()
    }
    lab.network.run(for: .seconds(30))
    return report
  }

  @Test func aPCPMappingOnASymmetricNATLetsAnUnsolicitedAnswerInAndIsDeleted() throws {
    let site = try Site([.pcp, .natPMP])
    let r = try #require(
      Self.run(site.lab, on: site.host, protocols: [.pcp, .natPMP], serverSeen: nil))
    #expect(r.protocol == .pcp)
    #expect(r.created)
    #expect(r.externalAddress == ip("198.51.100.77"))
    let port = try #require(r.internalPort)
    #expect(r.externalPort == port, "the router granted the suggested port")
    #expect(r.lifetime == 30 && r.requestedLifetime == 30)
    #expect(r.verified == true, Comment(rawValue: r.verification ?? ""))
    #expect(r.verification?.contains("203.0.113.11:3479") == true)
    #expect(r.deleted)
    #expect(r.error == nil)
    #expect(site.box.forwards.isEmpty, "nothing is left on the router")
    #expect(r.sent.count == 2)
    #expect(
      r.sent.first?.hasPrefix("PCP MAP request to 192.168.7.1:5351: UDP, internal port") == true)
    #expect(r.sent.first?.contains("lifetime 30 s") == true)
    #expect(r.sent.last?.contains("lifetime 0 (delete)") == true)
    #expect(site.router.log.count == 2)
  }

  @Test func aRouterWithoutPortMappingGrantsNothingAndNothingIsDeleted() throws {
    let site = try Site([])
    let r = try #require(
      Self.run(site.lab, on: site.host, protocols: [.pcp], serverSeen: nil))
    #expect(!r.created && r.verified == nil && !r.deleted)
    // Silence is said as silence, with how long it was waited for.
    #expect(
      r.error?.contains("did not answer PCP within") == true
        && r.error?.hasSuffix(" ms (4 requests)") == true, Comment(rawValue: r.error ?? ""))
    #expect(site.box.forwards.isEmpty)
  }

  @Test func natPMPIsUsedWhenPCPDoesNotAnswer() throws {
    let site = try Site([.natPMP])
    let r = try #require(
      Self.run(site.lab, on: site.host, protocols: [.pcp, .natPMP], serverSeen: nil))
    #expect(r.protocol == .natPMP)
    #expect(r.created && r.verified == true && r.deleted)
    #expect(r.sent.contains { $0.hasPrefix("PCP MAP request") })
    #expect(r.sent.contains { $0.hasPrefix("NAT-PMP UDP mapping request (opcode 1)") })
    #expect(r.sent.last?.contains("lifetime 0 (delete)") == true)
    #expect(site.box.forwards.isEmpty)
  }

  @Test func anInterruptDeletesTheMappingAtOnce() throws {
    let site = try Site([.pcp])
    let session = PortMappingTestSession(
      runtime: site.host,
      configuration: .init(
        protocols: [.pcp], stunServer: site.lab.stunServerAddress, serverSupportsChange: true),
      connector: nil)
    var report: PortMappingTestReport?
    session.start { report = $0 }
    // The MAP answer is back at once on the LAN; the verification (a 10 ms round trip) is under way.
    site.lab.network.run(for: .milliseconds(2))
    #expect(site.box.forwards.count == 1)
    session.interrupt()
    site.lab.network.run(for: .seconds(5))
    let r = try #require(report)
    #expect(r.created && r.deleted)
    #expect(r.error == "interrupted")
    #expect(site.box.forwards.isEmpty)
  }

  @Test func behindACarrierGradeNATTheMappingIsMadeButNothingGetsIn() throws {
    let lab = try SimulatedLab(seed: 9)
    let chain = try lab.network.addCGNATChain(
      outside: lab.internet, carrierPublicIPs: [ip("198.51.100.90")])
    let host = try lab.network.addHost("laptop", in: chain.lan, address: ip("192.168.1.10"))
    let router = RouterPortMapping(
      box: chain.home, network: lab.network, protocols: [.pcp, .natPMP])

    // Read-only first: the home router reports its own (carrier-side) address, which differs
    // from the address servers see: double NAT.
    let ask = PortMappingSession(runtime: host, connector: nil)
    var pm: PortMappingReport?
    ask.start { pm = $0 }
    lab.network.run(for: .seconds(5))
    let report = try #require(pm)
    #expect(report.gateway == ip("192.168.1.1"))
    #expect(report.externalAddress == ip("100.64.0.2"))
    let verdict = DoubleNATVerdict.evaluate(portMapping: report, serverSeen: ip("198.51.100.90"))
      .worded
    #expect(verdict.detected == true)
    #expect(verdict.reason.contains("100.64.0.2") && verdict.reason.contains("198.51.100.90"))

    let r = try #require(
      Self.run(lab, on: host, protocols: [.pcp], serverSeen: ip("198.51.100.90")))
    #expect(r.created && r.externalAddress == ip("100.64.0.2"))
    #expect(r.verified == false)
    #expect(r.verification?.contains("NAT above the router") == true)
    #expect(r.deleted)
    #expect(chain.home.forwards.isEmpty)
    #expect(router.log.contains { $0.hasPrefix("PCP MAP delete") })
  }

  @Test func aForwardLapsesAtTheEndOfItsLifetimeAndARenewalKeepsIt() throws {
    let site = try Site([.pcp])
    let net = site.lab.network
    // The real PCP client renews at half the lifetime (RFC 6887 §11.2.1) against the router.
    var client = PCPClient(
      server: ip("192.168.7.1"), clientAddress: ip("192.168.7.10"),
      configuration: .init(requestedLifetime: 30))
    var events: [PCPClientEvent] = []
    var driver: MachineDriver<PCPClientEvent>?
    let socket = try site.host.openUDP(UDPSocketOptions(address: ip("192.168.7.10"))) { d in
      let out = client.handleInput(d.bytes, from: d.source, at: d.receivedAt)
      events += driver?.carryOut(out) ?? []
    }
    driver = MachineDriver(
      runtime: site.host, transmit: { socket.send($0.bytes, to: $0.to) },
      timeout: { now in
        let out = client.handleTimeout(at: now)
        events += driver?.carryOut(out) ?? []
      })
    events += driver?.carryOut(client.map(.udp, internalPort: 40000, at: net.now)) ?? []
    net.run(for: .seconds(1))
    #expect(events.contains { if case .mapped = $0 { true } else { false } })
    #expect(site.box.forwards.map(\.internalAddress) == [ep("192.168.7.10:40000")])
    net.run(for: .seconds(59))
    #expect(
      events.filter { if case .renewed = $0 { true } else { false } }.count >= 3,
      "renewed about every 15 s")
    #expect(site.box.forwards.count == 1, "still mapped after 60 s thanks to the renewals")
    // Without renewals the forward lapses at the end of its lifetime.
    driver?.stop()
    net.run(for: .seconds(31))
    #expect(site.box.forwards.isEmpty)
    socket.close()
  }
}
