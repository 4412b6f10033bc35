import Console
import Report
import Scenarios
import Sessions
import Testing
import Traversal

/// The connect screen driven by two real `ConnectSession`s on `SimulatedLab`.
@Suite struct ConnectLabTests {
  @Test(arguments: FrameTests.variants)
  func connectedFrames(_ v: FrameTests.Variant) throws {
    let run = try ConnectLabRun(rows: v.rows, cols: v.cols)
    try run.run { $0.offerScreen.model.connected != nil && $0.answerScreen.model.connected != nil }
    #expect(run.offerScreen.model.connected == true)
    #expect(run.answerScreen.model.connected == true)
    let grid = ConsoleView.view(run.offerScreen, options: v.options)
    #expect(grid.text.contains("Connected"))
    Snapshot.assert(grid, named: "connect-lab-final-\(v.suffix)")
    Snapshot.assert(
      ConsoleView.view(run.answerScreen, options: v.options),
      named: "connect-lab-answer-final-\(v.suffix)")
  }

  @Test(arguments: FrameTests.variants)
  func checkingFrames(_ v: FrameTests.Variant) throws {
    let run = try ConnectLabRun(rows: v.rows, cols: v.cols)
    try run.run { $0.offerScreen.model.pairs.contains { $0.state == .inProgress } }
    #expect(run.offerScreen.model.connected == nil)
    #expect(!run.offerScreen.model.candidates.filter { $0.side == .remote }.isEmpty)
    Snapshot.assert(
      ConsoleView.view(run.offerScreen, options: v.options),
      named: "connect-lab-checking-\(v.suffix)")
  }

  @Test func waitingForThePeerShowsOurToken() throws {
    let run = try ConnectLabRun()
    run.holdTokens = true
    try run.run(limitMs: 5000)
    let s = run.offerScreen
    #expect(s.model.agentState == .waiting)
    #expect(s.model.localToken.hasPrefix("natscope1."))
    #expect(
      (try? SessionDescription(token: s.model.localToken, expecting: .offer))?.password.isEmpty
        == false)
    #expect(s.model.log.contains { $0.contains("local description ready") })
    #expect(s.model.candidates.contains { $0.kind == "srflx" })
  }

  /// A bad token shows the signalling error's sentence and leaves the field open; the real one
  /// is then accepted and the checks start (and connect).
  @Test func badTokenShowsTheSentenceAndAGoodOneStartsChecks() throws {
    let run = try ConnectLabRun()
    let bad = "natscope1.AAAA!!!!"
    var expected = ""
    do {
      _ = try SessionDescription(token: bad, expecting: .offer)
    } catch {
      expected = error.message
    }
    #expect(!expected.isEmpty)
    run.badPaste = bad
    // Stop right after the bad paste.
    try run.run { $0.badPaste == nil }
    #expect(run.answerScreen.chrome.status == expected)
    #expect(run.answerScreen.editingRemote)
    #expect(run.answerScreen.remoteDraft.isEmpty)
    #expect(run.answerCommands.isEmpty)
    #expect(run.answerScreen.model.remoteToken.isEmpty)
    #expect(run.answerScreen.model.log.last == "token refused: \(expected)")
    let grid = ConsoleView.view(run.answerScreen, options: RenderOptions())
    #expect(grid.text.contains(String(expected.prefix(40))))

    // The good token (pasted into the still-open field) starts the checks.
    try run.run { $0.answerScreen.model.agentState == .checking && $0.answerPasted }
    #expect(run.answerScreen.model.remoteToken.hasPrefix("natscope1."))
    #expect(run.answerScreen.chrome.status.hasPrefix("peer's token accepted"))
    // The accepted token left `update` as one command carrying the offer's description.
    let offer = try SessionDescription(token: run.offerScreen.model.localToken, expecting: .offer)
    #expect(run.answerCommands == [.setRemoteDescription(offer)])
    try run.run { $0.answerScreen.model.checksSent > 0 }
    #expect(run.answerScreen.model.checksSent > 0)
    try run.run { $0.answerScreen.model.connected != nil }
    #expect(run.answerScreen.model.connected == true)
    // Once accepted, the peer's token cannot be replaced.
    var s = run.answerScreen
    ConsoleUpdate.update(&s, key: .char("p"))
    #expect(!s.editingRemote)
    #expect(s.chrome.status == "the peer's token is already set")
  }

  @Test func wrongRoleAndControlCharactersInAPaste() throws {
    var s = ConnectScreen(peerRole: .answer)
    ConsoleUpdate.update(&s, key: .paste("nat\u{1B}scope1.\r\nAB\tCD\u{7F}\u{07}"))
    #expect(s.remoteDraft == "natscope1.ABCD")
    ConsoleUpdate.update(&s, key: .enter)
    #expect(s.editingRemote)
    #expect(!s.chrome.status.isEmpty)
    // An offer pasted into the offerer names the wrong role.
    let run = try ConnectLabRun()
    run.holdTokens = true
    try run.run { !$0.offerScreen.model.localToken.isEmpty }
    var o = run.offerScreen
    let commands = ConnectLabRun.paste(o.model.localToken, into: &o)
    let message = SignalingError.wrongRole(got: .offer, expected: .answer).message
    #expect(o.chrome.status == message)
    #expect(commands.isEmpty)
  }
}
