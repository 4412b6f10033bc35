import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// ICMP errors reach the socket's owner on real sockets (IP_RECVERR and the error queue).
@Suite("ICMP on loopback", .timeLimit(.minutes(3)))
struct ICMPTests {
  /// A loopback port that was free a moment ago (bound, noted, closed).
  func closedPort(_ rt: NIORuntime, _ ip: IPAddress) throws -> TransportAddress {
    let probe = try rt.openUDP(UDPSocketOptions(address: ip)) { _ in }
    defer { probe.close() }
    return probe.localAddress
  }

  func portUnreachable(_ ip: IPAddress) throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (error, sent): (SocketError, Instant) = try runtime.run(timeout: .seconds(5)) { rt, done in
      let closed = try closedPort(rt, ip)
      let sentAt = rt.now
      let socket = try rt.openUDP(
        UDPSocketOptions(address: ip), onReceive: { _ in },
        onError: { done.succeed(($0, sentAt)) })
      socket.send([1, 2, 3], to: closed)
      rt.schedule(at: rt.now + .seconds(2)) { done.fail(RuntimeError.failed("no ICMP error")) }
    }
    #expect(error.kind == .unreachable(.portUnreachable))
    #expect(error.destination.ip == ip)
    #expect(error.reporter == ip)
    #expect(error.unreachable?.kind == .portUnreachable)
    #expect(error.at >= sent)
    #expect((error.at - sent) < .milliseconds(500))
  }

  @Test func portUnreachableNamesTheDestinationIPv4() throws {
    try portUnreachable(.loopbackV4)
  }

  @Test(.enabled(if: ipv6LoopbackAvailable, "IPv6 loopback cannot be bound here"))
  func portUnreachableNamesTheDestinationIPv6() throws {
    try portUnreachable(.loopbackV6)
  }

  @Test func eachErrorNamesItsOwnDestinationAndTheSocketKeepsWorking() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (errors, expected, reply): ([SocketError], [TransportAddress], [UInt8]) =
      try runtime.run(timeout: .seconds(5)) { rt, done in
        let closed = try (0..<3).map { _ in try closedPort(rt, .loopbackV4) }
        let echo = try openEcho(rt, UDPSocketOptions(address: .loopbackV4))
        var errors: [SocketError] = []
        let client = Box<(any DatagramSocket)?>(nil)
        client.value = try rt.openUDP(
          UDPSocketOptions(address: .loopbackV4),
          onReceive: { done.succeed((errors, closed, $0.bytes)) },
          onError: { errors.append($0) })
        for c in closed { client.value?.send([9], to: c) }
        rt.schedule(at: rt.now + .milliseconds(100)) {
          client.value?.send([7], to: echo.localAddress)
        }
      }
    #expect(Set(errors.map(\.destination)) == Set(expected))
    #expect(errors.allSatisfy { $0.kind == .unreachable(.portUnreachable) })
    #expect(reply == [7])
  }

  @Test func aSTUNQueryToAClosedPortFailsAtOnce() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (outcome, elapsed): (BindingOutcome, Duration) = try runtime.run(timeout: .seconds(5)) {
      rt, done in
      let closed = try closedPort(rt, .loopbackV4)
      let client = STUNClient(
        runtime: rt, socketOptions: UDPSocketOptions(address: .loopbackV4))
      let started = rt.now
      try client.send(BindingQuery(socket: ProbeSocketID(0), destination: closed)) { o, _ in
        client.close()
        done.succeed((o, rt.now - started))
      }
    }
    guard case .unreachable(let u, let attempts) = outcome else {
      Issue.record("expected unreachable, got \(outcome)")
      return
    }
    #expect(u.kind == .portUnreachable)
    #expect(attempts == 1)
    #expect(elapsed < .milliseconds(400))
  }
}

/// An ICE pair to a closed port fails at once on real sockets, with the ICMP evidence.
@Suite("ICE and ICMP on loopback", .timeLimit(.minutes(3)))
struct ICEICMPTests {
  @Test func aPairToAClosedPortFailsAtOnce() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    typealias Result = (failedAfter: Duration, evidence: Unreachable?, remote: TransportAddress)
    let result: Result = try runtime.run(timeout: .seconds(5)) { rt, done in
      let probe = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in }
      let closed = probe.localAddress
      probe.close()
      let session = ICESession(
        runtime: rt, role: .controlling,
        configuration: ICESessionConfiguration(
          includeLoopback: true, localAddresses: [.loopbackV4]))
      var sentAt: Instant?
      session.onEvent = { entry in
        switch entry.event.agentEvent {
        case .checkSent(_, _, let to, 1, _, _)? where to == closed:
          sentAt = sentAt ?? entry.at
        case .pairStateChanged(_, _, .failed, .unreachable?, _)?:
          let base = session.localCandidates.first?.address ?? closed
          let evidence = session.unreachable[ICESession.PairKey(base: base, remote: closed)]
          done.succeed((entry.at - (sentAt ?? entry.at), evidence, closed))
          session.close()
        default: break
        }
      }
      session.start()
      session.setRemoteCredentials(ICECredentials(ufrag: "peer", password: "peer-password-1234567"))
      session.addRemoteCandidate(
        Candidate(foundation: "1", priority: 2_130_706_431, address: closed, type: .host))
      session.endOfRemoteCandidates()
    }
    #expect(result.failedAfter < .milliseconds(300))
    #expect(result.evidence?.kind == .portUnreachable)
    #expect(result.evidence?.destination == result.remote)
    #expect(result.evidence?.description == "ICMP port unreachable from 127.0.0.1")
  }
}
