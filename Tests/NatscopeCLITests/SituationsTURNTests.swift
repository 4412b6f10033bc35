import Foundation
import Report
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The situation matrix of `natscope turn`: the built binary against coturn on loopback (when
/// installed) and against loopback ports that are closed or silent. Each row names the
/// findings its report must and must not contain; every JSON document is validated against
/// `schema/turn-1.json`.
enum TURNSituations {
  /// One run of `natscope turn … --json`: its exit status, findings and document.
  struct Run {
    var result: Binary.Result
    var findings: FindingSet
    var document: [String: Any]
  }

  private struct Document: Decodable {
    var findings: FindingSet
  }

  static func run(
    _ name: String, _ uris: [String], secret: String = "cli-secret",
    samples: inout [SchemaTests.Sample]
  ) throws -> Run {
    let r = try Binary.run(
      ["turn"] + uris + ["--turn-user", "alice", "--json"],
      environment: ["NATSCOPE_TURN_SECRET": secret], timeout: 60)
    #expect(!r.stdout.contains(secret), "\(name): the secret reached the output")
    samples.append(SchemaTests.Sample(name: name, schema: "turn", text: r.stdout))
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
      "\(name): not one JSON document: \(r.stdout.prefix(300)) \(r.stderr)")
    let decoded = try JSONDecoder().decode(Document.self, from: Data(r.stdout.utf8))
    return Run(result: r, findings: decoded.findings, document: document)
  }

  /// Checks `run` against `situation` and the expected exit status.
  static func check(_ situation: Situation, _ run: Run, status: Int32) {
    for problem in situation.check(run.findings) { Issue.record(Comment(rawValue: problem)) }
    #expect(
      run.result.status == status,
      "\(situation.name): exit status \(run.result.status), not \(status): \(run.result.stderr)")
    // The problems' sentences are the findings' sentences.
    for server in run.document["servers"] as? [[String: Any]] ?? [] {
      for p in server["problems"] as? [[String: Any]] ?? [] {
        let code = FindingCode(rawValue: "turn." + (p["code"] as? String ?? ""))
        #expect(
          run.findings.with(code).contains { $0.text == p["message"] as? String },
          "\(situation.name): problem \(code) has a message no finding says")
      }
    }
  }

  static func validate(_ samples: [SchemaTests.Sample]) throws {
    guard SchemaValidator.python != nil else { return }
    try SchemaValidator.validate(samples)
  }

  /// Runs another program (bounded: killed after `timeout` seconds) and captures its output.
  static func runTool(
    _ path: String, _ arguments: [String], environment: [String: String],
    timeout: TimeInterval = 60
  ) throws -> Binary.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let timer = DispatchSource.makeTimerSource()
    let pid = process.processIdentifier
    timer.schedule(deadline: .now() + timeout)
    timer.setEventHandler { kill(pid, SIGKILL) }
    timer.resume()
    defer { timer.cancel() }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Binary.Result(
      status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self),
      stderr: "")
  }

  /// A UDP port on 127.0.0.1 bound by this test and never read (a silent server), as a
  /// descriptor to close and its port.
  static func silentPort() throws -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    if !bound { close(fd) }
    try #require(bound)
    return (fd, UInt16(bigEndian: sin.sin_port))
  }
}

@Suite("natscope turn situations: no TURN server there", .serialized)
struct SituationsTURNPortTests {
  /// ICMP port unreachable ends the Allocate at once: no answer, with ICMP as its evidence.
  @Test func closedPort() throws {
    let (fd, port) = try TURNSituations.silentPort()
    close(fd)  // nothing listens there now: the kernel answers ICMP port unreachable
    var samples: [SchemaTests.Sample] = []
    let started = Date()
    let run = try TURNSituations.run("turn-closed", ["turn:127.0.0.1:\(port)"], samples: &samples)
    #expect(Date().timeIntervalSince(started) < 5, "a closed port should fail at once")
    let situation = Situation(
      "closed port (ICMP)",
      mustFind: [.turnNoAnswer, .turnProblem(.unreachable), .turnServerBroken, .turnVerdictBroken],
      mustNotFind: [.turnReachable, .turnAuthenticated, .turnAllocated, .turnVerdictWorks])
    TURNSituations.check(situation, run, status: 2)
    let noAnswer = run.findings.with(.turnNoAnswer).first
    #expect(noAnswer?.evidence.contains { $0.kind == .icmp } == true)
    #expect(noAnswer?.text.contains("ICMP port unreachable") == true)
    try TURNSituations.validate(samples)
  }

