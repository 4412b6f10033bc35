import Foundation
import Report
import STUN
import Testing
import Traversal

/// The double-NAT verdict compares addresses; it never guesses from the range.
@Suite struct DoubleNATTests {
  func report(_ external: IPAddress?) -> PortMappingReport {
    PortMappingReport(
      gateway: .v4(0xC0A8_0101),
      protocols: [
        PortMappingResult(name: .pcp, answered: false, error: "no answer"),
        PortMappingResult(name: .natPMP, answered: external != nil, externalAddress: external),
      ])
  }

  @Test func differentAddressesMeanANATAboveTheRouter() throws {
    let v = DoubleNATVerdict.evaluate(
      portMapping: report(IPAddress("100.64.12.7")), serverSeen: IPAddress("198.51.100.9"))
    #expect(v.detected == true)
    #expect(
      v.worded.reason.hasPrefix(
        "Your router's own internet address is 100.64.12.7, but servers see 198.51.100.9: there is another NAT above your router (carrier-grade NAT or a second router)."
      ))
  }

  @Test func sameAddressMeansNoNATAbove() {
    let v = DoubleNATVerdict.evaluate(
      portMapping: report(IPAddress("203.0.113.7")), serverSeen: IPAddress("203.0.113.7"))
    #expect(v.detected == false)
    #expect(
      v.worded.reason.hasPrefix(
        "None seen: the internet address your router reports, 203.0.113.7, is the address servers see."
      ))
  }

  @Test func aCarrierRangeAloneIsNotEvidence() {
    // 100.64/10 is the CGNAT range, but the router claims the address servers see.
    let v = DoubleNATVerdict.evaluate(
      portMapping: report(IPAddress("100.64.0.9")), serverSeen: IPAddress("100.64.0.9"))
    #expect(v.detected == false)
  }

  @Test func nothingToCompareIsUnknown() {
    #expect(DoubleNATVerdict.evaluate(portMapping: report(nil), serverSeen: nil).detected == nil)
    #expect(
      DoubleNATVerdict.evaluate(portMapping: report(IPAddress("203.0.113.7")), serverSeen: nil)
        .detected == nil)
    #expect(
      DoubleNATVerdict.evaluate(
        portMapping: report(IPAddress("203.0.113.7")), serverSeen: IPAddress("2001:db8::1")
      ).detected == nil)
    // 0.0.0.0 (a NAT-PMP router without a WAN address) is no claim.
    #expect(report(.anyV4).externalAddress == nil)
  }

  /// The answers miniupnpd 2.3.1 gave in the lab behind a carrier NAT that filters by address
  /// and port (its STUN test had found it): PCP 8, NAT-PMP 3, UPnP 501.
  func refused(_ refusals: [PortMappingRefusal], attempted: [PortMappingResult.Method]? = nil)
    -> PortMappingReport
  {
    var r = report(IPAddress("198.51.100.1"))
    var t = PortMappingTestReport(requestedLifetime: 30)
    t.attempted = attempted ?? refusals.map(\.protocol)
    t.refusals = refusals
    r.testMapping = t
    return r
  }

  static let miniupnpdBehindACarrierNAT = [
    PortMappingRefusal(pcp: .noResources), PortMappingRefusal(natPMP: .networkFailure),
    PortMappingRefusal(upnp: .actionFailed),
  ]

  @Test func sameAddressButEveryMappingRefusedAsBehindANATIsLikelyNotDetected() throws {
    let v = DoubleNATVerdict.evaluate(
      portMapping: refused(Self.miniupnpdBehindACarrierNAT),
      serverSeen: IPAddress("198.51.100.1"))
    #expect(v.detected == nil)
    #expect(v.likely == true)
    #expect(
      v.worded.reason.hasPrefix(
        "Likely: your router reports the address servers see, 198.51.100.1, yet it refused to open a port over every protocol asked: PCP result 8 (NO_RESOURCES), NAT-PMP result 3 (Network Failure) and UPnP IGD error 501 (Action Failed)."
      ))
    #expect(v.worded.reason.contains("so this is not proof"))
    // JSON: `likely` appears only when true.
    let json = String(decoding: try JSONEncoder().encode(v), as: UTF8.self)
    #expect(json.contains("\"likely\":true"))
    let none = DoubleNATVerdict.evaluate(
      portMapping: report(IPAddress("198.51.100.1")), serverSeen: IPAddress("198.51.100.1"))
    #expect(none.likely == nil)
    #expect(!String(decoding: try JSONEncoder().encode(none), as: UTF8.self).contains("likely"))
  }

  @Test func refusalsByPolicyOrAnUnansweredProtocolAreNoEvidence() {
    let seen = IPAddress("198.51.100.1")
    // NOT_AUTHORIZED is the router's own policy.
    let policy = DoubleNATVerdict.evaluate(
      portMapping: refused([PortMappingRefusal(pcp: .notAuthorized)]), serverSeen: seen)
    #expect(policy.detected == false && policy.likely == nil)
    // A protocol asked that gave no refusal (it timed out) leaves it open.
    let silent = DoubleNATVerdict.evaluate(
      portMapping: refused(
        [PortMappingRefusal(pcp: .noResources)], attempted: [.pcp, .upnpIGD]),
      serverSeen: seen)
    #expect(silent.likely == nil && silent.detected == false)
    // A mapping that was made rules it out as evidence.
    var made = refused(Self.miniupnpdBehindACarrierNAT)
    made.testMapping?.created = true
    #expect(DoubleNATVerdict.evaluate(portMapping: made, serverSeen: seen).likely == nil)
    // Different addresses stay "detected", whatever the refusals.
    let differ = DoubleNATVerdict.evaluate(
      portMapping: refused(Self.miniupnpdBehindACarrierNAT),
      serverSeen: IPAddress("203.0.113.50"))
    #expect(differ.detected == true && differ.likely == nil)
  }
}
