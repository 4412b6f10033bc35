import Runtime
import Traversal

/// Greedy word wrapping, shared by the text reports and the console.
public enum TextWrap {
  /// Splits `text` at spaces into lines of at most `width` characters.
  ///
  /// - Parameters:
  ///   - indent: prefix of every line after the first (and of the first when `first` is nil).
  ///   - first: prefix of the first line.
  ///   - keepUnits: keep a number and the "ms" after it on one line ("48 ms").
  ///   - cutLongWords: cut words longer than a line (for fixed-width cells) instead of letting
  ///     them overflow.
  /// - Returns: the lines; with no prefix and no words, none.
  public static func lines(
    _ text: String, width: Int, indent: String = "", first: String? = nil,
    keepUnits: Bool = false, cutLongWords: Bool = false
  ) -> [String] {
    var words: [String] = []
    for w in text.split(separator: " ") {
      if keepUnits, let last = words.last, w.hasPrefix("ms"), w.count <= 3,
        last.last?.isNumber == true
      {
        words[words.count - 1] = last + " " + w
      } else {
        words.append(String(w))
      }
    }
    let start = first ?? indent
    if words.isEmpty { return start.isEmpty ? [] : [start] }
    var lines: [String] = []
    var line = start
    var empty = true
    for var word in words {
      if cutLongWords, width > indent.count {
        let room = width - indent.count
        while word.count > room {
          if !empty {
            lines.append(line)
            line = indent
            empty = true
          }
          lines.append(line + word.prefix(room))
          line = indent
          word = String(word.dropFirst(room))
        }
      }
      if !empty && line.count + 1 + word.count > width {
        lines.append(line)
        line = indent
        empty = true
      }
      line += (empty ? "" : " ") + word
      empty = false
    }
    if !empty || !line.isEmpty { lines.append(line) }
    return lines
  }
}
