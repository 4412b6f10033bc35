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
  /// The right half of a wide (two-column) character in the cell to the left: the terminal
  /// draws nothing of its own here.
  public var isWideTail: Bool

  public init(_ character: Character = " ", style: CellStyle = .plain) {
    self.character = character
    self.style = style
    self.isWideTail = false
  }

  /// The right half of a wide character.
  static func wideTail(style: CellStyle) -> Cell {
    var c = Cell(" ", style: style)
    c.isWideTail = true
    return c
  }

  /// How many columns a terminal gives `ch`: 2 for East Asian wide and fullwidth characters
  /// and emoji, else 1 (control characters never reach a cell).
  public static func width(of ch: Character) -> Int {
    guard let s = ch.unicodeScalars.first?.value else { return 1 }
    if ch.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }  // emoji style
    for r in wideRanges where r.contains(s) { return 2 }
    return 1
  }

  /// East Asian Wide (W) and Fullwidth (F) ranges, emoji blocks included (Unicode 15).
  static let wideRanges: [ClosedRange<UInt32>] = [
    0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0,
    0x23F3...0x23F3, 0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F,
    0x2693...0x2693, 0x26A1...0x26A1, 0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5,
    0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA, 0x26F2...0x26F3, 0x26F5...0x26F5,
    0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B, 0x2728...0x2728,
    0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
    0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
    0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
    0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
    0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F004...0x1F004, 0x1F0CF...0x1F0CF, 0x1F18E...0x1F18E,
    0x1F191...0x1F19A, 0x1F200...0x1F251, 0x1F300...0x1F64F, 0x1F680...0x1F6FF,
    0x1F7E0...0x1F7EB, 0x1F90C...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD,
    0x30000...0x3FFFD,
  ]
}
