import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Monitor mode of the real binary: a line per run, bounded by --count, and SIGTERM ends the
/// loop with a summary.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MonitorCLITests {
  @Test func countBoundsTheRunsAndTheSummaryFollows() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.3")
    defer { server.stop() }
    let r = try Binary.run(
      ["binding", "127.0.0.3:\(server.port)", "--every", "200ms", "--count", "3"], timeout: 30)
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.filter { $0.contains(" run ") }.count == 3, Comment(rawValue: r.stdout))
    #expect(lines.first?.contains("run 1: STUN server answering") == true)
    // Each run uses a fresh socket, so the address seen changes between runs (a true change).
    #expect(r.stdout.contains("monitor done after 3 runs"))
  }

  @Test func sigtermEndsTheLoopWithASummary() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.3")
    defer { server.stop() }
    let p = try Spawned(
      [Binary.url.path, "binding", "127.0.0.3:\(server.port)", "--every", "200ms"], name: "monitor")
    for _ in 0..<200 where !p.stdout.contains("run 2:") { usleep(25_000) }
    kill(p.pid, SIGTERM)
    #expect(p.wait(timeout: 10) == 0, Comment(rawValue: p.stderr))
    #expect(p.stdout.contains("monitor stopped after"), Comment(rawValue: p.stdout))
  }

  @Test func countWithoutEveryIsAUsageError() throws {
    let r = try Binary.run(["binding", "127.0.0.1:9", "--count", "2"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("--every"))
  }
}
