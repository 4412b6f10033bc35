/// Text that came off the wire (SOFTWARE, reason phrases), made safe to show: a STUN server or
/// peer chooses these bytes, and printed raw they could carry terminal escape sequences or
/// reorder a line with bidirectional controls.
public enum WireText {
  /// The most characters of wire text natscope shows (RFC 8489 caps reason phrases and
  /// SOFTWARE at 128 characters; anything longer is cut with "…").
  public static let limit = 128

  /// `text` with every control character (C0, DEL, C1) and every bidirectional formatting
  /// character replaced by U+FFFD, cut to `limit` characters.
  public static func display(_ text: String, limit: Int = WireText.limit) -> String {
    var scalars = String.UnicodeScalarView()
    var count = 0
    for s in text.unicodeScalars {
      if count == limit {
        scalars.append("…")
        break
      }
      scalars.append(isUnsafe(s) ? "\u{FFFD}" : s)
      count += 1
    }
    return String(scalars)
  }

  /// Control characters and the bidirectional marks, embeddings, overrides and isolates.
  static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
    if isControl(s) { return true }
    switch s.value {
    case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C: return true
    default: return false
    }
  }

  /// C0 controls, DEL and C1 controls: what a terminal would act on rather than draw.
  public static func isControl(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7F...0x9F).contains(s.value)
  }
}
