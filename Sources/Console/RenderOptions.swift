/// How a frame is drawn: box-drawing characters or ASCII, colour or monochrome.
public struct RenderOptions: Equatable, Sendable {
  /// Draw with ASCII only (`+`, `-`, `|`) instead of UTF-8 box drawing.
  public var ascii: Bool
  /// Use colours (off with `NO_COLOR` or on terminals without colour); bold and reverse are
  /// used either way.
  public var color: Bool

  public init(ascii: Bool = false, color: Bool = true) {
    self.ascii = ascii
    self.color = color
  }

  /// The options for this process: ASCII when forced or when the locale is not UTF-8; colour
  /// unless `NO_COLOR` is set (to anything non-empty, as no-color.org asks).
  public static func detect(environment: [String: String], forceASCII: Bool) -> RenderOptions {
    let locale =
      environment["LC_ALL"].flatMap { $0.isEmpty ? nil : $0 }
      ?? environment["LC_CTYPE"].flatMap { $0.isEmpty ? nil : $0 }
      ?? environment["LANG"] ?? ""
    let lower = locale.lowercased()
    let utf8 = lower.contains("utf-8") || lower.contains("utf8")
    let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
    return RenderOptions(ascii: forceASCII || !utf8, color: !noColor)
  }

  /// The characters used to draw boxes, marks and spinners.
  public var glyphs: Glyphs { ascii ? .ascii : .unicode }
}

/// The drawing characters of one `RenderOptions`.
public struct Glyphs: Equatable, Sendable {
  public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight: Character
  public var teeRight, teeDown, teeUp: Character
  public var check, cross, dot, running, arrow, ellipsis: Character
  public var selectedMark, nominatedMark: Character

  public static let unicode = Glyphs(
    horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└",
    bottomRight: "┘", teeRight: "├", teeDown: "┬", teeUp: "┴", check: "✓", cross: "✗",
    dot: "·", running: "▸", arrow: "→", ellipsis: "…", selectedMark: "★", nominatedMark: "◆")

  public static let ascii = Glyphs(
    horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+",
    bottomRight: "+", teeRight: "+", teeDown: "+", teeUp: "+", check: "+", cross: "x",
    dot: ".", running: ">", arrow: ">", ellipsis: "~", selectedMark: "*", nominatedMark: "N")

  /// "→" or "->": arrows read better as two ASCII characters.
  public var arrowText: String { arrow == "→" ? "→" : "->" }
}
