import Foundation
import Report
import Sessions
import Traversal

/// The demo's live ICE view: the connect screen that `natscope connect` uses (reused as it is,
/// fed with host A's session through ``ConnectFeed``), plus what only the demo has: which NATs
/// the two simulated hosts sit behind, the pace of the simulated clock (real time, 1/4, 1/10,
/// paused, one event at a time) and, at the end, the prediction against the outcome.
public struct DemoLiveScreen: ConsoleScreen {
  /// What the demo driver feeds the screen.
  public enum Event: Sendable, Equatable {
    /// Host A's session, as the connect screen takes it (see ``DemoLiveFeed``).
    case connect(ConnectScreen.Event)
    /// Host B's token reached host A (the demo's signalling).
    case peerToken(String)
    /// Simulated time, in milliseconds since the run started.
    case clock(Double)
    /// The run is over: the two-host report (with both probes' profiles) and the prediction's
    /// lines the screen shows after its first line.
    case outcome(report: ConnectReport, preface: [String])
  }

  /// How fast the simulated clock runs against the wall clock, and whether it is stopped.
  public struct Pace: Equatable, Sendable {
    /// The speeds `s` cycles through: real time, a quarter, a tenth.
    public static let speeds: [(value: Double, label: String)] = [
      (1, "1x"), (0.25, "1/4x"), (0.1, "1/10x"),
    ]
    public var speedIndex = 0
    /// Stopped: only `n` moves the run, one event at a time.
    public var paused = false
    /// Steps asked for (`n`) that the driver has not taken yet.
    public var pendingSteps = 0

    public init() {}

    /// Simulated seconds per wall second (0 when paused).
    public var speed: Double {
      paused ? 0 : Self.speeds[min(max(speedIndex, 0), Self.speeds.count - 1)].value
    }

    /// "1x", "1/4x", "1/10x" or "paused".
    public var label: String {
      paused ? "paused" : Self.speeds[min(max(speedIndex, 0), Self.speeds.count - 1)].label
    }
  }

  /// The connect screen, drawn as `natscope connect` draws it.
  public var connect: ConnectScreen
  /// Host A's and host B's NAT (preset names, e.g. "symmetric").
  public var natA: String
  public var natB: String
  public var pace = Pace()
  /// Simulated time of the run.
  public private(set) var clockMs: Double = 0
  /// Whether the run has its outcome.
  public private(set) var finished = false

  public var chrome: Chrome {
    get { connect.chrome }
    set { connect.chrome = newValue }
  }
  public var name: String { "demo-ice" }
  public var panelTitles: [String] { connect.panelTitles }

  public init(natA: String, natB: String, rows: Int = 24, cols: Int = 80) {
    self.natA = natA
    self.natB = natB
    // Host A offers, so it expects an answer; host B's token arrives by itself.
    connect = ConnectScreen(peerRole: .answer, rows: rows, cols: cols)
    connect.model.role = "controlling"
  }

  public func itemCount(panel: Int) -> Int { connect.itemCount(panel: panel) }

  public mutating func apply(_ event: Event) {
    switch event {
    case .connect(let e): connect.apply(e)
    case .peerToken(let token): connect.model.remoteToken = token
    case .clock(let ms): clockMs = ms
    case .outcome(let report, let preface):
      let connected = report.state == .connected
      finished = true
      connect.model.reportLines = report.text.split(
        separator: "\n", omittingEmptySubsequences: false
      ).map(String.init)
      connect.finalReport = report
      connect.reportPreface = preface
      connect.model.connected = connected
      connect.showLog = false
      chrome.status = connected ? "connected" : "no path worked"
    }
  }

  public mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]? {
    switch key {
    case .char("s"), .char("S"):
      pace.speedIndex = (pace.speedIndex + 1) % Pace.speeds.count
      pace.paused = false
      chrome.status = "pace \(pace.label)"
      return []
    case .char(" "):
      pace.paused.toggle()
      chrome.status = pace.paused ? "paused: n steps, space resumes" : "pace \(pace.label)"
      return []
    case .char("n"), .char("N"):
      pace.paused = true
      pace.pendingSteps += 1
      chrome.status = "paused: n steps, space resumes"
      return []
    case .char("p"), .char("P"), .paste:
      chrome.status = "in the demo host B's token reaches host A by itself"
      return []
    case .char("r"), .char("R"):
      return [.rerun]
    default:
      return connect.handleScreenKey(key)
    }
  }

  public var helpLines: [String] {
    [
      "s               pace: real time, 1/4, 1/10",
      "space           pause or resume",
      "n               one event at a time (pauses)",
      "m               back to the NAT table and the matrix",
      "r               run this pair again",
      "c               copy host A's token (OSC 52 clipboard)",
      "l               event log / report (once the verdict is in)",
    ]
  }

  // MARK: View

  public func render(into grid: inout Grid, options: RenderOptions) {
    if options.ascii {
      // Report and log sentences carry marks like ✓ and ↔; an ASCII terminal gets them in
      // ASCII, as the frames are.
      var plain = connect
      plain.model.reportLines = plain.model.reportLines.map(ASCIIText.fold)
      plain.model.log = plain.model.log.map(ASCIIText.fold)
      plain.render(into: &grid, options: options)
    } else {
      connect.render(into: &grid, options: options)
    }
    let g = options.glyphs
    let m = connect.model
    let wide = grid.columns >= 110
    let state = "agent \(m.agentState.rawValue)"
    var left = (wide ? "natscope demo  " : "demo  ") + "A \(natA) \(g.arrowText) B \(natB)  "
    let stateColumn = 1 + left.count
    left += state
    if wide { left += "  checks \(m.checksAnswered)/\(m.checksSent) answered" }
    ConsoleView.drawTitle(
      into: &grid, left: left,
      right: "\(pace.label)  " + String(format: "t=%.2f s", clockMs / 1000))
    if m.agentState != .new, stateColumn + state.count < grid.columns - 16 {
      grid.restyle(row: 0, column: stateColumn + 6, width: state.count - 6) {
        $0 = ConnectScreen.agentStyle(m.agentState)
        $0.reverse = true
      }
    }
    let hints =
      wide
      ? "q quit  s pace  space pause  n step  m matrix  r again  Tab focus  Enter details  ? help"
      : "q quit  s pace  space pause  n step  m matrix  ? help"
    ConsoleView.drawStatus(into: &grid, hints: hints, status: chrome.status, options: options)
  }

  public func detailLines(width: Int, options: RenderOptions) -> [String] {
    connect.detailLines(width: width, options: options)
  }

  /// The connect screen's JSON, with which NATs the hosts are behind (never the tokens).
  public func jsonData() throws -> Data {
    let inner = try connect.jsonData()
    guard var object = try JSONSerialization.jsonObject(with: inner) as? [String: Any] else {
      return inner
    }
    // The state of the demo's screen, not a `connect --json` document: no `schema` key.
    object["schema"] = nil
    object["screen"] = name
    object["natA"] = natA
    object["natB"] = natB
    object["simulatedMs"] = clockMs
    return try JSONSerialization.data(
      withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
  }
}
