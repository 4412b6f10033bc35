import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// Nested NATs, firewalls, routing and topology errors.
@Suite struct TopologyTests {
  @Test func hostBehindHomeNATBehindCGNATSeesTheCarriersPublicAddress() throws {
    let net = VirtualNetwork(seed: 5)
    let internet = net.addRealm("internet")
    let reflector = try Reflector(network: net, realm: internet)
    let chain = try net.addCGNATChain(outside: internet, carrierPublicIPs: [ip("198.51.100.77")])
    let host = try net.addHost("laptop", in: chain.lan, address: ip("192.168.1.10"))
    let e = try Endpoint(host, port: 5000)
    e.send("ping", to: Reflector.primary)
    net.run(for: .seconds(1))
    let seen = try #require(e.texts.first.flatMap { TransportAddress($0) })
    #expect(seen.ip == ip("198.51.100.77"))
    #expect(chain.home.mappings.first?.externalAddress == ep("100.64.0.2:5000"))
    #expect(chain.carrier.mappings.first?.internalAddress == ep("100.64.0.2:5000"))
    #expect(chain.carrier.mappings.first?.externalAddress == seen)
    #expect(net.counters.translated == 4, "two NATs, out and back")
    #expect(reflector.seen.map(\.from) == [seen])
  }

  @Test func twoHomesBehindOneCGNATHairpinThroughTheCarrier() throws {
    let net = VirtualNetwork(seed: 6)
    let internet = net.addRealm("internet")
    let reflector = try Reflector(network: net, realm: internet)
    let chain = try net.addCGNATChain(
      outside: internet, carrierPublicIPs: [ip("198.51.100.77")],
      homeBehavior: .fullCone)
    let carrierRealm = try #require(net.realms.first { $0.name == "carrier" })
    let lan2 = try net.addRealm("lan2", prefix: "192.168.1.0/24")  // same private range
    try net.addNAT(
      "home2", behavior: .fullCone, outside: carrierRealm, publicIPs: [ip("100.64.0.3")],
      inside: lan2, insideAddress: ip("192.168.1.1"))
    let a = try Endpoint(
      try net.addHost("a", in: chain.lan, address: ip("192.168.1.10")), port: 5000)
    let b = try Endpoint(try net.addHost("b", in: lan2, address: ip("192.168.1.10")), port: 5000)
    a.send("ping", to: Reflector.primary)
    b.send("ping", to: Reflector.primary)
    net.run(for: .seconds(1))
    let ma = try #require(a.texts.first.flatMap { TransportAddress($0) })
    let mb = try #require(b.texts.first.flatMap { TransportAddress($0) })
    #expect(ma.ip == mb.ip)
    #expect(reflector.seen.count == 2)
    a.send("via carrier", to: mb)
    net.run(for: .seconds(1))
    #expect(b.texts.last == "via carrier")
    #expect(b.received.last?.source == ma)
  }

  @Test func udpBlockingFirewallDropsEverything() throws {
    let lab = try Lab(.udpBlocked)
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary) == nil)
    lab.reflector.send("in", from: Reflector.primary, to: ep("198.51.100.1:5000"))
    lab.net.run(for: .seconds(1))
    #expect(e.received.isEmpty)
    #expect(lab.net.counters.dropped(.firewall) == 2)
    #expect(lab.nat.mappings.isEmpty)
  }

  @Test func inboundOnlyFirewallLetsRepliesDieAtTheBorder() throws {
    var b = NATBehavior.fullCone
    b.firewall = .blockInbound
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary) == nil)
    #expect(lab.reflector.seen.count == 1, "outbound passed")
    #expect(lab.net.counters.dropped(.firewall) == 1, "the reply was dropped")
  }

  @Test func hostFirewallBlocksInbound() throws {
    let lab = try Lab(.fullCone)
    lab.client.firewall = .blockInbound
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary) == nil)
    #expect(lab.net.counters.dropped(.firewall) == 1)
  }

  @Test func unknownDestinationsAreDroppedAndCounted() throws {
    let lab = try Lab(.fullCone)
    let e = try Endpoint(lab.client, port: 5000)
    e.send("nobody", to: ep("192.0.2.99:1"))  // through the NAT, nothing owns it outside
    lab.reflector.send("nobody", from: Reflector.primary, to: ep("10.1.2.3:4"))
    lab.net.run(for: .seconds(1))
    #expect(lab.net.counters.dropped(.noRoute) == 2)
    e.send("closed port", to: ep("203.0.113.10:9"))
    lab.net.run(for: .seconds(1))
    #expect(lab.net.counters.dropped(.noListener) == 1)
  }

  @Test func topologyErrorsAreThrownNotTrapped() throws {
    let net = VirtualNetwork()
    let internet = net.addRealm("internet")
    let lan = try net.addRealm("lan", prefix: "192.168.1.0/24")
    try net.addHost("a", in: lan, address: ip("192.168.1.10"))
    #expect(throws: SimulationError.duplicateAddress(ip("192.168.1.10"), realm: "lan")) {
      try net.addHost("b", in: lan, address: ip("192.168.1.10"))
    }
    #expect(throws: SimulationError.self, "names are unique") {
      try net.addHost("a", in: lan, address: ip("192.168.1.11"))
    }
    #expect(throws: SimulationError.addressOutsideRealm(ip("10.0.0.1"), realm: "lan")) {
      try net.addHost("c", in: lan, address: ip("10.0.0.1"))
    }
    #expect(throws: SimulationError.self) {
      try net.addRealm("bad", prefix: "192.168.1.0/33")
    }
    #expect(throws: SimulationError.self) {
      try net.addNAT(
        "nat", behavior: .fullCone, outside: internet, publicIPs: [], inside: lan,
        insideAddress: ip("192.168.1.1"))
    }
    try net.addNAT(
      "nat", behavior: .fullCone, outside: internet, publicIPs: [ip("198.51.100.1")],
      inside: lan, insideAddress: ip("192.168.1.1"))
    #expect(throws: SimulationError.realmHasGateway("lan")) {
      try net.addNAT(
        "nat2", behavior: .fullCone, outside: internet, publicIPs: [ip("198.51.100.2")],
        inside: lan, insideAddress: ip("192.168.1.2"))
    }
  }

  @Test func prefixesContainTheirAddresses() throws {
    let p = try #require(IPPrefix("192.168.1.77/24"))
    #expect(p.description == "192.168.1.0/24")
    #expect(p.contains(ip("192.168.1.255")))
    #expect(!p.contains(ip("192.168.2.1")))
    #expect(try #require(IPPrefix("100.64.0.0/10")).contains(ip("100.127.255.255")))
    #expect(try #require(IPPrefix("0.0.0.0/0")).contains(ip("8.8.8.8")))
    #expect(try #require(IPPrefix("2001:db8::/32")).contains(ip("2001:db8:1::5")))
    #expect(!(try #require(IPPrefix("2001:db8::/32")).contains(ip("192.0.2.1"))))
    #expect(IPPrefix("10.0.0.0") == nil)
    #expect(IPPrefix("10.0.0.0/x") == nil)
  }
}