  /// A socket that takes the Allocate and never answers: no answer after the retransmissions,
  /// with silence (not ICMP) as the evidence.
  @Test func silentPort() throws {
    let (fd, port) = try TURNSituations.silentPort()
    defer { close(fd) }
    var samples: [SchemaTests.Sample] = []
    let run = try TURNSituations.run("turn-silent", ["turn:127.0.0.1:\(port)"], samples: &samples)
    let situation = Situation(
      "silent port",
      mustFind: [
        .turnNoAnswer, .turnProblem(.unreachable), .turnAuthenticationNotReached,
        .turnRelayNotMeasured, .turnVerdictBroken,
      ],
      mustNotFind: [.turnReachable, .turnAuthenticated, .turnAllocated, .turnVerdictWorks])
    TURNSituations.check(situation, run, status: 2)
    let noAnswer = run.findings.with(.turnNoAnswer).first
    #expect(noAnswer?.evidence.contains { $0.kind == .noAnswer } == true)
    #expect(noAnswer?.evidence.contains { $0.kind == .icmp } == false)
    try TURNSituations.validate(samples)
  }
}

@Suite(
  "natscope turn situations against coturn", .serialized, .timeLimit(.minutes(4)),
  .enabled(
    if: FileManager.default.isExecutableFile(atPath: "/usr/bin/turnserver"),
    "coturn's turnserver is not installed (apt-get install coturn)"))
struct SituationsTURNTests {
  @Test func workingServer() throws {
    let coturn = try #require(RESTCoturn(allowLoopbackPeers: true))
    defer { coturn.stop() }
    var samples: [SchemaTests.Sample] = []
    let run = try TURNSituations.run(
      "turn-works", ["turn:127.0.0.1:\(coturn.port)"], samples: &samples)
    let situation = Situation(
      "working server (--allow-loopback-peers)",
      mustFind: [
        .turnReachable, .turnAuthenticated, .turnAllocated, .turnRelays, .turnReleased,
        .turnServerWorks, .turnVerdictWorks,
      ],
      mustNotFind: [
        .turnRelayNotMeasured, .turnPeerForbidden, .turnServerAllocates, .turnVerdictUnverified,
        .turnVerdictBroken,
      ])
    TURNSituations.check(situation, run, status: 0)
    #expect(run.document["verdict"] as? String == "works")
    try TURNSituations.validate(samples)
  }

