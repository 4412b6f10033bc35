/// What `c` can honestly say about copying: OSC 52 is write-only (natscope never learns
/// whether the text reached a clipboard), terminal multiplexers drop it unless told otherwise,
/// and many terminals ignore it. Detected once from the environment; the screen keeps it as a
/// plain value.
public enum ClipboardPath: Equatable, Sendable {
  /// A terminal, as far as natscope can tell: OSC 52 is sent and may or may not arrive.
  case terminal
  /// Inside tmux (`TMUX`, or a `tmux` TERM): tmux keeps OSC 52 only with `set-clipboard on`;
  /// its default (`external`) drops what programs send.
  case tmux
  /// Inside GNU screen (`STY`, or a `screen` TERM without tmux): screen does not pass OSC 52 on.
  case screen
  /// `NATSCOPE_NO_OSC52` is set: nothing is sent.
  case disabled

  public static func detect(environment: [String: String]) -> ClipboardPath {
    if environment["NATSCOPE_NO_OSC52"] != nil { return .disabled }
    let term = environment["TERM"] ?? ""
    if !(environment["TMUX"] ?? "").isEmpty || term.hasPrefix("tmux") { return .tmux }
    if !(environment["STY"] ?? "").isEmpty || term.hasPrefix("screen") { return .screen }
    return .terminal
  }

  /// Whether `c` sends anything at all.
  public var sends: Bool { self != .disabled }

  /// The status line after `c` (short: the token view says the rest).
  public var status: String {
    switch self {
    case .terminal: "sent to the clipboard by OSC 52, if the terminal takes it"
    case .tmux: "sent by OSC 52; tmux drops it unless set-clipboard is on"
    case .screen: "sent by OSC 52; GNU screen does not pass it on"
    case .disabled: "not copied (NATSCOPE_NO_OSC52); select the token by hand"
    }
  }

  /// The sentence the token view shows after `c`.
  public func note(characters: Int) -> String {
    switch self {
    case .terminal:
      "Sent the token (\(characters) characters) to the terminal's clipboard (OSC 52). natscope cannot tell whether it arrived: if your terminal does not support OSC 52, select the token shown here by hand."
    case .tmux:
      "Sent the token (\(characters) characters) by OSC 52, but this is tmux: it keeps that only with `set -g set-clipboard on` (its default drops it). If the clipboard does not have it, select the token shown here by hand."
    case .screen:
      "Sent the token (\(characters) characters) by OSC 52, but this is GNU screen, which does not pass it on to the terminal: select the token shown here by hand."
    case .disabled:
      "Nothing was sent: NATSCOPE_NO_OSC52 is set. Select the token shown here by hand."
    }
  }
}
