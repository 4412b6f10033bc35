import Foundation
import Report
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The situation matrix of `probe`, `binding` and `serve`: the built binary on loopback, against
/// a `natscope serve` (127.0.0.1 and 127.0.0.2: RFC 5780; one address: none), coturn when it is
/// installed (one listening IP: no RFC 5780), a UDP socket that takes requests and never
/// answers, a closed port, and a name that does not resolve. Each row asserts which findings the
/// report must and must not make, and validates every JSON document against its schema.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct SituationsProbeTests {
  /// One command's run: its exit status, output, and (from `--json`) its findings.
  struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    var findings: FindingSet
  }

  /// Runs natscope with `--json`, keeps the document for validation and decodes its findings.
  static func json(
    _ name: String, _ schema: String, _ args: [String], into samples: inout [SchemaTests.Sample]
  ) throws -> Run {
    let r = try Binary.run(args + ["--json"], timeout: 90)
    samples.append(SchemaTests.Sample(name: name, schema: schema, text: r.stdout))
    var findings = FindingSet()
    if let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
      let array = object["findings"],
      let data = try? JSONSerialization.data(withJSONObject: array)
    {
      findings = (try? JSONDecoder().decode(FindingSet.self, from: data)) ?? FindingSet()
    } else {
      Issue.record("\(name): no findings in \(r.stdout.prefix(400)) (stderr: \(r.stderr))")
    }
    return Run(status: r.status, stdout: r.stdout, stderr: r.stderr, findings: findings)
  }

  /// Records every problem `situation` finds in `run`.
  static func expect(_ situation: Situation, _ run: Run, status: Int32) {
    for problem in situation.check(run.findings) { Issue.record(Comment(rawValue: problem)) }
    #expect(run.status == status, "\(situation): exit status \(run.status), not \(status)")
  }

  static func validate(_ samples: [SchemaTests.Sample]) throws {
    guard SchemaValidator.python != nil else { return }
    try SchemaValidator.validate(samples)
  }

  // MARK: - Rows

  @Test func oneSilentServerIsNoAnswerFromThatServerNotUDPBlocked() throws {
    let silent = try SilentUDP()
    defer { silent.close() }
    var samples: [SchemaTests.Sample] = []
    let target = "127.0.0.1:\(silent.port)"
    // The same host refuses TCP on that port: it was reached.
    let probe = try Self.json("probe-silent", "probe", ["probe", target], into: &samples)
    Self.expect(
      Situation(
        "probe: one silent server on loopback (TCP refused)",
        mustFind: [.probeUDPNoAnswer, .probeUDPNotMeasured, .probeTCPRefused],
        mustNotFind: [.probeUDPBlocked, .peersUDPBlocked]), probe, status: 2)
    let text = try Binary.run(["probe", target])
    #expect(!text.stdout.contains("blocked"), Comment(rawValue: text.stdout))
    #expect(!text.stdout.contains("does not get out"), Comment(rawValue: text.stdout))
    #expect(
      text.stdout.contains("No answer from \(target) over UDP"), Comment(rawValue: text.stdout))
    #expect(text.stdout.contains("refused the TCP connection"), Comment(rawValue: text.stdout))

    let binding = try Self.json(
      "binding-silent", "binding", ["binding", target, "--rto", "50", "--max-requests", "2"],
      into: &samples)
    Self.expect(
      Situation(
        "binding: one silent server", mustFind: [.bindingNoAnswer, .probeUDPNotMeasured],
        mustNotFind: [.probeUDPBlocked]), binding, status: 2)
    #expect(!binding.stdout.contains("asking"), "the waiting line goes to stderr, not the JSON")
    try Self.validate(samples)
  }

  @Test func bindingToASilentServerSaysOnStderrWhatItWaitsFor() throws {
    let silent = try SilentUDP()
    defer { silent.close() }
    let target = "127.0.0.1:\(silent.port)"
    let r = try Binary.run(["binding", target, "--rto", "50", "--max-requests", "2", "-v"])
    #expect(r.status == 2)
    #expect(r.stderr.contains("asking \(target)"), Comment(rawValue: r.stderr))
    #expect(r.stderr.contains("2 requests over"), Comment(rawValue: r.stderr))
    #expect(!r.stdout.contains("asking"), Comment(rawValue: r.stdout))
    // The local socket is bound to every address: *:PORT, as probe shows it.
    #expect(r.stdout.contains("local       *:"), Comment(rawValue: r.stdout))
    #expect(!r.stdout.contains("0.0.0.0"), Comment(rawValue: r.stdout))
  }

  @Test func aClosedPortIsNoServerThereAndTheNetworkWasReached() throws {
    var samples: [SchemaTests.Sample] = []
    let probe = try Self.json("probe-closed", "probe", ["probe", "127.0.0.1:9"], into: &samples)
    Self.expect(
      Situation(
        "probe: closed port (ICMP port unreachable)", mustFind: [.probeUDPUnreachable],
        mustNotFind: [.probeUDPBlocked, .probeUDPNotMeasured, .peersUDPBlocked]), probe, status: 2)
    let binding = try Self.json(
      "binding-closed", "binding", ["binding", "127.0.0.1:9"], into: &samples)
    Self.expect(
      Situation(
        "binding: closed port", mustFind: [.bindingUnreachable], mustNotFind: [.bindingNoAnswer]),
      binding, status: 2)
    try Self.validate(samples)
  }

  @Test func aNameThatDoesNotResolveIsStillADocument() throws {
    var samples: [SchemaTests.Sample] = []
    let binding = try Self.json(
      "binding-unresolved", "binding", ["binding", "stun.example.invalid"], into: &samples)
    Self.expect(
      Situation(
        "binding: name does not resolve", mustFind: [.bindingNotResolved],
        mustNotFind: [.bindingNoAnswer, .probeUDPNotMeasured]), binding, status: 2)
    let probe = try Self.json(
      "probe-unresolved", "probe", ["probe", "no-such-host.invalid"], into: &samples)
    Self.expect(
      Situation(
        "probe: name does not resolve", mustFind: [.probeNotResolved],
        mustNotFind: [.probeUDPBlocked, .probeNoServer, .peersUDPBlocked]), probe, status: 2)
    try Self.validate(samples)
  }

  @Test func aServerOnThisHostSaysNothingAboutTheInternet() throws {
    let server = try SituationServer(alternate: true)
    defer { server.stop() }
    var samples: [SchemaTests.Sample] = []
    let probe = try Self.json(
      "probe-this-host", "probe", ["probe", server.address, "--port-samples", "2"], into: &samples)
    Self.expect(
      Situation(
        "probe: RFC 5780 server on this host",
        mustFind: [
          .serverRFC5780, .serverOnThisHost, .internetPathNotMeasured, .peersServerOnThisHost,
        ],
        mustNotFind: [.peersPrediction, .peersUnknown]), probe, status: 0)
    let text = try Binary.run(["probe", server.address])
    #expect(!text.stdout.contains("Open Internet"), Comment(rawValue: text.stdout))
    #expect(!text.stdout.contains("peers of every kind"), Comment(rawValue: text.stdout))
    #expect(text.stdout.contains("is on this host"), Comment(rawValue: text.stdout))
    // probe -v: every line fits the layout's width (92 off a terminal), wrapped at spaces.
    let verbose = try Binary.run(["probe", server.address, "-v"])
    for line in verbose.stdout.split(separator: "\n") {
      #expect(line.count <= 92, "probe -v line wider than 92 columns: \(line)")
    }
    #expect(!verbose.stdout.contains(" 1 tries"), Comment(rawValue: verbose.stdout))
    let binding = try Self.json(
      "binding-this-host", "binding", ["binding", server.address], into: &samples)
    Self.expect(
      Situation(
        "binding: server on this host", mustFind: [.bindingAnswered, .serverOnThisHost]), binding,
      status: 0)
    try Self.validate(samples)
  }

  @Test func aServerWithoutRFC5780ClaimsNothingItDidNotMeasure() throws {
    // natscope serve with one address and no SOFTWARE: no OTHER-ADDRESS, no SOFTWARE.
    let server = try SituationServer(alternate: false, extra: ["--software", ""])
    defer { server.stop() }
    var samples: [SchemaTests.Sample] = []
    let probe = try Self.json("probe-no-5780", "probe", ["probe", server.address], into: &samples)
    let situation = Situation(
      "probe: server without RFC 5780 (natscope serve, one address, --software \"\")",
      mustFind: [.serverNoOtherAddress, .filteringNotMeasured],
      mustNotFind: [.peersUnknown, .peersPrediction, .filteringEndpointIndependent])
    Self.expect(situation, probe, status: 0)
    let text = try Binary.run(["probe", server.address])
    #expect(
      !text.stdout.contains("could not tell how this NAT maps"), Comment(rawValue: text.stdout))
    let binding = try Self.json(
      "binding-no-5780", "binding", ["binding", server.address], into: &samples)
    Self.expect(
      Situation("binding: server without RFC 5780", mustFind: [.serverNoOtherAddress]), binding,
      status: 0)
    server.stop()
    if let coturn = RESTCoturn() {
      defer { coturn.stop() }
      let address = "127.0.0.1:\(coturn.port)"
      let p = try Self.json("probe-coturn", "probe", ["probe", address], into: &samples)
      Self.expect(
        Situation(
          "probe: coturn (one listening IP, no RFC 5780)",
          mustFind: [.serverNoOtherAddress, .filteringNotMeasured],
          mustNotFind: [.peersUnknown, .peersPrediction]), p, status: 0)
      let b = try Self.json("binding-coturn", "binding", ["binding", address], into: &samples)
      Self.expect(
        Situation("binding: coturn", mustFind: [.bindingAnswered, .serverNoOtherAddress]), b,
        status: 0)
    }
    try Self.validate(samples)
  }

  @Test func twoServersOneSilentSaysWhichAndStillReachesAVerdict() throws {
    let server = try SituationServer(alternate: true)
    defer { server.stop() }
    let silent = try SilentUDP()
    defer { silent.close() }
    var samples: [SchemaTests.Sample] = []
    let probe = try Self.json(
      "probe-one-silent", "probe", ["probe", server.address, "127.0.0.1:\(silent.port)"],
      into: &samples)
    Self.expect(
      Situation(
        "probe: two servers, one silent", mustFind: [.probeUDPNoAnswer, .serverRFC5780],
        mustNotFind: [.probeUDPBlocked, .peersUDPBlocked]), probe, status: 0)
    try Self.validate(samples)
  }

  @Test func serveWithAnEmptySoftwareNamePrintsValidStatistics() throws {
    let server = try SituationServer(alternate: false, extra: ["--software", "", "--json"])
    _ = try Binary.run(["binding", server.address, "--rto", "50", "--max-requests", "2"])
    let out = server.stop()
    try Self.validate([SchemaTests.Sample(name: "serve-empty-software", schema: "serve", text: out)]
    )
  }
}

