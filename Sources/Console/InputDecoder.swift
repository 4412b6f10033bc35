/// Turns what ncurses reads (characters and function keys) into `KeyEvent`s, including
/// bracketed pastes (`ESC [200~ … ESC [201~`), which may arrive split across many reads.
///
/// ncurses' keypad mode translates the sequences it knows (arrows, PgUp, …); the paste
/// brackets are not among them, so they arrive as ESC followed by plain characters.
///
/// A paste without the brackets (a terminal or multiplexer that does not bracket it) arrives as
/// a burst: many characters in one read, faster than anyone types. Printable characters (and
/// the line breaks between them) are held until the read ends (``idle()``); a run of at least
/// ``burstMinimum`` characters, or one that starts with the token prefix, becomes one `.paste`
/// so its letters never run as commands. A shorter run that could be the start of a token
/// (`nat…`) waits a few idle reads for the rest.
public struct InputDecoder: Sendable {
  /// One thing ncurses read.
  public enum Raw: Equatable, Sendable {
    case scalar(Unicode.Scalar)
    case key(KeyEvent)
  }

  /// A paste longer than this is cut (its end marker still ends it).
  public static let pasteLimit = 1 << 20
  /// Idle reads after which an unfinished escape sequence or paste is given up.
  public static let idleLimit = 3
  public static let pasteIdleLimit = 60

  /// A read with at least this many printable characters is a paste, not typing.
  public static let burstMinimum = 8
  /// The prefix of a natscope token: a run that starts with it is a paste however short.
  public static let tokenPrefix = "natscope1."

  private static let escape: Unicode.Scalar = "\u{1B}"
  private static let pasteStart = Array("\u{1B}[200~".unicodeScalars)
  private static let pasteEnd = Array("\u{1B}[201~".unicodeScalars)

  private var pending: [Unicode.Scalar] = []
  private var pasting = false
  private var paste: [Unicode.Scalar] = []
  private var idleCount = 0
  /// Printable characters and line breaks of the current read, not yet delivered.
  private var burst: [Unicode.Scalar] = []

  public init() {}

  /// Whether a paste has started and not yet ended.
  public var inPaste: Bool { pasting }

  /// Feeds one read; returns the events it completes.
  public mutating func feed(_ raw: Raw) -> [KeyEvent] {
    idleCount = 0
    if pasting {
      switch raw {
      case .scalar(let s): paste.append(s)
      case .key(.enter): paste.append("\n")
      case .key(.tab): paste.append("\t")
      case .key: break
      }
      if paste.count >= Self.pasteEnd.count
        && paste.suffix(Self.pasteEnd.count).elementsEqual(Self.pasteEnd)
      {
        paste.removeLast(Self.pasteEnd.count)
        return [finishPaste()]
      }
      if paste.count > Self.pasteLimit + Self.pasteEnd.count {
        // Past the limit: drop the newest text but keep the tail, where the end marker shows.
        paste.remove(at: Self.pasteLimit)
      }
      return []
    }
    switch raw {
    case .key(.enter) where !burst.isEmpty && pending.isEmpty:
      burst.append("\n")
      return []
    case .key(let k):
      return flushBurst() + flushPending() + [k]
    case .scalar(let s):
      if pending.isEmpty, Self.isBurstScalar(s), !(burst.isEmpty && Self.isLineBreak(s)) {
        burst.append(s)
        return []
      }
      if !pending.isEmpty {
        pending.append(s)
        if pending == Self.pasteStart {
          pending = []
          pasting = true
          paste = []
          return []
        }
        if Self.pasteStart.starts(with: pending) { return [] }
        if let key = Self.csiKey(pending) {
          pending = []
          return [key]
        }
        if pending.count >= 2, pending[1] == "[", pending.count < 8,
          !(s.value >= 0x40 && s.value <= 0x7E)
        {
          return []  // an unfinished CSI sequence
        }
        if pending == [Self.escape, "O"] {
          return []  // an SS3 sequence (application cursor keys): one more character comes
        }
        return flushPending()
      }
      let held = flushBurst()
      if s == Self.escape {
        pending = [s]
        return held
      }
      return held + (Self.plain(s).map { [$0] } ?? [])
    }
  }

