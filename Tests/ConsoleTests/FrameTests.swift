import Console
import Report
import Sessions
import Testing
import Traversal

/// Golden frames of every screen at 80×24 and 120×40, in UTF-8 and ASCII.
@Suite struct FrameTests {
  struct Variant: CustomTestStringConvertible, Sendable {
    var rows: Int
    var cols: Int
    var ascii: Bool
    var suffix: String { "\(cols)x\(rows)-\(ascii ? "ascii" : "utf8")" }
    var options: RenderOptions { RenderOptions(ascii: ascii, color: true) }
    var testDescription: String { suffix }
  }

  static let variants = [
    Variant(rows: 24, cols: 80, ascii: false), Variant(rows: 24, cols: 80, ascii: true),
    Variant(rows: 40, cols: 120, ascii: false), Variant(rows: 40, cols: 120, ascii: true),
  ]

  @Test(arguments: variants)
  func probeRunning(_ v: Variant) throws {
    let screen = try Fixtures.probeScreen(after: 7, rows: v.rows, cols: v.cols)
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "probe-running-\(v.suffix)")
  }

  @Test(arguments: variants)
  func probeFinished(_ v: Variant) throws {
    let screen = try Fixtures.probeScreen(rows: v.rows, cols: v.cols)
    #expect(screen.report != nil)
    Snapshot.assert(ConsoleView.view(screen, options: v.options), named: "probe-final-\(v.suffix)")
  }

  @Test(arguments: variants)
  func probeStepEvidence(_ v: Variant) throws {
    var screen = try Fixtures.probeScreen(rows: v.rows, cols: v.cols)
    ConsoleUpdate.update(&screen, key: .down)
    ConsoleUpdate.update(&screen, key: .enter)
    let grid = ConsoleView.view(screen, options: v.options)
    #expect(grid.text.contains("CHANGE-REQ"))
    Snapshot.assert(grid, named: "probe-detail-\(v.suffix)")
  }

  @Test(arguments: variants)
  func probeAsksTheRouterAlongside(_ v: Variant) throws {
    let running = try Fixtures.doubleNATProbeScreen(finished: false, rows: v.rows, cols: v.cols)
    #expect(running.report == nil)
    #expect(running.portMapping?.externalAddress?.description == "100.64.0.2")
    Snapshot.assert(
      ConsoleView.view(running, options: v.options), named: "probe-router-running-\(v.suffix)")
    let screen = try Fixtures.doubleNATProbeScreen(finished: true, rows: v.rows, cols: v.cols)
    let report = try #require(screen.attachedReport)
    #expect(report.doubleNAT?.detected == true)
    let text = screen.verdictLines(width: 100).map { $0.key + " " + $0.value }
    #expect(text.contains("port mapping PCP, NAT-PMP (gateway 192.168.1.1)"))
    #expect(text.contains("router addr 100.64.0.2"))
    #expect(text.contains("double NAT yes"))
    // The j file carries what the router said.
    let json = String(decoding: try screen.jsonData(), as: UTF8.self)
    #expect(json.contains("\"doubleNAT\""))
    #expect(json.contains("\"portMapping\""))
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "probe-router-final-\(v.suffix)")
  }

  @Test(arguments: variants)
  func demoRunning(_ v: Variant) throws {
    let screen = try Fixtures.demoScreen(at: 1000, rows: v.rows, cols: v.cols)
    #expect(screen.sites.contains { $0.running })
    Snapshot.assert(ConsoleView.view(screen, options: v.options), named: "demo-running-\(v.suffix)")
  }

  @Test(arguments: variants)
  func demoFinished(_ v: Variant) throws {
    let screen = try Fixtures.demoScreen(rows: v.rows, cols: v.cols)
    #expect(screen.finished)
    Snapshot.assert(ConsoleView.view(screen, options: v.options), named: "demo-final-\(v.suffix)")
  }

  @Test(arguments: variants)
  func connect(_ v: Variant) {
    var screen = ConnectScreen(model: Fixtures.connectModel(), rows: v.rows, cols: v.cols)
    ConsoleUpdate.update(&screen, key: .down)
    Snapshot.assert(ConsoleView.view(screen, options: v.options), named: "connect-\(v.suffix)")
  }

  @Test func helpOverlay() throws {
    var screen = try Fixtures.probeScreen(rows: 24, cols: 80)
    ConsoleUpdate.update(&screen, key: .char("?"))
    Snapshot.assert(
      ConsoleView.view(screen, options: RenderOptions()), named: "probe-help-80x24-utf8")
  }

  /// The longest help overlay (the connect screen's keys come on top of the common ones) still
  /// fits the smallest terminal.
  @Test func connectHelpFits80x24() {
    var screen = ConnectScreen(model: Fixtures.connectModel(), rows: 24, cols: 80)
    ConsoleUpdate.update(&screen, key: .char("?"))
    let grid = ConsoleView.view(screen, options: RenderOptions())
    #expect(grid.text.contains("Backspace, ^U"))
    #expect(grid.text.contains("any key closes"))
    Snapshot.assert(grid, named: "connect-help-80x24-utf8")
  }

  @Test func connectPasting() {
    var screen = ConnectScreen(model: Fixtures.connectModel(), rows: 24, cols: 80)
    ConsoleUpdate.update(&screen, key: .char("p"))
    ConsoleUpdate.update(&screen, key: .paste("natscope1:" + String(repeating: "QUJD", count: 30)))
    Snapshot.assert(
      ConsoleView.view(screen, options: RenderOptions()), named: "connect-paste-80x24-utf8")
  }

  @Test func tooSmall() throws {
    let screen = try Fixtures.probeScreen(rows: 20, cols: 60)
    let grid = ConsoleView.view(screen, options: RenderOptions())
    #expect(grid.text.contains("terminal too small"))
    #expect(grid.text.contains("60x20"))
    Snapshot.assert(grid, named: "too-small-60x20")
  }

  @Test func asciiFramesAreASCII() throws {
    let screens: [Grid] = [
      ConsoleView.view(
        try Fixtures.probeScreen(rows: 40, cols: 120), options: RenderOptions(ascii: true)),
      ConsoleView.view(
        try Fixtures.demoScreen(rows: 40, cols: 120), options: RenderOptions(ascii: true)),
      ConsoleView.view(
        ConnectScreen(model: Fixtures.connectModel(), rows: 40, cols: 120),
        options: RenderOptions(ascii: true)),
    ]
    for grid in screens {
      let bad = grid.text.unicodeScalars.filter { !$0.isASCII }
      #expect(bad.isEmpty, "non-ASCII: \(String(String.UnicodeScalarView(bad)))")
    }
  }

  @Test func viewIsPure() throws {
    let screen = try Fixtures.demoScreen(rows: 40, cols: 120)
    #expect(
      ConsoleView.view(screen, options: RenderOptions())
        == ConsoleView.view(screen, options: RenderOptions()))
  }

  @Test func biggerScreensShowMoreRows() {
    let small = ConsoleView.view(
      ConnectScreen(model: Fixtures.connectModel(pairs: 40), rows: 24, cols: 80),
      options: RenderOptions())
    let big = ConsoleView.view(
      ConnectScreen(model: Fixtures.connectModel(pairs: 40), rows: 40, cols: 120),
      options: RenderOptions())
    func pairRows(_ g: Grid) -> Int {
      g.text.split(separator: "\n").filter { $0.contains(" ms ") || $0.contains(" - ") }.count
    }
    #expect(pairRows(big) > pairRows(small))
  }
}

