import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `natscope exporter` on loopback: /probe against natscope's own STUN server (and coturn when
/// installed), malformed queries, /metrics; promtool on the exposition and the example alert
/// rules; and a real Prometheus scraping it, read back through its HTTP API.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ExporterCLITests {
  /// A started exporter, stopped by PID when the test ends.
  final class Exporter {
    let process: Spawned
    let port: Int

    init(config: String? = nil) throws {
      var args = [Binary.url.path, "exporter", "--listen", "127.0.0.1:0"]
      if let config { args += ["--config", config] }
      process = try Spawned(args, name: "exporter")
      var found: Int?
      for _ in 0..<200 where found == nil {
        if let r = process.stderr.range(of: "listening on 127.0.0.1:") {
          let digits = process.stderr[r.upperBound...].prefix { $0.isNumber }
          found = Int(digits)
        }
        if found == nil { usleep(25_000) }
      }
      guard let found else {
        kill(process.pid, SIGKILL)
        throw Spawned.Failure(description: "the exporter did not start: \(process.stderr)")
      }
      port = found
    }

    func stop() -> Int32 {
      kill(process.pid, SIGTERM)
      return process.wait(timeout: 10)
    }

    deinit { _ = stop() }
  }

  /// One HTTP/1.1 GET on loopback: status and body (bounded by `timeout` seconds).
  static func get(_ port: Int, _ path: String, headers: [String: String] = [:], timeout: Int = 20)
    -> (status: Int, body: String)?
  {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = UInt16(port).bigEndian
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    let connected = withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    guard connected else { return nil }
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    request += "\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      data += buffer[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    let statusLine = text[..<split.lowerBound].split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
    return (status, String(text[split.upperBound...]))
  }

  static func tool(_ name: String) -> String? {
    ["/usr/bin/\(name)", "/usr/local/bin/\(name)"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }

  /// Runs a tool with `input` on standard input; its status and output.
  static func run(_ path: String, _ args: [String], input: String? = nil) throws -> (
    Int32, String
  ) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let inPipe = Pipe()
    if input != nil { p.standardInput = inPipe }
    try p.run()
    if let input {
      inPipe.fileHandleForWriting.write(Data(input.utf8))
      try inPipe.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  static let repository = SchemaValidator.repository

  @Test func probeAgainstNatscopesOwnSTUNServer() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.4")
    defer { server.stop() }
    let exporter = try Exporter()
    let target = "127.0.0.4:\(server.port)"
    let binding = try #require(
      Self.get(exporter.port, "/probe?target=\(target)&module=binding"),
      "no answer from the exporter")
    #expect(binding.status == 200)
    #expect(binding.body.contains("natscope_probe_success 1"), Comment(rawValue: binding.body))
    #expect(binding.body.contains("natscope_stun_rtt_seconds"))
    // The NAT probe: on loopback there is no NAT.
    let probe = try #require(
      Self.get(
        exporter.port, "/probe?target=\(target)&module=probe",
        headers: ["X-Prometheus-Scrape-Timeout-Seconds": "10"]))
    #expect(probe.status == 200)
    #expect(
      probe.body.contains(#"natscope_nat_mapping_behavior{behavior="no-nat"} 1"#),
      Comment(rawValue: probe.body))
    // A closed port: failure, and no RTT sample (not measured is no sample).
    let closed = try #require(
      Self.get(
        exporter.port, "/probe?target=127.0.0.1:9&module=binding",
        headers: ["X-Prometheus-Scrape-Timeout-Seconds": "3"]))
    #expect(closed.body.contains("natscope_probe_success 0"), Comment(rawValue: closed.body))
    #expect(!closed.body.contains("natscope_stun_rtt_seconds"))

    let metrics = try #require(Self.get(exporter.port, "/metrics"))
    #expect(metrics.status == 200)
    #expect(metrics.body.contains("process_resident_memory_bytes"))

    if let promtool = Self.tool("promtool") {
      for body in [binding.body, probe.body, metrics.body] {
        let (status, output) = try Self.run(promtool, ["check", "metrics"], input: body)
        #expect(status == 0, Comment(rawValue: output + "\n" + body))
      }
    }
    #expect(exporter.stop() == 0)
  }

  @Test(arguments: [
    "/probe?module=binding", "/probe?target=127.0.0.1:1", "/probe?target=h:1&module=ftp",
    "/probe?target=127.0.0.1:1&module=binding&password=x",
  ])
  func malformedQueriesAre400WithOneSentence(path: String) throws {
    let exporter = try Exporter()
    let r = try #require(Self.get(exporter.port, path))
    #expect(r.status == 400)
    let lines = r.body.split(separator: "\n")
    #expect(lines.count == 1 && r.body.hasSuffix(".\n"), Comment(rawValue: r.body))
  }

  @Test(
    .enabled(
      if: tool("promtool") != nil,
      "promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it"))
  func theExampleAlertRulesPassPromtool() throws {
    let rules = Self.repository.appendingPathComponent("examples/prometheus-alerts.yml").path
    let (status, output) = try Self.run(
      try #require(Self.tool("promtool")), ["check", "rules", rules])
    #expect(status == 0, Comment(rawValue: output))
  }

  /// Done when: a real Prometheus scrapes the exporter's /probe for natscope's STUN server and
  /// a coturn, and the series come back through Prometheus' HTTP API.
  @Test(
    .enabled(
      if: tool("prometheus") != nil && tool("turnserver") != nil,
      "prometheus or coturn is not installed (Debian: apt-get install prometheus coturn); .ci/run installs them"
    ))
  func aRealPrometheusScrapesTheExporter() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.4")
    defer { server.stop() }
    let coturn = try #require(RESTCoturn(), "coturn did not start")
    defer { coturn.stop() }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-prometheus-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try "cli-secret\n".write(
      to: dir.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
    let config = dir.appendingPathComponent("exporter.yml")
    try """
    modules:
      coturn_udp:
        kind: turn
        transport: udp
        username: alice
        secret_file: \(dir.path)/secret
    """.write(to: config, atomically: true, encoding: .utf8)
    let exporter = try Exporter(config: config.path)
    let promPort = 29000 + Int(getpid() % 900)
    let scrape = dir.appendingPathComponent("prometheus.yml")
    try """
    global:
      scrape_interval: 2s
      scrape_timeout: 1500ms
    scrape_configs:
      - job_name: natscope_stun
        metrics_path: /probe
        params: {module: [binding]}
        static_configs: [{targets: ["127.0.0.4:\(server.port)"]}]
        relabel_configs:
          - {source_labels: [__address__], target_label: __param_target}
          - {source_labels: [__param_target], target_label: instance}
          - {target_label: __address__, replacement: "127.0.0.1:\(exporter.port)"}
      - job_name: natscope_turn
        metrics_path: /probe
        scrape_timeout: 1900ms
        params: {module: [coturn_udp]}
        static_configs: [{targets: ["127.0.0.1:\(coturn.port)"]}]
        relabel_configs:
          - {source_labels: [__address__], target_label: __param_target}
          - {source_labels: [__param_target], target_label: instance}
          - {target_label: __address__, replacement: "127.0.0.1:\(exporter.port)"}
    """.write(to: scrape, atomically: true, encoding: .utf8)
    let prometheus = try Spawned(
      [
        try #require(Self.tool("prometheus")), "--config.file=\(scrape.path)",
        "--storage.tsdb.path=\(dir.path)/data", "--web.listen-address=127.0.0.1:\(promPort)",
      ], name: "prometheus")
    defer {
      kill(prometheus.pid, SIGTERM)
      prometheus.wait(timeout: 10)
    }
    // Bounded: up to 60 s for both jobs' series to be scraped.
    var stun: String?
    var turn: String?
    for _ in 0..<60 where stun == nil || turn == nil {
      sleep(1)
      if let r = Self.get(promPort, "/api/v1/query?query=natscope_probe_success", timeout: 5),
        r.status == 200
      {
        if r.body.contains("\"job\":\"natscope_stun\"") { stun = r.body }
        if r.body.contains("\"job\":\"natscope_turn\"") { turn = r.body }
      }
    }
    let stunSeries = try #require(
      stun, Comment(rawValue: prometheus.stderr.suffix(2000).description))
    #expect(stunSeries.contains("\"instance\":\"127.0.0.4:\(server.port)\""))
    let rtt = try #require(Self.get(promPort, "/api/v1/query?query=natscope_stun_rtt_seconds"))
    #expect(rtt.body.contains("natscope_stun"), Comment(rawValue: rtt.body))
    let turnSeries = try #require(turn)
    #expect(turnSeries.contains("\"instance\":\"127.0.0.1:\(coturn.port)\""))
    let relay = try #require(Self.get(promPort, "/api/v1/query?query=natscope_turn_relay_works"))
    #expect(relay.body.contains("\"value\""), Comment(rawValue: relay.body))
    // Secrets never reach a metric or a label.
    let all = try #require(Self.get(exporter.port, "/metrics"))
    #expect(!all.body.contains("cli-secret"))
    #expect(!prometheus.stdout.contains("cli-secret"))
  }

  /// The exposition lines of `metric` whose labels include every one of `labels`.
  static func lines(_ body: String, _ metric: String, _ labels: [String]) -> [Substring] {
    body.split(separator: "\n").filter { line in
      line.hasPrefix(metric + "{") && labels.allSatisfy { line.contains($0) }
    }
  }

  /// Scheduled checks from the config file land on /metrics with the labels `check`, `module`
  /// and `target`: one against natscope's STUN server succeeds with an RTT; one against a
  /// server that never answers fails and has no RTT sample (not measured is no sample, not a
  /// zero).
  @Test func scheduledChecksAppearOnMetricsWithTheirLabels() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.4")
    defer { server.stop() }
    let silent = try ExitStatusTests.SilentServer()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-scheduled-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("exporter.yml")
    try """
    checks:
      - name: home
        module: binding
        target: 127.0.0.4:\(server.port)
        every: 2s
      - name: quiet
        module: binding
        target: 127.0.0.1:\(silent.port)
        every: 2s
    """.write(to: config, atomically: true, encoding: .utf8)
    let exporter = try Exporter(config: config.path)
    defer { _ = exporter.stop() }
    let home = [#"check="home""#, #"module="binding""#, #"target="127.0.0.4:\#(server.port)""#]
    let quiet = [#"check="quiet""#]
    // Bounded: up to 15 s for both checks' first results.
    var body = ""
    for _ in 0..<30 {
      body = Self.get(exporter.port, "/metrics", timeout: 5)?.body ?? ""
      if !Self.lines(body, "natscope_probe_success", home).isEmpty,
        !Self.lines(body, "natscope_probe_success", quiet).isEmpty
      {
        break
      }
      usleep(500_000)
    }
    let note = Comment(rawValue: body)
    func values(_ labels: [String]) -> [Double] {
      Self.lines(body, "natscope_probe_success", labels).compactMap {
        $0.split(separator: " ").last.flatMap { Double($0) }
      }
    }
    #expect(values(home) == [1], note)
    #expect(values(quiet) == [0], note)
    #expect(Self.lines(body, "natscope_stun_rtt_seconds", home).count == 1, note)
    #expect(Self.lines(body, "natscope_stun_rtt_seconds", quiet).isEmpty, note)
    if let promtool = Self.tool("promtool") {
      let (status, output) = try Self.run(promtool, ["check", "metrics"], input: body)
      #expect(status == 0, Comment(rawValue: output))
    }
  }

  /// A target that never answers holds only its own scrape: a scrape of another target that
  /// starts while it waits is answered first.
  @Test func aSilentTargetDoesNotHoldUpAnother() throws {
    let server = try ServerProcess(alternate: false, primary: "127.0.0.4")
    defer { server.stop() }
    let silent = try ExitStatusTests.SilentServer()
    let exporter = try Exporter()
    defer { _ = exporter.stop() }
    final class Slow: @unchecked Sendable {
      let lock = NSLock()
      var answer: (status: Int, body: String)?
      var at: Date?
    }
    let slow = Slow()
    let group = DispatchGroup()
    group.enter()
    let port = exporter.port
    let silentPort = silent.port
    Thread.detachNewThread {
      let r = Self.get(
        port, "/probe?target=127.0.0.1:\(silentPort)&module=binding",
        headers: ["X-Prometheus-Scrape-Timeout-Seconds": "6"])
      slow.lock.withLock {
        slow.answer = r
        slow.at = Date()
      }
      group.leave()
    }
    usleep(300_000)  // the silent target's check is under way
    let fast = try #require(
      Self.get(exporter.port, "/probe?target=127.0.0.4:\(server.port)&module=binding"))
    let fastAt = Date()
    #expect(fast.body.contains("natscope_probe_success 1"), Comment(rawValue: fast.body))
    #expect(group.wait(timeout: .now() + 20) == .success)
    slow.lock.withLock {
      #expect(slow.answer?.body.contains("natscope_probe_success 0") == true)
      #expect((slow.at ?? .distantPast) > fastAt)
    }
  }
}
