import Foundation
import Testing

/// Real `--json` output of every command, successes and failures, validated against the
/// published JSON Schemas in `schema/` with a real validator (Python's jsonschema, draft
/// 2020-12). Outputs come from loopback and the simulated network (no root needed); coturn adds
/// TURN outputs when it is installed.
///
/// Set NATSCOPE_SCHEMA_SAMPLES=DIR to keep the documents the test produced.
@Suite(
  .serialized, .timeLimit(.minutes(3)),
  .enabled(if: SchemaValidator.python != nil, Comment(rawValue: SchemaValidator.missingReason)))
struct SchemaTests {
  /// One document a command printed.
  struct Sample {
    var name: String
    var schema: String
    var text: String
  }

  /// Runs natscope and keeps its standard output as a sample of `schema`.
  static func sample(
    _ name: String, _ schema: String, _ args: [String], status expected: Int32,
    environment: [String: String] = [:]
  ) throws -> Sample {
    let r = try Binary.run(args, environment: environment, timeout: 90)
    #expect(
      r.status == expected,
      "natscope \(args.joined(separator: " ")) exited \(r.status), not \(expected): \(r.stderr)")
    return Sample(name: name, schema: schema, text: r.stdout)
  }

  @Test func everyCommandsJSONValidatesAgainstItsSchema() throws {
    var samples: [Sample] = []

    // probe and binding: a natscope serve on loopback (RFC 5780 with 127.0.0.2), and a
    // closed port (ICMP port unreachable: the failure documents).
    let server = try ServerProcess(extra: ["--mapped-address"])
    let closed = "127.0.0.1:9"
    samples.append(
      try Self.sample(
        "probe", "probe", ["probe", "127.0.0.1:\(server.port)", "--json", "--port-samples", "2"],
        status: 0))
    samples.append(
      try Self.sample("probe-unreachable", "probe", ["probe", closed, "--json"], status: 2))
    samples.append(
      try Self.sample(
        "binding", "binding", ["binding", "127.0.0.1:\(server.port)", "--json"], status: 0))
    samples.append(
      try Self.sample("binding-unreachable", "binding", ["binding", closed, "--json"], status: 2))
    // Monitor mode: one document a line, each validated on its own.
    for (name, args) in [
      ("binding", ["binding", "127.0.0.1:\(server.port)", "--every", "200ms", "--count", "2"]),
      (
        "probe",
        [
          "probe", "127.0.0.1:\(server.port)", "--port-samples", "0", "--every", "1s",
          "--count", "2",
        ]
      ),
      ("binding-unreachable", ["binding", closed, "--every", "200ms", "--count", "2"]),
    ] {
      let r = try Binary.run(args + ["--json"], timeout: 90)
      #expect(
        r.status == 0, "natscope \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
      let lines = r.stdout.split(separator: "\n")
      #expect(lines.count == 2, "monitor mode printed \(lines.count) lines: \(r.stdout)")
      for (i, line) in lines.enumerated() {
        samples.append(
          Sample(name: "monitor-\(name)-\(i + 1)", schema: "monitor", text: String(line)))
      }
    }
    // STUN over TLS to a closed port: refused, the failure document of stuns:.
    samples.append(
      try Self.sample(
        "binding-stuns-refused", "stuns", ["binding", "stuns:127.0.0.1:9", "--json"], status: 2))
    samples.append(
      try Self.sample(
        "probe-stuns-refused", "stuns", ["probe", "stuns:127.0.0.1:9", "--json"], status: 2))
    server.stop()

    // serve: statistics after SIGTERM.
    let serve = try Spawned(
      [Binary.url.path, "serve", "--primary", "127.0.0.1", "--port", "0", "--json"], name: "serve")
    for _ in 0..<200 where !serve.stderr.contains("listening") { usleep(25_000) }
    kill(serve.pid, SIGTERM)
    #expect(serve.wait(timeout: 10) == 128 + SIGTERM, Comment(rawValue: serve.stderr))
    samples.append(Sample(name: "serve", schema: "serve", text: serve.stdout))

    // demo: the table of every preset, and two-host runs that connect and that fail.
    samples.append(try Self.sample("demo", "demo", ["demo", "--json"], status: 0))
    samples.append(
      try Self.sample(
        "demo-two-host", "demo-two-host",
        ["demo", "--a", "symmetric", "--b", "port-restricted", "--json"], status: 0))
    samples.append(
      try Self.sample(
        "demo-two-host-udp-blocked", "demo-two-host",
        ["demo", "--a", "udp-blocked", "--b", "full-cone", "--json"], status: 0))
    samples.append(
      try Self.sample(
        "demo-two-host-fails", "demo-two-host",
        ["demo", "--a", "symmetric", "--b", "symmetric", "--no-turn", "--json"], status: 0))
    // Routers that offer port mapping: a mapping granted, and one below a carrier-grade NAT.
    samples.append(
      try Self.sample(
        "demo-two-host-port-mapping", "demo-two-host",
        ["demo", "--a", "symmetric+pcp", "--b", "symmetric+upnp", "--no-turn", "--json"],
        status: 0))
    samples.append(
      try Self.sample(
        "demo-two-host-cgnat", "demo-two-host", ["demo", "--a", "cgnat", "--b", "open", "--json"],
        status: 0))

    // connect on loopback through FIFOs, and an answer to an offerer that quit (failed).
    let loopback = ["--bind", "127.0.0.1", "--include-loopback", "--no-probe"]
    samples += try Self.connectPair("connect", loopback)
    samples.append(try Self.failedConnect(loopback))

    // turn: a closed port (unreachable), and with coturn a working server and a wrong secret.
    samples.append(
      try Self.sample(
        "turn-unreachable", "turn", ["turn", "turn:127.0.0.1:9", "--turn-user", "u", "--json"],
        status: 2, environment: ["NATSCOPE_TURN_PASSWORD": "not-a-real-password"]))
    if let coturn = RESTCoturn() {
      defer { coturn.stop() }
      let uri = "turn:127.0.0.1:\(coturn.port)"
      samples.append(
        try Self.sample(
          "turn", "turn", ["turn", uri, "\(uri)?transport=tcp", "--turn-user", "alice", "--json"],
          status: 0, environment: ["NATSCOPE_TURN_SECRET": "cli-secret"]))
      samples.append(
        try Self.sample(
          "turn-wrong-secret", "turn",
          ["turn", uri, "--turn-user", "alice", "--json"], status: 2,
          environment: ["NATSCOPE_TURN_SECRET": "wrong-secret"]))
      // The relay refuses the credentials (relays with an error code); host pairs connect.
      samples += try Self.connectPair(
        "connect-relay-refused", loopback + ["--turn", uri, "--turn-user", "alice"],
        environment: ["NATSCOPE_TURN_SECRET": "wrong-secret"])
      samples += try Self.connectPair(
        "connect-relay", loopback + ["--turn", uri, "--turn-user", "alice"],
        environment: ["NATSCOPE_TURN_SECRET": "cli-secret"])
    }

    try SchemaValidator.validate(samples)
  }

  /// Two `connect` processes on loopback exchanging tokens through FIFOs; both documents.
  static func connectPair(
    _ name: String, _ options: [String], environment: [String: String] = [:]
  ) throws -> [Sample] {
    let fifos = try FIFOPair()
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--token-out", fifos.offer, "--token-in",
        fifos.answer,
      ]
        + options, name: "offer", env: environment)
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--token-in", fifos.offer, "--token-out",
        fifos.answer,
      ] + options, name: "answer", env: environment)
    #expect(offer.wait(timeout: 30) == 0, Comment(rawValue: offer.stderr))
    #expect(answer.wait(timeout: 30) == 0, Comment(rawValue: answer.stderr))
    return [
      Sample(name: "\(name)-offer", schema: "connect", text: offer.stdout),
      Sample(name: "\(name)-answer", schema: "connect", text: answer.stdout),
    ]
  }

  /// An answer to an offer whose maker quit: every check gets ICMP port unreachable, and the
  /// report says "failed".
  static func failedConnect(_ loopback: [String]) throws -> Sample {
    let fifos = try FIFOPair()
    let maker = try Spawned(
      [Binary.url.path, "connect", "--token-out", fifos.dir + "/token", "--token-in", fifos.answer]
        + loopback, name: "maker")
    var token = ""
    for _ in 0..<200 where token.isEmpty {
      token = (try? String(contentsOfFile: fifos.dir + "/token", encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    kill(maker.pid, SIGTERM)
    maker.wait(timeout: 5)
    let p = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "--token-in", fifos.dir + "/token",
        "--token-out", "/dev/null",
      ] + loopback, name: "answer")
    #expect(p.wait(timeout: 20) == 2, Comment(rawValue: p.stderr))
    return Sample(name: "connect-failed", schema: "connect", text: p.stdout)
  }

  /// Every schema is a valid draft 2020-12 schema whose `$id` matches its file name.
  @Test func theSchemasAreValidSchemas() throws {
    let r = try SchemaValidator.run(["--check-schemas"])
    #expect(r.status == 0, Comment(rawValue: r.output))
  }
}

