import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// ICMP port unreachable on the simulated network: hosts answer it, NATs carry it back along
/// the mapping (as Linux conntrack does for RELATED ICMP), routers with no mapping stay silent,
/// and sessions fail at once with that evidence.
@Suite struct UnreachableOnSimulationTests {
  final class Errors { var items: [SocketError] = [] }

  @Test func aHostWithNothingOnThePortAnswersPortUnreachableThroughTheNAT() throws {
    let lab = try SimulatedLab(seed: 1)
    let host = try lab.addSite("a", behavior: .portRestrictedCone)
    let errors = Errors()
    let socket = try host.openUDP(
      UDPSocketOptions(), onReceive: { _ in }, onError: { errors.items.append($0) })
    let closed = TransportAddress(ip: SimulatedLab.serverPrimary, port: 9)
    socket.send([1, 2, 3], to: closed)
    lab.network.run(for: .seconds(1))
    let error = try #require(errors.items.first)
    #expect(errors.items.count == 1)
    #expect(error.kind == .unreachable(.portUnreachable))
    #expect(error.destination == closed)
    #expect(error.reporter == SimulatedLab.serverPrimary)
    // One round trip on the lab's links, not a timeout.
    #expect(error.at < .zero + .milliseconds(200))
  }

  @Test func aNATWithNoMappingDropsSilently() throws {
    let lab = try SimulatedLab(seed: 2)
    _ = try lab.addSite("b", behavior: .portRestrictedCone)
    let errors = Errors()
    let socket = try lab.serverHost.openUDP(
      UDPSocketOptions(address: SimulatedLab.serverPrimary), onReceive: { _ in },
      onError: { errors.items.append($0) })
    // The site's NAT has the lab's first site address; nothing was ever mapped there.
    let nat = try #require(lab.network.nats.first)
    let target = TransportAddress(ip: try #require(nat.publicIPs.first), port: 40000)
    socket.send([1], to: target)
    lab.network.run(for: .seconds(1))
    #expect(errors.items.isEmpty)
  }

  @Test func aPeerThatQuitIsReportedAsNotListening() throws {
    let run = try ConnectLab.run(
      "port-restricted-cone", "", sameLAN: true, answererQuits: true, duration: .seconds(20))
    let a = try #require(run.offer.report)
    #expect(a.state == .failed)
    let remoteHost = try #require(
      a.pairs.first { $0.remote.type == .host && $0.failure == .unreachable })
    #expect(remoteHost.detail == "ICMP port unreachable from 192.168.1.11")
    let expected =
      "The peer is not listening on \(remoteHost.remote) (ICMP port unreachable from 192.168.1.11): it may have quit, or the token is old."
    #expect(a.paths.direct.reason == expected)
    // Failed at once, one round trip after the first check, not after the check timeout.
    let port = remoteHost.remote.port
    let sent = try #require(
      run.offer.log.first {
        if case .ice(.checkSent(_, _, let to, 1, _, _)) = $0.event {
          to.port == port
        } else {
          false
        }
      }?.at)
    let failed = try #require(
      run.offer.log.first {
        if case .ice(.pairStateChanged(_, _, .failed, .unreachable?, _)) = $0.event {
          true
        } else {
          false
        }
      }?.at)
    #expect(failed - sent < .milliseconds(100))
  }

  @Test func aSameSubnetPairBehindAFirewallIsNeverDifferentNetworks() throws {
    let run = try ConnectLab.run(
      "port-restricted-cone", "", sameLAN: true, duration: .seconds(60)
    ) { lab in
      // Installed before the checks: B's host firewall drops all inbound UDP, silently.
      lab.network.hosts.first { $0.name == "a2" }?.firewall = .blockInbound
    }
    let a = try #require(run.offer.report)
    #expect(!a.paths.direct.succeeded)
    #expect(!(a.paths.direct.reason.contains("different networks")))
    #expect(a.paths.direct.reason.contains("a firewall probably drops the checks"))
    #expect(a.paths.direct.reason.contains("timed out after"))
    #expect(a.paths.direct.reason.contains("no ICMP error"))
  }
}

/// The ICMP error of a peer that quit crosses both NATs back to the sender, as Linux conntrack
/// carries RELATED ICMP.
@Suite struct ICMPThroughTwoNATsTests {
  @Test func aQuitPeerBehindANATIsReportedThroughBothNATs() throws {
    let lab = try SimulatedLab(seed: 4)
    let a = try lab.addSite("a", behavior: .portRestrictedCone)
    let b = try lab.addSite("b", behavior: .fullCone)
    let errors = UnreachableOnSimulationTests.Errors()
    var seen: [ReceivedDatagram] = []
    let sa = try a.openUDP(
      UDPSocketOptions(), onReceive: { seen.append($0) }, onError: { errors.items.append($0) })
    let sb = try b.openUDP(UDPSocketOptions()) { _ in }
    // B opens a mapping on its full-cone NAT (its datagram dies at A's NAT: no mapping there);
    // A writes to that public address and gets through to B.
    let natB = try #require(lab.network.nats.first { $0.name == "b-nat" })
    let natA = try #require(lab.network.nats.first { $0.name == "a-nat" })
    sb.send([0], to: TransportAddress(ip: natA.publicIPs[0], port: 1))
    lab.network.run(for: .milliseconds(200))
    let bPublic = try #require(natB.mappings.first?.externalAddress)
    sa.send([1], to: bPublic)
    lab.network.run(for: .milliseconds(200))
    #expect(seen.isEmpty)
    #expect(errors.items.isEmpty)
    // B quits; A writes again: B's host answers port unreachable, B's NAT sends it out from
    // its public address, A's NAT carries it back to A.
    sb.close()
    sa.send([2], to: bPublic)
    lab.network.run(for: .milliseconds(500))
    let error = try #require(errors.items.first)
    #expect(errors.items.count == 1)
    #expect(error.kind == .unreachable(.portUnreachable))
    #expect(error.destination == bPublic)
    #expect(error.reporter == natB.publicIPs[0])
  }
}
