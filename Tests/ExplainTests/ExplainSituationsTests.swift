import Explain
import Foundation
import Report
import STUN
import TestSupport
import Testing

/// The readers and the explanation, on the seed, hand-written fixtures of each format and
/// generated inputs: each row a ``Situation`` (what the findings must and must not claim),
/// with the values the Done-when of issue 21 names asserted on top.
@Suite struct ExplainSituationsTests {
  static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  static let fixtures = here.appendingPathComponent("Fixtures")
  /// The seed artifact: `../shared/seed` beside the repository.
  static let seed: URL? = {
    let repo = here.deletingLastPathComponent().deletingLastPathComponent()
    let url = repo.deletingLastPathComponent()
      .appendingPathComponent("shared/seed/000_390cbae1f723b4a3.txt")
    return FileManager.default.fileExists(atPath: url.path) ? url : nil
  }()

  /// Reads `bytes` as natscope explain does and derives each session's findings.
  static func explain(_ bytes: [UInt8], name: String = "input", pc: String? = nil) throws
    -> (sessions: [ExplainSession], secrets: SecretSet)
  {
    let secrets = SecretSet()
    let result = try Explainer.read(
      name: name, source: MemorySource(bytes), pc: pc, secrets: secrets)
    return (result.sessions.map { ExplainSession(input: name, evidence: $0) }, secrets)
  }

