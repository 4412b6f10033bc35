import Network
import Report
import Runtime
import Sessions
import Testing
import Traversal

@Suite("Timers", .timeLimit(.minutes(3)))
struct TimerTests {
  @Test func timersFireInDeadlineOrderAndCancelWorks() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (order, start, firedAt): ([Int], Instant, [Instant]) = try runtime.run(
      timeout: .seconds(5)
    ) { rt, done in
      var order: [Int] = []
      var firedAt: [Instant] = []
      let start = rt.now
      // Scheduled out of order on purpose.
      for (label, ms) in [(3, 30), (1, 10), (2, 20), (4, 40)] {
        rt.schedule(at: start + .milliseconds(ms)) {
          order.append(label)
          firedAt.append(rt.now)
        }
      }
      let cancelled = rt.schedule(at: start + .milliseconds(25)) { order.append(99) }
      cancelled.cancel()
      rt.schedule(at: start + .milliseconds(60)) { done.succeed((order, start, firedAt)) }
    }
    #expect(order == [1, 2, 3, 4])
    for (i, t) in firedAt.enumerated() {
      #expect(t - start >= .milliseconds(10 * (i + 1)))
    }
  }

  @Test func pastDeadlineFiresSoonAndSameDeadlineKeepsOrder() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let order: [Int] = try runtime.run(timeout: .seconds(5)) { rt, done in
      var order: [Int] = []
      let at = rt.now + .milliseconds(5)
      for i in 0..<5 { rt.schedule(at: at) { order.append(i) } }
      rt.schedule(at: .zero) { order.insert(-1, at: 0) }
      rt.schedule(at: at + .milliseconds(20)) { done.succeed(order) }
    }
    #expect(order == [-1, 0, 1, 2, 3, 4])
  }

  @Test func clockIsMonotonicFromStart() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let a = runtime.now
    let b = runtime.now
    #expect(a >= .zero && b >= a && a < Instant.zero + .seconds(5))
  }

  @Test func runTimesOut() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    #expect(throws: RunError.timedOut(.milliseconds(50))) {
      let _: Int = try runtime.run(timeout: .milliseconds(50)) { _, _ in }
    }
  }
}
