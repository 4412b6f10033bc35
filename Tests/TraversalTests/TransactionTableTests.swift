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
        == [.send([1], to: a, id: tid(1)), .timeout(at(500))])
    #expect(
      table.start(id: tid(2), request: [2], to: b, at: at(100))
        == [.send([2], to: b, id: tid(2)), .timeout(at(500))])
    #expect(
      table.start(id: tid(3), request: [3], to: c, at: at(200))
        == [.send([3], to: c, id: tid(3)), .timeout(at(500))])
    #expect(table.nextWake == at(500))
    #expect(table.pendingCount == 3)

    // Too early: nothing due, the wake is repeated.
    #expect(table.handleTimeout(at: at(499)) == [.timeout(at(500))])

    // 1 retransmits at 500 (next 1500); 2 is due at 600, 3 at 700.
    #expect(table.handleTimeout(at: at(500)) == [.send([1], to: a, id: tid(1)), .timeout(at(600))])
    #expect(table.handleTimeout(at: at(600)) == [.send([2], to: b, id: tid(2)), .timeout(at(700))])

    // 3 is answered before its deadline; the next wake is now 1's.
    let done = table.handleInput(id: tid(3), from: c, at: at(250), response: [33])
    let rtt = RTTSample(duration: .milliseconds(50), isAmbiguous: false)
    #expect(
      done == [
        .event(.completed(id: tid(3), response: [33], rtt: rtt, attempts: 1)), .timeout(at(1500)),
      ])
    #expect(table.estimator(for: c).smoothedRTT == .milliseconds(50))

    // Both 1 (1500) and 2 (1600) due when woken late at 1600: deadline order, one wake.
    #expect(
      table.handleTimeout(at: at(1600))
        == [.send([1], to: a, id: tid(1)), .send([2], to: b, id: tid(2)), .timeout(at(3600))])

    // 2 is answered after a retransmission: ambiguous, not fed to b's estimator.
    let ambiguous = table.handleInput(id: tid(2), from: b, at: at(1700), response: [22])
    #expect(
      ambiguous == [
        .event(
          .completed(
            id: tid(2), response: [22],
            rtt: RTTSample(duration: .milliseconds(1600), isAmbiguous: true),
            attempts: 3)),
        .timeout(at(3600)),
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
    #expect(
      table.handleInput(id: tid(9), from: server, at: at(5), response: [])
        == [.timeout(at(500))])
    #expect(table.unmatchedResponses == 1)
    #expect(
      table.handleInput(id: tid(1), from: stranger, at: at(6), response: []) == [
        .timeout(at(500))
      ])
    #expect(table[tid(1)]?.evidence.rejections.map(\.reason) == [.wrongSource])
  }

  @Test func duplicateIDIsRefused() {
    var table = Table()
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    #expect(
      table.start(id: tid(1), request: [2], to: alternate, at: at(1))
        == [.event(.failed(id: tid(1), .duplicateTransactionID)), .timeout(at(500))])
    #expect(table.count == 1)
  }

  @Test func timeoutLateResponseAndRemoval() {
    let p = RetransmissionPolicy(
      initialRTO: .milliseconds(100), maxRequests: 2, lastWaitMultiplier: 1)
    var table = Table(policy: p)
    _ = table.start(id: tid(1), request: [1], to: server, at: .zero)
    #expect(
      table.handleTimeout(at: at(100)) == [.send([1], to: server, id: tid(1)), .timeout(at(200))])
    #expect(
      table.handleTimeout(at: at(200)) == [.event(.failed(id: tid(1), .timedOut(attempts: 2)))])
    #expect(table.nextWake == nil)
    #expect(table.handleInput(id: tid(1), from: server, at: at(250), response: [1]) == [])
    #expect(table[tid(1)]?.evidence.lateResponses == 1)
    let removed = table.removeFinished()
    #expect(removed.map(\.transactionID) == [tid(1)])
    #expect(table.count == 0)
    #expect(table.handleInput(id: tid(1), from: server, at: at(300), response: [1]) == [])
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
    #expect(
      table.handleTimeout(at: at(800)) == [.send([2], to: server, id: tid(2)), .timeout(at(1800))])
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
    _ = table.handleInput(id: tid(1), from: server, at: at(10), response: [1])
    #expect(table.estimator(for: server).smoothedRTT == .milliseconds(10))
    #expect(table.timeoutWindow(for: server) == .milliseconds(1900))
    #expect(
      table.start(id: tid(2), request: [2], to: server, at: at(20))
        == [.send([2], to: server, id: tid(2)), .timeout(at(120))])
    // A destination never answered borrows the best-measured history instead of the fixed
    // initial RTO.
    #expect(table.timeoutWindow(for: alternate) == .milliseconds(1900))
  }

  /// Many transactions to a few servers with seeded random start times, RTTs and losses, in a
  /// diagnostics table (so RTOs adapt as transactions complete): each completes iff one of its
  /// exchanges survives within its own window, and the table never wakes late or early.
  @Test func seededConcurrentLossMatchesPrediction() {
    var rng = SeededGenerator(seed: 2026)
    var totalCompleted = 0
    var totalFailed = 0
    for round in 0..<20 {
      var table = Table(policy: .diagnostics())
      let servers = (1...3).map { TransportAddress(ip: .v4(0x0A00_0000 + UInt32($0)), port: 3478) }
      let count = 8
      let starts = (0..<count).map { _ in at(Int64.random(in: 0...3000, using: &rng)) }
      let rtts = (0..<count).map { _ in
        Duration.microseconds(Int64.random(in: 1...4_000_000, using: &rng) | 1)
      }
      let lossRate = Double.random(in: 0...0.9, using: &rng)
      let survives = (0..<count).map { _ in
        (0..<5).map { _ in
          Double.random(in: 0..<1, using: &rng) >= lossRate
            && Double.random(in: 0..<1, using: &rng) >= lossRate
        }
      }
      var sendCount = [Int](repeating: 0, count: count)
      var arrivals: [(Instant, Int)] = []
      var completed = Set<Int>()
      var failed = Set<Int>()
      var nextStart = 0
      var now = Instant.zero
      func index(_ id: TransactionID) -> Int { Int(id.low) }
      func absorb(_ outs: [Table.Output]) {
        for o in outs {
          switch o {
          case .transmit(let t):
            let i = Int(t.bytes[0])
            #expect(t.transactionID == tid(UInt32(i)))
            if survives[i][sendCount[i]] { arrivals.append((now + rtts[i], i)) }
            sendCount[i] += 1
          case .timeout(let w): #expect(w == table.nextWake)
          case .event(.completed(let id, _, _, _)): completed.insert(index(id))
          case .event(.failed(let id, _)): failed.insert(index(id))
          }
        }
      }
      for _ in 0..<10_000 {
        arrivals.sort { $0.0 < $1.0 }
        let startAt = nextStart < count ? starts[nextStart] : .distantFuture
        let arrivalAt = arrivals.first?.0 ?? .distantFuture
        let wakeAt = table.nextWake ?? .distantFuture
        let t = Swift.min(startAt, arrivalAt, wakeAt)
        if t == .distantFuture { break }
        now = t
        if t == startAt {
          let i = nextStart
          nextStart += 1
          absorb(
            table.start(
              id: tid(UInt32(i)), request: [UInt8(i)], to: servers[i % servers.count], at: now))
        } else if t == arrivalAt {
          let (_, i) = arrivals.removeFirst()
          absorb(
            table.handleInput(
              id: tid(UInt32(i)), from: servers[i % servers.count], at: now, response: []))
        } else {
          absorb(table.handleTimeout(at: now))
        }
      }
      #expect(completed.union(failed).count == count, "round \(round)")
      #expect(completed.isDisjoint(with: failed), "round \(round)")
      totalCompleted += completed.count
      totalFailed += failed.count
      for (i, ev) in table.evidence.enumerated() {
        let offsets = table.policy.sendOffsets(rto: ev.initialRTO)
        let expected = offsets.indices.contains { k in
          survives[i][k] && offsets[k] + rtts[i] <= ev.timeoutWindow
        }
        #expect(completed.contains(i) == expected, "round \(round) transaction \(i)")
        #expect(ev.sendTimes.first == starts[i])
      }
    }
    #expect(totalCompleted > 20)
    #expect(totalFailed > 20)
  }
}
