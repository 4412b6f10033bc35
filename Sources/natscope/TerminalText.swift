import Console
import Foundation
import Report
import Sessions

#if canImport(Glibc)
  import Glibc
#endif

/// Plain (not console) outputs and the terminal they go to: the width they must fit, and
/// ASCII where the locale is not UTF-8 (as the console draws it). The demo's tables and
/// reports and the probe's report use it.
enum TerminalText {
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

  /// `text` as the terminal can show it: in ASCII when `ascii`, and, when standard output is
  /// a terminal, with the lines that spelling made too wide wrapped again under their own
  /// hanging indent (`  x direct     reason…`).
  static func fit(_ text: String, ascii: Bool, width: Int? = terminalColumns) -> String {
    guard ascii else { return text }
    let folded = ASCIIText.fold(text)
    guard let width else { return folded }
    return folded.split(separator: "\n", omittingEmptySubsequences: false).flatMap {
      line -> [String] in
      guard line.count > width else { return [String(line)] }
      let lead = line.prefix { $0 == " " }.count
      // A report row: the mark, a word, then spaces up to the column its text starts at.
      var hang = lead
      let rest = line.dropFirst(lead)
      if let mark = rest.first, "x+-".contains(mark), rest.dropFirst().first == " " {
        let afterWord = rest.dropFirst(2).drop { $0 != " " }
        hang = line.count - afterWord.drop { $0 == " " }.count
      }
      let head = String(line.prefix(hang))
      let body = String(line.dropFirst(hang))
      return TextWrap.lines(
        body, width: width, indent: String(repeating: " ", count: hang), first: head)
    }.joined(separator: "\n")
  }
}

extension TerminalText {
  /// Whether standard error is a terminal (progress lines go there only then).
  static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}
