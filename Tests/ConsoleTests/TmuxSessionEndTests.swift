import Foundation
import STUN
import Testing
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

/// The ends of a console session in a real terminal (issue 18, defect 11 and "exit statuses"):
/// `q`, SIGTERM and SIGHUP before a verdict print the same sentences (the session ended, its
/// token is no longer usable) and exit 3, 143 and 129; an answerer given the offer of an
/// offerer that has quit hears the ICMP port unreachable and gives its verdict at once.
@Suite(
  .serialized, .enabled(if: TmuxPane.available, "needs tmux and a built natscope (swift build)"))
struct TmuxSessionEndTests {
  static let connect =
    "TERM=tmux-256color LANG=C.UTF-8 \(TmuxPane.binary.path) connect --include-loopback --no-probe --no-port-mapping"

  /// The natscope process the pane's shell runs.
  static func natscopePID(_ pane: TmuxPane) throws -> pid_t {
    let shellPID = try pane.tmux(["display-message", "-p", "-t", "s", "#{pane_pid}"]).output
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let children =
      (try? String(contentsOfFile: "/proc/\(shellPID)/task/\(shellPID)/children", encoding: .utf8))
      ?? ""
    return try #require(children.split(separator: " ").first.flatMap { Int32($0) })
  }

  /// How each way out before a verdict is worded, and its exit status.
  static let ways: [(how: String, status: Int32, sentence: String)] = [
    ("q", 3, "you quit"),
    ("SIGTERM", 143, "SIGTERM stopped natscope"),
    ("SIGHUP", 129, "the terminal hung up (SIGHUP)"),
  ]

  /// The offerer waits for the answer; it is stopped by `q`, SIGTERM or SIGHUP. Each prints
  /// what `q` prints: that the session ended before a verdict while it waited for the answer,
  /// and that the offer token is no longer usable; no token is printed as if it still were.
  @Test(arguments: 0..<3)
  func everyWayOutBeforeAVerdictSaysTheSessionEnded(_ way: Int) throws {
    let (how, status, sentence) = Self.ways[way]
    let pane = try TmuxPane(command: Self.connect, cols: 100, rows: 30)
    defer { pane.close() }
    pane.expectShows(["agent waiting (controlling)", "local  host  127.0.0.1:"])
    switch how {
    case "q": pane.send("q")
    case "SIGTERM": kill(try Self.natscopePID(pane), SIGTERM)
    default: kill(try Self.natscopePID(pane), SIGHUP)
    }
    let after = pane.waitFor(tries: 300) { $0.contains("EXITED") }
    #expect(after.contains("EXITED \(status)"), "\(how):\n\(after)")
    // The pane wraps long lines anywhere, so compare without white space.
    func squeezed(_ text: String) -> String { text.filter { !$0.isWhitespace } }
    let flat = squeezed(after)
    #expect(
      flat.contains(
        squeezed(
          "The session ended before a verdict: \(sentence) while natscope waited for the answer token to be pasted."
        )), "\(how):\n\(after)")
    #expect(flat.contains(squeezed("Your offer token is no longer usable")), "\(how):\n\(after)")
    #expect(!after.contains("natscope1."), "\(how): a token of an ended session:\n\(after)")
    #expect(!after.contains("check list ("), "\(how): console left on screen:\n\(after)")
  }

  /// A UDP port on loopback that nothing listens on: the offerer's, once it has quit.
  static func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    try #require(fd >= 0 && bound == 0)
    return UInt16(bigEndian: addr.sin_port)
  }

  /// #11: the answerer's console is given the offer of an offerer that has quit, pasted as
  /// soon as the console is up (before its own candidates are gathered). Its checks meet ICMP
  /// port unreachable, as the headless answerer's do, and the verdict comes at once instead
  /// of "waiting" until --timeout.
  @Test func theAnswererConsoleNoticesAnOffererThatQuit() throws {
    let offer = SessionDescription(
      ufrag: "dEaD", password: "Zq3vN8xKp2LmW7rT5yHs9d", role: .offer, tieBreaker: 7,
      candidates: [
        .init(
          foundation: "1", priority: 2_130_706_431, address: .ip(IPAddress("127.0.0.1") ?? .anyV4),
          port: try Self.closedPort(), kind: .host)
      ]
    ).token
    let pane = try TmuxPane(command: Self.connect + " --answer --timeout 120", cols: 100, rows: 30)
    defer { pane.close() }
    pane.expectShows(["paste the offer here"])
    _ = try pane.tmux(["set-buffer", "-b", "offer", offer])
    _ = try pane.tmux(["paste-buffer", "-p", "-b", "offer", "-t", "s"])
    pane.send("Enter")
    // 200 × 50 ms: far less than the 120 s the answerer would otherwise wait.
    let done = pane.expectShows(["natscope connect  not connected"], tries: 200)
    #expect(!done.contains("agent connected"), "\(done)")
    pane.send("q")
    let after = pane.waitFor(tries: 300) { $0.contains("EXITED") }
    #expect(after.contains("EXITED 2"), "\(after)")
  }
}
