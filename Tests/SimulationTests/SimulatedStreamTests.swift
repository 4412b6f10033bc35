import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Testing
import Traversal

@testable import Simulation

/// The simulated TCP connection under TURN over TCP: frames whole, in order, after the
/// handshake; a close reaches the other side; the TURN server drops a closed client's
/// allocation.
@Suite struct SimulatedStreamTests {
  @Test func framesArriveInOrderAfterTheHandshake() throws {
    let lab = try SimulatedLab(seed: 3, latency: .milliseconds(10), jitter: .zero)
    let client = try lab.addSite("a", behavior: .udpBlocked)
    let server = lab.serverHost
    let ends = SimulatedStreamEnd.connect(client: client, server: server, oneWay: .milliseconds(25))
    var atServer: [(Instant, [UInt8])] = []
    var atClient: [[UInt8]] = []
    ends.server.onFrame = { atServer.append((server.now, $0)) }
    ends.client.onFrame = { atClient.append($0) }
    for k in 0..<5 { ends.client.send([UInt8(k)]) }
    lab.network.run(for: .seconds(1))
    // SYN, SYN-ACK, then the first frame: three one-way trips; the rest follow in order.
    #expect(atServer.map(\.1) == (0..<5).map { [UInt8($0)] })
    #expect(atServer.first?.0 == .zero + .milliseconds(75))
    ends.server.send([9, 9])
    lab.network.run(for: .seconds(1))
    #expect(atClient == [[9, 9]])
    #expect(ends.client.framesSent == 5 && ends.server.framesSent == 1)
  }

  @Test func closeReachesTheOtherSideOnce() throws {
    let lab = try SimulatedLab(seed: 3)
    let client = try lab.addSite("a", behavior: nil)
    let ends = SimulatedStreamEnd.connect(
      client: client, server: lab.serverHost, oneWay: .milliseconds(5))
    var reasons: [StreamCloseReason] = []
    ends.server.onClose = { reasons.append($0) }
    var late: [[UInt8]] = []
    ends.server.onFrame = { late.append($0) }
    ends.client.close()
    ends.client.send([1])  // after close: never sent
    lab.network.run(for: .seconds(1))
    #expect(reasons == [.closedByPeer])
    #expect(late.isEmpty)
  }

  /// The route a connection takes from a host behind a NAT: out through the NAT's public
  /// address, with each hop's latency.
  @Test func routeToTheInternetFollowsTheNATs() throws {
    let lab = try SimulatedLab(seed: 3, latency: .milliseconds(10), jitter: .zero)
    let behind = try lab.addSite("a", behavior: .portRestrictedCone)
    let route = behind.routeToInternet()
    #expect(route.publicIP == IPAddress("198.51.100.1"))
    // LAN up 1 ms, NAT inside down 1 ms, NAT outside up 10 ms.
    #expect(route.latency == .milliseconds(12))
    let carrier = try lab.addCarrierSite("c")
    #expect(carrier.routeToInternet().publicIP == IPAddress("198.51.100.2"))
  }

  /// A client behind a UDP-blocking firewall allocates on the relay over TCP; closing the
  /// connection deletes its allocation (RFC 8656: the allocation lives as long as the
  /// connection).
  @Test func turnOverTCPThroughAUDPBlockingFirewall() throws {
    let lab = try SimulatedLab(seed: 5)
    let host = try lab.addSite("a", behavior: .udpBlocked)
    let relay = try lab.addTURNRelay()
    let connector = relay.streamConnector(for: host)
    #expect(throws: RuntimeError.self) {
      _ = try connector(TransportAddress(ip: SimulatedLab.serverPrimary, port: 3478))
    }
    let session = TURNAllocationSession(
      runtime: host, server: relay.serverAddress,
      credentials: relay.connectServerOverTCP.credentials,
      stream: try connector(relay.serverAddress))
    var allocated: TransportAddress?
    session.onEvent = { if case .allocated(let relayed, _, _) = $0 { allocated = relayed } }
    session.start()
    lab.network.run(for: .seconds(2))
    #expect(allocated?.ip == SimulatedTURNRelay.address)
    #expect(relay.server.server.allocationCount == 1)
    session.close()
    lab.network.run(for: .seconds(2))
    #expect(relay.server.server.allocationCount == 0)
  }
}
