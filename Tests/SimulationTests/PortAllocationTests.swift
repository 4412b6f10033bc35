import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// Port preservation, sequential and random assignment, parity, IP pooling.
@Suite struct PortAllocationTests {
  @Test func portPreservationKeepsTheInsidePort() throws {
    let lab = try Lab(.portRestrictedCone)
    let e = try Endpoint(lab.client, port: 5000)
    #expect(lab.observe(e, via: Reflector.primary) == ep("198.51.100.1:5000"))
  }

  @Test func portPreservationFallsBackWhenThePortIsTaken() throws {
    let lab = try Lab(.portRestrictedCone)
    let other = try lab.net.addHost("other", in: lab.lan, address: ip("192.168.1.11"))
    let a = try Endpoint(lab.client, port: 5000)
    let b = try Endpoint(other, port: 5000)
    let ma = try #require(lab.observe(a, via: Reflector.primary))
    let mb = try #require(lab.observe(b, via: Reflector.primary))
    #expect(ma.port == 5000)
    #expect(mb.port != 5000)
    #expect(mb.ip == ma.ip)
  }

  @Test func withoutPreservationPortsAreSequentialFromTheRangeStart() throws {
    var b = NATBehavior.symmetric
    b.portRange = 40000...40100
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    let ports = [Reflector.primary, Reflector.altPort, Reflector.altIP].compactMap {
      lab.observe(e, via: $0)?.port
    }
    #expect(ports == [40000, 40001, 40002])
  }

  @Test func sequentialAssignmentUsesTheConfiguredDelta() throws {
    var b = NATBehavior.symmetric
    b.portRange = 40000...40100
    b.portDelta = 7
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    let ports = [Reflector.primary, Reflector.altPort, Reflector.altIP].compactMap {
      lab.observe(e, via: $0)?.port
    }
    #expect(ports == [40000, 40007, 40014])
  }

  @Test func sequentialAssignmentWrapsAndSkipsPortsInUse() throws {
    var b = NATBehavior.symmetric
    b.portRange = 40000...40002
    b.mappingLifetime = .seconds(3600)
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: 5000)
    let ports = [Reflector.primary, Reflector.altPort, Reflector.altIP, Reflector.altBoth]
      .map { lab.observe(e, via: $0)?.port }
    #expect(ports == [40000, 40001, 40002, nil], "three ports, the fourth mapping has none")
    #expect(lab.net.counters.dropped(.portsExhausted) == 1)
  }

  @Test func randomAssignmentStaysInRangeAndIsReproducible() throws {
    func ports(seed: UInt64) throws -> [UInt16] {
      var b = NATBehavior.symmetric
      b.portAssignment = .random
      b.portRange = 20000...60000
      let lab = try Lab(b, seed: seed)
      let e = try Endpoint(lab.client, port: 5000)
      return [Reflector.primary, Reflector.altPort, Reflector.altIP, Reflector.altBoth]
        .compactMap { lab.observe(e, via: $0)?.port }
    }
    let a = try ports(seed: 7)
    #expect(a.count == 4)
    #expect(a.allSatisfy { (20000...60000).contains($0) })
    #expect(Set(a).count == 4)
    let consecutive = zip(a, a.dropFirst()).allSatisfy { Int($1) - Int($0) == 1 }
    #expect(!consecutive, "random ports are not sequential: \(a)")
    #expect(try ports(seed: 7) == a)
    #expect(try ports(seed: 8) != a)
  }

  @Test(arguments: [UInt16(5000), 5001])
  func parityPreservationKeepsEvenOrOdd(_ insidePort: UInt16) throws {
    var b = NATBehavior.symmetric
    b.portRange = 40000...40100
    b.portParity = true
    let lab = try Lab(b)
    let e = try Endpoint(lab.client, port: insidePort)
    let ports = [Reflector.primary, Reflector.altPort, Reflector.altIP, Reflector.altBoth]
      .compactMap { lab.observe(e, via: $0)?.port }
    #expect(ports.count == 4)
    #expect(ports.allSatisfy { $0 & 1 == insidePort & 1 }, "\(ports)")
  }

  @Test func pairedPoolingKeepsOneExternalIPPerInsideHost() throws {
    var b = NATBehavior.symmetric
    b.ipPooling = .paired
    let lab = try Lab(b, publicIPs: ["198.51.100.1", "198.51.100.2"])
    let other = try lab.net.addHost("other", in: lab.lan, address: ip("192.168.1.11"))
    let a = try Endpoint(lab.client)
    let c = try Endpoint(other)
    let aIPs = Set(
      [Reflector.primary, Reflector.altPort, Reflector.altIP].compactMap {
        lab.observe(a, via: $0)?.ip
      })
    let cIPs = Set(
      [Reflector.primary, Reflector.altPort, Reflector.altIP].compactMap {
        lab.observe(c, via: $0)?.ip
      })
    #expect(aIPs.count == 1)
    #expect(cIPs.count == 1)
    #expect(aIPs != cIPs, "round-robin pairing gives the second host the second IP")
  }
}
