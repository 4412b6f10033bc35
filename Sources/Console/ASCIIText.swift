/// Text for a terminal without UTF-8: the few non-ASCII characters natscope's sentences use,
/// spelled in ASCII (anything else becomes `?`).
public enum ASCIIText {
  static let words: [Character: String] = [
    "✓": "+", "✗": "x", "–": "-", "—": "-", "↔": "<->", "→": "->", "←": "<-", "…": "...",
    "·": ".", "★": "*", "◆": "N", "’": "'", "‘": "'", "“": "\"", "”": "\"", "≈": "~",
    "×": "x", "↑": "^", "↓": "v", "▸": ">", "≥": ">=", "≤": "<=",
  ]

  /// `text` in ASCII.
  public static func fold(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for ch in text {
      if ch.isASCII {
        out.append(ch)
      } else {
        out += words[ch] ?? "?"
      }
    }
    return out
  }
}
