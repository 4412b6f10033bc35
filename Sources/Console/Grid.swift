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
  /// when given. Returns the column after the last character written.
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
      let unsafe = ch.unicodeScalars.contains {
        $0.value < 0x20 || (0x7F...0x9F).contains($0.value)
      }
      self[row, col] = Cell(unsafe ? "\u{FFFD}" : ch, style: style)
      col += 1
    }
    return col
  }

  /// The grid as plain text, one line per row, trailing spaces kept (for golden frames).
  public var text: String {
    (0..<rows).map { r in String((0..<columns).map { self[r, $0].character }) }
      .joined(separator: "\n")
  }
}
