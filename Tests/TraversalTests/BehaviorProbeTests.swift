import Foundation
import Report
import STUN
import Testing
import Traversal

@Suite struct BehaviorProbeTests {
  static let config = ProbeConfiguration(
    servers: [ModelNAT.primary], localAddresses: [ModelNAT.hostIP])

  static let combinations: [(MappingBehavior, FilteringBehavior)] = MappingBehavior.allCases
    .flatMap { m in FilteringBehavior.allCases.map { (m, $0) } }

  @Test(arguments: combinations)
  func everyMappingAndFilteringCombination(mapping: MappingBehavior, filtering: FilteringBehavior)
    throws
  {
    var model = ModelNAT(mapping: mapping, filtering: filtering)
    let result = model.run(Self.config)
    let report = try #require(result)
    #expect(report.natDetected)
    #expect(!report.udpBlocked)
    #expect(report.mapping.behavior == mapping, Comment(rawValue: report.mapping.reason))
    #expect(report.filtering.behavior == filtering, Comment(rawValue: report.filtering.reason))
    #expect(report.serverSupport?.rfc5780 == true)
    #expect(report.hairpinning == false)
    #expect(report.portAllocation?.samples.count == 4)
  }

  @Test func hairpinningDetected() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .endpointIndependent, hairpinning: true)
    let result = model.run(Self.config)
    let report = try #require(result)
    #expect(report.hairpinning == true)
    #expect(report.legacyType == "Full Cone")
  }

  @Test func udpBlocked() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .endpointIndependent, blocked: true)
    let result = model.run(Self.config)
    let report = try #require(result)
    #expect(report.udpBlocked)
    #expect(report.mapping.behavior == nil)
    #expect(report.legacyType == "UDP Blocked")
    #expect(report.hairpinning == nil)
  }

  @Test func noNATOpenInternet() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .endpointIndependent, natPresent: false)
    let config = ProbeConfiguration(
      servers: [ModelNAT.primary], localAddresses: [ModelNAT.publicIP])
    let result = model.run(config)
    let report = try #require(result)
    #expect(!report.natDetected)
    #expect(report.legacyType == "Open Internet")
    #expect(report.hairpinning == nil)
    #expect(report.portAllocation == nil)
  }

  @Test func noNATWithFilteringFirewall() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .addressAndPortDependent, natPresent: false)
    let config = ProbeConfiguration(
      servers: [ModelNAT.primary], localAddresses: [ModelNAT.publicIP])
    let result = model.run(config)
    let report = try #require(result)
    #expect(!report.natDetected)
    #expect(report.filtering.behavior == .addressAndPortDependent)
    #expect(report.legacyType == "Symmetric UDP Firewall")
  }

  @Test func serverWithoutRFC5780NeverGuesses() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .addressDependent, rfc5780Server: false)
    let result = model.run(Self.config)
    let report = try #require(result)
    #expect(report.serverSupport?.rfc5780 == false)
    #expect(report.mapping.behavior == nil)
    #expect(report.filtering.behavior == nil)
    #expect(report.legacyType == "unknown")
  }

  @Test func serverIgnoringChangeRequestIsCaught() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .addressAndPortDependent,
      serverIgnoresChangeRequest: true)
    let result = model.run(Self.config)
    let report = try #require(result)
    #expect(report.filtering.behavior == nil)
    // The sentence is the finding's (Report's ProbeFindings), from the same steps.
    #expect(ProbeFindings.apply(to: report).filtering.reason.contains("ignores CHANGE-REQUEST"))
  }

  @Test func sequentialPortAllocation() throws {
    var model = ModelNAT(mapping: .addressAndPortDependent, filtering: .addressAndPortDependent)
    let result = model.run(Self.config)
    let report = try #require(result)
    let allocation = try #require(report.portAllocation)
    #expect(allocation.pattern == .sequential)
    #expect(allocation.delta == 1)
    #expect(allocation.predictable)
  }

  @Test func jsonHasTheDocumentedKeys() throws {
    var model = ModelNAT(mapping: .addressAndPortDependent, filtering: .endpointIndependent)
    let result = model.run(Self.config)
    let report = try #require(result)
    let encoder = JSONEncoder()
    let data = try encoder.encode(report)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["schemaVersion"] as? Int == 1)
    #expect(object["natDetected"] as? Bool == true)
    #expect(object["udpBlocked"] as? Bool == false)
    #expect(
      (object["mapping"] as? [String: Any])?["behavior"] as? String == "address-and-port-dependent")
    #expect(
      (object["filtering"] as? [String: Any])?["behavior"] as? String == "endpoint-independent")
    #expect(object["hairpinning"] as? Bool == false)
    #expect(object["legacyType"] as? String == "no legacy equivalent")
    #expect(object["durationMs"] is Double)
    // The probe leaves the summary to its findings (Report's ProbeFindings.apply).
    #expect(ProbeFindings.apply(to: report).summary.isEmpty == false)
  }

  @Test func unknownVerdictsEncodeAsUnknownAndNullHairpin() throws {
    var model = ModelNAT(
      mapping: .endpointIndependent, filtering: .endpointIndependent, blocked: true)
    let result = model.run(Self.config)
    let report = try #require(result)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
    #expect((object["mapping"] as? [String: Any])?["behavior"] as? String == "unknown")
    #expect(object["hairpinning"] is NSNull)
  }

  @Test func portAllocationPatterns() {
    let preserved = PortAllocation.analyse([
      .init(localPort: 5000, publicPort: 5000), .init(localPort: 5002, publicPort: 5002),
    ])
    #expect(preserved.pattern == .preserved)
    let random = PortAllocation.analyse([
      .init(localPort: 1, publicPort: 40001), .init(localPort: 2, publicPort: 12345),
      .init(localPort: 3, publicPort: 60999),
    ])
    #expect(random.pattern == .random)
    #expect(!random.predictable)
  }
}
