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
      v.reason.hasPrefix(
        "Your router's own internet address is 100.64.12.7, but servers see 198.51.100.9: there is another NAT above your router (carrier-grade NAT or a second router)."
      ))
  }

  @Test func sameAddressMeansNoNATAbove() {
    let v = DoubleNATVerdict.evaluate(
      portMapping: report(IPAddress("203.0.113.7")), serverSeen: IPAddress("203.0.113.7"))
    #expect(v.detected == false)
    #expect(
      v.reason.hasPrefix(
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
}
