import Console
import Foundation
import Report
import Sessions
import Testing
import Traversal

@Suite struct UpdateTests {
  @Test func tabCyclesFocusBothWays() {
    var s = ConnectScreen(model: Fixtures.connectModel())
    #expect(s.chrome.focus == 0)
    ConsoleUpdate.update(&s, key: .tab)
    ConsoleUpdate.update(&s, key: .tab)
    #expect(s.chrome.focus == 2)
    ConsoleUpdate.update(&s, key: .backTab)
    ConsoleUpdate.update(&s, key: .backTab)
    ConsoleUpdate.update(&s, key: .backTab)
    #expect(s.chrome.focus == 3)
  }

  @Test func scrollingIsClamped() {
    var s = ConnectScreen(model: Fixtures.connectModel(pairs: 30))
    ConsoleUpdate.update(&s, key: .up)
    #expect(s.chrome.selection[0] == 0)
    ConsoleUpdate.update(&s, key: .pageDown)
    #expect(s.chrome.selection[0] == 8)  // a third of 24 rows
    ConsoleUpdate.update(&s, key: .end)
    #expect(s.chrome.selection[0] == 29)
    ConsoleUpdate.update(&s, key: .down)
    ConsoleUpdate.update(&s, key: .pageDown)
    #expect(s.chrome.selection[0] == 29)
    ConsoleUpdate.update(&s, key: .home)
    #expect(s.chrome.selection[0] == 0)
    ConsoleUpdate.update(&s, key: .pageUp)
    #expect(s.chrome.selection[0] == 0)
  }

  @Test func selectedRowStaysVisible() {
    var s = ConnectScreen(model: Fixtures.connectModel(pairs: 30))
    ConsoleUpdate.update(&s, key: .end)
    let text = ConsoleView.view(s, options: RenderOptions()).text
    #expect(text.contains("/30 "))
    #expect(text.contains("-30/30"))
  }

  @Test func commandKeys() {
    var s = ProbeScreen(server: "203.0.113.10:3478")
    #expect(ConsoleUpdate.update(&s, key: .char("q")) == [.quit])
    #expect(ConsoleUpdate.update(&s, key: .interrupt) == [.quit])
    #expect(ConsoleUpdate.update(&s, key: .char("r")) == [.rerun])
    #expect(ConsoleUpdate.update(&s, key: .char("j")) == [.writeJSON])
  }

  @Test func enterOpensDetailsAndEscapeCloses() {
    var s = ProbeScreen(server: "203.0.113.10:3478")
    ConsoleUpdate.update(&s, key: .enter)
    #expect(s.chrome.detailOpen)
    ConsoleUpdate.update(&s, key: .escape)
    #expect(!s.chrome.detailOpen)
  }

  @Test func helpClosesOnAnyKeyButQStillQuits() {
    var s = ProbeScreen(server: "203.0.113.10:3478")
    ConsoleUpdate.update(&s, key: .char("?"))
    #expect(s.chrome.helpOpen)
    #expect(ConsoleUpdate.update(&s, key: .down) == [])
    #expect(!s.chrome.helpOpen)
    ConsoleUpdate.update(&s, key: .char("?"))
    #expect(ConsoleUpdate.update(&s, key: .char("q")) == [.quit])
  }

  @Test func resizeBelowMinimumDrawsTheNotice() {
    var s = ProbeScreen(server: "203.0.113.10:3478")
    ConsoleUpdate.update(&s, key: .resize(rows: 23, cols: 100))
    #expect(s.chrome.tooSmall)
    #expect(ConsoleView.view(s, options: RenderOptions()).text.contains("terminal too small"))
    ConsoleUpdate.update(&s, key: .resize(rows: 30, cols: 100))
    #expect(!s.chrome.tooSmall)
    let grid = ConsoleView.view(s, options: RenderOptions())
    #expect(grid.rows == 30 && grid.columns == 100)
  }

  @Test func copyAndPasteTokens() {
    var s = ConnectScreen(model: Fixtures.connectModel())
    #expect(ConsoleUpdate.update(&s, key: .char("c")) == [.copy(s.model.localToken)])
    ConsoleUpdate.update(&s, key: .char("p"))
    #expect(s.editingRemote)
    #expect(s.chrome.focus == 3)
    // Keys typed in the field are text, not commands.
    #expect(ConsoleUpdate.update(&s, key: .char("q")) == [])
    let long = String(repeating: "abcdefgh", count: 1000)
    ConsoleUpdate.update(&s, key: .paste("\n" + long + "\r\n"))
    ConsoleUpdate.update(&s, key: .enter)
    #expect(!s.editingRemote)
    #expect(s.model.remoteToken == "q" + long)
    #expect(s.submittedRemoteToken == "q" + long)
  }

