import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// RFC 4787 §4.1: which external mapping a second destination gets.
@Suite struct MappingTests {
  @Test func endpointIndependentMappingReusesTheMappingForEveryDestination() throws {
    var b = NATBehavior.fullCone
    b.portPreservation = false
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    let first = lab.observe(e, via: Reflector.primary)
    #expect(first?.ip == ip("198.51.100.1"))
    #expect(lab.observe(e, via: Reflector.altPort) == first)
    #expect(lab.observe(e, via: Reflector.altIP) == first)
    #expect(lab.observe(e, via: Reflector.altBoth) == first)
    #expect(lab.nat.mappings.count == 1)
  }

  @Test func addressDependentMappingDependsOnDestinationIPOnly() throws {
    let b = NATBehavior(mapping: .addressDependent, filtering: .endpointIndependent)
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    let first = try #require(lab.observe(e, via: Reflector.primary))
    #expect(lab.observe(e, via: Reflector.altPort) == first, "same IP, other port: same mapping")
    let other = try #require(lab.observe(e, via: Reflector.altIP))
    #expect(other != first, "other IP: new mapping")
    #expect(lab.observe(e, via: Reflector.altBoth) == other)
    #expect(lab.nat.mappings.count == 2)
  }

  @Test func addressAndPortDependentMappingDependsOnDestinationIPAndPort() throws {
    let lab = try Lab(.symmetric)
    let e = try Endpoint(lab.client, port: 5000)
    let all = [Reflector.primary, Reflector.altPort, Reflector.altIP, Reflector.altBoth].compactMap
    {
      lab.observe(e, via: $0)
    }
    #expect(all.count == 4)
    #expect(Set(all).count == 4, "every destination endpoint gets its own mapping: \(all)")
    // Going back to the first destination reuses its mapping.
    #expect(lab.observe(e, via: Reflector.primary) == all.first)
  }

  @Test(arguments: MappingBehavior.allCases)
  func mappingIsStableForTheSameDestination(_ mapping: MappingBehavior) throws {
    let lab = try Lab(NATBehavior(mapping: mapping, filtering: .endpointIndependent))
    let e = try Endpoint(lab.client)
    let a = lab.observe(e, via: Reflector.primary)
    let b = lab.observe(e, via: Reflector.primary)
    #expect(a != nil)
    #expect(a == b)
  }

  @Test func noNATRouterForwardsWithoutTranslating() throws {
    let net = VirtualNetwork(seed: 3)
    let internet = net.addRealm("internet")
    let dmz = try net.addRealm("dmz", prefix: "192.0.2.0/24")
    try net.addNAT(
      "router", behavior: .open, outside: internet, publicIPs: [ip("198.51.100.1")],
      inside: dmz, insideAddress: ip("192.0.2.1"))
    let reflector = try Reflector(network: net, realm: internet)
    let host = try net.addHost("server", in: dmz, address: ip("192.0.2.20"))
    let e = try Endpoint(host, port: 4000)
    e.send("ping", to: Reflector.primary)
    net.run(for: .seconds(1))
    #expect(e.texts == ["192.0.2.20:4000"])
    // Unsolicited inbound also reaches it: no filtering.
    reflector.send("hello", from: Reflector.altIP, to: ep("192.0.2.20:4000"))
    net.run(for: .seconds(1))
    #expect(e.texts.last == "hello")
  }
}
