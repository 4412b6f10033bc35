import Report
import Sessions
import Traversal

extension Grid {
  /// Fills a rectangle with `character` in `style`.
  public mutating func fill(
    row: Int, column: Int, height: Int, width: Int, character: Character = " ",
    style: CellStyle = .plain
  ) {
    guard height > 0, width > 0 else { return }
    for r in row..<(row + height) {
      for c in column..<(column + width) { self[r, c] = Cell(character, style: style) }
    }
  }

  /// Draws a box border with `title` in the top edge; a focused box is drawn bold and cyan.
  public mutating func box(
    row: Int, column: Int, height: Int, width: Int, title: String, focused: Bool,
    options: RenderOptions
  ) {
    guard height >= 2, width >= 2 else { return }
    let g = options.glyphs
    let style = CellStyle(color: focused ? .cyan : .normal, bold: focused, dim: !focused)
    let right = column + width - 1
    let bottom = row + height - 1
    for c in column...right {
      self[row, c] = Cell(g.horizontal, style: style)
      self[bottom, c] = Cell(g.horizontal, style: style)
    }
    for r in row...bottom {
      self[r, column] = Cell(g.vertical, style: style)
      self[r, right] = Cell(g.vertical, style: style)
    }
    self[row, column] = Cell(g.topLeft, style: style)
    self[row, right] = Cell(g.topRight, style: style)
    self[bottom, column] = Cell(g.bottomLeft, style: style)
    self[bottom, right] = Cell(g.bottomRight, style: style)
    if !title.isEmpty, width > 6 {
      let label = " " + (focused ? "[" + title + "]" : title) + " "
      put(
        label, row: row, column: column + 2, width: width - 4,
        style: CellStyle(color: focused ? .cyan : .normal, bold: true))
    }
  }

  /// Writes `text` clipped to `width`, ending with an ellipsis when it was cut.
  @discardableResult
  public mutating func putClipped(
    _ text: String, row: Int, column: Int, width: Int, style: CellStyle = .plain,
    options: RenderOptions
  ) -> Int {
    guard width > 0 else { return column }
    if text.count <= width { return put(text, row: row, column: column, style: style) }
    let cut = String(text.prefix(max(0, width - 1))) + String(options.glyphs.ellipsis)
    return put(cut, row: row, column: column, width: width, style: style)
  }

  /// Applies `style` to every cell of a row segment, keeping the characters (selection bars).
  public mutating func restyle(
    row: Int, column: Int, width: Int, _ change: (inout CellStyle) -> Void
  ) {
    guard width > 0 else { return }
    for c in column..<(column + width) {
      var cell = self[row, c]
      change(&cell.style)
      self[row, c] = cell
    }
  }
}

/// Splits `text` into lines of at most `width` characters at spaces (words longer than a line
/// are cut).
public func wrapText(_ text: String, width: Int) -> [String] {
  guard width > 0 else { return [] }
  return TextWrap.lines(text, width: width, cutLongWords: true)
}

/// `text` padded with spaces (or cut) to exactly `width` characters.
public func pad(_ text: String, _ width: Int) -> String {
  guard width > 0 else { return "" }
  if text.count >= width { return String(text.prefix(width)) }
  return text + String(repeating: " ", count: width - text.count)
}
