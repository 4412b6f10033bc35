import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// `SimulatedHost` as a `NetworkRuntime`: binding rules, addresses, timers, received metadata.
@Suite struct RuntimeTests {
  private func net() throws -> (VirtualNetwork, SimulatedHost, Realm) {
    let net = VirtualNetwork(seed: 9)
    let internet = net.addRealm("internet")
    let host = try net.addHost("h", in: internet, address: ip("203.0.113.5"))
    try host.addInterface(ip("203.0.113.6"), in: internet)
    return (net, host, internet)
  }

  @Test func bindingRules() throws {
    let (net, host, _) = try net()
    defer { withExtendedLifetime(net) {} }
    let runtime: any NetworkRuntime = host
    #expect(runtime.localAddresses() == [ip("203.0.113.5"), ip("203.0.113.6")])
    let s = try runtime.openUDP(UDPSocketOptions(address: ip("203.0.113.5"), port: 3478)) { _ in }
    #expect(s.localAddress == ep("203.0.113.5:3478"))
    #expect(throws: RuntimeError.self) {
      try runtime.openUDP(UDPSocketOptions(address: ip("203.0.113.5"), port: 3478)) { _ in }
    }
    // The wildcard conflicts with a specific bind on the same port, and vice versa.
    #expect(throws: RuntimeError.self) {
      try runtime.openUDP(UDPSocketOptions(port: 3478)) { _ in }
    }
    _ = try runtime.openUDP(UDPSocketOptions(address: ip("203.0.113.6"), port: 3478)) { _ in }
    _ = try runtime.openUDP(UDPSocketOptions(port: 4000)) { _ in }
    #expect(throws: RuntimeError.self) {
      try runtime.openUDP(UDPSocketOptions(address: ip("203.0.113.6"), port: 4000)) { _ in }
    }
    do {
      _ = try runtime.openUDP(UDPSocketOptions(address: ip("192.0.2.1"))) { _ in }
      Issue.record("binding a foreign address should fail")
    } catch let e as RuntimeError {
      guard case .addressNotAvailable = e else {
        Issue.record("wrong error \(e)")
        return
      }
    }
    // Closing frees the port.
    s.close()
    _ = try runtime.openUDP(UDPSocketOptions(address: ip("203.0.113.5"), port: 3478)) { _ in }
  }

  @Test func ephemeralAndRangePorts() throws {
    let (net, host, _) = try net()
    defer { withExtendedLifetime(net) {} }
    let e = try host.bind(UDPSocketOptions()) { _ in }
    #expect(host.ephemeralPorts.contains(e.localAddress.port))
    var ports: Set<UInt16> = []
    for _ in 0..<5 {
      let s = try host.bind(UDPSocketOptions(portRange: 50000...50004)) { _ in }
      ports.insert(s.localAddress.port)
    }
    #expect(ports == Set(50000...50004))
    #expect(throws: RuntimeError.addressInUse("0.0.0.0: every port in 50000...50004 on host h")) {
      try host.bind(UDPSocketOptions(portRange: 50000...50004)) { _ in }
    }
  }

  @Test func receivedDatagramsCarrySourceDestinationAndTime() throws {
    let (net, host, internet) = try net()
    internet.defaultLink = Link(latency: .milliseconds(5))
    let peer = try net.addHost("peer", in: internet, address: ip("203.0.113.9"))
    let rx = try Endpoint(host, port: 7000)  // wildcard: receives on both addresses
    let tx = try Endpoint(peer, port: 7001)
    tx.send("a", to: ep("203.0.113.5:7000"))
    tx.send("b", to: ep("203.0.113.6:7000"))
    net.run(for: .seconds(1))
    #expect(rx.received.map(\.destination) == [ep("203.0.113.5:7000"), ep("203.0.113.6:7000")])
    #expect(rx.received.allSatisfy { $0.source == ep("203.0.113.9:7001") })
    // Links are fixed when an interface is attached: `host` has ideal links, `peer` and `late`
    // have 5 ms each way, so peer -> late takes 5 + 5 ms.
    #expect(rx.received.first?.receivedAt == .zero + .milliseconds(5))
    let late = try net.addHost("late", in: internet, address: ip("203.0.113.10"))
    let lrx = try Endpoint(late, port: 1)
    let start = net.now
    tx.send("c", to: ep("203.0.113.10:1"))
    net.run(for: .seconds(1))
    #expect(lrx.received.first?.receivedAt == start + .milliseconds(10))
  }

  @Test func closedSocketsReceiveNothing() throws {
    let (net, host, internet) = try net()
    let peer = try net.addHost("peer", in: internet, address: ip("203.0.113.9"))
    let rx = try Endpoint(host, port: 7000)
    let tx = try Endpoint(peer, port: 7001)
    tx.send("a", to: ep("203.0.113.5:7000"))
    rx.socket.close()
    net.run(for: .seconds(1))
    #expect(rx.received.isEmpty)
    #expect(net.counters.dropped(.noListener) == 1)
    rx.send("after close", to: ep("203.0.113.9:7001"))
    net.run(for: .seconds(1))
    #expect(tx.received.isEmpty)
  }

  @Test func timersFireInOrderAndCancelWorks() throws {
    let (net, host, _) = try net()
    let runtime: any NetworkRuntime = host
    var fired: [String] = []
    runtime.schedule(at: .zero + .seconds(2)) { fired.append("2s") }
    runtime.schedule(at: .zero + .seconds(1)) { fired.append("1s-a") }
    runtime.schedule(at: .zero + .seconds(1)) { fired.append("1s-b") }
    let cancelled = runtime.schedule(at: .zero + .milliseconds(1500)) { fired.append("never") }
    runtime.schedule(at: .zero + .milliseconds(500)) {
      fired.append("0.5s")
      cancelled.cancel()
      // Scheduling in the past runs as soon as possible, not before the current time.
      runtime.schedule(at: .zero) { fired.append("past@\(runtime.now.milliseconds)") }
    }
    net.run(until: .zero + .seconds(10))
    #expect(fired == ["0.5s", "past@500.0", "1s-a", "1s-b", "2s"])
    #expect(net.now == .zero + .seconds(10))
  }

  @Test func runsAreBounded() throws {
    let (net, host, _) = try net()
    var ticks = 0
    func again() {
      ticks += 1
      host.schedule(at: host.now + .milliseconds(10)) { again() }
    }
    again()
    let r = net.runUntilIdle(limit: 1000)
    #expect(r.hitLimit)
    #expect(r.events == 1000)
    #expect(ticks == 1001)
    let r2 = net.run(for: .seconds(1), limit: 10)
    #expect(r2.hitLimit && r2.events == 10)
    let r3 = net.run(for: .seconds(1))
    #expect(!r3.hitLimit)
  }

  @Test func realTimeModeTracksWallTime() throws {
    let (net, host, _) = try net()
    var fired: [Instant] = []
    host.schedule(at: .zero + .milliseconds(30)) { fired.append(host.now) }
    let clock = ContinuousClock()
    let start = clock.now
    let r = net.runRealTime(for: .milliseconds(60), tick: .milliseconds(5))
    let wall = clock.now - start
    #expect(r.events == 1)
    #expect(fired == [.zero + .milliseconds(30)])
    #expect(net.now == .zero + .milliseconds(60))
    #expect(wall >= .milliseconds(50), "slept to keep pace with virtual time: \(wall)")
    // Fast-forward: speed 1000 runs 10 virtual seconds in about 10 ms.
    let start2 = clock.now
    net.runRealTime(for: .seconds(10), speed: 1000)
    #expect(clock.now - start2 < .seconds(5))
    var ticks = 0
    net.runRealTime(
      for: .seconds(60),
      onTick: {
        ticks += 1
        return ticks < 3
      })
    #expect(ticks == 3, "stops when onTick returns false")
  }
}
