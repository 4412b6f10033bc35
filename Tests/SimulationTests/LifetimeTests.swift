import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// RFC 4787 §4.3: mappings expire when idle; outbound traffic refreshes them.
@Suite struct LifetimeTests {
  private func lab(lifetime: Duration, inboundRefresh: Bool = false) throws -> Lab {
    var b = NATBehavior.fullCone
    b.portPreservation = false
    b.mappingLifetime = lifetime
    b.inboundRefresh = inboundRefresh
    return try Lab(b)
  }

  @Test func mappingExpiresAfterTheLifetime() throws {
    let lab = try lab(lifetime: .seconds(30))
    let e = try Endpoint(lab.client, port: 5000)
    let mapped = try #require(lab.observe(e, via: Reflector.primary))
    lab.net.run(for: .seconds(20))
    lab.reflector.send("still there", from: Reflector.primary, to: mapped)
    lab.net.run(for: .seconds(1))
    #expect(e.texts.last == "still there")
    lab.net.run(for: .seconds(40))
    lab.reflector.send("gone", from: Reflector.primary, to: mapped)
    lab.net.run(for: .seconds(1))
    #expect(e.texts.last == "still there")
    #expect(lab.net.counters.dropped(.mappingExpired) == 1)
    #expect(lab.nat.mappings.isEmpty)
    // A new outbound packet creates a new mapping (sequential assignment: the next port).
    let again = try #require(lab.observe(e, via: Reflector.primary))
    #expect(again != mapped)
  }

  @Test func outboundTrafficRefreshesTheMapping() throws {
    let lab = try lab(lifetime: .seconds(30))
    let e = try Endpoint(lab.client, port: 5000)
    let mapped = try #require(lab.observe(e, via: Reflector.primary))
    for _ in 0..<6 {  // 6 × 20 s = 2 minutes, four times the lifetime
      lab.net.run(for: .seconds(19))
      #expect(lab.observe(e, via: Reflector.primary) == mapped)
    }
    lab.reflector.send("kept", from: Reflector.primary, to: mapped)
    lab.net.run(for: .seconds(1))
    #expect(e.texts.last == "kept")
  }

  @Test(arguments: [false, true])
  func inboundRefreshIsConfigurable(_ inboundRefresh: Bool) throws {
    let lab = try lab(lifetime: .seconds(30), inboundRefresh: inboundRefresh)
    let e = try Endpoint(lab.client, port: 5000)
    let mapped = try #require(lab.observe(e, via: Reflector.primary))
    // Only inbound traffic every 10 s for 50 s.
    for i in 0..<5 {
      lab.net.run(for: .seconds(10))
      lab.reflector.send("in \(i)", from: Reflector.primary, to: mapped)
    }
    lab.net.run(for: .seconds(1))
    let got = e.texts.filter { $0.hasPrefix("in ") }
    if inboundRefresh {
      #expect(got.count == 5)
    } else {
      #expect(got == ["in 0", "in 1"], "expired 30 s after the last outbound packet")
    }
  }

  @Test func expiredPortsAreReused() throws {
    var b = NATBehavior.symmetric
    b.portRange = 40000...40000
    b.mappingLifetime = .seconds(5)
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary)?.port == 40000)
    #expect(lab.observe(e, via: Reflector.altPort) == nil, "the only port is taken")
    lab.net.run(for: .seconds(10))
    #expect(lab.observe(e, via: Reflector.altPort)?.port == 40000)
  }
}
