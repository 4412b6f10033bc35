import Report
import STUN
import Testing
import Traversal

/// An ICMP error for the server ends an Allocate at once, instead of after the retransmissions.
@Suite struct TURNClientUnreachableTests {
  static func portUnreachable(_ to: TransportAddress, at: Instant) -> Unreachable {
    Unreachable(kind: .portUnreachable, destination: to, reporter: to.ip, at: at)
  }

  @Test func portUnreachableWhileAllocatingFailsAtOnce() throws {
    var client = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "alice", password: "pw"))
    _ = client.start(at: .zero)
    let at = Instant.zero + .milliseconds(3)
    let out = client.handleUnreachable(Self.portUnreachable(TURNAddr.listen, at: at), at: at)
    let failure = try #require(
      out.compactMap { o -> TURNFailure? in
        if case .event(.failed(let f)) = o { return f }
        return nil
      }.first)
    #expect(failure.code == nil)
    #expect(
      failure.explanation
        == "no TURN server at 203.0.113.10:3478 (ICMP port unreachable from 203.0.113.10): that host is up but nothing listens on that port"
    )
    #expect(client.state == .failed(failure))
    // Nothing is left to retransmit.
    #expect(client.nextWake == nil)
    #expect(out.transmits().isEmpty)
  }

  @Test func hostUnreachableSaysTheServerCannotBeReached() throws {
    var client = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "alice", password: "pw"))
    _ = client.start(at: .zero)
    let u = Unreachable(
      kind: .hostUnreachable, destination: TURNAddr.listen, reporter: .v4(0xC633_6401), at: .zero)
    _ = client.handleUnreachable(u, at: .zero)
    guard case .failed(let f) = client.state else {
      Issue.record("not failed: \(client.state)")
      return
    }
    #expect(
      f.explanation
        == "the TURN server at 203.0.113.10:3478 cannot be reached (ICMP host unreachable from 198.51.100.1)"
    )
  }

  @Test func anErrorForAnotherDestinationIsIgnored() {
    var client = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "alice", password: "pw"))
    _ = client.start(at: .zero)
    let out = client.handleUnreachable(Self.portUnreachable(TURNAddr.peer, at: .zero), at: .zero)
    #expect(client.state == .allocating)
    #expect(out == [.timeout(client.nextWake ?? .zero)])
  }

  @Test func anErrorAfterAllocationIsLeftToTheNextRequest() {
    var p = TURNPair()
    p.start()
    #expect(p.client.isAllocated)
    _ = p.client.handleUnreachable(Self.portUnreachable(TURNAddr.listen, at: p.now), at: p.now)
    #expect(p.client.isAllocated)
  }

  @Test func streamAllocationsIgnoreICMP() {
    var client = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "alice", password: "pw"),
      transport: .stream)
    _ = client.start(at: .zero)
    _ = client.handleUnreachable(Self.portUnreachable(TURNAddr.listen, at: .zero), at: .zero)
    #expect(client.state == .allocating)
  }
}
