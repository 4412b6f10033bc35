import Report
import Testing
import Traversal

@Suite struct PathPredictionTests {
  typealias P = NATProfile

  @Test(arguments: [
    (P.portRestrictedCone, P.portRestrictedCone, PathOutcome.works),
    (P.symmetric, P.portRestrictedCone, .fails),
    (P.portRestrictedCone, P.symmetric, .fails),
    (P.symmetric, P.symmetric, .fails),
    (P.symmetric, P.restrictedCone, .works),
    (P.symmetric, P.fullCone, .works),
    (P.symmetric, P.openInternet, .works),
    (P.fullCone, P.fullCone, .works),
    (P.udpBlocked, P.openInternet, .fails),
  ])
  func classicPairs(a: NATProfile, b: NATProfile, expected: PathOutcome) {
    #expect(ReflexivePathRule.decide(a, b).outcome == expected)
    // The model is symmetric in its two hosts.
    #expect(ReflexivePathRule.decide(b, a).outcome == expected)
  }

  @Test func dependentMappingWithOpenFilteringCannotAnswerThroughStrictPeer() {
    let apdmEIF = NATProfile(
      natDetected: true, mapping: .addressAndPortDependent, filtering: .endpointIndependent)
    #expect(ReflexivePathRule.decide(apdmEIF, .symmetric).outcome == .fails)
    #expect(ReflexivePathRule.decide(apdmEIF, .restrictedCone).outcome == .works)
  }

  @Test func unknownBehaviourIsNeverGuessed() {
    let half = NATProfile(natDetected: true, mapping: .endpointIndependent, filtering: nil)
    #expect(ReflexivePathRule.decide(half, .openInternet).outcome == .unknown)
  }

  @Test func legacyNames() {
    #expect(P.fullCone.legacyType == .fullCone)
    #expect(P.restrictedCone.legacyType == .restrictedCone)
    #expect(P.portRestrictedCone.legacyType == .portRestrictedCone)
    #expect(P.symmetric.legacyType == .symmetric)
    #expect(P.openInternet.legacyType == .openInternet)
    #expect(P.udpBlocked.legacyType == .udpBlocked)
    let apdmEIF = NATProfile(
      natDetected: true, mapping: .addressAndPortDependent, filtering: .endpointIndependent)
    #expect(apdmEIF.legacyType == .noLegacyEquivalent)
    #expect(apdmEIF.legacyType.rawValue == "no legacy equivalent")
    let firewall = NATProfile(natDetected: false, mapping: nil, filtering: .addressAndPortDependent)
    #expect(firewall.legacyType == .symmetricUDPFirewall)
  }

  @Test func summariesNamePeersThatNeedARelay() {
    let s = P.portRestrictedCone.summary
    #expect(s.contains("only lets in packets from addresses the socket has sent to"))
    #expect(s.contains("behind a symmetric NAT only a TURN relay will work"))
    #expect(P.fullCone.summary.contains("should work with peers of every kind"))
    #expect(P.symmetric.summary.contains("behind port-restricted-cone NAT and a symmetric NAT"))
    #expect(P.udpBlocked.summary.contains("only a TURN relay"))
  }
}