/// A UDP socket on 127.0.0.1 that takes requests and never answers (it never reads), closed by
/// the test.
final class SilentUDP {
  let fd: Int32
  let port: UInt16

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = 0
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    let bound = withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard fd >= 0, bound == 0, named == 0 else {
      if fd >= 0 { Glibc.close(fd) }
      throw NSError(
        domain: "natscope-test", code: 2,
        userInfo: [NSLocalizedDescriptionKey: "cannot bind a UDP socket on 127.0.0.1"])
    }
    self.fd = fd
    port = UInt16(bigEndian: sin.sin_port)
  }

  func close() { Glibc.close(fd) }
}

/// A `natscope serve` on 127.0.0.1 (and 127.0.0.2 with `alternate`) at a random free port pair,
/// stopped by PID (SIGTERM, then SIGKILL) by the test, also on failure (deinit).
final class SituationServer {
  let process = Process()
  let port: UInt16
  private let out = Pipe()
  private let err = Pipe()

  var address: String { "127.0.0.1:\(port)" }

  init(alternate: Bool, extra: [String] = []) throws {
    port = UInt16.random(in: 30000...39000) & ~1
    process.executableURL = Binary.url
    var args = [
      "serve", "--primary", "127.0.0.1", "--port", "\(port)", "--alt-port", "\(port + 1)",
    ]
    if alternate { args += ["--alternate", "127.0.0.2"] }
    process.arguments = args + extra
    process.standardError = err
    process.standardOutput = out
    try process.run()
    let deadline = Date().addingTimeInterval(5)
    var seen = ""
    while Date() < deadline && !seen.contains("listening") && process.isRunning {
      seen += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
    }
    guard seen.contains("listening") else {
      stop()
      throw NSError(
        domain: "natscope-test", code: 1,
        userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(seen)"])
    }
  }

  /// Stops the server and returns what it printed on standard output (`--json` statistics).
  @discardableResult
  func stop() -> String {
    guard process.isRunning else { return "" }
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(5)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  }

  deinit { stop() }
}
