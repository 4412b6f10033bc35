import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// What `update` asks the run loop to do (side effects stay out of the models).
public enum ConsoleCommand: Equatable, Sendable {
  case quit
  /// Run the probe or demo again.
  case rerun
  /// Write the screen's state as JSON (`natscope-<screen>-<time>.json` in the cwd).
  case writeJSON
  /// Send this text to the terminal's clipboard (OSC 52); the screen says what that means.
  case copy(String)
  /// The person accepted the peer's description (connect): hand it to the session.
  case setRemoteDescription(SessionDescription)
}

/// Why `j` wrote no file (the status line shows the sentence).
public struct ConsoleFileUnavailable: Error, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
}

/// A screen: a value holding its state, updated by keys and engine events and drawn by `view`.
public protocol ConsoleScreen: Equatable, Sendable {
  /// What the engine feeds this screen.
  associatedtype EngineEvent: Sendable

  var chrome: Chrome { get set }
  /// Short name for file names and the title ("probe", "demo", "connect").
  var name: String { get }
  /// The focusable panels, in Tab order.
  var panelTitles: [String] { get }
  /// Whether `panel` is on the screen now (Tab skips the others).
  func showsPanel(_ panel: Int) -> Bool
  /// How many selectable rows `panel` has.
  func itemCount(panel: Int) -> Int
  /// Applies an engine event.
  mutating func apply(_ event: EngineEvent)
  /// Keys this screen handles itself (before the common ones); nil when not handled.
  mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]?
  /// Draws the screen into `grid` (already sized, at least 80×24).
  func render(into grid: inout Grid, options: RenderOptions)
  /// The lines of the details overlay for the focused panel's selected row.
  func detailLines(width: Int, options: RenderOptions) -> [String]
  /// Help lines for this screen's own keys (the default: `r` runs again).
  var helpLines: [String] { get }
  /// The screen's state for `j`.
  func jsonData() throws -> Data
}

extension ConsoleScreen {
  public func showsPanel(_ panel: Int) -> Bool { true }
  public mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]? { nil }
  public var helpLines: [String] { ["r               run again"] }
}
