import Testing
import Traversal

@Suite struct RetransmissionPolicyTests {
  @Test func rfc8489DefaultsMatchTheRFCExample() {
    let p = RetransmissionPolicy.rfc8489
    #expect(p.initialRTO == .milliseconds(500))
    #expect(p.maxRequests == 7)
    #expect(p.lastWaitMultiplier == 16)
    #expect(p.adaptive == nil)
    #expect(
      p.sendOffsets(rto: p.rto())
        == [0, 500, 1500, 3500, 7500, 15500, 31500].map {
          .milliseconds($0)
        })
    #expect(p.timeoutWindow() == .milliseconds(39500))
  }

  @Test func customRcAndRm() {
    let p = RetransmissionPolicy(
      initialRTO: .milliseconds(100), maxRequests: 3, lastWaitMultiplier: 4)
    #expect(p.sendOffsets(rto: p.rto()) == [0, 100, 300].map { .milliseconds($0) })
    #expect(p.timeoutWindow() == .milliseconds(700))
  }

  @Test func invalidCountsAreRaisedNotTrapped() {
    let p = RetransmissionPolicy(
      initialRTO: .milliseconds(-5), maxRequests: 0, lastWaitMultiplier: -3)
    #expect(p.maxRequests == 1)
    #expect(p.lastWaitMultiplier == 1)
    #expect(p.initialRTO == .zero)
    #expect(p.sendOffsets(rto: .milliseconds(10)) == [.zero])
    #expect(p.timeoutWindow(rto: .milliseconds(10)) == .milliseconds(10))
  }

  @Test func hugeScheduleSaturatesInsteadOfOverflowing() {
    let p = RetransmissionPolicy(
      initialRTO: .seconds(1), maxRequests: 200, lastWaitMultiplier: 1000)
    #expect(p.timeoutWindow().nanoseconds == .max)
  }

  @Test func diagnosticsWindowAtTheFloor() {
    let p = RetransmissionPolicy.diagnostics()
    var e = RTTEstimator()
    e.add(.milliseconds(10))
    #expect(p.rto(using: e) == .milliseconds(100))
    #expect(
      p.sendOffsets(rto: p.rto(using: e)) == [0, 100, 300, 700, 1500].map { .milliseconds($0) })
    #expect(p.timeoutWindow(using: e) == .milliseconds(1900))
    // Before any sample, the initial RTO (clamped) is used.
    #expect(p.rto() == .milliseconds(500))
  }

  @Test func diagnosticsRTOFollowsRTTWithinBounds() {
    let p = RetransmissionPolicy.diagnostics(floor: .milliseconds(100), ceiling: .seconds(2))
    var fast = RTTEstimator()
    for _ in 0..<20 { fast.add(.milliseconds(10)) }
    #expect(p.rto(using: fast) == .milliseconds(100))

    var slow = RTTEstimator()
    slow.add(.milliseconds(300))
    let first = p.rto(using: slow)
    #expect(first == .milliseconds(900))  // 300 + 4 × 150
    for _ in 0..<50 { slow.add(.milliseconds(300)) }
    let settled = p.rto(using: slow)
    #expect(settled >= .milliseconds(300))
    #expect(settled < first)
    #expect(settled > p.rto(using: fast))

    var glacial = RTTEstimator()
    glacial.add(.seconds(5))
    #expect(p.rto(using: glacial) == .seconds(2))

    var zero = RTTEstimator()
    for _ in 0..<10 { zero.add(.zero) }
    #expect(p.rto(using: zero) == .milliseconds(100))
  }

  @Test func rfcModeIgnoresTheEstimator() {
    var e = RTTEstimator()
    e.add(.milliseconds(10))
    #expect(RetransmissionPolicy.rfc8489.rto(using: e) == .milliseconds(500))
  }
}

@Suite struct ProbePolicyTests {
  @Test func evenlySpacedRequests() {
    let p = RetransmissionPolicy.probe
    let rto = p.rto(using: RTTEstimator())
    #expect(rto == .milliseconds(200))
    #expect(
      p.sendOffsets(rto: .milliseconds(100)).map(\.milliseconds) == [0, 100, 200, 300, 400, 500])
    #expect(p.timeoutWindow(rto: .milliseconds(100)) == .milliseconds(700))
  }

  @Test func backoffIsClamped() {
    #expect(RetransmissionPolicy(backoff: 0).backoff == 1)
    #expect(RetransmissionPolicy(backoff: 99).backoff == 4)
  }
}
