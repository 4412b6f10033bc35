import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// RFC 4787 §6: two hosts behind the same NAT reaching each other through its public address.
@Suite struct HairpinTests {
  private func setUp(hairpinning: Bool) throws -> (
    Lab, Endpoint, Endpoint, TransportAddress, TransportAddress
  ) {
    var b = NATBehavior.fullCone
    b.hairpinning = hairpinning
    let lab = try Lab(b)
    let other = try lab.net.addHost("other", in: lab.lan, address: ip("192.168.1.11"))
    let a = try Endpoint(lab.client, port: 5000)
    let c = try Endpoint(other, port: 6000)
    let ma = try #require(lab.observe(a, via: Reflector.primary))
    let mc = try #require(lab.observe(c, via: Reflector.primary))
    a.clear()
    c.clear()
    return (lab, a, c, ma, mc)
  }

  @Test func hairpinningDeliversWithTheSendersExternalAddressAsSource() throws {
    let (lab, a, c, ma, mc) = try setUp(hairpinning: true)
    a.send("hello neighbour", to: mc)
    lab.net.run(for: .seconds(1))
    #expect(c.texts == ["hello neighbour"])
    #expect(c.received.first?.source == ma, "source is A's external mapping, not 192.168.1.10")
    #expect(c.received.first?.destination == ep("192.168.1.11:6000"))
  }

  @Test func hairpinningOffDropsThePacket() throws {
    let (lab, a, c, _, mc) = try setUp(hairpinning: false)
    a.send("hello neighbour", to: mc)
    lab.net.run(for: .seconds(1))
    #expect(c.received.isEmpty)
    #expect(lab.net.counters.dropped(.hairpinDisabled) == 1)
  }

  @Test func hairpinnedPacketsAreFilteredLikeInboundOnes() throws {
    var b = NATBehavior.portRestrictedCone
    b.hairpinning = true
    let lab = try Lab(b)
    let other = try lab.net.addHost("other", in: lab.lan, address: ip("192.168.1.11"))
    let a = try Endpoint(lab.client, port: 5000)
    let c = try Endpoint(other, port: 6000)
    let ma = try #require(lab.observe(a, via: Reflector.primary))
    let mc = try #require(lab.observe(c, via: Reflector.primary))
    a.send("knock", to: mc)
    lab.net.run(for: .seconds(1))
    #expect(!c.texts.contains("knock"), "C never sent to A's mapping")
    #expect(lab.net.counters.dropped(.filtered) == 1)
    c.send("open", to: ma)  // filtered at A's side, but opens C's filter for A
    lab.net.run(for: .seconds(1))
    a.send("knock again", to: mc)
    lab.net.run(for: .seconds(1))
    #expect(c.texts.last == "knock again")
  }

  @Test func hostsOnTheSameLANReachEachOtherDirectly() throws {
    let lab = try Lab(.symmetric)
    let other = try lab.net.addHost("other", in: lab.lan, address: ip("192.168.1.11"))
    let a = try Endpoint(lab.client, port: 5000)
    let c = try Endpoint(other, port: 6000)
    a.send("direct", to: ep("192.168.1.11:6000"))
    lab.net.run(for: .seconds(1))
    #expect(c.received.map(\.source) == [ep("192.168.1.10:5000")])
    #expect(lab.net.counters.translated == 0)
  }
}
