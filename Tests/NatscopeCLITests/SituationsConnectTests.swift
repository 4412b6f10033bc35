import Foundation
import Report
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The situation matrix of `natscope connect`, the built binary on loopback: tokens through
/// FIFOs, both roles, each row asserting which findings the `--json` report must and must not
/// make (and no claim resting on what a finding marks as not measured), and every document
/// validated against `schema/connect-1.json` when a validator is installed.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct SituationsConnectTests {
  static let loopback = [
    "--bind", "127.0.0.1", "--include-loopback", "--no-port-mapping", "--no-tui",
  ]

  /// The findings of one `--json` document, and its problems for `situation`.
  static func check(_ situation: Situation, _ stdout: String, mustNotSay: [String] = [])
    throws -> [String]
  {
    guard let data = stdout.data(using: .utf8),
      let report = try? JSONDecoder().decode(ConnectReport.self, from: data)
    else { return ["\(situation.name): no connect report on stdout: \(stdout.prefix(400))"] }
    var out = situation.check(report.findings)
    for phrase in mustNotSay where stdout.contains(phrase) {
      out.append("\(situation.name): says \"\(phrase)\"")
    }
    return out
  }

  static func validate(_ samples: [SchemaTests.Sample]) throws {
    guard SchemaValidator.python != nil else { return }
    try SchemaValidator.validate(samples)
  }

  /// #3 and #5: an offerer to which no answer is ever pasted, whose quick probe asked a
  /// `natscope serve` on this host. Its paths are not measured, and it states no NAT type.
  @Test func noAnswerPastedWithAServerOnThisHost() throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let fifos = try FIFOPair()
    // Held open for writing and never written: the offerer waits for an answer that never
    // comes, until --timeout.
    let holder = open(fifos.answer, O_RDWR)
    defer { if holder >= 0 { close(holder) } }
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--timeout", "3", "--stun",
        "127.0.0.1:\(server.port)", "--token-out", fifos.dir + "/offer.txt", "--token-in",
        fifos.answer,
      ] + Self.loopback, name: "offer")
    #expect(offer.wait(timeout: 40) == 2, Comment(rawValue: offer.stderr))
    let row = Situation(
      "no answer pasted, probe server on this host (offerer)",
      mustFind: [
        .connectWaitExpired, .connectPathNotMeasured, .connectNoPeerDescription,
        .connectProbeServerOnThisHost,
      ],
      mustNotFind: [.connectPathNotFormed, .connectPathNotChecked, .connectPathTimedOut])
    let p = try Self.check(
      row, offer.stdout,
      mustNotSay: [
        "offered no host candidates", "formed but never checked", "this host Open Internet",
      ])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    try Self.validate([
      SchemaTests.Sample(name: "connect-no-answer", schema: "connect", text: offer.stdout)
    ])
  }

  /// The text report of the same situation under LANG=C: ASCII marks, and the sentences of
  /// the findings.
  @Test func noAnswerPastedTextUnderLANGC() throws {
    let fifos = try FIFOPair()
    let holder = open(fifos.answer, O_RDWR)
    defer { if holder >= 0 { close(holder) } }
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--no-probe", "--timeout", "2", "--token-out",
        fifos.dir + "/offer.txt", "--token-in", fifos.answer,
      ] + Self.loopback, name: "offer", env: ["LANG": "C", "LC_ALL": "C", "LC_CTYPE": "C"])
    #expect(offer.wait(timeout: 40) == 2, Comment(rawValue: offer.stderr))
    let text = offer.stdout
    #expect(text.contains("Not measured: no description came from the peer"), "\(text)")
    for mark in ["✓", "✗", "–", "↔"] {
      #expect(!text.contains(mark), "\(mark) under LANG=C:\n\(text)")
    }
  }

  /// #6: the answerer's --token-out is a FIFO read by a relay that passes the answer on 20 s
  /// late (longer than the 15 s the checks get). The answerer waits for the offerer's first
  /// check however its answer left, says so, and both connect once the answer arrives; the
  /// wait is reported apart from the time to connect, and no firewall is blamed.
  @Test func answerDeliveredLateThroughAPipe() throws {
    let fifos = try FIFOPair()
    let late = fifos.dir + "/late"
    #expect(mkfifo(late, 0o600) == 0)
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--no-probe", "--token-out", fifos.offer,
        "--token-in", late,
      ] + Self.loopback, name: "offer")
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--no-probe", "--token-in",
        fifos.offer, "--token-out", fifos.answer,
      ] + Self.loopback, name: "answer")
    // The slow relay, a process as in a real pipeline: reads the answer at once, writes it on
    // after 20 s.
    let relay = try Spawned(
      [
        "/bin/sh", "-c",
        "cat \"$1\" > \"$1.held\" && sleep 20 && cat \"$1.held\" > \"$2\"", "relay",
        fifos.answer, late,
      ], name: "relay")
    defer { kill(relay.pid, SIGKILL) }
    #expect(answer.wait(timeout: 90) == 0, Comment(rawValue: answer.stderr))
    #expect(offer.wait(timeout: 40) == 0, Comment(rawValue: offer.stderr))
    #expect(
      answer.stderr.contains("for the offerer's first check (the answer went to \(fifos.answer)"),
      Comment(rawValue: answer.stderr))
    let answerRow = Situation(
      "answer delivered 20 s late through a pipe (answerer)",
      mustFind: [.connectConnected, .connectWaitEnded],
      mustNotFind: [
        .connectPathTimedOut, .connectNotNominated, .connectPeerSilent, .connectWaitUnanswered,
      ])
    let p = try Self.check(answerRow, answer.stdout, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    let o = try #require(answer.json, Comment(rawValue: answer.stdout))
    let waited = try #require(o.path("timings.waitedForPeerMs") as? Double)
    #expect(waited > 19_000 && waited < 40_000, Comment(rawValue: answer.stdout))
    #expect(o.path("timings.waitedFor") as? String == "checks")
    try Self.validate([
      SchemaTests.Sample(name: "connect-late-answer", schema: "connect", text: answer.stdout)
    ])
  }

  /// #7 and the peer that quit: the offerer quits before the answer is written; the
  /// answerer's checks get ICMP port unreachable. It says the offerer is not listening, and
  /// not that it waited for a first check that came.
  @Test func offererQuitBeforeTheAnswer() throws {
    let fifos = try FIFOPair()
    let token = fifos.dir + "/token"
    let maker = try Spawned(
      [
        Binary.url.path, "connect", "--no-probe", "--token-out", token, "--token-in",
        fifos.answer,
      ] + Self.loopback, name: "maker")
    var offer = ""
    for _ in 0..<200 where offer.isEmpty {
      offer = (try? String(contentsOfFile: token, encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    kill(maker.pid, SIGTERM)
    maker.wait(timeout: 5)
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--no-probe", "--token-in", token,
        "--token-out", "/dev/null",
      ] + Self.loopback, name: "answer")
    #expect(answer.wait(timeout: 30) == 2, Comment(rawValue: answer.stderr))
    let row = Situation(
      "offerer quit before the answer (answerer, ICMP)",
      mustFind: [.connectPathUnreachable, .connectWaitUnanswered],
      mustNotFind: [.connectWaitEnded, .connectPathTimedOut, .connectConnected])
    let p = try Self.check(row, answer.stdout, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    try Self.validate([
      SchemaTests.Sample(name: "connect-offerer-quit", schema: "connect", text: answer.stdout)
    ])
  }

  /// Both roles connect on loopback, the relay refusing the credentials (coturn, when
  /// installed): the relay path carries the refusal, and the host path worked.
  @Test(.enabled(if: RESTCoturn.installed, "coturn's turnserver is not installed"))
  func relayRefusesTheCredentials() throws {
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    let samples = try SchemaTests.connectPair(
      "connect-relay-refused",
      Self.loopback + [
        "--no-probe", "--turn", "turn:127.0.0.1:\(coturn.port)", "--turn-user", "alice",
      ],
      environment: ["NATSCOPE_TURN_SECRET": "wrong-secret"])
    for sample in samples {
      let row = Situation(
        "TURN refuses the credentials (\(sample.name))",
        mustFind: [.connectConnected, .connectPathWorked, .connectPathNotFormed],
        mustNotFind: [.connectPathNotMeasured, .connectWaitUnanswered])
      let p = try Self.check(row, sample.text)
      #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
      #expect(sample.text.contains("unauthorized"), "\(sample.text.prefix(2000))")
    }
    try Self.validate(samples)
  }
}

extension RESTCoturn {
  /// Whether coturn's `turnserver` is installed.
  static var installed: Bool {
    ["/usr/bin/turnserver", "/usr/sbin/turnserver"].contains {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }
}
