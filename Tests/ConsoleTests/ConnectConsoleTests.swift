import Console
import Foundation
import Report
import Sessions
import Testing
import Traversal

/// The connect console's token handling, pastes, final states and `j` file (issue #10 parts 2
/// and 3, and #9's `j` file).
@Suite struct ConnectConsoleTests {
  /// A fixture screen whose verdict is in: connected or not, with the report's lines.
  static func finishedScreen(
    connected: Bool, rows: Int = 24, cols: Int = 80, pairs: Int = 5
  ) -> ConnectScreen {
    var s = ConnectScreen(model: Fixtures.connectModel(pairs: pairs), rows: rows, cols: cols)
    s.model.agentState = .connected
    ConsoleUpdate.update(
      &s,
      engine: .report(
        lines: Fixtures.connectReportLines(connected: connected), connected: connected))
    return s
  }

  /// The token as a person reads it off the token view: the rows from the one that starts with
  /// the prefix to the first empty one, joined.
  static func tokenReadOff(_ grid: Grid) -> String {
    let rows = grid.text.split(separator: "\n", omittingEmptySubsequences: false).map {
      String($0).trimmingCharacters(in: .whitespaces)
    }
    guard let start = rows.firstIndex(where: { $0.hasPrefix("natscope1") }) else { return "" }
    return rows[start...].prefix { !$0.isEmpty }.joined()
  }

  // MARK: Tokens a person can move

  @Test(arguments: FrameTests.variants)
  func theTokenViewShowsTheWholeToken(_ v: FrameTests.Variant) {
    var s = ConnectScreen(
      model: Fixtures.connectModel(), peerRole: .answer, rows: v.rows, cols: v.cols)
    s.model.localToken = Fixtures.longToken
    #expect(!ConsoleView.view(s, options: v.options).text.contains(Fixtures.longToken))
    ConsoleUpdate.update(&s, key: .char("t"))
    #expect(s.showToken)
    let grid = ConsoleView.view(s, options: v.options)
    #expect(Self.tokenReadOff(grid) == Fixtures.longToken)
    #expect(grid.text.contains("Your offer token, \(Fixtures.longToken.count) characters"))
    Snapshot.assert(grid, named: "connect-token-\(v.suffix)")
    ConsoleUpdate.update(&s, key: .escape)
    #expect(!s.showToken)
  }

  /// `c` never says "copied": it says what was sent and where it may be dropped, and opens
  /// the token view so the token can be selected by hand.
  @Test func copySaysWhatItCouldDo() {
    for path in [ClipboardPath.terminal, .tmux, .screen] {
      var s = ConnectScreen(model: Fixtures.connectModel(), peerRole: .answer)
      s.clipboard = path
      #expect(ConsoleUpdate.update(&s, key: .char("c")) == [.copy(s.model.localToken)])
      #expect(s.showToken)
      #expect(!s.chrome.status.contains("copied"), "\(s.chrome.status)")
      #expect(s.chrome.status.contains("OSC 52"))
      let text = ConsoleView.view(s, options: RenderOptions()).text
      #expect(text.contains("by hand"))
      #expect(!text.contains("copied"))
    }
    var s = ConnectScreen(model: Fixtures.connectModel(), peerRole: .answer)
    s.clipboard = .tmux
    ConsoleUpdate.update(&s, key: .char("c"))
    #expect(s.copyNote?.contains("set-clipboard on") == true)
    s.clipboard = .disabled
    #expect(ConsoleUpdate.update(&s, key: .char("c")) == [])
    #expect(s.chrome.status.hasPrefix("not copied"))
  }

