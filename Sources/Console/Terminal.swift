import CNcursesw

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The ncurses side: opens the terminal, reads keys, copies grids to the screen (only the
/// cells that changed since the last frame) and restores the terminal on every exit path.
///
/// Resize: ncurses' own SIGWINCH handling reports `KEY_RESIZE`, which becomes
/// `.resize(rows:cols:)`; natscope installs no SIGWINCH handler. Signals: see `shim.h` —
/// SIGINT/SIGTERM/SIGHUP set a flag the run loop checks every frame, crash signals restore
/// the terminal with async-signal-safe calls and re-raise.
///
/// Use from one thread only (the UI thread).
public final class Terminal {
  private var screen: OpaquePointer?
  private var window: UnsafeMutablePointer<WINDOW>?
  private var previous: Grid?
  private var decoder = InputDecoder()
  public let options: RenderOptions
  private var active = false

  /// Why a terminal could not be opened.
  public enum OpenError: Error, CustomStringConvertible {
    case notATerminal
    case newtermFailed(String)
    public var description: String {
      switch self {
      case .notATerminal: "standard input and output must be a terminal"
      case .newtermFailed(let term): "ncurses cannot use this terminal (TERM=\(term))"
      }
    }
  }

  /// Whether standard input and output are both terminals.
  public static var isInteractive: Bool { isatty(0) == 1 && isatty(1) == 1 }

  /// Opens the terminal: locale, signal handlers, `newterm`, cbreak, noecho, keypad, a 25 ms
  /// Escape delay, colours and bracketed paste.
  public init(options: RenderOptions) throws {
    guard Self.isInteractive else { throw OpenError.notATerminal }
    setlocale(LC_ALL, "")
    natscope_install_signal_handlers()
    guard let screen = natscope_newterm() else {
      natscope_restore_default_signal_handlers()
      throw OpenError.newtermFailed(ProcessInfo.processInfo.environment["TERM"] ?? "")
    }
    self.screen = screen
    self.window = natscope_stdscr()
    var opts = options
    natscope_set_terminal_active(1)
    active = true
    cbreak()
    noecho()
    nonl()
    keypad(window, true)
    set_escdelay(25)
    curs_set(0)
    if opts.color && has_colors() {
      start_color()
      use_default_colors()
      for c in CellStyle.Color.allCases where c != .normal {
        init_pair(Int16(c.rawValue), Int16(c.rawValue), -1)
      }
    } else {
      opts.color = false
    }
    self.options = opts
    CNcursesw.refresh()
    Self.writeRaw("\u{1B}[?2004h")
  }

  deinit { restore() }

  /// The terminal's size now.
  public var size: (rows: Int, cols: Int) {
    guard let window else { return (0, 0) }
    return (Int(getmaxy(window)), Int(getmaxx(window)))
  }

  /// The signal (SIGINT, SIGTERM, SIGHUP) that asked natscope to stop, or nil.
  public var pendingSignal: Int32? {
    let s = natscope_pending_signal_number()
    return s == 0 ? nil : s
  }

  /// Waits up to `timeoutMs` for input, then drains what else is ready; returns the decoded
  /// keys (possibly none).
  public func readKeys(timeoutMs: Int) -> [KeyEvent] {
    guard let window else { return [] }
    var out: [KeyEvent] = []
    wtimeout(window, Int32(max(0, timeoutMs)))
    var reads = 0
    while reads < 4096 {
      var code: UInt32 = 0
      let kind = natscope_read(window, &code)
      if kind == 0 {
        out += decoder.idle()
        break
      }
      reads += 1
      if kind == 2 {
        if let key = mapKey(Int32(bitPattern: code)) { out += decoder.feed(.key(key)) }
      } else if let scalar = Unicode.Scalar(code) {
        out += decoder.feed(.scalar(scalar))
      }
      wtimeout(window, decoder.inPaste ? 50 : 0)
    }
    return out
  }

  private func mapKey(_ code: Int32) -> KeyEvent? {
    switch code {
    case KEY_UP: return .up
    case KEY_DOWN: return .down
    case KEY_LEFT: return .left
    case KEY_RIGHT: return .right
    case KEY_PPAGE: return .pageUp
    case KEY_NPAGE: return .pageDown
    case KEY_HOME: return .home
    case KEY_END: return .end
    case KEY_BTAB: return .backTab
    case KEY_ENTER: return .enter
    case KEY_BACKSPACE: return .backspace
    case natscope_key_resize():
      previous = nil
      let s = size
      return .resize(rows: s.rows, cols: s.cols)
    default: return nil
    }
  }

  /// Copies `grid` to the screen: only cells that differ from the previous frame are
  /// written, then one `doupdate`.
  public func draw(_ grid: Grid) {
    guard let window else { return }
    let full = previous.map { $0.rows != grid.rows || $0.columns != grid.columns } ?? true
    if full {
      werase(window)
      clearok(window, true)
    }
    for r in 0..<grid.rows {
      for c in 0..<grid.columns {
        let cell = grid[r, c]
        // The terminal draws a wide character over both its cells.
        if cell.isWideTail { continue }
        if !full, let prev = previous, prev[r, c] == cell { continue }
        let (attrs, pair) = attributes(cell.style)
        let scalar = cell.character.unicodeScalars.first?.value ?? 0x20
        _ = natscope_put_cell(window, Int32(r), Int32(c), scalar, attrs, pair)
      }
    }
    wnoutrefresh(window)
    doupdate()
    previous = grid
  }

  private func attributes(_ style: CellStyle) -> (Int32, Int16) {
    var attrs: Int32 = 0
    if style.bold { attrs |= natscope_a_bold() }
    if style.reverse { attrs |= natscope_a_reverse() }
    if style.dim { attrs |= natscope_a_dim() }
    let pair: Int16 = options.color && style.color != .normal ? Int16(style.color.rawValue) : 0
    return (attrs, pair)
  }

  /// Asks the terminal to put `text` on the clipboard (OSC 52). Terminals that do not allow
  /// it ignore the sequence; `NATSCOPE_NO_OSC52` turns it off.
  public func copyToClipboard(_ text: String) {
    guard ProcessInfo.processInfo.environment["NATSCOPE_NO_OSC52"] == nil else { return }
    let encoded = Data(text.utf8).base64EncodedString()
    Self.writeRaw("\u{1B}]52;c;\(encoded)\u{07}")
  }

  /// Puts the terminal back as it was: bracketed paste off, `endwin`, default signal
  /// handlers. Safe to call more than once.
  public func restore() {
    guard active else { return }
    active = false
    Self.writeRaw("\u{1B}[?2004l")
    curs_set(1)
    endwin()
    natscope_set_terminal_active(0)
    if let screen { delscreen(screen) }
    screen = nil
    window = nil
    natscope_restore_default_signal_handlers()
  }

  static func writeRaw(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBufferPointer { buffer in
      buffer.baseAddress.map { base in
        base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
          natscope_write_out($0, buffer.count)
        }
      }
    }
  }
}
