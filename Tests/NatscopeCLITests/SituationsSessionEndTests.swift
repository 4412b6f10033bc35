import Foundation
import Report
import STUN
import TestSupport
import Testing
import Traversal

/// The situation matrix for how a session ends (issue 18, defects 10, 11 and "exit
/// statuses"): what natscope says when the person quits or a signal stops a session before a
/// verdict, when a paste cannot be read, and when the peer that made the offer has quit.
@Suite(.serialized) struct SituationsSessionEndTests {
  // MARK: The findings of an ended session (pure rows)

  struct EndRow: Sendable, CustomStringConvertible {
    var situation: Situation
    var end: SessionEndFindings.End
    var description: String { situation.name }
  }

  static let endRows: [EndRow] = [
    EndRow(
      situation: Situation(
        "offerer quits before the answer is pasted",
        mustFind: [.sessionEndedBeforeVerdict, .sessionVerdictNotMeasured, .sessionTokenEnded]),
      end: .init(
        stop: .quit, stage: .peerToken, verdictIn: false, token: "offer", peerRole: "answer")
    ),
    EndRow(
      situation: Situation(
        "SIGTERM while the answerer waits for the offerer's checks",
        mustFind: [.sessionEndedBeforeVerdict, .sessionTokenEnded]),
      end: .init(
        stop: .signal(15), stage: .offererChecks, verdictIn: false, token: "answer",
        peerRole: "offer")),
    EndRow(
      situation: Situation(
        "SIGHUP while gathering (no token yet)", mustFind: [.sessionEndedBeforeVerdict],
        mustNotFind: [.sessionTokenEnded]),
      end: .init(stop: .signal(1), stage: .gathering, verdictIn: false)),
    EndRow(
      situation: Situation("probe quit before it finished", mustFind: [.sessionEndedBeforeVerdict]),
      end: .init(stop: .quit, stage: .probe, verdictIn: false)),
    EndRow(
      situation: Situation(
        "q after the verdict",
        mustNotFind: [.sessionEndedBeforeVerdict, .sessionTokenEnded, .sessionVerdictNotMeasured]),
      end: .init(stop: .quit, stage: .checks, verdictIn: true, token: "offer")),
  ]

  @Test(arguments: endRows)
  func anEndedSessionSaysHowItEnded(_ row: EndRow) {
    let findings = SessionEndFindings.derive(row.end)
    #expect(row.situation.check(findings) == [])
  }

  @Test func theSentencesNameTheSignalAndWhatWasAwaited() {
    let term = SessionEndFindings.derive(
      .init(
        stop: .signal(15), stage: .peerToken, verdictIn: false, token: "offer", peerRole: "answer"))
    let text = term.map(\.text)
    #expect(
      text.contains(
        "The session ended before a verdict: SIGTERM stopped natscope while natscope waited for the answer token to be pasted."
      ), "\(text)")
    #expect(text.contains { $0.hasPrefix("Your offer token is no longer usable") }, "\(text)")
    let refused = SessionEndFindings.pasteRefused(reason: "Bad.", attempt: 1, attempts: 5)
    #expect(refused.code == .pasteRefused)
    #expect(refused.text == "Bad. Paste it again (attempt 2 of 5).")
    let last = SessionEndFindings.pasteRefused(reason: "Bad.", attempt: 5, attempts: 5)
    #expect(last.code == .pasteGaveUp)
    #expect(FindingText.isWorded(last) && FindingText.isWorded(refused))
  }

  // MARK: The binary: pastes, a peer that quit, no command

  /// A UDP port on loopback that nothing listens on (bound, then closed): what an offer's
  /// candidate points at once the offerer has quit.
  static func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard fd >= 0, bound == 0, named == 0 else {
      throw Spawned.Failure(description: "cannot bind a UDP socket on 127.0.0.1")
    }
    return UInt16(bigEndian: addr.sin_port)
  }

  /// The offer of an offerer that has quit: one host candidate on a closed loopback port.
  static func deadOffer() throws -> String {
    SessionDescription(
      ufrag: "dEaD", password: "Zq3vN8xKp2LmW7rT5yHs9d", role: .offer, tieBreaker: 7,
      candidates: [
        .init(
          foundation: "1", priority: 2_130_706_431, address: .ip(IPAddress("127.0.0.1") ?? .anyV4),
          port: try closedPort(), kind: .host)
      ]
    ).token
  }

  static let answerer = [
    "connect", "--answer", "--no-tui", "--no-probe", "--no-port-mapping", "--include-loopback",
    "--bind", "127.0.0.1", "--timeout", "20", "--json",
  ]

  /// #10: a mistyped paste is refused in one sentence and asked for again; the next, good
  /// paste goes on (before: exit 1 at the first bad character, the session gone). The offer
  /// is that of an offerer that has quit, so the run also shows #11's evidence headless: ICMP
  /// port unreachable ends the wait for the offerer's checks at once.
  @Test func aBadPasteIsAskedForAgainAndTheNextOneGoesOn() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-paste-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = try Self.deadOffer()
    // One character mistyped: the checksum no longer matches.
    var bad = Array(good)
    bad[20] = bad[20] == "A" ? "B" : "A"
    let input = dir.appendingPathComponent("stdin").path
    try (String(bad) + "\n" + good + "\n").write(toFile: input, atomically: true, encoding: .utf8)
    let process = try Spawned([Binary.url.path] + Self.answerer, name: "connect", stdin: input)
    let status = process.wait(timeout: 30)
    let stderr = process.stderr
    #expect(stderr.contains("Paste it again (attempt 2 of 5)."), "\(stderr)")
    #expect(stderr.contains("Your answer token"), "the session did not go on:\n\(stderr)")
    // The offerer is gone (its port answers ICMP port unreachable): no path, not a usage error.
    #expect(status == 2, "exit \(status):\n\(stderr)")
    // The JSON document of the row validates against its schema (when jsonschema is here).
    if SchemaValidator.python != nil {
      try SchemaValidator.validate([
        SchemaTests.Sample(
          name: "connect-after-bad-paste", schema: "connect", text: process.stdout)
      ])
    }
  }

  /// Five pastes that cannot be read end the session with a usage error, saying it was the
  /// last attempt.
  @Test func fiveBadPastesEndTheSession() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-paste-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("stdin").path
    // Six whole tokens, each with one character mistyped (a different one each time).
    let good = Array(try Self.deadOffer())
    let bad = (0..<6).map { i -> String in
      var t = good
      t[20 + i] = t[20 + i] == "A" ? "B" : "A"
      return String(t)
    }
    try (bad.joined(separator: "\n") + "\n").write(
      toFile: input, atomically: true, encoding: .utf8)
    let process = try Spawned([Binary.url.path] + Self.answerer, name: "connect", stdin: input)
    let status = process.wait(timeout: 30)
    #expect(status == 1, "\(process.stderr)")
    #expect(process.stderr.contains("That was the last of 5 attempts"), "\(process.stderr)")
    #expect(
      process.stderr.components(separatedBy: "Paste it again").count == 5, "\(process.stderr)")
  }

  /// `natscope` alone is a usage error: help on standard error, nothing on standard output,
  /// exit 1 (before: the help on standard output, exit 0).
  @Test func noCommandIsAUsageError() throws {
    let r = try Binary.run([])
    #expect(r.status == 1)
    #expect(r.stdout.isEmpty, "\(r.stdout)")
    #expect(r.stderr.contains("USAGE:"), "\(r.stderr)")
    #expect(r.stderr.contains("SUBCOMMANDS:"), "\(r.stderr)")
  }
}
