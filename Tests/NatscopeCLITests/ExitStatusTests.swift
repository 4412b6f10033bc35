import Foundation
import Testing

/// A command interrupted by a signal outside the console exits 128 + the signal's number
/// (130 for SIGINT, 143 for SIGTERM), through `exit`, so a parent sees an exit status rather
/// than a death by signal. (`connect` and `turn` have their own tests; `demo` outside the console
/// runs on virtual time and ends within a second, too soon to interrupt reliably, with the same
/// handler as `binding` and `probe`.)
@Suite(.serialized) struct ExitStatusTests {
  /// A UDP socket on loopback that receives and never answers: a STUN server that is there
  /// (no ICMP port unreachable) but silent, so a command waits.
  final class SilentServer {
    let fd: Int32
    let port: UInt16

    init() throws {
      let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
      var addr = sockaddr_in()
      addr.sin_family = sa_family_t(AF_INET)
      addr.sin_addr.s_addr = inet_addr("127.0.0.1")
      addr.sin_port = 0
      let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
      }
      guard fd >= 0, bound == 0, named == 0 else {
        if fd >= 0 { close(fd) }
        throw Spawned.Failure(description: "cannot bind a UDP socket on 127.0.0.1")
      }
      self.fd = fd
      port = UInt16(bigEndian: addr.sin_port)
    }

    deinit { close(fd) }
  }

  /// Whether `pid` is still running (not exited, not a zombie).
  static func isRunning(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
      return false
    }
    // The state is the field after the parenthesised command name.
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
  }

  /// Starts natscope with `args`, waits until it has been running `settle` seconds (or until
  /// `ready` appears on standard error), sends `signal`, and returns its exit status (-1 when
  /// it died of a signal instead of exiting).
  static func interrupted(
    _ args: [String], by signal: Int32, settle: TimeInterval = 1.5, ready: String? = nil
  ) throws -> (status: Int32, process: Spawned) {
    let process = try Spawned([Binary.url.path] + args, name: "natscope \(args.first ?? "")")
    let deadline = Date().addingTimeInterval(ready == nil ? settle : 10)
    while Date() < deadline {
      if let ready, process.stderr.contains(ready) { break }
      usleep(50_000)
    }
    guard isRunning(process.pid) else {
      throw Spawned.Failure(
        description:
          "natscope \(args.joined(separator: " ")) ended before the signal was sent: \(process.stderr)"
      )
    }
    kill(process.pid, signal)
    return (process.wait(timeout: 10), process)
  }

  @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
  func bindingInterruptedExits128PlusSignal(_ signal: Int32, _ expected: Int32) throws {
    let silent = try SilentServer()
    let (status, process) = try Self.interrupted(
      ["binding", "127.0.0.1:\(silent.port)", "--rto", "1000"], by: signal)
    #expect(status == expected, "binding: \(process.stderr)")
  }

  /// Test I gives up on a silent server after about 1.4 s, so the signal goes as soon as the
  /// probe logs its first socket (the handler is installed before that).
  @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
  func probeInterruptedExits128PlusSignal(_ signal: Int32, _ expected: Int32) throws {
    let silent = try SilentServer()
    let (status, process) = try Self.interrupted(
      ["probe", "127.0.0.1:\(silent.port)", "--no-port-mapping", "--json", "--log-level", "debug"],
      by: signal, ready: "natscope.probe")
    #expect(status == expected, "probe: \(process.stderr)")
    #expect(process.stdout.isEmpty, "an interrupted probe prints no report")
  }

  /// serve stops on SIGINT or SIGTERM, prints its statistics (as JSON with --json), and exits
  /// 128 + signal like every command.
  @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
  func serveStoppedBySignalPrintsStatisticsAndExits128PlusSignal(
    _ signal: Int32, _ expected: Int32
  ) throws {
    let (status, process) = try Self.interrupted(
      ["serve", "--primary", "127.0.0.1", "--port", "0", "--json"], by: signal,
      ready: "listening")
    #expect(status == expected, "serve: \(process.stderr)")
    let stats = try #require(process.json, "serve --json printed no JSON: \(process.stdout)")
    #expect(stats["received"] as? Int == 0)
  }
}