  @Test func backspaceAndCtrlUEditTheTokenField() {
    var s = ConnectScreen(model: Fixtures.connectModel())
    ConsoleUpdate.update(&s, key: .char("p"))
    for c in "abcx" { ConsoleUpdate.update(&s, key: .char(c)) }
    ConsoleUpdate.update(&s, key: .backspace)
    #expect(s.remoteDraft == "abc")
    ConsoleUpdate.update(&s, key: .clearField)
    #expect(s.remoteDraft.isEmpty && s.editingRemote)
    // Backspace on an empty field is harmless.
    ConsoleUpdate.update(&s, key: .backspace)
    ConsoleUpdate.update(&s, key: .paste("tok"))
    ConsoleUpdate.update(&s, key: .enter)
    #expect(s.model.remoteToken == "tok")
  }

  @Test func pasteOutsideTheFieldGoesToTheField() {
    var s = ConnectScreen(model: Fixtures.connectModel())
    ConsoleUpdate.update(&s, key: .paste("tok"))
    #expect(s.editingRemote && s.remoteDraft == "tok")
    ConsoleUpdate.update(&s, key: .escape)
    #expect(!s.editingRemote && s.model.remoteToken.isEmpty)
  }

  @Test func probeEventsBuildRows() throws {
    let run = try Fixtures.probeRun()
    var s = ProbeScreen(server: "x")
    #expect(s.rows.count == ProbeScreen.defaultPlan.count)
    for a in run.actions { ConsoleUpdate.update(&s, engine: .action(a)) }
    #expect(s.report == run.report)
    #expect(s.rows.count == run.report.steps.count)
    ConsoleUpdate.update(&s, key: .end)
    #expect(s.chrome.selection[0] == run.report.steps.count - 1)
    ConsoleUpdate.update(&s, engine: .restarted)
    #expect(s.report == nil && s.steps.isEmpty)
    #expect(s.chrome.selection[0] == ProbeScreen.defaultPlan.count - 1)
  }

  @Test func connectEventsUpsertPairsAndBoundTheLog() {
    var s = ConnectScreen()
    var pair = ConnectViewModel.Pair(
      id: "1:1", local: "a", remote: "b", localKind: "host", remoteKind: "host", state: .waiting)
    ConsoleUpdate.update(&s, engine: .pair(pair))
    pair.state = .succeeded
    ConsoleUpdate.update(&s, engine: .pair(pair))
    #expect(s.model.pairs == [pair])
    for i in 0..<(ConnectScreen.logLimit + 10) {
      ConsoleUpdate.update(&s, engine: .log("line \(i)"))
    }
    #expect(s.model.log.count == ConnectScreen.logLimit)
    #expect(s.model.log.last == "line \(ConnectScreen.logLimit + 9)")
    ConsoleUpdate.update(&s, engine: .failed("every pair failed"))
    #expect(s.model.agentState == .failed)
  }

  @Test func writeJSONWritesAFileNamedAfterTheScreen() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-json-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try Fixtures.probeScreen(rows: 24, cols: 80)
    let status = ConsoleRunLoop.writeJSON(s, directory: dir.path)
    #expect(status.hasPrefix("wrote \(dir.path)/natscope-probe-"))
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(files.count == 1)
    let data = try #require(
      FileManager.default.contents(atPath: dir.appendingPathComponent(files[0]).path))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    // The file is the report exactly as `natscope probe --json` prints it, `schema` key and all.
    let report = try #require(s.report)
    #expect(object?["schemaVersion"] as? Int == report.schemaVersion)
    #expect(object?["schema"] as? String == JSONSchemaID.probe.identifier)
    #expect(
      data == (try ReportJSON.encode(SchemaTaggedDocument(ProbeDocument(report), schema: .probe))))
  }

  @Test func renderOptionsFollowLocaleAndNoColor() {
    #expect(
      RenderOptions.detect(environment: ["LANG": "C.UTF-8"], forceASCII: false)
        == RenderOptions(ascii: false, color: true))
    #expect(RenderOptions.detect(environment: ["LANG": "C"], forceASCII: false).ascii)
    #expect(
      RenderOptions.detect(environment: ["LANG": "en_US.UTF-8", "LC_ALL": "C"], forceASCII: false)
        .ascii)
    #expect(RenderOptions.detect(environment: ["LANG": "C.UTF-8"], forceASCII: true).ascii)
    #expect(
      !RenderOptions.detect(environment: ["LANG": "C.UTF-8", "NO_COLOR": "1"], forceASCII: false)
        .color)
    #expect(
      RenderOptions.detect(environment: ["LANG": "C.UTF-8", "NO_COLOR": ""], forceASCII: false)
        .color)
  }
}