  /// Issue 18 #1: coturn refuses loopback peers (403 to CreatePermission). The relay was not
  /// measured, so nothing may claim it relays, and the verdict is not "works".
  @Test func serverForbidsThePeer() throws {
    let coturn = try #require(RESTCoturn(allowLoopbackPeers: false))
    defer { coturn.stop() }
    var samples: [SchemaTests.Sample] = []
    let uri = "turn:127.0.0.1:\(coturn.port)"
    let run = try TURNSituations.run("turn-peer-forbidden", [uri], samples: &samples)
    let situation = Situation(
      "TURN forbids the peer (403)",
      mustFind: [
        .turnAuthenticated, .turnAllocated, .turnRelayNotMeasured, .turnPeerForbidden,
        .turnServerAllocates, .turnVerdictUnverified,
      ],
      mustNotFind: [.turnRelays, .turnServerWorks, .turnVerdictWorks, .turnVerdictBroken])
    TURNSituations.check(situation, run, status: 4)
    #expect(run.document["verdict"] as? String == "unverified")
    let coversRelay = run.findings.filter { $0.covers.contains(.turnRelay) }
    #expect(coversRelay.isEmpty, "claims relaying: \(coversRelay.map(\.code))")
    #expect(
      run.findings.notMeasured(
        .turnRelay, of: .server(try #require(.init("127.0.0.1:\(coturn.port)")))))

    let text = try Binary.run(
      ["turn", uri, "--turn-user", "alice"], environment: ["NATSCOPE_TURN_SECRET": "cli-secret"])
    #expect(text.status == 4)
    #expect(text.stdout.contains("verdict: unverified"))
    #expect(!text.stdout.contains("relays both ways"), Comment(rawValue: text.stdout))
    try TURNSituations.validate(samples)
  }

  @Test func wrongSecret() throws {
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    var samples: [SchemaTests.Sample] = []
    let run = try TURNSituations.run(
      "turn-401", ["turn:127.0.0.1:\(coturn.port)"], secret: "wrong-secret", samples: &samples)
    let situation = Situation(
      "wrong secret (401)",
      mustFind: [
        .turnReachable, .turnCredentialsRejected, .turnProblem(.unauthorized),
        .turnAllocationNotReached, .turnRelayNotMeasured, .turnServerBroken, .turnVerdictBroken,
      ],
      mustNotFind: [.turnAuthenticated, .turnAllocated, .turnServerWorks, .turnVerdictWorks])
    TURNSituations.check(situation, run, status: 2)
    try TURNSituations.validate(samples)
  }

  /// coturn with a quota of one allocation per user: the check's second allocation (for the
  /// relay test) gets 486 Allocation Quota Reached.
  @Test func quota() throws {
    let coturn = try #require(RESTCoturn(extra: ["--user-quota=1"]))
    defer { coturn.stop() }
    var samples: [SchemaTests.Sample] = []
    let run = try TURNSituations.run(
      "turn-quota", ["turn:127.0.0.1:\(coturn.port)"], samples: &samples)
    let situation = Situation(
      "quota (486)",
      mustFind: [
        .turnAuthenticated, .turnAllocated, .turnProblem(.quota), .turnRelayNotMeasured,
        .turnServerBroken, .turnVerdictBroken,
      ],
      mustNotFind: [.turnRelays, .turnServerWorks, .turnVerdictWorks])
    TURNSituations.check(situation, run, status: 2)
    let quota = run.findings.with(.turnProblem(.quota)).first
    #expect(quota?.evidence.contains { $0.kind == .errorCode && $0.value == 486 } == true)
    try TURNSituations.validate(samples)
  }

  /// Issue 18 #12: with one silent server, the working server's block is printed as soon as
  /// its check is done, not when the silent one gives up; the JSON has both.
  @Test func twoServersOneSilent() throws {
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    let (fd, port) = try TURNSituations.silentPort()
    defer { close(fd) }
    let uris = ["turn:127.0.0.1:\(coturn.port)", "turn:127.0.0.1:\(port)"]
    var samples: [SchemaTests.Sample] = []
    let run = try TURNSituations.run("turn-two-one-silent", uris, samples: &samples)
    let situation = Situation(
      "two servers, one silent",
      mustFind: [.turnServerWorks, .turnNoAnswer, .turnProblem(.unreachable), .turnVerdictBroken],
      mustNotFind: [.turnVerdictWorks, .turnVerdictUnverified])
    TURNSituations.check(situation, run, status: 2)
    try TURNSituations.validate(samples)

    // Text: read standard output as it comes.
    let process = Process()
    process.executableURL = Binary.url
    process.arguments = ["turn"] + uris + ["--turn-user", "alice"]
    process.environment = ProcessInfo.processInfo.environment.merging([
      "NATSCOPE_TURN_SECRET": "cli-secret"
    ]) { $1 }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    let started = Date()
    try process.run()
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    var seen = ""
    var firstBlockAt: TimeInterval?
    let handle = out.fileHandleForReading
    while true {
      let data = handle.availableData
      if data.isEmpty { break }
      seen += String(decoding: data, as: UTF8.self)
      if firstBlockAt == nil, seen.contains("releases") {
        firstBlockAt = Date().timeIntervalSince(started)
      }
      if Date().timeIntervalSince(started) > 60 { break }
    }
    process.waitUntilExit()
    let total = Date().timeIntervalSince(started)
    #expect(total > 5, "the silent server should take its retransmissions")
    let first = try #require(firstBlockAt, Comment(rawValue: seen))
    #expect(first < 3, "the working server's block came after \(first) s of \(total) s")
    #expect(seen.contains("verdict: broken"))
  }

  /// Issue 18 #12: on a 60-column terminal under LANG=C, problem lines are wrapped to the
  /// width (never cut mid-address) and the marks are ASCII; a line on standard error says what
  /// natscope waits for while a silent server is still being checked.
  @Test func narrowTerminalWithoutUTF8() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    let (fd, port) = try TURNSituations.silentPort()
    defer { close(fd) }
    let command =
      "stty cols 60 rows 24; \(Binary.url.path) turn turn:127.0.0.1:\(coturn.port) turn:127.0.0.1:\(port) --turn-user alice"
    let r = try TURNSituations.runTool(
      "/usr/bin/script", ["-qec", command, "/dev/null"],
      environment: [
        "LANG": "C", "LC_ALL": "", "LC_CTYPE": "", "NATSCOPE_TURN_SECRET": "wrong-secret",
        "TERM": "dumb",
      ])
    let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
    #expect(lines.contains { $0.contains("problem (unauthorized)") }, Comment(rawValue: r.stdout))
    for line in lines {
      #expect(line.count <= 60, "wider than the terminal: \(line)")
      #expect(!line.contains { !$0.isASCII }, "not ASCII under LANG=C: \(line)")
    }
    #expect(r.stdout.contains("+ reachable"))
    #expect(r.stdout.contains("x authenticates"))
    #expect(r.stdout.contains("still checking"), Comment(rawValue: r.stdout))
  }
}
