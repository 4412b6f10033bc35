import Console
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The demo's plain outputs and the terminal they go to: the width they must fit, and ASCII
/// where the locale is not UTF-8 (as the console draws it).
enum DemoPlainText {
  /// The columns of standard output when it is a terminal; nil when it is not (a file or a
  /// pipe gets the full-width layout).
  static var terminalColumns: Int? {
    guard isatty(STDOUT_FILENO) == 1 else { return nil }
    var size = winsize()
    let status = withUnsafeMutablePointer(to: &size) {
      ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), $0)
    }
    guard status == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
  }

  /// The width the plain tables lay themselves out for: the terminal's, or wide.
  static var width: Int { terminalColumns ?? 200 }

  /// `text` as the terminal can show it.
  static func fit(_ text: String, ascii: Bool) -> String { ascii ? ASCIIText.fold(text) : text }
}
