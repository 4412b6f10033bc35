import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// The example from the module's documentation, kept compiling and true.
@Suite struct UsageExampleTests {
  @Test func homeLANBehindAPortRestrictedNATTalksToAPublicServer() throws {
    let net = VirtualNetwork(seed: 42)
    let internet = net.addRealm("internet", link: Link(latency: .milliseconds(20)))
    let lan = try net.addRealm(
      "home", prefix: "192.168.1.0/24", link: Link(latency: .milliseconds(1)))
    try net.addNAT(
      "home-nat", behavior: .portRestrictedCone, outside: internet, publicIPs: ["198.51.100.1"],
      inside: lan, insideAddress: "192.168.1.1")
    let server = try net.addHost("server", in: internet, address: "203.0.113.10")
    let laptop = try net.addHost("laptop", in: lan, address: "192.168.1.10")

    var echo: (any DatagramSocket)?  // replies "you are <source>"
    echo = try server.openUDP(UDPSocketOptions(port: 3478)) { d in
      echo?.send(Array("you are \(d.source)".utf8), to: d.source)
    }
    var replies: [String] = []
    let socket = try laptop.openUDP(UDPSocketOptions(port: 5000)) { d in
      replies.append(String(decoding: d.bytes, as: UTF8.self))
    }
    socket.send(Array("hi".utf8), to: TransportAddress(ip: server.addresses[0], port: 3478))
    net.run(for: .seconds(1))

    #expect(replies == ["you are 198.51.100.1:5000"])
    #expect(net.counters.delivered == 2)
    #expect(net.now == .zero + .seconds(1))
    #expect(throws: SimulationError.invalidConfiguration("not an IP address: \"203.0.113\"")) {
      try net.addHost("bad", in: internet, address: "203.0.113")
    }
  }
}
