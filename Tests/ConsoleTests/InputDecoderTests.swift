import Console
import Report
import Sessions
import Testing

@Suite struct InputDecoderTests {
  func feed(_ d: inout InputDecoder, _ text: String) -> [KeyEvent] {
    text.unicodeScalars.flatMap { d.feed(.scalar($0)) }
  }

  /// One read of the terminal: its characters, then the empty read that ends it.
  func read(_ d: inout InputDecoder, _ text: String) -> [KeyEvent] {
    feed(&d, text) + d.idle()
  }

  @Test func plainKeys() {
    var d = InputDecoder()
    #expect(read(&d, "q\t\r?") == [.char("q"), .tab, .enter, .char("?")])
    #expect(d.feed(.key(.up)) == [.up])
    #expect(feed(&d, "\u{3}") == [.interrupt])
  }

  /// The demo's matrix moves along a row with the left and right arrows.
  @Test func leftAndRightArrows() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}[C\u{1B}[D") == [.right, .left])
  }

  /// Terminals in application cursor mode send SS3 (`ESC O x`) for the arrows.
  @Test func applicationModeArrows() {
    var d = InputDecoder()
    #expect(feed(&d, "\u{1B}OA\u{1B}OB\u{1B}OC\u{1B}OD") == [.up, .down, .right, .left])
    // Escape, then a capital O typed after a pause, is both keys.
    #expect(feed(&d, "\u{1B}O") == [])
    #expect(d.idle() + d.idle() + d.idle() + d.idle() == [.escape, .char("O")])
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
    #expect(
      read(&d, "\u{1B}[200~hello world\u{1B}[201~x") == [.paste("hello world"), .char("x")])
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

  // MARK: Pastes without brackets

  @Test func aKeyPerReadIsAKey() {
    var d = InputDecoder()
    var out: [KeyEvent] = []
    for c in "cpqj" { out += read(&d, String(c)) }
    #expect(out == [.char("c"), .char("p"), .char("q"), .char("j")])
  }

  /// A token arriving in one read (a paste the terminal did not bracket) is one paste: the
  /// `c` and `p` in "natscope1." never run as commands.
  @Test func aTokenBurstIsAPaste() {
    var d = InputDecoder()
    let token = "natscope1.AQB9AtwukS1P5HmRCFJQZGhXOWtGGHpIOGxLVGZ5b2RR"
    #expect(read(&d, token) == [.paste(token)])
    // Its line break is Enter, after the paste.
    #expect(read(&d, token + "\r") == [.paste(token), .enter])
  }

  @Test func manyCharactersInOneReadAreAPaste() {
    var d = InputDecoder()
    #expect(read(&d, "cpcpcpcp") == [.paste("cpcpcpcp")])
    // Fewer are typing (keys pressed together), each a key.
    #expect(read(&d, "cp") == [.char("c"), .char("p")])
  }

  /// A short start of a token waits a few idle reads for the rest, then is one paste.
  @Test func aTokenSplitAcrossReadsStaysOnePasteStart() {
    var d = InputDecoder()
    #expect(read(&d, "natsc") == [])
    #expect(read(&d, "ope1.QUJD") == [.paste("natscope1.QUJD")])
    // When the rest never comes, the keys are delivered after the idle limit.
    var out = read(&d, "na")
    for _ in 0..<InputDecoder.idleLimit { out += d.idle() }
    #expect(out == [.char("n"), .char("a")])
  }

  /// Lines pasted without brackets keep their line breaks (SDP); the last break is Enter.
  @Test func multiLineBurstKeepsLines() {
    var d = InputDecoder()
    let sdp = "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n\r\n"
    #expect(
      read(&d, sdp) == [.paste("a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijkl"), .enter])
  }

  @Test func keysAfterABurstComeAfterIt() {
    var d = InputDecoder()
    #expect(
      read(&d, "natscope1.QUJD\u{1B}[Z") == [.paste("natscope1.QUJD"), .backTab])
    #expect(read(&d, "natscope1.QUJD\t") == [.paste("natscope1.QUJD"), .tab])
  }

  /// Bracketed pastes keep their lines too (the screen decides what they are).
  @Test func bracketedMultiLinePasteKeepsLines() {
    var d = InputDecoder()
    #expect(
      read(&d, "\u{1B}[200~a=ice-ufrag:abcd\r\na=ice-pwd:x\r\n\u{1B}[201~")
        == [.paste("a=ice-ufrag:abcd\na=ice-pwd:x\n")])
  }
}
