/// ArgumentParser's usage line lists every option on one line (160–180 columns for `connect`
/// and `probe`): this wraps it to 80 columns, between whole elements (`[--stun <uri> ...]`
/// stays in one piece), continuations indented under the first option.
enum UsageText {
  /// The widest a usage line may be.
  static let width = 80

  /// `text` (a help page or an error message) with its `USAGE:` / `Usage:` line wrapped.
  static func wrap(_ text: String, width: Int = width) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let s = String(line)
      let trimmed = s.drop { $0 == " " }
      guard s.count > width, trimmed.hasPrefix("USAGE: ") || trimmed.hasPrefix("Usage: ")
      else {
        out.append(s)
        continue
      }
      out += wrapLine(s, width: width)
    }
    return out.joined(separator: "\n")
  }

  /// One usage line cut into lines of at most `width` (an element longer than that stands on a
  /// line of its own).
  static func wrapLine(_ line: String, width: Int) -> [String] {
    let elements = self.elements(line)
    // The head: the indent, "USAGE:" and the command's words, up to the first option.
    let headCount = elements.prefix {
      !$0.hasPrefix("[") && !$0.hasPrefix("-") && !$0.hasPrefix("<")
    }
    .count
    let lead = String(line.prefix { $0 == " " })
    let head = lead + elements.prefix(headCount).joined(separator: " ")
    let indent = String(repeating: " ", count: min(head.count + 1, width / 2))
    var lines: [String] = []
    var current = head
    for element in elements.dropFirst(headCount) {
      if current.count + 1 + element.count > width, current != indent {
        lines.append(current)
        current = indent + element
      } else {
        current += (current.isEmpty || current == indent ? "" : " ") + element
      }
    }
    lines.append(current)
    return lines
  }

  /// The line's elements: words, with anything in brackets (`[...]`, `<...>`) kept whole.
  static func elements(_ line: String) -> [String] {
    var out: [String] = []
    var current = ""
    var depth = 0
    for ch in line {
      switch ch {
      case "[", "<": depth += 1
      case "]", ">": depth = max(0, depth - 1)
      default: break
      }
      if ch == " " && depth == 0 {
        if !current.isEmpty { out.append(current) }
        current = ""
      } else {
        current.append(ch)
      }
    }
    if !current.isEmpty { out.append(current) }
    return out
  }
}