  /// Call when a read found nothing: a lone ESC is the Escape key, an unfinished sequence
  /// is given up after a few idle reads, and so is a paste whose end never came.
  public mutating func idle() -> [KeyEvent] {
    idleCount += 1
    if pasting {
      guard idleCount >= Self.pasteIdleLimit else { return [] }
      return [finishPaste()]
    }
    if !burst.isEmpty {
      // The start of a token typed or pasted in pieces: wait a little for the rest.
      let text = String(String.UnicodeScalarView(burst))
      if text.count < Self.tokenPrefix.count, Self.tokenPrefix.hasPrefix(text), text.count > 1,
        idleCount < Self.idleLimit
      {
        return []
      }
      return flushBurst()
    }
    if pending == [Self.escape] || (!pending.isEmpty && idleCount >= Self.idleLimit) {
      return flushPending()
    }
    return []
  }

  /// Delivers the held characters: one `.paste` for a burst (a trailing line break becomes
  /// Enter after it), else each as a key.
  private mutating func flushBurst() -> [KeyEvent] {
    guard !burst.isEmpty else { return [] }
    var scalars = burst
    burst = []
    var trailingBreak = false
    while let last = scalars.last, Self.isLineBreak(last) {
      scalars.removeLast()
      trailingBreak = true
    }
    let text = String(String.UnicodeScalarView(scalars)).replacingCRLF()
    let printable = scalars.filter { !Self.isLineBreak($0) }.count
    if printable >= Self.burstMinimum || (text.hasPrefix(Self.tokenPrefix)) {
      return [.paste(String(text.prefix(Self.pasteLimit)))] + (trailingBreak ? [.enter] : [])
    }
    var out: [KeyEvent] = []
    for s in scalars {
      if let k = Self.plain(s) { out.append(k) }
    }
    if trailingBreak { out.append(.enter) }
    return out
  }

  /// Printable characters and line breaks: what a paste is made of.
  static func isBurstScalar(_ s: Unicode.Scalar) -> Bool {
    isLineBreak(s) || (s.value >= 0x20 && s.value != 0x7F)
  }

  static func isLineBreak(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }

  private mutating func finishPaste() -> KeyEvent {
    pasting = false
    var text = String(String.UnicodeScalarView(paste.prefix(Self.pasteLimit)))
    text = text.replacingCRLF()
    paste = []
    return .paste(text)
  }

  private mutating func flushPending() -> [KeyEvent] {
    guard !pending.isEmpty else { return [] }
    let seq = pending
    pending = []
    var out: [KeyEvent] = [.escape]
    for s in seq.dropFirst() {
      if let k = Self.plain(s) { out.append(k) }
    }
    return out
  }

  /// Keys from CSI and SS3 sequences ncurses did not translate (e.g. `ESC [ Z` for Shift-Tab,
  /// `ESC O C` for the right arrow in application cursor mode).
  static func csiKey(_ seq: [Unicode.Scalar]) -> KeyEvent? {
    let s = String(String.UnicodeScalarView(seq))
    switch s {
    case "\u{1B}[A", "\u{1B}OA": return .up
    case "\u{1B}[B", "\u{1B}OB": return .down
    case "\u{1B}[C", "\u{1B}OC": return .right
    case "\u{1B}[D", "\u{1B}OD": return .left
    case "\u{1B}[H", "\u{1B}OH", "\u{1B}[1~": return .home
    case "\u{1B}[F", "\u{1B}OF", "\u{1B}[4~": return .end
    case "\u{1B}[5~": return .pageUp
    case "\u{1B}[6~": return .pageDown
    case "\u{1B}[Z": return .backTab
    default: return nil
    }
  }

  static func plain(_ s: Unicode.Scalar) -> KeyEvent? {
    switch s.value {
    case 0x09: return .tab
    case 0x0A, 0x0D: return .enter
    case 0x03: return .interrupt
    case 0x1B: return .escape
    case 0x08, 0x7F: return .backspace
    case 0x15: return .clearField
    case 0..<0x20: return nil
    default: return .char(Character(s))
    }
  }
}

extension String {
  fileprivate func replacingCRLF() -> String {
    var out = ""
    var lastCR = false
    for ch in self {
      if ch == "\r\n" {
        out.append("\n")
        lastCR = false
        continue
      }
      if ch == "\r" {
        out.append("\n")
        lastCR = true
        continue
      }
      if ch == "\n" && lastCR {
        lastCR = false
        continue
      }
      lastCR = false
      out.append(ch)
    }
    return out
  }
}
