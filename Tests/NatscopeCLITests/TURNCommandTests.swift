import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A coturn on 127.0.0.1 with a TURN REST API secret, stopped by PID (also used by SchemaTests).
final class RESTCoturn {
  let process = Process()
  let port: UInt16
  let directory: URL

  /// A coturn on loopback. `allowLoopbackPeers: false` makes it refuse its own (loopback)
  /// relayed addresses as peers (403 to CreatePermission); `extra` adds options (a quota).
  /// `verbose` is coturn's `-v`: the log then has a line per allocation made ("new") and
  /// released ("refreshed, … lifetime=0"), which ``log`` reads.
  init?(allowLoopbackPeers: Bool = true, extra: [String] = [], verbose: Bool = false) {
    guard
      let path = ["/usr/bin/turnserver", "/usr/sbin/turnserver"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
      })
    else { return nil }
    port = UInt16.random(in: 20000...30000)
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-cli-coturn-\(getpid())-\(port)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments =
      [
        "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1", "--listening-port=\(port)", "--use-auth-secret",
        "--static-auth-secret=cli-secret", "--realm=natscope.test",
        "--min-port=\(port &+ 1)", "--max-port=\(port &+ 100)", "--no-stdout-log",
        "--log-file=\(directory.path)/turn.log", "--pidfile=\(directory.path)/turn.pid",
        "--userdb=\(directory.path)/turndb",
      ] + (allowLoopbackPeers ? ["--allow-loopback-peers"] : []) + extra
    if verbose { process.arguments?.insert("-v", at: 1) }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    // Bounded wait until the TCP listener accepts.
    for _ in 0..<100 where process.isRunning {
      if Self.canConnect(port) { return }
      usleep(50_000)
    }
  }

  static func canConnect(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    return withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  /// coturn's log so far (it names the file after the day: every file it wrote).
  var log: String {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasPrefix("turn") && $0.hasSuffix(".log") }.sorted().compactMap {
      try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)
    }.joined()
  }

  func stop() {
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    for _ in 0..<40 where process.isRunning { usleep(50_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(at: directory)
  }
}

@Suite(
  "natscope turn (binary) against coturn", .serialized,
  .enabled(
    if: FileManager.default.isExecutableFile(atPath: "/usr/bin/turnserver"),
    "coturn's turnserver is not installed"))
struct TURNCommandTests {
  @Test func jsonReportWithASharedSecretAndAWrongOne() throws {
    let coturn = try #require(RESTCoturn())
    defer { coturn.stop() }
    let uri = "turn:127.0.0.1:\(coturn.port)"
    let ok = try Binary.run(
      ["turn", uri, "\(uri)?transport=tcp", "--turn-user", "alice", "--json"],
      environment: ["NATSCOPE_TURN_SECRET": "cli-secret"])
    #expect(ok.status == 0, "\(ok.stdout)\n\(ok.stderr)")
    #expect(!ok.stdout.contains("cli-secret"))
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
    #expect(report["schemaVersion"] as? Int == 1)
    #expect(report["verdict"] as? String == "works")
    let servers = try #require(report["servers"] as? [[String: Any]])
    #expect(servers.count == 2)
    #expect(servers.map { $0["transport"] as? String } == ["udp", "tcp"])
    for s in servers {
      #expect(s["reachable"] as? Bool == true)
      #expect(s["authenticated"] as? Bool == true)
      #expect(s["relays"] as? Bool == true)
      #expect(s["relayedAddress"] != nil)
      #expect(s["rttMs"] as? Double != nil)
      #expect((s["problems"] as? [Any])?.isEmpty == true)
    }

    let bad = try Binary.run(
      ["turn", uri, "--turn-user", "alice", "--turn-secret", "wrong-secret", "--json"])
    #expect(bad.status == 2)
    #expect(!bad.stdout.contains("wrong-secret"))
    let badReport = try #require(
      try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
    #expect(badReport["verdict"] as? String == "broken")
    let problems = try #require(
      (badReport["servers"] as? [[String: Any]])?.first?["problems"] as? [[String: Any]])
    #expect(problems.map { $0["code"] as? String } == ["unauthorized"])

    let text = try Binary.run(
      ["turn", uri, "--turn-user", "alice", "--turn-secret", "cli-secret"],
      environment: ["LC_ALL": "C.UTF-8"])
    #expect(text.status == 0)
    #expect(text.stdout.contains("✓ relays"))
    #expect(text.stdout.contains("verdict: works"))
  }

  /// Ctrl-C during a check: the report still comes out, with the problem `interrupted`, and the
  /// exit status says which signal.
  @Test func interruptedCheckStillReports() throws {
    // A loopback port nobody serves (bound here, never read): the Allocate gets no answer.
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    #expect(fd >= 0)
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    try #require(bound)
    let port = UInt16(bigEndian: sin.sin_port)
    let process = Process()
    process.executableURL = Binary.url
    process.arguments = [
      "turn", "turn:127.0.0.1:\(port)", "--turn-user", "u", "--turn-password", "p", "--json",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    usleep(1_500_000)
    kill(process.processIdentifier, SIGINT)
    let data = out.fileHandleForReading.readDataToEndOfFile()
    for _ in 0..<100 where process.isRunning { usleep(50_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGINT)
    let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(report["verdict"] as? String == "broken")
    let problems = try #require(
      (report["servers"] as? [[String: Any]])?.first?["problems"] as? [[String: Any]])
    #expect(problems.map { $0["code"] as? String } == ["interrupted"])
  }

  @Test func usageErrors() throws {
    let none = try Binary.run(["turn"])
    #expect(none.status == 1)
    let both = try Binary.run(
      ["turn", "turn:127.0.0.1", "--turn-user", "u", "--turn-password", "p", "--turn-secret", "s"])
    #expect(both.status == 1)
    #expect(both.stderr.contains("give one of them"))
    let noUser = try Binary.run(["turn", "turn:127.0.0.1", "--turn-password", "p"])
    #expect(noUser.status == 1)
    #expect(noUser.stderr.contains("--turn-user"))
    let insecureAlone = try Binary.run(
      ["turn", "turn:127.0.0.1", "--turn-user", "u", "--turn-password", "p", "--insecure"])
    #expect(insecureAlone.status == 1)
    #expect(insecureAlone.stderr.contains("turns:"))
    let dtls = try Binary.run(
      ["turn", "turns:127.0.0.1?transport=udp", "--turn-user", "u", "--turn-password", "p"])
    #expect(dtls.status == 1)
    #expect(dtls.stderr.contains("DTLS"))
    // connect takes the secret too, only with a TURN server.
    let connect = try Binary.run(["connect", "--turn-secret", "s", "--json"])
    #expect(connect.status == 1)
    #expect(connect.stderr.contains("--turn-secret go with --turn"))
  }
}
