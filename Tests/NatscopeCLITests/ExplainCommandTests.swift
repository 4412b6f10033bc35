import Foundation
import Report
import TestSupport
import Testing

/// `natscope explain` as a user runs it: the seed, the fixtures of every reader, standard
/// input, gzip, refused inputs, and inputs full of credentials that must reach no output.
@Suite(.serialized) struct ExplainCommandTests {
  static let repository = SchemaValidator.repository
  static let fixtures = repository.appendingPathComponent("Tests/ExplainTests/Fixtures")
  static let seed = repository.deletingLastPathComponent()
    .appendingPathComponent("shared/seed/000_390cbae1f723b4a3.txt")
  static var hasSeed: Bool { FileManager.default.fileExists(atPath: seed.path) }

  static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

  @Test(.enabled(if: hasSeed, "the seed (../shared/seed) is not beside the repository"))
  func theSeedIsExplainedInTextAndJSON() throws {
    let text = try Binary.run(["explain", Self.seed.path])
    #expect(text.status == 0, Comment(rawValue: text.stderr))
    // Sentences are wrapped: compare with the lines joined.
    let joined = text.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    for words in [
      "NAT rewrote port 40006 to 16175", "outside the configured range 40000–50000",
      "host ↔ host 10.200.20.84:40006 ↔ 10.200.111.59:64816",
      "From the first remote candidate to connected: 729 ms", "The DTLS handshake took 40 ms",
      "3 TCP candidates were ignored", "link-local",
    ] {
      #expect(joined.contains(words), "no \"\(words)\" in:\n\(text.stdout)")
    }
    let json = try Binary.run(["explain", "--json", Self.seed.path])
    #expect(json.status == 0)
    for secret in ["smTIKg0CrCALj6qGKfGvXZS9", "67avgI5/OfkIKXqB+8AwE/"] {
      #expect(!text.stdout.contains(secret) && !json.stdout.contains(secret))
      #expect(!text.stderr.contains(secret) && !json.stderr.contains(secret))
    }
    try SchemaValidator.validate([
      SchemaTests.Sample(name: "explain-seed", schema: "explain", text: json.stdout)
    ])
  }

