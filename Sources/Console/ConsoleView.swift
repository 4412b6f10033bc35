/// The `view` half of model/update/view: draws a screen into a new grid. Pure: the same model,
/// size and options always give the same grid.
public enum ConsoleView {
  /// Draws `model` at its `chrome` size.
  public static func view<S: ConsoleScreen>(_ model: S, options: RenderOptions) -> Grid {
    var grid = Grid(rows: model.chrome.rows, columns: model.chrome.cols)
    if model.chrome.tooSmall {
      drawTooSmall(into: &grid)
      return grid
    }
    model.render(into: &grid, options: options)
    if model.chrome.detailOpen {
      let width = min(grid.columns - 8, max(60, grid.columns * 3 / 4))
      let lines = model.detailLines(width: width - 4, options: options)
      overlay(
        into: &grid, title: "details (Esc closes)", lines: lines, width: width, options: options)
    }
    if model.chrome.helpOpen {
      let lines = helpLines + model.helpLines
      overlay(
        into: &grid, title: "keys (any key closes)", lines: lines,
        width: max(60, (lines.map(\.count).max() ?? 0) + 4), options: options)
    }
    return grid
  }

  /// The keys every screen has, as the help overlay lists them (a screen adds its own).
  public static let helpLines = [
    "q, Ctrl-C       quit (the report is printed after exit)",
    "Tab, Shift-Tab  move focus between panels",
    "Up/Down         select a row;  PgUp/PgDn, Home/End scroll",
    "Enter           details of the selected row;  Esc closes",
    "j               write JSON to the cwd (probe, connect: the --json report)",
    "?               this help",
  ]

  /// The status line: key hints on the left, the latest message on the right.
  public static func drawStatus(
    into grid: inout Grid, hints: String, status: String, options: RenderOptions
  ) {
    let row = grid.rows - 1
    let style = CellStyle(reverse: true)
    grid.fill(row: row, column: 0, height: 1, width: grid.columns, style: style)
    grid.put(" " + hints, row: row, column: 0, width: grid.columns, style: style)
    if !status.isEmpty {
      let text = " " + status + " "
      let width = min(text.count, grid.columns / 2 + 10)
      let start = grid.columns - width
      grid.fill(row: row, column: start, height: 1, width: width, style: style)
      grid.putClipped(
        text, row: row, column: start, width: width, style: CellStyle(bold: true, reverse: true),
        options: options)
    }
  }

  /// The title bar on row 0.
  public static func drawTitle(into grid: inout Grid, left: String, right: String) {
    let style = CellStyle(color: .cyan, bold: true, reverse: true)
    grid.fill(row: 0, column: 0, height: 1, width: grid.columns, style: style)
    let room = right.isEmpty ? grid.columns : max(0, grid.columns - right.count - 3)
    grid.put(" " + left, row: 0, column: 0, width: room, style: style)
    if !right.isEmpty, right.count + 2 < grid.columns {
      grid.put(right + " ", row: 0, column: grid.columns - right.count - 1, style: style)
    }
  }

  /// A centred box with `lines`, cut to fit.
  static func overlay(
    into grid: inout Grid, title: String, lines: [String], width requested: Int,
    options: RenderOptions
  ) {
    let width = min(requested, grid.columns - 2)
    let height = min(lines.count + 2, grid.rows - 2)
    let top = max(1, (grid.rows - height) / 2)
    let left = max(0, (grid.columns - width) / 2)
    grid.fill(row: top, column: left, height: height, width: width)
    grid.box(
      row: top, column: left, height: height, width: width, title: title, focused: true,
      options: options)
    for (i, line) in lines.prefix(height - 2).enumerated() {
      grid.putClipped(
        line, row: top + 1 + i, column: left + 2, width: width - 4, options: options)
    }
  }

  static func drawTooSmall(into grid: inout Grid) {
    let lines = [
      "terminal too small",
      "\(grid.columns)x\(grid.rows); natscope needs at least "
        + "\(ConsoleLayout.minimumColumns)x\(ConsoleLayout.minimumRows)",
      "enlarge the window, or press q to quit",
    ]
    let top = max(0, (grid.rows - lines.count) / 2)
    for (i, line) in lines.enumerated() {
      let text = String(line.prefix(grid.columns))
      grid.put(
        text, row: top + i, column: max(0, (grid.columns - text.count) / 2),
        style: CellStyle(color: i == 0 ? .yellow : .normal, bold: i == 0))
    }
  }

  /// The first row to show so that `selected` is visible in a list of `visible` rows.
  public static func scrollOffset(selected: Int, count: Int, visible: Int) -> Int {
    guard visible > 0, count > visible else { return 0 }
    let offset = selected - visible / 2
    return min(max(0, offset), count - visible)
  }
}
