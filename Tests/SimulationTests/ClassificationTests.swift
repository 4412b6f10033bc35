import Report
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// Every mapping × filtering combination, recovered by the RFC 5780 procedure run against the
/// reflector: the simulator's NAT is what it claims to be.
@Suite struct ClassificationTests {
  private func classify(_ lab: Lab) throws -> (MappingBehavior, FilteringBehavior) {
    // RFC 5780 §4.3: compare the mappings seen by three destinations.
    let m = try Endpoint(lab.client, port: 5000)
    let a = try #require(lab.observe(m, via: Reflector.primary))
    let b = try #require(lab.observe(m, via: Reflector.altIP))
    let c = try #require(lab.observe(m, via: Reflector.altBoth))
    let mapping: MappingBehavior =
      a == b ? .endpointIndependent : b == c ? .addressDependent : .addressAndPortDependent
    // RFC 5780 §4.4: ask for replies from the other IP and port, then the other port only;
    // a fresh socket each time so earlier traffic opens no filter.
    let f1 = try Endpoint(lab.client, port: 6000)
    if lab.observe(f1, via: Reflector.primary, payload: "from \(Reflector.altBoth)") != nil {
      return (mapping, .endpointIndependent)
    }
    let f2 = try Endpoint(lab.client, port: 7000)
    if lab.observe(f2, via: Reflector.primary, payload: "from \(Reflector.altPort)") != nil {
      return (mapping, .addressDependent)
    }
    return (mapping, .addressAndPortDependent)
  }

  @Test(arguments: MappingBehavior.allCases, FilteringBehavior.allCases)
  func procedureRecoversTheConfiguredBehaviour(
    _ mapping: MappingBehavior, _ filtering: FilteringBehavior
  ) throws {
    for preservation in [true, false] {
      var b = NATBehavior(mapping: mapping, filtering: filtering)
      b.portPreservation = preservation
      let lab = try Lab(b, link: Link(latency: .milliseconds(15), jitter: .milliseconds(5)))
      let (m, f) = try classify(lab)
      #expect(m == mapping, "preservation \(preservation)")
      #expect(f == filtering, "preservation \(preservation)")
    }
  }
}
