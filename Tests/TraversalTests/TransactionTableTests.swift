import STUN
import Testing
import Traversal

@Suite struct TransactionTableTests {
  typealias Table = TransactionTable<[UInt8]>

  @Test func threeInterleavedTransactionsWakeAtTheMinimum() {
    var table = Table(policy: .rfc8489)
    let a = TransportAddress(ip: .v4(0x0A00_0001), port: 3478)
    let b = TransportAddress(ip: .v4(0x0A00_0002), port: 3478)
    let c = TransportAddress(ip: .v4(0x0A00_0003), port: 3478)

    #expect(
      table.start(id: tid(1), request: [1], to: a, at: at(0))
        == [.send([1], to: a), .wake(at: at(500))])
    #expect(
      table.start(id: tid(2), request: [2], to: b, at: at(100))
        == [.send([2], to: b), .wake(at: at(500))])
    #expect(
      table.start(id: tid(3), request: [3], to: c, at: at(200))
        == [.send([3], to: c), .wake(at: at(500))])
    #expect(table.nextWake == at(500))
    #expect(table.pendingCount == 3)

    // Too early: nothing due, the wake is repeated.
    #expect(table.handleTimeout(at: at(499)) == [.wake(at: at(500))])

    // 1 retransmits at 500 (next 1500); 2 is due at 600, 3 at 700.
    #expect(table.handleTimeout(at: at(500)) == [.send([1], to: a), .wake(at: at(600))])
    #expect(table.handleTimeout(at: at(600)) == [.send([2], to: b), .wake(at: at(700))])

    // 3 is answered before its deadline; the next wake is now 1's.
    let done = table.handleResponse(id: tid(3), from: c, at: at(250), response: [33])
    let rtt = RTTSample(duration: .milliseconds(50), isAmbiguous: false)
    #expect(
      done == [.completed(id: tid(3), response: [33], rtt: rtt, attempts: 1), .wake(at: at(1500))])
    #expect(table.estimator(for: c).smoothedRTT == .milliseconds(50))

    // Both 1 (1500) and 2 (1600) due when woken late at 1600: deadline order, one wake.
    #expect(
      table.handleTimeout(at: at(1600))
        == [.send([1], to: a), .send([2], to: b), .wake(at: at(3600))])

    // 2 is answered after a retransmission: ambiguous, not fed to b's estimator.
    let ambiguous = table.handleResponse(id: tid(2), from: b, at: at(1700), response: [22])
    #expect(
      ambiguous == [
        .completed(
          id: tid(2), response: [22],
          rtt: RTTSample(duration: .milliseconds(1600), isAmbiguous: true),
          attempts: 3),
        .wake(at: at(3600)),
      ])
    #expect(table.estimator(for: b).sampleCount == 0)
    #expect(table.estimator(for: b).ambiguousSamplesIgnored == 1)

    let ev = table.evidence
    #expect(ev.map(\.transactionID) == [tid(1), tid(2), tid(3)])
    #expect(ev[0].sendTimes == [at(0), at(500), at(1600)])
    #expect(ev[1].sendTimes == [at(100), at(600), at(1600)])
    #expect(ev[2].responseSource == c)
    #expect(ev[0].outcome == .pending)
  }

  @Test func unknownIDsAreCountedAndWrongSourcesRejected() {
    var table = Table()
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    #expect(table.handleResponse(id: tid(9), from: server, at: at(5), response: []) == [])
    #expect(table.unmatchedResponses == 1)
    #expect(
      table.handleResponse(id: tid(1), from: stranger, at: at(6), response: []) == [
        .wake(at: at(500))
      ])
    #expect(table[tid(1)]?.evidence.rejections.map(\.reason) == [.wrongSource])
  }

  @Test func duplicateIDIsRefused() {
    var table = Table()
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    #expect(
      table.start(id: tid(1), request: [2], to: alternate, at: at(1))
        == [.failed(id: tid(1), .duplicateTransactionID)])
    #expect(table.count == 1)
  }

  @Test func timeoutLateResponseAndRemoval() {
    let p = RetransmissionPolicy(
      initialRTO: .milliseconds(100), maxRequests: 2, lastWaitMultiplier: 1)
    var table = Table(policy: p)
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    #expect(table.handleTimeout(at: at(100)) == [.send([1], to: server), .wake(at: at(200))])
    #expect(table.handleTimeout(at: at(200)) == [.failed(id: tid(1), .timedOut(attempts: 2))])
    #expect(table.nextWake == nil)
    #expect(table.handleResponse(id: tid(1), from: server, at: at(250), response: [1]) == [])
    #expect(table[tid(1)]?.evidence.lateResponses == 1)
    let removed = table.removeFinished()
    #expect(removed.map(\.transactionID) == [tid(1)])
    #expect(table.count == 0)
    #expect(table.handleResponse(id: tid(1), from: server, at: at(300), response: [1]) == [])
    #expect(table.unmatchedResponses == 1)
  }

  @Test func cancelStopsOutputs() {
    var table = Table()
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    _ = table.start(id: tid(2), request: [2], to: server, at: at(300))
    let first = table.cancel(id: tid(1))
    let again = table.cancel(id: tid(1))
    #expect(first)
    #expect(!again)
    #expect(table.nextWake == at(800))
    #expect(table.handleTimeout(at: at(800)) == [.send([2], to: server), .wake(at: at(1800))])
    let second = table.cancel(id: tid(2))
    #expect(second)
    #expect(table.nextWake == nil)
    #expect(table.handleTimeout(at: at(100_000)) == [])
    #expect(table.evidence.map(\.outcome) == [.failed(.cancelled), .failed(.cancelled)])
  }

  @Test func diagnosticsTableLearnsRTTPerServer() {
    var table = Table(policy: .diagnostics(floor: .milliseconds(100), ceiling: .seconds(3)))
    #expect(table.timeoutWindow(for: server) == .milliseconds(9500))  // 500 ms before samples
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    _ = table.handleResponse(id: tid(1), from: server, at: at(10), response: [1])
    #expect(table.estimator(for: server).smoothedRTT == .milliseconds(10))
    #expect(table.timeoutWindow(for: server) == .milliseconds(1900))
    #expect(
      table.start(id: tid(2), request: [2], to: server, at: at(20))
        == [.send([2], to: server), .wake(at: at(120))])
    // Another server has no history yet.
    #expect(table.timeoutWindow(for: alternate) == .milliseconds(9500))
  }
}
