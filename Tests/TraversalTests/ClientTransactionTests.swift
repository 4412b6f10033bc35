import STUN
import Testing
import Traversal

@Suite struct ClientTransactionTests {
  typealias Output = ClientTransaction<[UInt8]>.Output

  @Test func rfcDefaultsSendAtTheRFCInstantsAndFailAt39500() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    let run = runToFailure(&t)
    #expect(run.sends == [0, 500, 1500, 3500, 7500, 15500, 31500].map { at($0) })
    #expect(run.failedAt == at(39500))
    #expect(run.failure == .timedOut(attempts: 7))
    #expect(t.state == .failed(.timedOut(attempts: 7)))
    #expect(t.evidence.sendTimes == run.sends)
    #expect(t.evidence.outcome == .failed(.timedOut(attempts: 7)))
    #expect(t.deadline == nil)
  }

  @Test func startEmitsSendThenWake() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    #expect(
      t.start(at: at(1000)) == [.send(requestBytes, to: server, id: tid(1)), .timeout(at(1500))])
    #expect(t.start(at: at(1001)) == [.timeout(at(1500))])
  }

  @Test func everyTransmitCarriesTheTransactionIDAndEveryCallEndsWithTheDeadline() {
    var t = ClientTransaction<[UInt8]>(id: tid(4), request: requestBytes, destination: server)
    var transmitted: [Int] = []
    func check(_ outs: [Output]) {
      #expect(outs.transmits().allSatisfy { $0.transactionID == tid(4) && $0.from == nil })
      #expect(outs.last == t.deadline.map { Output.timeout($0) })
      #expect(outs.timeout() == t.deadline)
      transmitted.append(outs.transmits().count)
    }
    check(t.start(at: .zero))
    check(t.handleInput(id: tid(5), from: server, at: at(10), response: [0]))
    check(t.handleTimeout(at: at(499)))
    check(t.handleTimeout(at: at(500)))
    check(t.handleTimeout(at: at(1500)))
    #expect(transmitted == [1, 0, 0, 1, 1])
    #expect(t.deadline == at(3500))
    let done = t.handleInput(id: tid(4), from: server, at: at(1600), response: [1])
    #expect(done.timeout() == nil)
    #expect(t.deadline == nil)
  }

  @Test func customRcRm() {
    let p = RetransmissionPolicy(
      initialRTO: .milliseconds(200), maxRequests: 3, lastWaitMultiplier: 2)
    var t = ClientTransaction<[UInt8]>(
      id: tid(1), request: requestBytes, destination: server, policy: p)
    let run = runToFailure(&t, start: at(10))
    #expect(run.sends == [at(10), at(210), at(610)])
    #expect(run.failedAt == at(1010))
    #expect(run.failure == .timedOut(attempts: 3))
  }

  @Test func earlyTimeoutOnlyRepeatsTheWake() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    #expect(t.handleTimeout(at: at(499)) == [.timeout(at(500))])
    #expect(t.attempts == 1)
  }

  @Test func responseOnFirstTryCompletesWithExactRTT() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: at(100))
    let outs = t.handleInput(id: tid(1), from: server, at: at(142), response: responseBytes)
    let rtt = RTTSample(duration: .milliseconds(42), isAmbiguous: false)
    #expect(
      outs == [.event(.completed(id: tid(1), response: responseBytes, rtt: rtt, attempts: 1))])
    #expect(t.state == .completed)
    #expect(t.response == responseBytes)
    #expect(t.evidence.rtt == rtt)
    #expect(t.evidence.responseSource == server)
    #expect(t.evidence.responseAt == at(142))
    #expect(t.handleTimeout(at: at(500)).isEmpty)
  }

  @Test func lossOfFirstTwoThenResponseIsAmbiguous() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    #expect(sends(t.handleTimeout(at: at(500))) == 1)
    #expect(sends(t.handleTimeout(at: at(1500))) == 1)
    let outs = t.handleInput(id: tid(1), from: server, at: at(1530), response: responseBytes)
    let rtt = RTTSample(duration: .milliseconds(1530), isAmbiguous: true)
    #expect(
      outs == [.event(.completed(id: tid(1), response: responseBytes, rtt: rtt, attempts: 3))])
    #expect(t.evidence.sendTimes == [at(0), at(500), at(1500)])
    var e = RTTEstimator()
    let used = e.observe(rtt)
    #expect(!used)
  }

  @Test func lateResponseAfterTimeoutIsIgnoredAndCounted() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = runToFailure(&t)
    let outs = t.handleInput(id: tid(1), from: server, at: at(40000), response: responseBytes)
    #expect(outs.isEmpty)
    #expect(t.evidence.lateResponses == 1)
    #expect(t.state == .failed(.timedOut(attempts: 7)))
    #expect(t.response == nil)
  }

  @Test func duplicateResponsesAreIgnoredAndCounted() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    _ = t.handleTimeout(at: at(500))
    #expect(t.handleInput(id: tid(1), from: server, at: at(520), response: [1]).count == 1)
    #expect(t.handleInput(id: tid(1), from: server, at: at(521), response: [2]).isEmpty)
    #expect(t.handleInput(id: tid(1), from: server, at: at(600), response: [3]).isEmpty)
    #expect(t.evidence.duplicateResponses == 2)
    #expect(t.response == [1])
  }

  @Test func wrongTransactionIDIsRejected() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    #expect(
      t.handleInput(id: tid(2), from: server, at: at(20), response: responseBytes) == [
        .timeout(at(500))
      ])
    #expect(t.state == .waiting)
    #expect(t.evidence.rejectedCount == 1)
    #expect(
      t.evidence.rejections == [.init(source: server, at: at(20), reason: .wrongTransactionID)])
    // The real one still completes.
    #expect(
      t.handleInput(id: tid(1), from: server, at: at(30), response: responseBytes).count == 1)
  }

  @Test func wrongSourceRejectedWithDestinationOnly() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    #expect(
      t.handleInput(id: tid(1), from: alternate, at: at(20), response: responseBytes) == [
        .timeout(at(500))
      ])
    #expect(t.evidence.rejections == [.init(source: alternate, at: at(20), reason: .wrongSource)])
    #expect(t.state == .waiting)
  }

  @Test func alternateSourceAcceptedWhenInTheSet() {
    var t = ClientTransaction<[UInt8]>(
      id: tid(1), request: requestBytes, destination: server, acceptedSources: .set([alternate]))
    _ = t.start(at: .zero)
    #expect(
      t.handleInput(id: tid(1), from: stranger, at: at(10), response: [9]) == [.timeout(at(500))])
    #expect(t.evidence.rejections.map(\.reason) == [.wrongSource])
    #expect(t.handleInput(id: tid(1), from: alternate, at: at(20), response: [7]).count == 1)
    #expect(t.evidence.responseSource == alternate)

    var u = ClientTransaction<[UInt8]>(
      id: tid(2), request: requestBytes, destination: server, acceptedSources: .set([alternate]))
    _ = u.start(at: .zero)
    #expect(u.handleInput(id: tid(2), from: server, at: at(20), response: [7]).count == 1)
  }

  @Test func anySourceAccepted() {
    var t = ClientTransaction<[UInt8]>(
      id: tid(1), request: requestBytes, destination: server, acceptedSources: .any)
    _ = t.start(at: .zero)
    #expect(t.handleInput(id: tid(1), from: stranger, at: at(20), response: [7]).count == 1)
    #expect(t.evidence.responseSource == stranger)
  }

  @Test func responseBeforeStartIsRejected() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    #expect(t.handleInput(id: tid(1), from: server, at: at(1), response: [1]).isEmpty)
    #expect(t.evidence.rejections.map(\.reason) == [.notStarted])
    #expect(t.state == .idle)
  }

  @Test func cancelStopsOutputs() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    t.cancel()
    #expect(t.state == .failed(.cancelled))
    #expect(t.deadline == nil)
    #expect(t.handleTimeout(at: at(500)).isEmpty)
    #expect(t.handleTimeout(at: at(100_000)).isEmpty)
    #expect(t.handleInput(id: tid(1), from: server, at: at(600), response: [1]).isEmpty)
    #expect(t.evidence.lateResponses == 1)
    #expect(t.evidence.outcome == .failed(.cancelled))
  }

  @Test func diagnosticsTransactionUsesEstimatedRTO() {
    var e = RTTEstimator()
    e.add(.milliseconds(10))
    var t = ClientTransaction<[UInt8]>(
      id: tid(1), request: requestBytes, destination: server, policy: .diagnostics(), estimator: e)
    #expect(t.initialRTO == .milliseconds(100))
    #expect(t.evidence.timeoutWindow == .milliseconds(1900))
    let run = runToFailure(&t)
    #expect(run.sends == [0, 100, 300, 700, 1500].map { at($0) })
    #expect(run.failedAt == at(1900))
  }

  /// Over seeded random loss patterns: the transaction completes iff some request and its
  /// response both survive and the response arrives before the window ends.
  @Test func completesIffSomeExchangeSurvivesWithinTheWindow() {
    var rng = SeededGenerator(seed: 0x5EED)
    let policies: [RetransmissionPolicy] = [
      .rfc8489, .diagnostics(),
      RetransmissionPolicy(initialRTO: .milliseconds(50), maxRequests: 4, lastWaitMultiplier: 3),
    ]
    var completions = 0
    var failures = 0
    for trial in 0..<600 {
      let policy = policies[trial % policies.count]
      var t = ClientTransaction<[UInt8]>(
        id: tid(UInt32(trial)), request: requestBytes, destination: server, policy: policy)
      let window = policy.timeoutWindow(rto: t.initialRTO)
      // An RTT in microseconds that is never a whole millisecond, so it never ties a deadline.
      let rttMicros = Int64.random(in: 1...(window.nanoseconds / 1000), using: &rng) | 1
      let rtt = Duration.microseconds(rttMicros)
      let lossRate = Double.random(in: 0...1, using: &rng)
      let requestLost = (0..<policy.maxRequests).map { _ in
        Double.random(in: 0..<1, using: &rng) < lossRate
      }
      let responseLost = (0..<policy.maxRequests).map { _ in
        Double.random(in: 0..<1, using: &rng) < lossRate
      }

      var arrivals: [Instant] = []
      var now = Instant.zero
      var outs = t.start(at: now)
      var completed = false
      var failed = false
      var sendIndex = 0
      var wakeAt: Instant? = nil
      for _ in 0..<100 {
        for o in outs {
          switch o {
          case .transmit:
            if !requestLost[sendIndex] && !responseLost[sendIndex] { arrivals.append(now + rtt) }
            sendIndex += 1
          case .timeout(let w): wakeAt = w
          case .event(.completed): completed = true
          case .event(.failed): failed = true
          }
        }
        if completed || failed { break }
        arrivals.sort()
        if let a = arrivals.first, a <= (wakeAt ?? .distantFuture) {
          arrivals.removeFirst()
          now = a
          outs = t.handleInput(id: tid(UInt32(trial)), from: server, at: now, response: [1])
        } else if let w = wakeAt {
          now = w
          outs = t.handleTimeout(at: now)
        } else {
          break
        }
      }
      let offsets = policy.sendOffsets(rto: t.initialRTO)
      let expected = offsets.indices.contains { k in
        !requestLost[k] && !responseLost[k] && offsets[k] + rtt <= window
      }
      #expect(completed == expected, "trial \(trial)")
      #expect(completed != failed, "trial \(trial)")
      if completed { completions += 1 } else { failures += 1 }
    }
    // The loss patterns exercise both outcomes.
    #expect(completions > 50)
    #expect(failures > 50)
  }
}
