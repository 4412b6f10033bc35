/// A key (or paste) as the models see it, decoded from the terminal by `InputDecoder`.
public enum KeyEvent: Equatable, Sendable {
  case char(Character)
  case tab, backTab
  case up, down, pageUp, pageDown, home, end
  /// The left and right arrows (the demo's matrix moves between columns with them).
  case left, right
  case enter, escape
  /// Backspace (DEL, Ctrl-H or the terminal's backspace key): deletes a character in a field.
  case backspace
  /// Ctrl-U: clears a field, as in a shell.
  case clearField
  /// The terminal changed size.
  case resize(rows: Int, cols: Int)
  /// A bracketed paste (`ESC [200~ … ESC [201~`), delivered whole.
  case paste(String)
  /// Ctrl-C read as a key (when it does not arrive as SIGINT).
  case interrupt
}
