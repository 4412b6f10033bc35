import Console
import Sessions
import Testing

@Suite struct InputDecoderTests {
  func feed(_ d: inout InputDecoder, _ text: String) -> [KeyEvent] {
    text.unicodeScalars.flatMap { d.feed(.scalar($0)) }
  }

  @Test func plainKeys() {
    var d = InputDecoder()
    #expect(feed(&d, "q\t\r?") == [.char("q"), .tab, .enter, .char("?")])
    #expect(d.feed(.key(.up)) == [.up])
    #expect(feed(&d, "\u{3}") == [.interrupt])
  }

  /// The demo's matrix moves along a row with the left and right arrows.
  @Test func leftAndRightArrows() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}[C\u{1B}[D") == [.right, .left])
  }

  @Test func editingKeys() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{7F}\u{8}\u{15}") == [.backspace, .backspace, .clearField])
    // Other control characters are not keys.
    #expect(feed(&d, "\u{1}\u{2}") == [])
  }

  @Test func loneEscapeIsTheEscapeKeyWhenNothingFollows() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}") == [])
    #expect(d.idle() == [.escape])
  }

  @Test func escapeThenAKeyIsBoth() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}x") == [.escape, .char("x")])
  }

  @Test func untranslatedCSIKeys() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}[Z") == [.backTab])
    #expect(feed(&d, "\u{1B}[5~\u{1B}[6~") == [.pageUp, .pageDown])
  }

  @Test func bracketedPasteInOneRead() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}[200~hello world\u{1B}[201~x") == [.paste("hello world"), .char("x")])
  }

  @Test func bracketedPasteSplitAcrossReads() {
    var d = InputDecoder()
    let chunks = ["\u{1B}[2", "00~abc", "\r\ndef\u{1B}", "[20", "1~"]
    var out: [KeyEvent] = []
    for chunk in chunks {
      out += feed(&d, chunk)
      out += d.idle()  // a read timed out between chunks
    }
    #expect(out == [.paste("abc\ndef")])
  }

  @Test func pasteKeepsKeysInside() {
    var d = InputDecoder()
    var out = feed(&d, "\u{1B}[200~a")
    out += d.feed(.key(.enter))
    out += d.feed(.key(.up))  // ignored inside a paste
    out += feed(&d, "b\u{1B}[201~")
    #expect(out == [.paste("a\nb")])
  }

  @Test func unterminatedPasteEndsAfterIdleReads() {
    var d = InputDecoder()
    _ = feed(&d, "\u{1B}[200~partial")
    var out: [KeyEvent] = []
    for _ in 0..<InputDecoder.pasteIdleLimit { out += d.idle() }
    #expect(out == [.paste("partial")])
    #expect(!d.inPaste)
  }

  @Test func longPasteIsCut() {
    var d = InputDecoder()
    let body = String(repeating: "x", count: InputDecoder.pasteLimit + 100)
    let out = feed(&d, "\u{1B}[200~" + body + "\u{1B}[201~")
    guard case .paste(let text)? = out.first else {
      Issue.record("no paste")
      return
    }
    #expect(text.count == InputDecoder.pasteLimit)
  }
}
