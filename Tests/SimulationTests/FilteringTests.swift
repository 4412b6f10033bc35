import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// RFC 4787 §5: which outside endpoints may send through a mapping.
@Suite struct FilteringTests {
  /// Client contacts the reflector's primary address, then asks for replies from the same
  /// address, the other port and the other IP. Returns which of the three arrived.
  private func probe(_ filtering: FilteringBehavior) throws -> (
    same: Bool, port: Bool, ip: Bool, lab: Lab
  ) {
    let lab = try Lab(NATBehavior(mapping: .endpointIndependent, filtering: filtering))
    let e = try Endpoint(lab.client, port: 5000)
    let same = lab.observe(e, via: Reflector.primary) != nil
    let port = lab.observe(e, via: Reflector.primary, payload: "from \(Reflector.altPort)") != nil
    let otherIP = lab.observe(e, via: Reflector.primary, payload: "from \(Reflector.altIP)") != nil
    return (same, port, otherIP, lab)
  }

  @Test func endpointIndependentFilteringAcceptsAnyoneAfterAnOutboundPacket() throws {
    let r = try probe(.endpointIndependent)
    #expect(r.same && r.port && r.ip)
    #expect(r.lab.net.counters.dropped(.filtered) == 0)
  }

  @Test func addressDependentFilteringAcceptsContactedIPsFromAnyPort() throws {
    let r = try probe(.addressDependent)
    #expect(r.same)
    #expect(r.port, "same IP, other port passes")
    #expect(!r.ip, "other IP is filtered")
    #expect(r.lab.net.counters.dropped(.filtered) == 1)
  }

  @Test func addressAndPortDependentFilteringAcceptsOnlyContactedEndpoints() throws {
    let r = try probe(.addressAndPortDependent)
    #expect(r.same)
    #expect(!r.port)
    #expect(!r.ip)
    #expect(r.lab.net.counters.dropped(.filtered) == 2)
    #expect(r.lab.net.counters(at: "nat").dropped(.filtered) == 2)
    #expect(r.lab.net.counters(at: "nat").translated == 4, "3 out, 1 in")
    #expect(r.lab.net.counters(at: "client").sent == 3)
    #expect(r.lab.net.counters(at: "client").delivered == 1)
    #expect(r.lab.net.counters(at: "nobody") == TrafficCounters())
  }

  @Test(arguments: FilteringBehavior.allCases)
  func unsolicitedTrafficWithoutAMappingIsDropped(_ filtering: FilteringBehavior) throws {
    let lab = try Lab(NATBehavior(filtering: filtering))
    let e = try Endpoint(lab.client, port: 5000)
    lab.reflector.send("hi", from: Reflector.primary, to: ep("198.51.100.1:5000"))
    lab.net.run(for: .seconds(1))
    #expect(e.received.isEmpty)
    #expect(lab.net.counters.dropped(.noMapping) == 1)
  }

  @Test func contactingAnEndpointOpensTheFilterForIt() throws {
    let lab = try Lab(.portRestrictedCone)
    let e = try Endpoint(lab.client, port: 5000)
    let mapped = try #require(lab.observe(e, via: Reflector.primary))
    lab.reflector.send("early", from: Reflector.altPort, to: mapped)
    lab.net.run(for: .seconds(1))
    #expect(!e.texts.contains("early"))
    // Hole punching: the client sends to the other endpoint first, then it gets through.
    e.send("punch", to: Reflector.altPort)
    lab.net.run(for: .seconds(1))
    e.clear()
    lab.reflector.send("late", from: Reflector.altPort, to: mapped)
    lab.net.run(for: .seconds(1))
    #expect(e.texts == ["late"])
  }
}