/// IPv6, pooling, presets and the topology picture.
@Suite struct MoreTopologyTests {
  @Test func ipv6HostsTalkDirectlyAndCannotCrossAnIPv4OnlyNAT() throws {
    let lab = try Lab(.fullCone)
    let v6a = try lab.net.addHost("v6a", in: lab.internet, address: ip("2001:db8::a"))
    let v6b = try lab.net.addHost("v6b", in: lab.internet, address: ip("2001:db8::b"))
    let a = try Endpoint(v6a, address: .anyV6, port: 1)
    let b = try Endpoint(v6b, address: .anyV6, port: 2)
    a.send("hello", to: ep("[2001:db8::b]:2"))
    lab.net.run(for: .seconds(1))
    #expect(b.received.map(\.source) == [ep("[2001:db8::a]:1")])
    #expect(b.received.first?.destination == ep("[2001:db8::b]:2"))
    // The LAN is IPv4-only: the client has no IPv6 interface to send from.
    let c = try Endpoint(lab.client, port: 5000)
    c.send("v6?", to: ep("[2001:db8::b]:2"))
    lab.net.run(for: .seconds(1))
    #expect(lab.net.counters.dropped(.unsendable) == 1)
  }

  @Test func arbitraryPoolingSpreadsMappingsOverPublicIPs() throws {
    var b = NATBehavior.symmetric
    b.ipPooling = .arbitrary
    let lab = try Lab(b, publicIPs: ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    let e = try Endpoint(lab.client)
    var ips: Set<IPAddress> = []
    for port in UInt16(3478)...3479 {
      for server in ["203.0.113.10", "203.0.113.11"] {
        if let m = lab.observe(e, via: TransportAddress(ip: ip(server), port: port)) {
          ips.insert(m.ip)
        }
      }
    }
    #expect(ips.count >= 2, "four mappings over three IPs at random: \(ips)")
    #expect(ips.isSubset(of: [ip("198.51.100.1"), ip("198.51.100.2"), ip("198.51.100.3")]))
  }

  @Test func presetsAreNamedAndWork() throws {
    #expect(NATBehavior.presets.map(\.name).count == 7)
    #expect(NATBehavior.preset(named: "symmetric") == .symmetric)
    #expect(NATBehavior.preset(named: "nope") == nil)
    for (name, behavior) in NATBehavior.presets where behavior.translatesAddresses {
      let lab = try Lab(behavior)
      let e = try Endpoint(lab.client, port: 5000)
      let seen = lab.observe(e, via: Reflector.primary)
      if behavior.firewall == .none {
        #expect(seen?.ip == ip("198.51.100.1"), "\(name)")
      } else {
        #expect(seen == nil, "\(name)")
      }
    }
  }

  @Test func topologyDescriptionListsEveryInterface() throws {
    let lab = try Lab(.portRestrictedCone)
    #expect(
      lab.net.topologyDescription == """
        internet
          198.51.100.1  nat (outside)
          203.0.113.10  reflector
          203.0.113.11  reflector
        lan 192.168.1.0/24
          192.168.1.1   nat (inside, port-restricted cone)
          192.168.1.10  client
        """)
  }
}