  /// Every fixture's document validates, and several files make one document.
  @Test(
    .enabled(if: SchemaValidator.python != nil, Comment(rawValue: SchemaValidator.missingReason)))
  func everyReadersJSONValidates() throws {
    var samples: [SchemaTests.Sample] = []
    let names = [
      "libnice-connected.log", "libnice-failed.log", "webrtc-internals.json", "pion-failed.log",
    ]
    for name in names {
      let r = try Binary.run(["explain", "--json", Self.fixture(name)])
      #expect(r.status == 0, Comment(rawValue: r.stderr))
      samples.append(.init(name: "explain-\(name)", schema: "explain", text: r.stdout))
    }
    let all = try Binary.run(["explain", "--json"] + names.map(Self.fixture))
    samples.append(.init(name: "explain-all", schema: "explain", text: all.stdout))
    let object = try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any]
    #expect((object?["sessions"] as? [Any])?.count == 5)
    let one = try Binary.run(["explain", "--json", "--pc", "91234-2", Self.fixture(names[2])])
    samples.append(.init(name: "explain-pc", schema: "explain", text: one.stdout))
    try SchemaValidator.validate(samples)
  }

  /// Standard input, gzip-compressed: recognised by content.
  @Test func standardInputAndGzip() throws {
    let log = try String(contentsOfFile: Self.fixture("libnice-failed.log"), encoding: .utf8)
    let plain = try Binary.run(["explain", "-"], stdin: log)
    #expect(plain.status == 0, Comment(rawValue: plain.stderr))
    #expect(plain.stdout.contains("401 Unauthorized"))
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-explain-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A name that says nothing: the content decides.
    let target = dir.appendingPathComponent("capture.pcap")
    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
    gzip.arguments = ["-c", "gzip -c '\(Self.fixture("libnice-failed.log"))' > '\(target.path)'"]
    try gzip.run()
    gzip.waitUntilExit()
    let gz = try Binary.run(["explain", target.path])
    #expect(gz.status == 0, Comment(rawValue: gz.stderr))
    #expect(gz.stdout.replacingOccurrences(of: target.path, with: "").contains("401 Unauthorized"))
  }

  /// An unreadable or unrecognised file: one sentence on standard error, exit status 1.
  @Test func unreadableAndUnrecognisedFilesFail() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-explain-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = dir.appendingPathComponent("notes.txt")
    try "nothing about ICE here\n".write(to: text, atomically: true, encoding: .utf8)
    let empty = dir.appendingPathComponent("empty.log")
    try Data().write(to: empty)
    for (args, words) in [
      ([dir.appendingPathComponent("missing.json").path], "cannot read"),
      ([dir.path], "directory"),
      ([text.path], "not a format natscope recognises"),
      ([empty.path], "is empty"),
      ([Self.fixture("libnice-failed.log"), "--pc", "1-1"], "--pc"),
      ([], "at least one file"),
    ] {
      let r = try Binary.run(["explain"] + args)
      #expect(r.status == 1, "natscope explain \(args): exit \(r.status)")
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.contains(words), "natscope explain \(args): \(r.stderr)")
    }
  }

  /// A dump whose times no Int holds (found by the fuzzer: wording the time trapped) is
  /// explained, not a crash.
  @Test func aDumpWithTimesOutOfRangeIsExplained() throws {
    let r = try Binary.run(["explain", Self.fixture("webrtc-internals-huge-time.json")])
    #expect(r.status == 0, Comment(rawValue: r.stderr))
    #expect(r.stdout.contains("chrome://webrtc-internals dump"), Comment(rawValue: r.stdout))
  }

  /// Inputs full of ICE passwords, TURN credentials and REST secrets, in every reader's
  /// format: none of them reaches standard output or standard error, in text or JSON.
  @Test func credentialsReachNoOutput() throws {
    let secrets = [
      "IcePwdAlpha1234567", "TurnPassBravo98765", "RestSecretCharlie55", "SdpIcePwdDelta4321",
      "UriPasswordEcho777",
    ]
    let generic = """
      10:00:00,000 - DEBUG message: setting remote credentials, ufrag: KDyD, pass: \(secrets[0])
      10:00:00,001 - DEBUG turn_server: 192.0.2.9, turn_port: 3478, username: u1, password: \(secrets[1])
      10:00:00,002 - DEBUG static-auth-secret=\(secrets[2]) a=ice-pwd:\(secrets[3])
      10:00:00,003 - DEBUG iceServers: turn:user:\(secrets[4])@192.0.2.9:3478
      10:00:00,004 - DEBUG Discovered New Candidate, candidate: a=candidate:1 1 udp 2013266431 10.0.0.1 40006 typ host generation 0
      10:00:00,005 - DEBUG Adding remote Candidate, candidate: a=candidate:2 1 udp 2122260223 10.0.0.2 64816 typ host generation 0
      10:00:01,000 - INFO iceState transition, newIceState: failed, pass: \(secrets[0])
      """
    let nice = """
      libnice-DEBUG: 09:15:00.001: Agent 0x7f3a10: setting turn_server: 198.51.100.99, turn_port: 3478, password='\(secrets[1])'
      libnice-DEBUG: 09:15:00.203: Agent 0x7f3a10: added a new pair 0x7f3b01 with foundation '1:1' to stream 1 component 1: [10.1.1.5]:50000 --> [10.2.2.7]:52000 t=host:host
      libnice-DEBUG: 09:15:00.204: Agent 0x7f3a10: STUN-CC REQ [10.1.1.5]:50000 --> [10.2.2.7]:52000, socket=7, pair=0x7f3b01 (c-id:1), tie=42, username='zz99:yy88' (9), password='\(secrets[0])' (18), prio=6e7f1eff, controlled.
      libnice-DEBUG: 09:15:07.925: Agent 0x7f3a10: stream 1 component 1 STATE-CHANGE connecting -> failed.
      """
    let sdp =
      "type: offer, sdp: v=0\\r\\na=ice-pwd:\(secrets[3])\\r\\na=candidate:1 1 udp 1 10.9.0.4 55000 typ host generation 0\\r\\n"
    let dump = """
      {"getUserMedia": [], "PeerConnections": {"1-1": {
        "rtcConfiguration": "{ iceServers: [turn:u:\(secrets[4])@turn.example.org:3478], credential: \\"\(secrets[1])\\" }",
        "url": "https://app.example.org/?secret=\(secrets[2])",
        "updateLog": [
          {"timestamp": 1765000000000, "type": "setRemoteDescription", "value": "\(sdp)"},
          {"timestamp": 1765000000010, "type": "oniceconnectionstatechange", "value": "\\"failed\\""}
        ], "stats": {}}}}
      """
    for (name, input) in [("generic", generic), ("libnice", nice), ("dump", dump)] {
      for json in [false, true] {
        let r = try Binary.run(["explain", "-"] + (json ? ["--json"] : []), stdin: input)
        #expect(r.status == 0, "\(name): \(r.stderr)")
        for s in secrets {
          #expect(!r.stdout.contains(s), "\(name)\(json ? " --json" : ""): \(s) on standard output")
          #expect(!r.stderr.contains(s), "\(name): \(s) on standard error")
        }
        #expect(r.stdout.contains("credential"), "\(name): the credentials are not counted")
      }
    }
  }
}
