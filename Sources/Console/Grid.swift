import Traversal

/// An in-memory screen: `rows × columns` cells. Views draw into a grid; tests compare its text;
/// only the ncurses blit copies it to a terminal, and only the cells that changed.
public struct Grid: Equatable, Sendable {
  public let rows: Int
  public let columns: Int
  public private(set) var cells: [Cell]

  public init(rows: Int, columns: Int) {
    self.rows = max(0, rows)
    self.columns = max(0, columns)
    self.cells = Array(repeating: Cell(), count: self.rows * self.columns)
  }

  public subscript(row: Int, column: Int) -> Cell {
    get {
      guard row >= 0, row < rows, column >= 0, column < columns else { return Cell() }
      return cells[row * columns + column]
    }
    set {
      guard row >= 0, row < rows, column >= 0, column < columns else { return }
      cells[row * columns + column] = newValue
    }
  }

  /// Writes `text` starting at (`row`, `column`), clipped to the grid and to `width` columns
  /// when given; a wide character takes two cells (and is left out when only one is left).
  /// Returns the column after the last character written.
  @discardableResult
  public mutating func put(
    _ text: String, row: Int, column: Int, width: Int? = nil, style: CellStyle = .plain
  ) -> Int {
    var col = column
    let limit = min(columns, width.map { column + $0 } ?? columns)
    for ch in text {
      if col >= limit { break }
      // A control character would make ncurses draw ^X notation (two cells) or worse; no
      // model text should hold one, but the grid never passes one on.
      if ch.unicodeScalars.contains(where: WireText.isControl) {
        self[row, col] = Cell("\u{FFFD}", style: style)
        col += 1
        continue
      }
      if Cell.width(of: ch) == 2 {
        if col + 1 >= limit { break }
        self[row, col] = Cell(ch, style: style)
        self[row, col + 1] = .wideTail(style: style)
        col += 2
        continue
      }
      self[row, col] = Cell(ch, style: style)
      col += 1
    }
    return col
  }

  /// The grid as plain text, one line per row, trailing spaces kept (for golden frames); a
  /// wide character stands once for its two cells.
  public var text: String {
    (0..<rows).map { r in
      String((0..<columns).compactMap { self[r, $0].isWideTail ? nil : self[r, $0].character })
    }
    .joined(separator: "\n")
  }
}