@Suite struct GridSafetyTests {
  /// Whatever text reaches the grid, no control character reaches ncurses.
  @Test func controlCharactersNeverReachTheGrid() {
    var g = Grid(rows: 1, columns: 10)
    g.put("a\u{1B}[Hb\u{9B}", row: 0, column: 0)
    #expect(g.text == "a\u{FFFD}[Hb\u{FFFD}    ")
  }
}

@Suite struct GridWidthTests {
  /// Wide characters take two cells, so everything after them stays in its column.
  @Test func wideCharactersTakeTwoCells() {
    var g = Grid(rows: 2, columns: 8)
    let end = g.put("a中b", row: 0, column: 0)
    #expect(end == 4)
    #expect(g[0, 1].character == "中" && g[0, 2].isWideTail && g[0, 3].character == "b")
    #expect(g.text.split(separator: "\n")[0] == "a中b    ")
    // A wide character that does not fit whole is left out.
    let cut = g.put("abc日", row: 1, column: 4)
    #expect(cut == 7)
    #expect(!g[1, 7].isWideTail && g[1, 7].character == " ")
  }

  @Test func widths() {
    #expect(Cell.width(of: "a") == 1)
    #expect(Cell.width(of: "★") == 1)
    #expect(Cell.width(of: "─") == 1)
    #expect(Cell.width(of: "한") == 2)
    #expect(Cell.width(of: "Ｆ") == 2)
    #expect(Cell.width(of: "🙂") == 2)
    #expect(Cell.width(of: "é") == 1)
  }
}

/// What `update` returns for the connect screen's token field: the decoded peer description as
/// a command for the runner, never a field the runner polls.
@Suite struct ConnectCommandTests {
  static func offer() throws -> SessionDescription {
    SessionDescription(
      ufrag: "abcd", password: "0123456789abcdefghijkl", role: .offer, tieBreaker: 42,
      candidates: [
        try SignaledCandidate(sdpAttribute: "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host")
      ], endOfCandidates: true, natProfile: nil)
  }

  @Test func acceptedTokenBecomesSetRemoteDescription() throws {
    let d = try Self.offer()
    var s = ConnectScreen(peerRole: .offer)
    #expect(ConsoleUpdate.update(&s, key: .char("p")) == [])
    #expect(ConsoleUpdate.update(&s, key: .paste(d.token)) == [])
    let commands = ConsoleUpdate.update(&s, key: .enter)
    #expect(commands == [.setRemoteDescription(d)])
    guard case .setRemoteDescription(let got)? = commands.first else {
      Issue.record("no command")
      return
    }
    #expect(got.password == d.password && got.candidates == d.candidates)
    #expect(s.remoteAccepted)
    // A second paste is refused and asks for nothing.
    #expect(ConsoleUpdate.update(&s, key: .paste(d.token)) == [])
    #expect(s.chrome.status == "the peer's token is already set")
  }

  @Test func refusedTokenAsksForNothing() throws {
    let d = try Self.offer()
    // The offerer expects an answer: an offer is refused with the signalling sentence.
    var s = ConnectScreen(peerRole: .answer)
    ConsoleUpdate.update(&s, key: .paste(d.token))
    #expect(ConsoleUpdate.update(&s, key: .enter) == [])
    #expect(s.editingRemote)
    #expect(s.chrome.status == SignalingError.wrongRole(got: .offer, expected: .answer).message)
    // Escape cancels without a command either.
    #expect(ConsoleUpdate.update(&s, key: .escape) == [])
    #expect(!s.remoteAccepted)
  }
}

/// The `j` file of the connect screen: the report exactly as `natscope connect --json` prints
/// it (same encoder, same schema), never a token or an ICE password.
@Suite struct ConnectJSONFileTests {
  @Test func theConnectFileIsTheJSONReportWithoutSecrets() throws {
    let run = try ConnectLabRun()
    try run.run { $0.offerScreen.model.connected != nil }
    let screen = run.offerScreen
    let report = try #require(run.offerFeed.progress.report)
    let data = try screen.jsonData()
    #expect(data == (try ReportJSON.encode(SchemaTaggedDocument(report, schema: .connect))))
    let text = String(decoding: data, as: UTF8.self)
    for token in [screen.model.localToken, screen.model.remoteToken] {
      let d = try SessionDescription(token: token)
      #expect(!text.contains(d.password))
    }
    #expect(!text.contains("natscope1."))
    let o = try #require(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    #expect(o["schemaVersion"] as? Int == ConnectReport.currentSchemaVersion)
    #expect(o["schema"] as? String == JSONSchemaID.connect.identifier)
    #expect(o["state"] as? String == "connected")
    #expect(o["selectedPair"] is [String: Any])
  }
}
