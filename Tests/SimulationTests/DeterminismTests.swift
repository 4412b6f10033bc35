import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// Same seed, same run; different seed, different random choices.
@Suite struct DeterminismTests {
  /// A lossy, jittery symmetric-NAT run with random ports; returns its full trace.
  private func traceOf(seed: UInt64) throws -> [String] {
    var b = NATBehavior.symmetric
    b.portAssignment = .random
    let lab = try Lab(
      b, seed: seed, link: Link(latency: .milliseconds(5), jitter: .milliseconds(20), loss: 0.2))
    var lines: [String] = []
    lab.net.trace = { lines.append($0.description) }
    let e = try Endpoint(lab.client)
    for i in 0..<50 {
      lab.net.schedule(at: .zero + .milliseconds(Int64(i) * 7)) {
        e.send("p\(i)", to: i % 2 == 0 ? Reflector.primary : Reflector.altIP)
      }
    }
    lab.net.runUntilIdle()
    return lines
  }

  @Test func sameSeedGivesAnIdenticalTrace() throws {
    let a = try traceOf(seed: 1234)
    #expect(a.count > 100)
    #expect(try traceOf(seed: 1234) == a)
  }

  @Test func differentSeedGivesADifferentRun() throws {
    let a = try traceOf(seed: 1)
    let b = try traceOf(seed: 2)
    #expect(a != b)
    let dropsA = a.filter { $0.contains("dropped(loss)") }
    let dropsB = b.filter { $0.contains("dropped(loss)") }
    #expect(dropsA != dropsB)
  }

  @Test func traceShowsEachStep() throws {
    let lab = try Lab(.portRestrictedCone)
    var kinds: [PacketTrace.Kind] = []
    lab.net.trace = { kinds.append($0.kind) }
    let e = try Endpoint(lab.client, port: 5000)
    _ = lab.observe(e, via: Reflector.primary)
    #expect(kinds == [.sent, .translated, .delivered, .sent, .translated, .delivered])
    #expect(lab.net.counters.sent == 2)
    #expect(lab.net.counters.delivered == 2)
    #expect(lab.net.counters.droppedTotal == 0)
  }
}
