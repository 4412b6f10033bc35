import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

@Suite("UDP on loopback", .timeLimit(.minutes(3)))
struct UDPTests {
  func echoRoundTrip(_ ip: IPAddress) throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let payload: [UInt8] = [0, 1, 2, 3, 0xFF]
    let (reply, clientAddress, serverAddress) = try runtime.run(timeout: .seconds(5)) {
      rt, done in
      let server = try openEcho(rt, UDPSocketOptions(address: ip))
      let client = Box<UDPSocket?>(nil)
      client.value = try rt.openUDPSocket(UDPSocketOptions(address: ip)) { datagram in
        guard let c = client.value else { return }
        done.succeed((datagram, c.localAddress, server.localAddress))
      }
      client.value?.send(payload, to: server.localAddress)
    }
    #expect(reply.bytes == payload)
    #expect(reply.source == serverAddress)
    #expect(reply.destination == clientAddress)
    #expect(serverAddress.ip == ip && serverAddress.port != 0)
    #expect(clientAddress.ip == ip && clientAddress.port != 0)
  }

  @Test func largeDatagramsArriveWhole() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let sizes = [0, 1, 2048, 2049, 9000, 60000]
    let got: [[UInt8]] = try runtime.run(timeout: .seconds(5)) { rt, done in
      let server = try openEcho(rt, UDPSocketOptions(address: .loopbackV4))
      var got: [[UInt8]] = []
      let client = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { datagram in
        got.append(datagram.bytes)
        if got.count == sizes.count { done.succeed(got) }
      }
      for n in sizes {
        client.send((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) }, to: server.localAddress)
      }
    }
    #expect(got.map(\.count) == sizes)
    #expect(got.last == (0..<60000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
  }

  @Test func echoRoundTripIPv4() throws {
    try echoRoundTrip(.loopbackV4)
  }

  @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available"))
  func echoRoundTripIPv6() throws {
    try echoRoundTrip(.loopbackV6)
  }
}

@Suite("UDP binding", .timeLimit(.minutes(3)))
struct UDPBindingTests {
  @Test func portRangeGivesAPortInRange() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let range: ClosedRange<UInt16> = 40000...50000
    let ports = try runtime.onLoop { rt in
      try (0..<5).map { _ in
        try rt.openUDP(UDPSocketOptions(address: .loopbackV4, portRange: range)) { _ in }
          .localAddress.port
      }
    }
    #expect(ports.allSatisfy { range.contains($0) })
    #expect(Set(ports).count == ports.count)
  }

  @Test func exhaustedRangeIsAddressInUse() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let outcome: String = try runtime.onLoop { rt in
      // Find three consecutive free ports by opening them one by one; retry a few times if
      // something else on the host holds one.
      for attempt in 0..<20 {
        let base = UInt16(41000 + attempt * 37)
        var held: [UDPSocket] = []
        do {
          for port in base...(base + 2) {
            held.append(
              try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4, port: port)) { _ in })
          }
        } catch {
          held.forEach { $0.close() }
          continue
        }
        defer { held.forEach { $0.close() } }
        do {
          let extra = try rt.openUDP(
            UDPSocketOptions(address: .loopbackV4, portRange: base...(base + 2))
          ) { _ in }
          return "unexpectedly bound \(extra.localAddress)"
        } catch let error as RuntimeError {
          if case .addressInUse = error { return "addressInUse" }
          return "wrong error \(error)"
        }
      }
      return "could not find three free ports"
    }
    #expect(outcome == "addressInUse")
  }

  @Test func fixedPortInUseIsAddressInUse() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let error: RuntimeError? = try runtime.onLoop { rt in
      let first = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in }
      do {
        _ = try rt.openUDP(UDPSocketOptions(address: .loopbackV4, port: first.localAddress.port)) {
          _ in
        }
        return nil
      } catch let error as RuntimeError {
        return error
      }
    }
    guard case .addressInUse = error else {
      Issue.record("expected addressInUse, got \(String(describing: error))")
      return
    }
  }

  @Test func foreignAddressIsNotAvailable() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let error: RuntimeError? = try runtime.onLoop { rt in
      do {
        // 192.0.2.1 (TEST-NET-1) is never one of this host's addresses.
        _ = try rt.openUDP(UDPSocketOptions(address: .v4(0xC000_0201))) { _ in }
        return nil
      } catch let error as RuntimeError {
        return error
      }
    }
    #expect(error == .addressNotAvailable("192.0.2.1"))
  }

  @Test func openingOffTheLoopThrows() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    #expect(throws: RuntimeError.self) {
      _ = try runtime.openUDP(UDPSocketOptions()) { _ in }
    }
  }

  @Test func wildcardSocketReportsPerDatagramDestination() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let secondOK = secondLoopbackAvailable
    let targets: [IPAddress] = secondOK ? [.loopbackV4, .v4(0x7F00_0002)] : [.loopbackV4]
    let got: [TransportAddress?] = try runtime.run(timeout: .seconds(5)) { rt, done in
      var seen: [TransportAddress?] = []
      let wildcard = try rt.openUDP(UDPSocketOptions(address: .anyV4)) { datagram in
        seen.append(datagram.destination)
        if seen.count == targets.count { done.succeed(seen) }
      }
      let sender = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in }
      for (i, ip) in targets.enumerated() {
        // Space the sends so the arrival order is the send order.
        rt.schedule(at: rt.now + .milliseconds(20 * i)) {
          sender.send([UInt8(i)], to: TransportAddress(ip: ip, port: wildcard.localAddress.port))
        }
      }
    }
    let port = got.first??.port
    #expect(got == targets.map { TransportAddress(ip: $0, port: port ?? 0) })
    #expect(port != nil && port != 0)
  }

  @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available"))
  func wildcardIPv6SocketReportsDestination() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let got: TransportAddress? = try runtime.run(timeout: .seconds(5)) { rt, done in
      let wildcard = try rt.openUDP(UDPSocketOptions(address: .anyV6)) { datagram in
        done.succeed(datagram.destination)
      }
      let sender = try rt.openUDP(UDPSocketOptions(address: .loopbackV6)) { _ in }
      sender.send([1], to: TransportAddress(ip: .loopbackV6, port: wildcard.localAddress.port))
    }
    #expect(got?.ip == .loopbackV6)
  }
}