  static func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
  }

  static func finding(_ s: ExplainSession, _ code: FindingCode) -> Finding? {
    s.findings.with(code).first
  }

  @Test(.enabled(if: seed != nil, "the seed (../shared/seed) is not beside the repository"))
  func theSeedIsExplained() throws {
    let bytes = Array(try Data(contentsOf: #require(Self.seed)))
    let (sessions, secrets) = try Self.explain(bytes)
    try #require(sessions.count == 1)
    let s = sessions[0]
    let row = Situation(
      "the seed: a Licode/erizo log over libnice, connected host ↔ host",
      mustFind: [
        .explainConnected, .explainPortRewritten, .explainTCPIgnored, .explainNeverUsable,
        .explainTimeToConnect, .explainDTLSTime, .explainMissingChecks,
        .explainCredentialsRedacted, .explainPathWorked,
      ],
      mustNotFind: [
        .explainFailed, .explainLost, .explainCauseUnknown, .explainCauseNoRelay,
        .explainMissingPeer, .explainHostOnly,
      ])
    #expect(row.check(s.findings).isEmpty, "\(row.check(s.findings))")
    #expect(s.evidence.format == .text)
    // Gathered: host and srflx; the NAT rewrote 40006 to 16175, outside 40000–50000.
    #expect(s.evidence.local.map(\.kind) == [.host, .srflx])
    let rewrite = try #require(Self.finding(s, .explainPortRewritten))
    #expect(rewrite.subject == .thisHost)
    #expect(rewrite.parameters.address("base")?.description == "10.200.20.84:40006")
    #expect(rewrite.parameters.address("mapped")?.description == "36.152.49.161:16175")
    #expect(rewrite.parameters.flag("outside") == true)
    #expect(rewrite.parameters.int("low") == 40000 && rewrite.parameters.int("high") == 50000)
    #expect(rewrite.text.contains("40006 to 16175") && rewrite.text.contains("40000–50000"))
    // Remote: two link-local and one private host, a srflx; the three TCP ones ignored.
    let udp = s.evidence.remote.filter { $0.transport == .udp }
    #expect(
      udp.map(\.addressClass) == [.linkLocal, .linkLocal, .private, .public],
      "\(udp.map(\.addressClass))")
    #expect(udp.map(\.kind) == [.host, .host, .host, .srflx])
    let tcp = s.evidence.remote.filter { $0.transport == .tcp }
    #expect(tcp.count == 3 && tcp.allSatisfy(\.ignored))
    #expect(Self.finding(s, .explainTCPIgnored)?.parameters.int("count") == 3)
    // Connected host ↔ host 10.200.20.84:40006 ↔ 10.200.111.59:64816.
    let c = try #require(Self.finding(s, .explainConnected))
    #expect(c.parameters.text("local") == "10.200.20.84:40006")
    #expect(c.parameters.text("remote") == "10.200.111.59:64816")
    #expect(c.parameters.text("localKind") == "host" && c.parameters.text("remoteKind") == "host")
    #expect(c.parameters.text("path") == "direct")
    // Remote candidates (10:24:32,951) to ready (10:24:33,680); DTLS 33,680 → 33,720.
    #expect(Self.finding(s, .explainTimeToConnect)?.parameters.milliseconds("ms") == 729)
    #expect(Self.finding(s, .explainDTLSTime)?.parameters.milliseconds("ms") == 40)
    // The passwords: counted, never shown.
    #expect(secrets.count == 2)
    let json = String(
      decoding: try ReportJSON.encode(ExplainReport(inputs: [], sessions: sessions)), as: UTF8.self)
    let text = ExplainReport(inputs: [], sessions: sessions).text
    for secret in ["smTIKg0CrCALj6qGKfGvXZS9", "67avgI5/OfkIKXqB+8AwE/"] {
      #expect(!json.contains(secret) && !text.contains(secret))
    }
  }

  /// The same seed, gzip-compressed (by gzip(1)), reads the same.
  @Test(.enabled(if: seed != nil && FileManager.default.isExecutableFile(atPath: "/bin/gzip")))
  func gzipIsRecognisedByItsContent() throws {
    let plain = Array(try Data(contentsOf: #require(Self.seed)))
    let gz = Process()
    gz.executableURL = URL(fileURLWithPath: "/bin/gzip")
    gz.arguments = ["-c", try #require(Self.seed).path]
    let out = Pipe()
    gz.standardOutput = out
    try gz.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    gz.waitUntilExit()
    // Twice in a row: two gzip members, as `cat a.gz b.gz` makes.
    let compressed = Array(data)
    #expect(compressed.prefix(2) == [0x1F, 0x8B])
    let a = try Self.explain(plain).sessions
    let b = try Self.explain(compressed).sessions
    #expect(a.map(\.findings) == b.map(\.findings))
    let two = try Self.explain(compressed + compressed).sessions
    #expect(two.first?.evidence.remote.count == a.first?.evidence.remote.count)
    // A truncated download: what was inflated is explained, and the input says it was cut.
    let cut = try Self.explain(Array(compressed.prefix(compressed.count * 2 / 3))).sessions
    #expect(cut.first?.evidence.truncated == true)
  }

  struct Row: Sendable, CustomStringConvertible {
    var fixture: String
    var session: Int
    var situation: Situation
    var description: String { situation.name }
  }

  static let rows: [Row] = [
    Row(
      fixture: "libnice-connected.log", session: 0,
      situation: Situation(
        "libnice: connected through the NATs, the host pair failed",
        mustFind: [
          .explainConnected, .explainPathWorked, .explainPathFailed, .explainPair,
          .explainPortKept, .explainDTLSTime, .explainGatheringTime, .explainCredentialsRedacted,
        ],
        mustNotFind: [
          .explainFailed, .explainMissingChecks, .explainMissingPeer, .explainHostOnly,
          .explainCauseChecksUnanswered,
        ])),
    Row(
      fixture: "libnice-failed.log", session: 0,
      situation: Situation(
        "libnice: every check unanswered, TURN refused the password (401)",
        mustFind: [
          .explainFailed, .explainCauseChecksUnanswered, .explainCauseNoRelay, .explainServerError,
          .explainPathFailed,
        ],
        mustNotFind: [.explainConnected, .explainCauseSymmetric, .explainCauseUnknown])),
    Row(
      fixture: "pion-failed.log", session: 0,
      situation: Situation(
        "pion: checks reach this side one way only, no relay",
        mustFind: [
          .explainFailed, .explainCauseOneWay, .explainCauseNoRelay, .explainPathFailed,
          .explainPortRewritten,
        ],
        mustNotFind: [.explainConnected, .explainCauseChecksUnanswered, .explainMissingChecks])),
    Row(
      fixture: "webrtc-internals.json", session: 0,
      situation: Situation(
        "webrtc-internals: both NATs symmetric, TURN unreachable (701), mDNS host",
        mustFind: [
          .explainFailed, .explainCauseSymmetric, .explainCauseNoRelay, .explainMappingVaries,
          .explainServerError, .explainServers, .explainPathFailed,
        ],
        mustNotFind: [.explainConnected, .explainCauseChecksUnanswered, .explainMissingChecks])),
    Row(
      fixture: "webrtc-internals.json", session: 1,
      situation: Situation(
        "webrtc-internals: relay only (iceTransportPolicy relay), connected through TURN",
        mustFind: [.explainConnected, .explainPathWorked, .explainPathNotFormed, .explainPair],
        mustNotFind: [.explainFailed, .explainMissingChecks, .explainCauseNoRelay])),
  ]

  @Test(arguments: rows)
  func situation(_ row: Row) throws {
    let (sessions, _) = try Self.explain(try Self.fixture(row.fixture), name: row.fixture)
    try #require(sessions.count > row.session)
    let problems = row.situation.check(sessions[row.session].findings)
    #expect(problems.isEmpty, "\(problems)")
  }

  @Test func theSelectedPairAndCauseOfEachFixture() throws {
    let connected = try Self.explain(try Self.fixture("libnice-connected.log")).sessions[0]
    let c = try #require(Self.finding(connected, .explainConnected))
    #expect(c.parameters.text("remote") == "203.0.113.50:62000")
    #expect(c.parameters.text("path") == "reflexive")
    let failed = try Self.explain(try Self.fixture("libnice-failed.log")).sessions[0]
    let cause = try #require(Self.finding(failed, .explainCauseNoRelay))
    #expect(cause.parameters.text("why") == "turn-error" && cause.parameters.int("code") == 401)
    let dump = try Self.explain(try Self.fixture("webrtc-internals.json")).sessions
    #expect(dump.map(\.evidence.label) == ["91234-1", "91234-2"])
    let relay = try #require(Self.finding(dump[1], .explainConnected))
    #expect(relay.parameters.text("path") == "relay")
    #expect(dump[1].evidence.pairs.first?.rttMs == 34)
    let why = try #require(Self.finding(dump[0], .explainCauseNoRelay))
    #expect(why.parameters.text("why") == "turn-unreachable")
  }

  @Test func pcPicksOnePeerConnection() throws {
    let bytes = try Self.fixture("webrtc-internals.json")
    let one = try Self.explain(bytes, pc: "91234-2").sessions
    #expect(one.map(\.evidence.label) == ["91234-2"])
    #expect(throws: ExplainError.self) { try Self.explain(bytes, pc: "1-1") }
  }

  /// A log with this side only: the peer's side is not measured, and no verdict claims it.
  @Test func aLogWithoutThePeerSaysWhatIsMissing() throws {
    let log = """
      10:00:00.000 local candidate: a=candidate:1 1 udp 2122260223 192.168.5.5 50000 typ host
      10:00:00.005 local candidate: a=candidate:2 1 udp 1686052607 198.51.100.5 50000 typ srflx raddr 192.168.5.5 rport 50000
      10:00:00.010 gathering done
      10:00:10.000 iceConnectionState: failed
      """
    let s = try Self.explain(Array(log.utf8)).sessions[0]
    let row = Situation(
      "only this side's log",
      mustFind: [.explainMissingPeer, .explainMissingChecks, .explainFailed, .explainCauseUnknown],
      mustNotFind: [.explainCauseNoRelay, .explainCauseChecksUnanswered, .explainPathFailed])
    #expect(row.check(s.findings).isEmpty, "\(row.check(s.findings))")
  }

  /// Connected, then consent lost; and ICE connected with DTLS never finished.
  @Test func lostAndDTLSSituations() throws {
    let lost = """
      2026-12-06 10:00:00,000 INFO remote candidate: a=candidate:1 1 udp 1 10.0.0.2 5000 typ host
      2026-12-06 10:00:00,100 INFO newIceState: connected
      2026-12-06 10:00:42,100 INFO consent expired
      2026-12-06 10:00:42,200 INFO newIceState: failed
      """
    let s = try Self.explain(Array(lost.utf8)).sessions[0]
    let row = Situation(
      "connected, then consent lost after 42 s",
      mustFind: [.explainConnected, .explainLost, .explainCauseConsentLost],
      mustNotFind: [.explainFailed, .explainCauseNoRelay])
    #expect(row.check(s.findings).isEmpty, "\(row.check(s.findings))")
    #expect(Self.finding(s, .explainLost)?.parameters.milliseconds("afterMs") == 42_000)
    let dtls = """
      10:00:00.000 remote candidate: a=candidate:1 1 udp 1 10.0.0.2 5000 typ host
      10:00:00.100 newIceState: connected
      10:00:00.101 DTLS handshake started
      10:00:30.000 closing
      """
    let d = try Self.explain(Array(dtls.utf8)).sessions[0]
    let dtlsRow = Situation(
      "ICE connected, DTLS never finished",
      mustFind: [.explainConnected, .explainDTLSNotFinished, .explainCauseDTLS],
      mustNotFind: [.explainDTLSTime, .explainLost])
    #expect(dtlsRow.check(d.findings).isEmpty, "\(dtlsRow.check(d.findings))")
  }

  /// What is not an ICE artifact is refused with one sentence.
  @Test func unrecognisedInputsAreRefused() throws {
    for (bytes, words) in [
      ([UInt8](), "empty"),
      (Array("just some text\nwith nothing in it\n".utf8), "not a format"),
      ([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 32), "capture"),
      ([0x0A, 0x0D, 0x0D, 0x0A] + [UInt8](repeating: 0, count: 28), "capture"),
      ([0x00, 0x01, 0x02, 0x03], "binary"),
      (Array("{\"PeerConnections\": [1,".utf8), "not valid JSON"),
    ] {
      do {
        _ = try Self.explain(bytes)
        Issue.record("accepted: \(bytes.prefix(16))")
      } catch let error as ExplainError {
        #expect(error.message.contains(words), "\(error.message)")
        #expect(!error.message.contains("\n"))
      }
    }
  }

  /// An input full of credentials: none reaches the text or the JSON.
  @Test func credentialsNeverReachTheOutput() throws {
    let secrets = [
      "IcePassw0rdNumberOne", "TurnSecretValue99", "RestSharedSecret77", "SdpIcePwdValueXYZ",
      "UrlPasswordInTurnUri",
    ]
    let log = """
      10:00:00.000 setting remote credentials, ufrag: abcd, pass: \(secrets[0])
      10:00:00.001 turn_server: 192.0.2.9, turn_port: 3478, username: u1, password: \(secrets[1])
      10:00:00.002 static-auth-secret=\(secrets[2]) a=ice-pwd:\(secrets[3])
      10:00:00.003 iceServers: turn:user:\(secrets[4])@192.0.2.9:3478
      10:00:00.004 local candidate: a=candidate:1 1 udp 1 10.0.0.1 5000 typ host
      10:00:00.005 remote candidate: a=candidate:2 1 udp 1 10.0.0.2 5001 typ host
      10:00:01.000 newIceState: failed password=\(secrets[1])
      """
    let (sessions, found) = try Self.explain(Array(log.utf8))
    let report = ExplainReport(inputs: [], sessions: sessions)
    let outputs = [report.text, String(decoding: try ReportJSON.encode(report), as: UTF8.self)]
    for out in outputs {
      for s in secrets { #expect(!out.contains(s), "\(s) in the output") }
    }
    // The scrubber knows each of them too (the second guard).
    for s in secrets.prefix(4) { #expect(found.scrub("x \(s) y") == "x [redacted] y") }
  }

  /// Every finding the explain vocabulary derives is worded, and none is a bare code.
  @Test func everyExplainFindingIsWorded() throws {
    var all: [Finding] = []
    for name in ["libnice-connected.log", "libnice-failed.log", "webrtc-internals.json"] {
      all += try Self.explain(try Self.fixture(name)).sessions.flatMap(\.findings.findings)
    }
    for f in all {
      #expect(FindingText.isWorded(f), "\(f.code) has no sentence")
      #expect(f.text != f.code.rawValue)
    }
  }
}