/// Runs `schema/validate.py` with a Python that has jsonschema.
enum SchemaValidator {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let script = repository.appendingPathComponent("schema/validate.py").path

  /// NATSCOPE_SCHEMA_PYTHON, else the CI venv, else python3: the first that imports jsonschema.
  static let python: String? = {
    var candidates = ["/opt/natscope-venv/bin/python", "/usr/bin/python3"]
    if let chosen = ProcessInfo.processInfo.environment["NATSCOPE_SCHEMA_PYTHON"] {
      candidates.insert(chosen, at: 0)
    }
    return candidates.first { path in
      guard FileManager.default.isExecutableFile(atPath: path) else { return false }
      let p = Process()
      p.executableURL = URL(fileURLWithPath: path)
      p.arguments = ["-c", "import jsonschema, referencing"]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      guard (try? p.run()) != nil else { return false }
      p.waitUntilExit()
      return p.terminationStatus == 0
    }
  }()

  static let missingReason =
    "no Python with jsonschema 4.18+ (pip install jsonschema, or set NATSCOPE_SCHEMA_PYTHON; .ci/run installs it in /opt/natscope-venv)"

  static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python ?? "/usr/bin/python3")
    process.arguments = [script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// Checks that each sample is one JSON document naming its schema and version, then
  /// validates them all.
  static func validate(_ samples: [SchemaTests.Sample]) throws {
    let keep = ProcessInfo.processInfo.environment["NATSCOPE_SCHEMA_SAMPLES"]
    let dir =
      keep
      ?? FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-schema-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
      .path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
    var paths: [String] = []
    for sample in samples {
      let object = try? JSONSerialization.jsonObject(with: Data(sample.text.utf8)) as? [String: Any]
      guard let object else {
        Issue.record("\(sample.name): not one JSON object: \(sample.text.prefix(300))")
        continue
      }
      #expect(
        object["schema"] as? String == "urn:natscope:schema:\(sample.schema)-1",
        "\(sample.name): the document's schema key is \(object["schema"] ?? "missing"), not urn:natscope:schema:\(sample.schema)-1"
      )
      #expect(object["schemaVersion"] as? Int == 1, "\(sample.name): schemaVersion is not 1")
      let path = "\(dir)/\(sample.name).json"
      try sample.text.write(toFile: path, atomically: true, encoding: .utf8)
      paths.append(path)
    }
    let r = try run(paths)
    #expect(
      r.status == 0,
      "documents that do not match their schema (document: schema: at path: error):\n\(r.output)")
  }
}
