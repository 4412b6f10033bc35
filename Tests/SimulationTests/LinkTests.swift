import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// Latency, jitter and loss.
@Suite struct LinkTests {
  /// Two public hosts, `a` and `b`; `a`'s link is `link`, `b`'s is ideal.
  private func pair(_ link: Link, seed: UInt64 = 1) throws -> (VirtualNetwork, Endpoint, Endpoint) {
    let net = VirtualNetwork(seed: seed)
    let internet = net.addRealm("internet")
    let a = try net.addHost("a", in: internet, address: ip("203.0.113.1"), link: link)
    let b = try net.addHost("b", in: internet, address: ip("203.0.113.2"))
    return (net, try Endpoint(a, port: 1000), try Endpoint(b, port: 2000))
  }

  @Test func arrivalIsSendTimePlusLatency() throws {
    let (net, a, b) = try pair(Link(latency: .milliseconds(40)))
    net.run(for: .milliseconds(123))
    a.send("x", to: b.local.withIP(ip("203.0.113.2")))
    net.run(for: .seconds(1))
    #expect(b.received.first?.receivedAt == .zero + .milliseconds(163))
  }

  @Test func latencyAddsUpAcrossNATs() throws {
    let link = Link(latency: .milliseconds(10))
    let lab = try Lab(.fullCone, link: link)
    let e = try Endpoint(lab.client, port: 5000)
    e.send("ping", to: Reflector.primary)
    lab.net.run(for: .seconds(1))
    // client->LAN (10) + LAN->NAT (10) + NAT->internet (10) + internet->reflector (10), and back.
    #expect(e.received.first?.receivedAt == .zero + .milliseconds(80))
  }

  @Test func directionsAreIndependent() throws {
    let link = Link(
      up: LinkConditions(latency: .milliseconds(100)),
      down: LinkConditions(latency: .milliseconds(5), loss: 1))
    let (net, a, b) = try pair(link)
    a.send("up", to: ep("203.0.113.2:2000"))
    b.send("down", to: ep("203.0.113.1:1000"))
    net.run(for: .seconds(1))
    #expect(b.received.first?.receivedAt == .zero + .milliseconds(100))
    #expect(a.received.isEmpty)
    #expect(net.counters.dropped(.loss) == 1)
  }

  @Test func jitterIsBoundedAndVaries() throws {
    let (net, a, b) = try pair(Link(latency: .milliseconds(20), jitter: .milliseconds(10)))
    for i in 0..<200 {
      net.schedule(at: .zero + .milliseconds(Int64(i) * 100)) {
        a.send("\(i)", to: ep("203.0.113.2:2000"))
      }
    }
    net.runUntilIdle()
    #expect(b.received.count == 200)
    let delays = b.received.map { d -> Duration in
      let i = Int64(String(decoding: d.bytes, as: UTF8.self)) ?? -1
      return d.receivedAt - (.zero + .milliseconds(i * 100))
    }
    #expect(delays.allSatisfy { $0 >= .milliseconds(20) && $0 <= .milliseconds(30) })
    #expect(Set(delays).count > 100, "jitter varies")
  }

  @Test(arguments: [0.0, 0.1, 0.3, 1.0])
  func lossMatchesTheConfiguredRate(_ rate: Double) throws {
    let (net, a, b) = try pair(Link(loss: rate), seed: 42)
    let n = 2000
    for i in 0..<n { a.send("\(i)", to: ep("203.0.113.2:2000")) }
    net.runUntilIdle()
    let lost = Double(n - b.received.count) / Double(n)
    #expect(abs(lost - rate) < 0.03, "lost \(lost), configured \(rate)")
    #expect(net.counters.dropped(.loss) == n - b.received.count)
    #expect(net.counters.sent == n)
  }

  @Test func linksCanChangeMidRun() throws {
    let (net, a, b) = try pair(.ideal)
    a.send("1", to: ep("203.0.113.2:2000"))
    net.run(for: .seconds(1))
    a.socket.send([], to: ep("203.0.113.2:2000"))
    net.run(for: .seconds(1))
    let host = try #require(net.hosts.first { $0.name == "a" })
    host.setLink(Link(loss: 1), for: ip("203.0.113.1"))
    a.send("2", to: ep("203.0.113.2:2000"))
    net.run(for: .seconds(1))
    #expect(b.texts == ["1", ""])
  }

  @Test func natUplinkCanBecomeLossy() throws {
    let lab = try Lab(.fullCone)
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary) != nil)
    lab.nat.setLinks(outside: Link(up: .ideal, down: LinkConditions(loss: 1)))
    #expect(lab.observe(e, via: Reflector.primary) == nil, "the reply is lost on the way in")
    #expect(lab.reflector.seen.count == 2)
    #expect(lab.net.counters.dropped(.loss) == 1)
  }
}

extension TransportAddress {
  func withIP(_ ip: IPAddress) -> TransportAddress { TransportAddress(ip: ip, port: port) }
}
