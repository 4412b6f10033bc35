import STUN
import Simulation
import Testing
import Traversal

/// The behaviour probe, end to end: real STUN packets from `ProbeSession` through simulated
/// NATs to a `STUNServerSession` with two public addresses.
enum ProbeLab {
  static let primary = IPAddress("203.0.113.10")!
  static let alternate = IPAddress("203.0.113.11")!

  struct Options {
    var behavior: NATBehavior?  // nil: the host sits on the internet with no NAT
    var loss: Double = 0
    var seed: UInt64 = 1
    var nested = false
    var hostFirewall: UDPFirewall = .none
  }

  static func run(_ o: Options) throws -> ProbeReport? {
    let net = VirtualNetwork(seed: o.seed)
    let link = Link(latency: .milliseconds(5), jitter: .milliseconds(1), loss: o.loss)
    let internet = net.addRealm("internet", link: link)
    let serverHost = try net.addHost("server", in: internet, address: primary)
    try serverHost.addInterface(alternate, in: internet)
    let server = try STUNServerSession(
      runtime: serverHost,
      configuration: STUNServerConfiguration(primary: primary, alternate: alternate))
    defer { server.close() }

    let host: SimulatedHost
    if o.nested {
      let chain = try net.addCGNATChain(
        outside: internet, carrierPublicIPs: [IPAddress("198.51.100.200")!])
      host = try net.addHost("client", in: chain.lan, address: "192.168.1.10")
    } else if let behavior = o.behavior {
      let lan = try net.addRealm(
        "lan", prefix: "192.168.1.0/24", link: Link(latency: .milliseconds(1), loss: o.loss))
      try net.addNAT(
        "nat", behavior: behavior, outside: internet, publicIPs: ["198.51.100.1"], inside: lan,
        insideAddress: "192.168.1.1")
      host = try net.addHost("client", in: lan, address: "192.168.1.10")
    } else {
      host = try net.addHost("client", in: internet, address: "198.51.100.50")
    }
    host.firewall = o.hostFirewall
    let session = ProbeSession(
      runtime: host,
      configuration: ProbeConfiguration(
        servers: [TransportAddress(ip: primary, port: 3478)],
        localAddresses: host.localAddresses()))
    var result: Result<ProbeReport, RuntimeError>?
    session.start { result = $0 }
    net.run(for: .seconds(30))
    return try result?.get()
  }
}

@Suite struct ProbeOnSimulationTests {
  static let combinations: [(MappingBehavior, FilteringBehavior)] = MappingBehavior.allCases
    .flatMap { m in FilteringBehavior.allCases.map { (m, $0) } }

  @Test(arguments: combinations)
  func verdictMatchesTheSimulatedNAT(mapping: MappingBehavior, filtering: FilteringBehavior) throws
  {
    let behavior = NATBehavior(mapping: mapping, filtering: filtering, hairpinning: false)
    let report = try #require(try ProbeLab.run(.init(behavior: behavior)))
    #expect(report.natDetected)
    #expect(report.mapping.behavior == mapping, Comment(rawValue: report.mapping.reason))
    #expect(report.filtering.behavior == filtering, Comment(rawValue: report.filtering.reason))
    #expect(report.hairpinning == false)
    #expect(report.serverSupport?.rfc5780 == true)
    #expect(report.durationMs < 2000)
  }

  @Test(arguments: ["full-cone", "restricted-cone", "port-restricted-cone"])
  func hairpinningOnAndOff(preset: String) throws {
    var on = try #require(NATBehavior.preset(named: preset))
    on.hairpinning = true
    #expect(try ProbeLab.run(.init(behavior: on))?.hairpinning == true)
    var off = on
    off.hairpinning = false
    #expect(try ProbeLab.run(.init(behavior: off))?.hairpinning == false)
  }

  @Test func noNAT() throws {
    let report = try #require(try ProbeLab.run(.init(behavior: nil)))
    #expect(!report.natDetected)
    #expect(report.legacyType == "Open Internet")
  }

  @Test func udpBlockingFirewall() throws {
    let report = try #require(try ProbeLab.run(.init(behavior: .udpBlocked)))
    #expect(report.udpBlocked)
    #expect(report.legacyType == "UDP Blocked")
  }

  @Test func natBehindANAT() throws {
    let report = try #require(try ProbeLab.run(.init(nested: true)))
    #expect(report.natDetected)
    #expect(report.mappedAddress?.ip == IPAddress("198.51.100.200"))
    // A port-restricted home router behind an endpoint-independent carrier NAT: the
    // stricter filter wins.
    #expect(report.mapping.behavior == .endpointIndependent)
    #expect(report.filtering.behavior == .addressAndPortDependent)
  }

  @Test func portPreservationOnAndOff() throws {
    var preserving = NATBehavior.portRestrictedCone
    preserving.portPreservation = true
    let kept = try #require(try ProbeLab.run(.init(behavior: preserving))?.portAllocation)
    #expect(kept.pattern == .preserved)
    var sequential = NATBehavior.symmetric
    sequential.portPreservation = false
    sequential.portAssignment = .sequential
    let seq = try #require(try ProbeLab.run(.init(behavior: sequential))?.portAllocation)
    #expect(seq.pattern == .sequential)
  }
}
