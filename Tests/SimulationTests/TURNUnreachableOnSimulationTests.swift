import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// An Allocate toward a port where no TURN server listens: the host answers ICMP port
/// unreachable, the NAT carries it back, and the allocation fails at once with that reason
/// instead of after RFC 8489's retransmissions (9.5 s with natscope's policy).
@Suite struct TURNUnreachableOnSimulationTests {
  @Test func allocationToAClosedPortFailsAtOnce() throws {
    let w = try TURNWorld(.portRestrictedCone)
    w.net.run(for: .seconds(1))
    // The world's own session allocated; a second one aims at a port with nothing on it.
    let closed = TransportAddress(ip: TURNWorld.serverAddress.ip, port: 3999)
    let session = try TURNAllocationSession(
      runtime: w.client, server: closed,
      credentials: TURNCredentials(username: "carol", password: TURNWorld.password))
    var events: [TURNClientEvent] = []
    var failedAt: Instant?
    session.onEvent = { e in
      events.append(e)
      if case .failed = e { failedAt = w.client.now }
    }
    let started = w.client.now
    session.start()
    w.net.run(for: .seconds(20))
    guard case .failed(let failure)? = events.last else {
      Issue.record("not failed: \(events)")
      return
    }
    #expect(
      failure.explanation
        == "no TURN server at 203.0.113.20:3999 (ICMP port unreachable from 203.0.113.20): that host is up but nothing listens on that port"
    )
    // One round trip on the simulated links, not the retransmission window.
    let took = try #require(failedAt) - started
    #expect(took < .seconds(1))
    // The check sorts it as unreachable, with the same sentence.
    let problem = TURNCheckClassifier.allocationProblem(failure, reachable: false)
    #expect(problem.code == .unreachable)
    #expect(problem.message == failure.explanation)
  }
}
