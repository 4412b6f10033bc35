import Foundation

/// A lab of real Linux NATs in network namespaces, built by `scripts/lab` for one test and torn
/// down (namespaces deleted, processes killed by PID) when the test ends, also on failure.
final class Lab {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let script = root.appendingPathComponent("scripts/lab").path

  /// Why lab tests cannot run here, or nil when they can (root, namespaces, nftables, coturn).
  static let unavailableReason: String? = {
    guard geteuid() == 0 else { return "lab tests need root (network namespaces and nftables)" }
    guard let r = try? run([script, "check"]) else { return "scripts/lab could not be run" }
    return r.status == 0 ? nil : r.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }()

  static var available: Bool { unavailableReason == nil }

  let prefix: String
  private(set) var info: [String: String] = [:]

  /// Builds the `sites` topology with NAT kinds `a` and `b` (none, eim-eif, eim-adf, eim-apdf,
  /// apdm-apdf, udp-blocked).
  init(a: String, b: String = "eim-apdf", extra: [String] = []) throws {
    let r = try Self.run([Self.script, "up", "sites", "--a", a, "--b", b] + extra, timeout: 60)
    guard r.status == 0,
      let line = r.output.split(separator: "\n").first(where: { $0.hasPrefix("PREFIX=") })
    else {
      throw LabError("scripts/lab up failed: \(r.output)")
    }
    prefix = String(line.dropFirst("PREFIX=".count))
    try refreshInfo()
  }

  deinit { down() }

  func down() {
    _ = try? Self.run([Self.script, "down", "--prefix", prefix], timeout: 30)
  }

  func refreshInfo() throws {
    let r = try Self.run([Self.script, "info", prefix])
    for line in r.output.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      if parts.count == 2 { info[String(parts[0])] = String(parts[1]) }
    }
  }

  subscript(key: String) -> String { info[key] ?? "" }

  /// Runs a command in a lab node's namespace (bounded by `timeout`).
  func exec(_ node: String, _ command: [String], timeout: TimeInterval = 60) throws -> Result {
    try Self.run([Self.script, "exec", prefix, node, "--"] + command, timeout: timeout)
  }

  /// Starts a background process in a node; `scripts/lab down` kills it by PID.
  func spawn(_ node: String, name: String, _ command: [String]) throws {
    let r = try Self.run([Self.script, "spawn", prefix, node, name, "--"] + command)
    guard r.status == 0 else { throw LabError("spawn \(name) failed: \(r.output)") }
  }

  /// Stops a spawned process by the PID `scripts/lab` recorded.
  func stop(_ name: String) {
    let pidFile = "/run/natscope-lab/\(prefix)/pids/\(name).pid"
    guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
      let pid = Int32(text.split(separator: "\n").first?.split(separator: " ").first ?? "")
    else { return }
    kill(pid, SIGTERM)
    for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
    if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
  }

  /// Starts `natscope serve` on both server addresses and waits (bounded) until it answers.
  func startNatscopeServer() throws {
    try spawn(
      "server", name: "natscope-serve",
      [
        Binary.url.path, "serve", "--primary", self["SERVER_PRIMARY"], "--alternate",
        self["SERVER_ALTERNATE"], "--mapped-address",
      ])
    try waitForServer()
  }

  func startCoturn() throws {
    let r = try Self.run([Self.script, "serve-coturn", prefix], timeout: 30)
    guard r.status == 0 else { throw LabError("serve-coturn failed: \(r.output)") }
    try refreshInfo()
    try waitForServer()
  }

  /// Polls with `natscope binding` from host C (no NAT) until the server answers (≤ 5 s).
  private func waitForServer() throws {
    for _ in 0..<25 {
      let r = try exec(
        "c",
        [Binary.url.path, "binding", self["SERVER_PRIMARY"], "--rto", "50", "--max-requests", "2"])
      if r.status == 0 { return }
    }
    throw LabError("the STUN server in the lab never answered")
  }

  struct Result {
    var status: Int32
    var output: String
  }

  struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
  }

  /// Runs a lab command (bounded by `timeout`), with its standard output followed by its
  /// standard error, through `Spawned` (posix_spawn and waitpid: lab commands start background
  /// processes, and Foundation's `Process` was seen not to notice such a child's exit).
  static func run(_ args: [String], timeout: TimeInterval = 30) throws -> Result {
    let process = try Spawned(args, name: args.first ?? "lab")
    let status = process.wait(timeout: timeout)
    return Result(status: status, output: process.stdout + process.stderr)
  }
}
