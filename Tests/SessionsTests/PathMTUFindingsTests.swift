import Report
import STUN
import Testing
import Traversal

/// The path MTU findings from evidence: each outcome has its sentence, and nothing claims a
/// size that was not measured.
@Suite struct PathMTUFindingsTests {
  typealias Leg = PathMTUResult.Leg

  static func result(_ forward: Leg, _ reverse: Leg?, header: Int = 28) -> PathMTUResult {
    PathMTUResult(
      forward: forward, reverse: reverse, smallest: 576, largest: 1500, headerBytes: header,
      viaRelay: false, durationMs: 1200)
  }

  @Test func everyOutcomeIsWordedAndNotMeasuredIsSaid() {
    let cases: [(PathMTUResult, FindingCode, FindingCertainty)] = [
      (
        Self.result(Leg(direction: .forward, outcome: .baselineUnanswered, smallestLost: 576), nil),
        .mtuBaselineUnanswered, .notMeasured
      ),
      (
        Self.result(
          Leg(direction: .forward, outcome: .measured, largestAnswered: 1500),
          Leg(direction: .reverse, outcome: .peerDoesNotPad)), .mtuPeerDoesNotPad, .notMeasured
      ),
      (
        Self.result(
          Leg(direction: .forward, outcome: .unfinished, largestAnswered: 576, smallestLost: 1500),
          nil), .mtuUnfinished, .notMeasured
      ),
    ]
    for (r, code, certainty) in cases {
      let f = PathMTUFindings.derive(r)
      let found = f.with(code)
      #expect(found.count == 1, "\(code)")
      #expect(found.first?.certainty == certainty)
      #expect(f.allSatisfy { FindingText.isWorded($0) })
      #expect(f.contradictions().isEmpty)
    }
    // A peer that does not pad leaves the forward measurement standing, and says so apart.
    let noPad = PathMTUFindings.derive(cases[1].0)
    #expect(noPad.with(.mtuMeasured).first?.text.contains("from this host to the peer") == true)
    #expect(noPad.with(.mtuPeerDoesNotPad).first?.text.contains("not measured") == true)
  }

  @Test func aRouterThatSaysSoIsNamedWithItsMTU() {
    let r = Self.result(
      Leg(
        direction: .forward, outcome: .measured, largestAnswered: 1280, smallestLost: 1284,
        icmpMTU: 1280, icmpReporter: IPAddress("198.51.100.1")),
      Leg(direction: .reverse, outcome: .measured, largestAnswered: 1500))
    let f = PathMTUFindings.derive(r)
    let forward = f.with(.mtuMeasured).map(\.text)
    #expect(forward.count == 2)
    #expect(
      forward.first
        == "Datagrams up to 1280 bytes cross from this host to the peer; 1284 bytes did not: router 198.51.100.1 said its link takes 1280 (ICMP fragmentation needed)."
    )
    // 1280 is above what WebRTC sends over IPv4 (1228 with headers): no warning.
    #expect(f.with(.mtuTooSmall).isEmpty)
  }

  @Test func underWebRTCSizeTheConsequenceIsSaidAndDTLSIsCompared() {
    let r = Self.result(
      Leg(direction: .forward, outcome: .measured, largestAnswered: 1200, smallestLost: 1204),
      nil)
    let dtls = ConnectReport.DTLS(
      state: .failed, failure: .stalled, datagramsSent: 6, largestDatagramSent: 1200)
    let f = PathMTUFindings.derive(r, dtls: dtls)
    #expect(f.with(.mtuTooSmall).count == 1)
    #expect(
      f.with(.mtuDTLSLarger).first?.text
        == "The DTLS handshake sent datagrams of 1228 bytes, more than the 1200 this path carried from this host to the peer."
    )
    // Over IPv6 the line is IPv6's minimum link MTU.
    let v6 = PathMTUFindings.derive(
      Self.result(
        Leg(direction: .forward, outcome: .measured, largestAnswered: 1260, smallestLost: 1264),
        nil, header: 48))
    #expect(v6.with(.mtuTooSmall).first?.text.contains("1280") == true)
  }
}
