/// How a cell is drawn: foreground colour and attributes. Kept abstract so the renderer can be
/// tested without a terminal; the ncurses blit maps it to colour pairs and attributes.
public struct CellStyle: Hashable, Sendable {
  public enum Color: UInt8, Sendable, CaseIterable {
    case normal, red, green, yellow, blue, magenta, cyan, white
  }
  public var color: Color
  public var bold: Bool
  public var reverse: Bool
  public var dim: Bool

  public init(color: Color = .normal, bold: Bool = false, reverse: Bool = false, dim: Bool = false)
  {
    self.color = color
    self.bold = bold
    self.reverse = reverse
    self.dim = dim
  }

  public static let plain = CellStyle()
}

/// One character cell of the screen.
public struct Cell: Hashable, Sendable {
  public var character: Character
  public var style: CellStyle

  public init(_ character: Character = " ", style: CellStyle = .plain) {
    self.character = character
    self.style = style
  }
}
