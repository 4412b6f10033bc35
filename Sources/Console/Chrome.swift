/// The state every screen shares: size, which panel has focus, the selected row of each
/// panel, the open overlays and the status line.
public struct Chrome: Equatable, Sendable {
  public var rows: Int
  public var cols: Int
  /// Index of the focused panel.
  public var focus = 0
  /// Selected row of each panel (clamped by `update` to the panel's item count).
  public var selection: [Int]
  /// The details overlay of the focused panel's selected row (Enter).
  public var detailOpen = false
  /// The key help overlay (`?`).
  public var helpOpen = false
  /// A message for the status line ("wrote natscope-probe-….json").
  public var status = ""

  public init(rows: Int = 24, cols: Int = 80, panels: Int) {
    self.rows = rows
    self.cols = cols
    self.selection = Array(repeating: 0, count: max(1, panels))
  }

  /// Whether the terminal is smaller than the 80×24 the screens are drawn for.
  public var tooSmall: Bool {
    rows < ConsoleLayout.minimumRows || cols < ConsoleLayout.minimumColumns
  }
}

/// Layout constants.
public enum ConsoleLayout {
  public static let minimumRows = 24
  public static let minimumColumns = 80
  /// At most this many frames per second are drawn.
  public static let maximumFramesPerSecond = 15
}
