import Runtime
import STUN
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
    #expect(r.protocols[1].error?.contains("no answer after 2 requests") == true)
    #expect(try #require(finishedAt) <= Instant(nanoseconds: 1_000_000_000))
  }
}