  @Test func clipboardPathFromTheEnvironment() {
    #expect(ClipboardPath.detect(environment: ["TERM": "xterm-256color"]) == .terminal)
    #expect(
      ClipboardPath.detect(environment: ["TERM": "screen", "TMUX": "/tmp/tmux-0/default,1,0"])
        == .tmux)
    #expect(ClipboardPath.detect(environment: ["TERM": "tmux-256color"]) == .tmux)
    #expect(ClipboardPath.detect(environment: ["TERM": "screen", "STY": "1.pts-0"]) == .screen)
    #expect(
      ClipboardPath.detect(environment: ["TERM": "xterm", "NATSCOPE_NO_OSC52": "1"]) == .disabled)
  }

  /// A token pasted without bracketed paste, as the decoder delivers it, opens the field and
  /// runs no command: neither the `c` (copy) nor the `p` of "natscope1.".
  @Test func anUnbracketedTokenPasteRunsNoCommand() throws {
    let d = try ConnectCommandTests.offer()
    var decoder = InputDecoder()
    var keys = d.token.unicodeScalars.flatMap { decoder.feed(.scalar($0)) }
    keys += decoder.feed(.scalar("\r")) + decoder.idle()
    #expect(keys == [.paste(d.token), .enter])
    var s = ConnectScreen(peerRole: .offer)
    s.model.localToken = "natscope1.MINE"
    var commands: [ConsoleCommand] = []
    for key in keys { commands += ConsoleUpdate.update(&s, key: key) }
    #expect(commands == [.setRemoteDescription(d)])
    #expect(!s.showToken)
  }

  /// SDP lines pasted (bracketed) stay lines, and Enter reads them as SDP.
  @Test func aMultiLineSDPPasteIsKeptAsLines() throws {
    let d = try ConnectCommandTests.offer()
    var s = ConnectScreen(peerRole: .offer)
    ConsoleUpdate.update(&s, key: .paste(d.sdp.replacingOccurrences(of: "\n", with: "\r\n")))
    #expect(s.remoteDraft.contains("\n"))
    #expect(
      s.remoteDraft.split(separator: "\n").count == d.sdpLines.filter { !$0.isEmpty }.count)
    let commands = ConsoleUpdate.update(&s, key: .enter)
    guard case .setRemoteDescription(let got)? = commands.first else {
      Issue.record("SDP refused: \(s.chrome.status)")
      return
    }
    #expect(got.ufrag == d.ufrag && got.password == d.password && got.candidates == d.candidates)
    #expect(s.chrome.status.hasPrefix("peer's description (SDP) accepted"))
  }

  /// A token selected by hand off the token view comes with line breaks: they are wrapping.
  @Test func aWrappedTokenPasteIsOneToken() throws {
    let d = try ConnectCommandTests.offer()
    var s = ConnectScreen(peerRole: .offer)
    let wrapped = stride(from: 0, to: d.token.count, by: 20).map {
      String(d.token.dropFirst($0).prefix(20))
    }.joined(separator: "\n")
    ConsoleUpdate.update(&s, key: .paste(wrapped))
    #expect(s.remoteDraft == d.token)
    #expect(ConsoleUpdate.update(&s, key: .enter) == [.setRemoteDescription(d)])
  }

  // MARK: Final states

  /// The title follows the verdict, not the agent's last state.
  @Test func theHeaderFollowsTheVerdict() {
    let failed = Self.finishedScreen(connected: false)
    let text = ConsoleView.view(failed, options: RenderOptions()).text
    #expect(text.contains("natscope connect  not connected (controlling)"))
    #expect(!text.contains("agent connected"))
    let connected = Self.finishedScreen(connected: true)
    #expect(
      ConsoleView.view(connected, options: RenderOptions()).text.contains(
        "natscope connect  connected (controlling)"))
  }

  /// Once the verdict is in, no pair is still "waiting" or "in progress".
  @Test func pairsShowTheirFinalState() {
    let s = Self.finishedScreen(connected: true, rows: 40, cols: 120)
    let grid = ConsoleView.view(s, options: RenderOptions())
    #expect(!grid.text.contains("waiting"))
    #expect(!grid.text.contains("in-progress"))
    #expect(grid.text.contains("cancelled"))
    // The fixture's pairs: failed, succeeded, in progress and waiting (both with checks
    // sent), succeeded.
    let states = s.model.pairs.map { s.displayState($0).text }
    #expect(states == ["failed", "succeeded", "cancelled", "cancelled", "succeeded"])
    var running = ConnectScreen(model: Fixtures.connectModel(pairs: 5))
    running.model.pairs[3].checksSent = 0
    ConsoleUpdate.update(&running, engine: .report(lines: ["Connected."], connected: true))
    #expect(running.displayState(running.model.pairs[3]).text == "not tried")
  }

  /// ★ and ◆ both show: the selected pair is nominated too, and a nominated pair that is not
  /// selected shows ◆ alone.
  @Test func nominatedMarkShows() {
    var s = ConnectScreen(model: Fixtures.connectModel(pairs: 5), rows: 40, cols: 120)
    s.model.pairs[1].nominated = true
    let rows = ConsoleView.view(s, options: RenderOptions()).text.split(separator: "\n")
    #expect(rows.contains { $0.contains("│★◆ ") })
    #expect(rows.contains { $0.contains("│ ◆ ") })
    let ascii = ConsoleView.view(s, options: RenderOptions(ascii: true)).text
    #expect(ascii.contains("|*N "))
  }

  /// At 80x24 the report takes most of the screen, and the arrows scroll the rest into view.
  @Test func theReportTakesTheScreenAndScrolls() {
    var s = Self.finishedScreen(connected: true)
    let lines = Fixtures.connectReportLines(connected: true).filter { !$0.isEmpty }
    let text = ConsoleView.view(s, options: RenderOptions()).text
    let shown = lines.filter { text.contains($0.prefix(30)) }
    #expect(shown.count >= 8, "only \(shown.count) report lines at 80x24:\n\(text)")
    #expect(text.contains(" 1-13/"), "\(text)")
    #expect(!text.contains(lines.last ?? ""))
    // One Tab: the candidates panel is gone once the report is in.
    ConsoleUpdate.update(&s, key: .tab)
    #expect(s.chrome.focus == 2)
    ConsoleUpdate.update(&s, key: .end)
    let end = ConsoleView.view(s, options: RenderOptions()).text
    #expect(end.contains(lines.last ?? "?"))
    #expect(!end.contains(lines[0]))
  }

  @Test(arguments: FrameTests.variants)
  func finalFrames(_ v: FrameTests.Variant) {
    let connected = Self.finishedScreen(connected: true, rows: v.rows, cols: v.cols)
    Snapshot.assert(
      ConsoleView.view(connected, options: v.options), named: "connect-final-\(v.suffix)")
    let failed = Self.finishedScreen(connected: false, rows: v.rows, cols: v.cols)
    Snapshot.assert(
      ConsoleView.view(failed, options: v.options), named: "connect-failed-\(v.suffix)")
  }

  // MARK: The j file

  @Test func noFileBeforeTheVerdict() {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("natscope-j-\(UUID())")
    let s = ConnectScreen(model: Fixtures.connectModel())
    let status = ConsoleRunLoop.writeJSON(s, directory: dir.path)
    #expect(status.hasPrefix("no report yet"))
    #expect(!FileManager.default.fileExists(atPath: dir.path))
  }
}
