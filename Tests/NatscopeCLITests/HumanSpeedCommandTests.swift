import Foundation
import Testing

/// Two `natscope connect` processes on loopback where a person carries the answer: the
/// answerer writes it to a regular file (as to a terminal: nobody has it yet), and it reaches
/// the offerer's FIFO a minute later. Only 127.0.0.1 is used (`--bind`).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HumanSpeedCommandTests {
  static let loopback = ["--bind", "127.0.0.1", "--include-loopback", "--no-probe"]

  /// Opens a FIFO for writing without blocking on a reader that is not there, retrying for
  /// up to `seconds`; -1 if no reader came.
  static func openWriter(_ path: String, seconds: Double) -> Int32 {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let fd = open(path, O_WRONLY | O_NONBLOCK)
      if fd >= 0 { return fd }
      usleep(50_000)
    }
    return -1
  }

  @Test func anAnswerPastedAMinuteLaterConnects() throws {
    let fifos = try FIFOPair()
    let answerFile = fifos.dir + "/answer.txt"
    let offer = try Spawned(
      [
        Binary.url.path, "connect", "--json", "--token-out", fifos.offer, "--token-in",
        fifos.answer,
      ] + Self.loopback, name: "offer")
    let answer = try Spawned(
      [
        Binary.url.path, "connect", "--answer", "--json", "-v", "--token-in", fifos.offer,
        "--token-out", answerFile,
      ] + Self.loopback, name: "answer")
    // The answer appears in the file; the person takes a minute to carry it across.
    var token = ""
    for _ in 0..<400 where !token.hasSuffix("\n") {
      token = (try? String(contentsOfFile: answerFile, encoding: .utf8)) ?? ""
      usleep(50_000)
    }
    try #require(token.hasPrefix("natscope1."), Comment(rawValue: answer.stderr))
    Thread.sleep(forTimeInterval: 60)
    let fd = Self.openWriter(fifos.answer, seconds: 5)
    try #require(fd >= 0, Comment(rawValue: offer.stderr))
    let bytes = Array(token.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    #expect(written == bytes.count)
    let sa = offer.wait(timeout: 30)
    let sb = answer.wait(timeout: 30)
    #expect(sa == 0, Comment(rawValue: offer.stderr))
    #expect(sb == 0, Comment(rawValue: answer.stderr))
    for (p, what) in [(offer, "answer"), (answer, "checks")] {
      let o = try #require(p.json, Comment(rawValue: p.stdout + p.stderr))
      #expect(o["state"] as? String == "connected", Comment(rawValue: p.stderr))
      #expect(o.path("selectedPair.remote.address") as? String == "127.0.0.1")
      // The minute is the person's, reported apart; the ICE part took well under a second.
      let waited = try #require(o.path("timings.waitedForPeerMs") as? Double)
      #expect(waited > 59_000 && waited < 70_000)
      #expect(o.path("timings.waitedFor") as? String == what)
      let t = try #require(o["timeToConnectedMs"] as? Double)
      #expect(t < 2000)
      let started = try #require(o.path("timings.checksStartedMs") as? Double)
      #expect(started > 59_000)
    }
    // The answerer said what it waited for, and (with -v) how long it had waited.
    #expect(answer.stderr.contains("Waiting up to 5 min for the offerer's first check"))
    #expect(
      answer.stderr.contains(
        "waiting for the offerer's first check, which comes once it has your answer (waited 45 s of 5 min)"
      ))
    #expect(answer.stderr.contains("the offerer's first check came after"))
  }
}