@Suite("UDP errors", .timeLimit(.minutes(3)))
struct UDPErrorTests {
  @Test func sendToClosedPortKeepsSocketWorking() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (reply, sent): ([UInt8], Int) = try runtime.run(timeout: .seconds(5)) { rt, done in
      // A port that was just free: bind, note it, close.
      let probe = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in }
      let closedPort = probe.localAddress
      probe.close()
      let echo = try openEcho(rt, UDPSocketOptions(address: .loopbackV4))
      let client = Box<UDPSocket?>(nil)
      client.value = try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4)) { datagram in
        done.succeed((datagram.bytes, client.value?.sentCount ?? -1))
      }
      client.value?.onError = { _ in }
      for _ in 0..<3 { client.value?.send([9], to: closedPort) }
      // Give the ICMP errors time to come back, then check the socket still works.
      rt.schedule(at: rt.now + .milliseconds(50)) {
        client.value?.send([7], to: echo.localAddress)
      }
    }
    #expect(reply == [7])
    #expect(sent == 4)
  }

  @Test func sendErrorsAreReportedAndCounted() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (errors, count, reply): ([SocketError], Int, [UInt8]) = try runtime.run(
      timeout: .seconds(5)
    ) { rt, done in
      var errors: [SocketError] = []
      let echo = try openEcho(rt, UDPSocketOptions(address: .loopbackV4))
      let client = Box<UDPSocket?>(nil)
      client.value = try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4)) { datagram in
        done.succeed((errors, client.value?.errorCount ?? -1, datagram.bytes))
      }
      client.value?.onError = { errors.append($0) }
      // Port 0 is refused by the kernel (EINVAL); an IPv6 destination from an IPv4 socket is
      // refused before the kernel sees it.
      client.value?.send([1], to: TransportAddress(ip: .loopbackV4, port: 0))
      client.value?.send([2], to: TransportAddress(ip: .loopbackV6, port: 3478))
      client.value?.send([3], to: echo.localAddress)
    }
    #expect(errors.count == 2)
    #expect(count == 2)
    guard case .sendFailed(let code)? = errors.first?.kind else {
      Issue.record("not a send failure: \(errors)")
      return
    }
    #expect(code != nil)
    #expect(errors.allSatisfy { if case .sendFailed = $0.kind { true } else { false } })
    #expect(errors.map(\.destination.port) == [0, 3478])
    #expect(reply == [3])
  }

  @Test func closedSocketDeliversNothingAndReportsSends() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let result: (Int, Int) = try runtime.run(timeout: .seconds(5)) { rt, done in
      var received = 0
      let target = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in received += 1 }
      let sender = try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4)) { _ in }
      target.close()
      sender.send([1], to: target.localAddress)
      sender.close()
      sender.send([2], to: target.localAddress)
      rt.schedule(at: rt.now + .milliseconds(50)) { done.succeed((received, sender.errorCount)) }
    }
    #expect(result.0 == 0)
    #expect(result.1 == 1)
  }
}
