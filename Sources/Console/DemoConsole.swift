import Foundation
import Traversal

/// `natscope demo` in the console: the NAT table and matrix (``DemoScreen``) and the live ICE
/// run between two of those NATs (``DemoLiveScreen``, the connect screen). After the probes the
/// story plays by itself for ``defaultPair`` unless the person is already exploring the table;
/// on the matrix, Enter on a cell and Enter again (or `w`) watches that pair; `m` goes back and
/// forth. `--a/--b` opens on the live run alone (no table).
public struct DemoConsole: ConsoleScreen {
  /// What the demo driver feeds the console.
  public enum Event: Sendable, Equatable {
    case table(DemoScreen.Event)
    case live(DemoLiveScreen.Event)
    /// A live run starts for host A behind `a` and host B behind `b` (a fresh screen).
    case liveStarted(a: String, b: String)
  }

  /// A pair of NATs to watch, by preset name.
  public struct Pick: Equatable, Sendable {
    public var a: String
    public var b: String
    public init(a: String, b: String) {
      self.a = a
      self.b = b
    }
  }

  /// The pair the story shows first: a symmetric NAT against a port-restricted cone fails
  /// through the NATs, so host, server-reflexive and relayed pairs are all tried.
  public static let defaultPair = Pick(a: "symmetric", b: "port-restricted-cone")

  /// The NAT table and matrix; nil when the console opened on one pair (`--a/--b`).
  public var table: DemoScreen?
  /// The live run, once one started.
  public var live: DemoLiveScreen?
  /// Whether the live run is on screen (else the table).
  public var showingLive: Bool
  /// The pair the person asked to watch; the driver starts it on the `.rerun` that comes
  /// with it and clears it.
  public var watchRequest: Pick?
  /// Whether the person pressed a key on the table (then the story does not start by itself).
  public private(set) var touched = false

  public init(table: DemoScreen) {
    self.table = table
    showingLive = false
  }

  /// A console on one pair only (`natscope demo --a … --b …`).
  public init(live: DemoLiveScreen) {
    self.live = live
    showingLive = true
  }

  public var chrome: Chrome {
    get { (showingLive ? live?.chrome : table?.chrome) ?? Chrome(panels: 1) }
    set {
      if showingLive, live != nil {
        live?.chrome = newValue
        table?.chrome.rows = newValue.rows
        table?.chrome.cols = newValue.cols
      } else {
        table?.chrome = newValue
        live?.chrome.rows = newValue.rows
        live?.chrome.cols = newValue.cols
      }
    }
  }

  public var name: String { showingLive ? (live?.name ?? "demo") : "demo" }
  public var panelTitles: [String] {
    (showingLive ? live?.panelTitles : table?.panelTitles) ?? ["demo"]
  }

  /// Whether the story should start now by itself: the probes are done, nothing runs live yet
  /// and the person has not touched the table.
  public var readyForStory: Bool {
    live == nil && !touched && (table?.finished ?? false)
  }

  public func itemCount(panel: Int) -> Int {
    (showingLive ? live?.itemCount(panel: panel) : table?.itemCount(panel: panel)) ?? 0
  }

  public mutating func apply(_ event: Event) {
    switch event {
    case .table(let e):
      table?.apply(e)
      if case .restarted = e { touched = false }
    case .live(let e): live?.apply(e)
    case .liveStarted(let a, let b):
      let c = chrome
      var screen = DemoLiveScreen(natA: a, natB: b, rows: c.rows, cols: c.cols)
      // The pace carries over from run to run.
      if let old = live { screen.pace = old.pace }
      screen.pace.pendingSteps = 0
      screen.chrome.status =
        "pace \(screen.pace.label): s slower, space pauses, n steps, m matrix"
      live = screen
      showingLive = true
    }
  }

  public mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]? {
    if case .resize = key { return nil }
    if showingLive, var screen = live {
      if key == .char("m") || key == .char("M") {
        guard table != nil else {
          screen.chrome.status = "this run shows one pair: natscope demo shows the matrix"
          live = screen
          return []
        }
        showingLive = false
        table?.chrome.status = "Enter on a cell, then Enter again, watches another pair"
        return []
      }
      let commands = screen.handleScreenKey(key)
      live = screen
      return commands
    }
    guard var screen = table else { return nil }
    touched = true
    if key == .char("m") || key == .char("M") {
      guard live != nil else {
        screen.chrome.status = "no pair watched yet: Enter on a matrix cell, then Enter again"
        table = screen
        return []
      }
      showingLive = true
      return []
    }
    let onMatrix = screen.chrome.focus == 1 && screen.finished
    if onMatrix
      && (key == .char("w") || key == .char("W") || (key == .enter && screen.chrome.detailOpen))
    {
      let cell = screen.matrixCell
      guard screen.sites.indices.contains(cell.row), screen.sites.indices.contains(cell.column)
      else { return [] }
      screen.chrome.detailOpen = false
      screen.detailOffset = 0
      table = screen
      watchRequest = Pick(a: screen.sites[cell.row].preset, b: screen.sites[cell.column].preset)
      return [.rerun]
    }
    let commands = screen.handleScreenKey(key)
    table = screen
    return commands
  }

  public var helpLines: [String] {
    if showingLive, let live { return live.helpLines }
    return [
      "r               run the probes again",
      "Left/Right      move along a matrix row",
      "Enter, Enter    on a matrix cell: its prediction, then watch that pair live",
      "w               on a matrix cell: watch that pair live",
      "m               the live run (and back)",
    ]
  }

  public func render(into grid: inout Grid, options: RenderOptions) {
    if showingLive, let live {
      live.render(into: &grid, options: options)
    } else {
      table?.render(into: &grid, options: options)
    }
  }

  public func detailLines(width: Int, options: RenderOptions) -> [String] {
    (showingLive
      ? live?.detailLines(width: width, options: options)
      : table?.detailLines(width: width, options: options)) ?? []
  }

  public func jsonData() throws -> Data {
    if showingLive, let live { return try live.jsonData() }
    guard let table else { return Data("{}".utf8) }
    return try table.jsonData()
  }
}