/// Golden frames of one live run of the demo (`natscope demo`'s story): gathering, checking,
/// connected, at 80×24 and 120×40, UTF-8 and ASCII.
@Suite struct DemoLiveFrameTests {
  typealias Variant = FrameTests.Variant

  @Test(arguments: FrameTests.variants)
  func gathering(_ v: Variant) throws {
    // The first moment both of host A's candidates of its own (host, srflx) are on screen.
    let screen = try #require(
      Fixtures.demoLiveScreens(rows: v.rows, cols: v.cols).first {
        $0.connect.model.candidates.filter { $0.side == .local }.count >= 2
      })
    // No pair yet: host B's candidates have not arrived.
    #expect(screen.connect.model.pairs.isEmpty)
    #expect(!screen.connect.model.candidates.contains { $0.side == .remote })
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "demo-live-gathering-\(v.suffix)")
  }

  @Test(arguments: FrameTests.variants)
  func checking(_ v: Variant) throws {
    // Before the verdict, the first moment with the most kinds of pair state at once.
    let screens = try Fixtures.demoLiveScreens(rows: v.rows, cols: v.cols).filter {
      $0.connect.model.reportLines.isEmpty
    }
    func kinds(_ s: DemoLiveScreen) -> Int { Set(s.connect.model.pairs.map(\.state)).count }
    let most = screens.map(kinds).max() ?? 0
    let screen = try #require(screens.first { kinds($0) == most })
    #expect(most >= 3)
    #expect(screen.connect.model.pairs.contains { $0.state == .inProgress })
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "demo-live-checking-\(v.suffix)")
  }

  @Test(arguments: FrameTests.variants)
  func connected(_ v: Variant) throws {
    let screen = try #require(Fixtures.demoLiveScreens(rows: v.rows, cols: v.cols).last)
    #expect(screen.finished)
    #expect(screen.connect.model.connected == true)
    // The relay carries it: the selected pair has a relayed candidate.
    let selected = try #require(screen.connect.model.pairs.first { $0.selected })
    #expect(selected.localKind == "relay" || selected.remoteKind == "relay")
    #expect(screen.connect.reportPreface.contains { $0.hasPrefix("Predicted from both probes") })
    let grid = ConsoleView.view(screen, options: v.options)
    #expect(grid.text.contains("Predicted from both probes"))
    if v.ascii {
      let bad = grid.text.unicodeScalars.filter { !$0.isASCII }
      #expect(bad.isEmpty, "non-ASCII: \(String(String.UnicodeScalarView(bad)))")
    }
    Snapshot.assert(grid, named: "demo-live-connected-\(v.suffix)")
  }

  /// The matrix popup names both hosts' NATs, scrolls, and reaches its last line.
  @Test(arguments: [FrameTests.variants[0], FrameTests.variants[1]])
  func matrixPopupScrolls(_ v: Variant) throws {
    var screen = DemoConsole(table: try Fixtures.demoScreen(rows: v.rows, cols: v.cols))
    ConsoleUpdate.update(&screen, key: .tab)
    for _ in 0..<4 { ConsoleUpdate.update(&screen, key: .down) }  // symmetric
    for _ in 0..<3 { ConsoleUpdate.update(&screen, key: .right) }  // port-restricted-cone
    ConsoleUpdate.update(&screen, key: .enter)
    let top = ConsoleView.view(screen, options: v.options).text
    #expect(top.contains("host A: symmetric"))
    #expect(top.contains("host B: port-restricted-cone"))
    #expect(top.contains("scroll)"))
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "demo-matrix-popup-\(v.suffix)")
    ConsoleUpdate.update(&screen, key: .end)
    let bottom = ConsoleView.view(screen, options: v.options).text
    // The last prediction's reason (udp-blocked) is on screen at the end of the scroll.
    #expect(bottom.contains("UDP is blocked for host B"))
    #expect(!bottom.contains("host A: symmetric"))
    Snapshot.assert(
      ConsoleView.view(screen, options: v.options), named: "demo-matrix-popup-end-\(v.suffix)")
  }
}
