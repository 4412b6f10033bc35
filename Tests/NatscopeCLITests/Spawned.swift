import Foundation

/// A background process started with posix_spawn (stdout and stderr to separate files, stdin
/// from a file or /dev/null), waited for with a bound and killed by PID on timeout or `deinit`.
/// Foundation's `Process` missed exits of children that spawn background processes.
final class Spawned {
  let pid: pid_t
  let name: String
  private let outPath: String
  private let errPath: String
  private var status: Int32?

  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  init(_ args: [String], name: String, stdin: String = "/dev/null", env: [String: String] = [:])
    throws
  {
    self.name = name
    let base = FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-spawn-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
      .path
    outPath = base + ".out"
    errPath = base + ".err"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = (["/usr/bin/env"] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { envp.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
    guard rc == 0 else { throw Failure(description: "cannot start \(name): error \(rc)") }
    self.pid = pid
  }

  deinit {
    if status == nil {
      kill(pid, SIGKILL)
      var s: Int32 = 0
      waitpid(pid, &s, 0)
    }
    unlink(outPath)
    unlink(errPath)
  }

  /// Waits at most `timeout` seconds; then SIGTERM, SIGKILL. -1 when killed or signalled.
  @discardableResult
  func wait(timeout: TimeInterval) -> Int32 {
    if let status { return status }
    var raw: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    var reaped = false
    while Date() < deadline {
      if waitpid(pid, &raw, WNOHANG) == pid {
        reaped = true
        break
      }
      usleep(10_000)
    }
    if !reaped {
      kill(pid, SIGTERM)
      usleep(300_000)
      kill(pid, SIGKILL)
      waitpid(pid, &raw, 0)
    }
    let s: Int32 = reaped && (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : -1
    status = s
    return s
  }

  var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

  /// stdout parsed as a JSON object.
  var json: [String: Any]? {
    try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
  }
}

/// A fresh directory with two FIFOs, `offer` and `answer`, removed on `deinit`.
final class FIFOPair {
  let dir: String
  var offer: String { dir + "/offer" }
  var answer: String { dir + "/answer" }

  init() throws {
    dir =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-fifo-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
      .path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    guard mkfifo(dir + "/offer", 0o600) == 0, mkfifo(dir + "/answer", 0o600) == 0 else {
      throw Spawned.Failure(description: "mkfifo failed: errno \(errno)")
    }
  }

  deinit { try? FileManager.default.removeItem(atPath: dir) }
}

extension Dictionary where Key == String, Value == Any {
  /// `o["selectedPair.local.type"]`-style lookup.
  func path(_ p: String) -> Any? {
    var cur: Any? = self
    for k in p.split(separator: ".") { cur = (cur as? [String: Any])?[String(k)] }
    return cur
  }
}
