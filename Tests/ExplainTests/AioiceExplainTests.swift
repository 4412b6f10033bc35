import Explain
import Foundation
import Report
import TestSupport
import Testing

/// Real aioice logs: two aioice 0.13 agents in one Python process, on loopback only (their
/// host addresses are pinned to 127.0.0.1), log at DEBUG; natscope explain reads the log back.
@Suite(
  .serialized, .timeLimit(.minutes(2)),
  .enabled(
    if: AioicePython.path != nil,
    Comment(
      rawValue:
        "aioice cannot be imported (set NATSCOPE_AIOICE_PYTHON or install it in /opt/natscope-venv)"
    )))
struct AioiceExplainTests {
  /// The two agents: `b` controlling too when `conflict` (a 487 role conflict they resolve).
  static func script(conflict: Bool) -> String {
    """
    import asyncio, logging, sys
    import aioice, aioice.ice
    # Loopback only: the agents gather 127.0.0.1 and nothing else.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    async def main():
        a = aioice.Connection(ice_controlling=True)
        b = aioice.Connection(ice_controlling=\(conflict ? "True" : "False"))
        await a.gather_candidates(); await b.gather_candidates()
        for c in b.local_candidates: await a.add_remote_candidate(c)
        await a.add_remote_candidate(None)
        a.remote_username, a.remote_password = b.local_username, b.local_password
        for c in a.local_candidates: await b.add_remote_candidate(c)
        await b.add_remote_candidate(None)
        b.remote_username, b.remote_password = a.local_username, a.local_password
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 30)
        await a.close(); await b.close()
    asyncio.run(main())
    """
  }

  /// Runs the agents and returns their log (standard error); stops them after 60 s.
  static func log(conflict: Bool) throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-aioice-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("peers.py")
    try script(conflict: conflict).write(to: path, atomically: true, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try #require(AioicePython.path))
    p.arguments = [path.path]
    let err = dir.appendingPathComponent("log.txt")
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let handle = try FileHandle(forWritingTo: err)
    p.standardError = handle
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(60)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
    }
    try handle.close()
    #expect(p.terminationStatus == 0, "the aioice agents exited \(p.terminationStatus)")
    return try String(contentsOf: err, encoding: .utf8)
  }

  @Test(arguments: [false, true])
  func twoAgentsOnLoopbackAreExplained(conflict: Bool) throws {
    let log = try Self.log(conflict: conflict)
    let secrets = SecretSet()
    let result = try Explainer.read(
      name: "aioice.log", source: MemorySource(Array(log.utf8)), secrets: secrets)
    #expect(result.input.format == .aioice)
    let sessions = result.sessions.map { ExplainSession(input: "aioice.log", evidence: $0) }
    #expect(sessions.map(\.evidence.label) == ["Connection(0)", "Connection(1)"])
    var selected: [(String, String)] = []
    for s in sessions {
      let row = Situation(
        conflict ? "aioice: both controlling, 487 resolved" : "aioice: connected on loopback",
        mustFind: [.explainConnected, .explainPair, .explainPathNotMeasured],
        mustNotFind: [
          .explainFailed, .explainMissingChecks, .explainPathNotFormed, .explainCauseUnknown,
          .explainCauseRoleConflict,
        ])
      #expect(row.check(s.findings).isEmpty, "\(row.check(s.findings))")
      let c = try #require(s.findings.with(.explainConnected).first)
      let l = try #require(c.parameters.text("local"))
      let r = try #require(c.parameters.text("remote"))
      #expect(l.hasPrefix("127.0.0.1:") && r.hasPrefix("127.0.0.1:"))
      selected.append((l, r))
      // The selected pair's checks went both ways and were answered.
      let pair = try #require(s.evidence.pairs.first { $0.state == "succeeded" })
      #expect((pair.requestsSent ?? 0) >= 1 && (pair.responsesReceived ?? 0) >= 1)
    }
    // Each agent's selected pair is the other's, reversed.
    #expect(selected.count == 2 && selected[0].0 == selected[1].1 && selected[0].1 == selected[1].0)
    if conflict {
      let errors = sessions.flatMap { $0.findings.with(.explainCheckError) }
      #expect(errors.contains { $0.parameters.int("code") == 487 }, "no 487 finding")
    }
  }
}

/// The Python that runs the aioice agents.
enum AioicePython {
  /// NATSCOPE_AIOICE_PYTHON, else /opt/natscope-venv's Python: the first that imports aioice.
  static let path: String? = {
    var candidates = ["/opt/natscope-venv/bin/python"]
    if let p = ProcessInfo.processInfo.environment["NATSCOPE_AIOICE_PYTHON"] {
      candidates.insert(p, at: 0)
    }
    return candidates.first { path in
      guard FileManager.default.isExecutableFile(atPath: path) else { return false }
      let p = Process()
      p.executableURL = URL(fileURLWithPath: path)
      p.arguments = ["-c", "import aioice"]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      guard (try? p.run()) != nil else { return false }
      p.waitUntilExit()
      return p.terminationStatus == 0
    }
  }()
}
