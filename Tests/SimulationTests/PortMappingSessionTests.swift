import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// The port-mapping session on the simulated network: gateway discovery from the topology, a
/// NAT-PMP/PCP responder that records what it is asked, and a silent gateway.
@Suite struct PortMappingSessionTests {
  struct Home {
    let net = VirtualNetwork(seed: 12)
    let lan: Realm
    let laptop: SimulatedHost
    let server: SimulatedHost

    init() throws {
      let internet = net.addRealm("internet")
      lan = try net.addRealm("lan", prefix: "192.168.1.0/24")
      try net.addNAT(
        "home", behavior: .fullCone, outside: internet, publicIPs: [ip("198.51.100.7")],
        inside: lan, insideAddress: ip("192.168.1.1"))
      laptop = try net.addHost("laptop", in: lan, address: ip("192.168.1.10"))
      server = try net.addHost("server", in: internet, address: ip("198.51.100.200"))
    }
  }

  /// Answers NAT-PMP external-address requests and PCP ANNOUNCE requests on port 5351, and
  /// records every request.
  final class Responder {
    var requests: [[UInt8]] = []
    var socket: (any DatagramSocket)?

    init(host: SimulatedHost, external: [UInt8]) throws {
      socket = try host.openUDP(UDPSocketOptions(port: 5351)) { [weak self] d in
        guard let self else { return }
        self.requests.append(d.bytes)
        if d.bytes == [0, 0] {
          self.socket?.send([0, 128, 0, 0, 0, 0, 0, 42] + external, to: d.source)
        } else if d.bytes.count >= 24, d.bytes[0] == 2, d.bytes[1] == 0 {
          self.socket?.send(
            [2, 0x80, 0, 0] + [UInt8](repeating: 0, count: 4) + [0, 0, 0, 42]
              + [UInt8](repeating: 0, count: 12), to: d.source)
        }
      }
    }
  }

  @Test func aHostBehindANATHasItsRouterAsDefaultGateway() throws {
    let home = try Home()
    #expect(home.laptop.defaultGateways() == [ip("192.168.1.1")])
    #expect(home.server.defaultGateways() == [], "a host on the internet has no NAT in front")
  }

  @Test func answersAreReportedAndOnlyReadOnlyRequestsAreSent() throws {
    let home = try Home()
    let responderHost = try home.net.addHost("responder", in: home.lan, address: ip("192.168.1.2"))
    let responder = try Responder(host: responderHost, external: [198, 51, 100, 7])
    let session = PortMappingSession(
      runtime: home.laptop, configuration: .init(gateway: ip("192.168.1.2")), connector: nil)
    var report: PortMappingReport?
    session.start { report = $0 }
    home.net.run(for: .seconds(5))
    let r = try #require(report)
    #expect(r.gateway == ip("192.168.1.2"))
    #expect(r.protocols.map(\.name) == [.pcp, .natPMP, .upnpIGD])
    #expect(r.protocols[0].answered && r.protocols[0].error == nil)
    #expect(r.protocols[0].rtt != nil)
    #expect(r.protocols[1].answered && r.protocols[1].externalAddress == ip("198.51.100.7"))
    #expect(!r.protocols[2].answered)
    #expect(r.protocols[2].error?.contains("not asked") == true)
    #expect(r.externalAddress == ip("198.51.100.7"))
    // Read-only: one NAT-PMP external-address request and one PCP ANNOUNCE (opcode 0), never a
    // mapping request.
    #expect(responder.requests.count == 2)
    #expect(responder.requests.contains([0, 0]))
    #expect(responder.requests.contains { $0.count == 24 && $0[0] == 2 && $0[1] == 0 })
  }

  @Test func aSilentGatewayIsReportedUnansweredWithinASecond() throws {
    let home = try Home()
    let session = PortMappingSession(runtime: home.laptop, connector: nil)
    var report: PortMappingReport?
    var finishedAt: Instant?
    session.start {
      report = $0
      finishedAt = home.laptop.now
    }
    home.net.run(for: .seconds(5))
    let r = try #require(report)
    #expect(r.gateway == ip("192.168.1.1"))
    #expect(r.protocols.allSatisfy { !$0.answered })
    #expect(r.externalAddress == nil)
    // Silence is said as what it was: no guess that the protocol is unsupported.
    let silence = try #require(r.protocols[1].error)
    #expect(silence.contains("did not answer NAT-PMP within 750 ms (2 requests)"), "\(silence)")
    #expect(!silence.contains("support"))
    #expect(try #require(finishedAt) <= Instant(nanoseconds: 800_000_000))
  }

  /// The probe and the port-mapping session together on one simulated host: `claims` is what a
  /// NAT-PMP responder beside the host says the router's address is.
  static func probe(carrier: Bool, claims: [UInt8]) throws -> ProbeReport {
    let lab = try SimulatedLab(seed: 3)
    let host =
      carrier
      ? try lab.addCarrierSite("client") : try lab.addSite("client", behavior: .portRestrictedCone)
    let lan = try #require(lab.network.realms.first { $0.name == "client-lan" })
    let responderHost = try lab.network.addHost("responder", in: lan, address: ip("192.168.1.2"))
    let responder = try Responder(host: responderHost, external: claims)
    let probe = ProbeSession(
      runtime: host,
      configuration: ProbeConfiguration(
        servers: [lab.stunServerAddress], localAddresses: host.localAddresses()))
    let mapper = PortMappingSession(
      runtime: host, configuration: .init(gateway: ip("192.168.1.2")), connector: nil)
    var result: Result<ProbeReport, RuntimeError>?
    var portMapping: PortMappingReport?
    probe.start { result = $0 }
    mapper.start { portMapping = $0 }
    lab.network.run(for: .seconds(30))
    var report = try #require(try result?.get())
    report.attach(portMapping: try #require(portMapping))
    #expect(responder.requests.count == 2)
    return report
  }

  @Test func aRouterBehindACarrierNATIsReportedAsDoubleNAT() throws {
    // The home router's own address is 100.64.0.2 in the carrier's network; the STUN server
    // sees the carrier's 198.51.100.1.
    let report = try Self.probe(carrier: true, claims: [100, 64, 0, 2])
    let verdict = try #require(report.doubleNAT)
    #expect(verdict.detected == true)
    #expect(verdict.routerAddress == ip("100.64.0.2"))
    #expect(verdict.serverSeenAddress == ip("198.51.100.1"))
    #expect(
      verdict.reason.hasPrefix(
        "Your router's own internet address is 100.64.0.2, but servers see 198.51.100.1: there is another NAT above your router"
      ))
    #expect(report.summary.hasSuffix(verdict.reason))
  }

  @Test func aRouterWhoseAddressServersSeeIsNotDoubleNAT() throws {
    let report = try Self.probe(carrier: false, claims: [198, 51, 100, 1])
    #expect(report.mappedAddress?.ip == ip("198.51.100.1"))
    #expect(report.doubleNAT?.detected == false)
    #expect(!report.summary.contains("another NAT"))
  }
}
