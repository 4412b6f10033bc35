import STUN
import Testing

@testable import Traversal

/// Text a server or peer chose (SOFTWARE, reason phrases) is shown only after control and
/// bidirectional characters are neutralised, so it cannot drive the user's terminal.
@Suite struct WireTextTests {
  @Test func plainTextIsUnchanged() {
    #expect(WireText.display("coturn-4.6.1 'Gorst'") == "coturn-4.6.1 'Gorst'")
    #expect(WireText.display("Ünïcödé ok") == "Ünïcödé ok")
  }

  @Test func controlAndBidiCharactersAreReplaced() {
    #expect(WireText.display("a\u{1B}[2Jb") == "a\u{FFFD}[2Jb")
    #expect(WireText.display("x\u{7}\u{9B}y\r\n") == "x\u{FFFD}\u{FFFD}y\u{FFFD}\u{FFFD}")
    #expect(WireText.display("evil\u{202E}txt.exe") == "evil\u{FFFD}txt.exe")
    #expect(WireText.display("\u{2066}i\u{2069}") == "\u{FFFD}i\u{FFFD}")
  }

  @Test func longTextIsCut() {
    let long = String(repeating: "a", count: 1000)
    let shown = WireText.display(long)
    #expect(shown.count == WireText.limit + 1)
    #expect(shown.hasSuffix("a…"))
  }

  /// A response whose SOFTWARE and reason phrase carry escape sequences: the answer the probe
  /// reasons about (and prints) holds neither.
  @Test func bindingAnswersNeverCarryEscapes() throws {
    var b = MessageBuilder(
      type: .bindingError, transactionID: TransactionID(bytes: Array(repeating: 7, count: 12))!)
    b.add(ErrorCodeAttribute(.badRequest, reason: "bad\u{1B}]0;pwned\u{7}"))
    b.add(Software("srv\u{1B}[31mred"))
    let m = try Message(bytes: b.bytes)
    let answer = BindingAnswer(
      response: m, source: TransportAddress(ip: .v4(0x7F00_0001), port: 3478),
      arrivedOn: ProbeSocketID(0), rtt: .milliseconds(1), attempts: 1)
    #expect(answer.software == "srv\u{FFFD}[31mred")
    #expect(answer.errorReason == "bad\u{FFFD}]0;pwned\u{FFFD}")
  }
}
