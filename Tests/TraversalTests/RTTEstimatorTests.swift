import Testing
import Traversal

@Suite struct RTTEstimatorTests {
  @Test func firstSampleSetsSRTTAndHalfVariance() {
    var e = RTTEstimator()
    #expect(e.smoothedRTT == nil)
    #expect(e.retransmissionTimeout == nil)
    e.add(.milliseconds(200))
    #expect(e.smoothedRTT == .milliseconds(200))
    #expect(e.rttVariation == .milliseconds(100))
    #expect(e.retransmissionTimeout == .milliseconds(600))
    #expect(e.sampleCount == 1)
  }

  @Test func laterSamplesFollowRFC6298() {
    var e = RTTEstimator()
    e.add(.milliseconds(200))
    e.add(.milliseconds(100))
    // RTTVAR = 3/4·100 + 1/4·|200 − 100| = 100; SRTT = 7/8·200 + 1/8·100 = 187.5
    #expect(e.rttVariation == .milliseconds(100))
    #expect(e.smoothedRTT == .microseconds(187_500))
  }

  @Test func karnsRuleRefusesAmbiguousSamples() {
    var e = RTTEstimator()
    let usedAmbiguous = e.observe(RTTSample(duration: .milliseconds(1600), isAmbiguous: true))
    #expect(!usedAmbiguous)
    #expect(e.sampleCount == 0)
    #expect(e.ambiguousSamplesIgnored == 1)
    let usedClean = e.observe(RTTSample(duration: .milliseconds(40), isAmbiguous: false))
    #expect(usedClean)
    #expect(e.smoothedRTT == .milliseconds(40))
  }

  @Test func convergesOnSteadyRTT() {
    var e = RTTEstimator()
    for _ in 0..<100 { e.add(.milliseconds(50)) }
    let srtt = e.smoothedRTT ?? .zero
    #expect(srtt > .milliseconds(49) && srtt <= .milliseconds(50))
    #expect((e.rttVariation ?? .seconds(1)) < .milliseconds(1))
  }
}
