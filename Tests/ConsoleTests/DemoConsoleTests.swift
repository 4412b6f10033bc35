import Console
import Foundation
import Testing
import Traversal

/// The demo console's keys: pace and steps, picking a pair on the matrix, the table and the
/// live run, and the status line after a rerun.
@Suite struct DemoConsoleTests {
  @Test func paceCyclesPausesAndSteps() {
    var s = DemoLiveScreen(natA: "symmetric", natB: "port-restricted")
    #expect(s.pace.speed == 1)
    ConsoleUpdate.update(&s, key: .char("s"))
    #expect(s.pace.speed == 0.25)
    #expect(s.chrome.status == "pace 1/4x")
    ConsoleUpdate.update(&s, key: .char("s"))
    #expect(s.pace.speed == 0.1)
    ConsoleUpdate.update(&s, key: .char("s"))
    #expect(s.pace.speed == 1)
    ConsoleUpdate.update(&s, key: .char(" "))
    #expect(s.pace.paused && s.pace.speed == 0 && s.pace.label == "paused")
    ConsoleUpdate.update(&s, key: .char(" "))
    #expect(!s.pace.paused)
    ConsoleUpdate.update(&s, key: .char("n"))
    ConsoleUpdate.update(&s, key: .char("n"))
    #expect(s.pace.paused)
    #expect(s.pace.pendingSteps == 2)
    // `s` resumes at the next speed.
    ConsoleUpdate.update(&s, key: .char("s"))
    #expect(!s.pace.paused && s.pace.speed == 0.25)
  }

  @Test func keysAreNotTypedIntoAField() {
    var s = DemoLiveScreen(natA: "symmetric", natB: "port-restricted")
    #expect(ConsoleUpdate.update(&s, key: .char("p")).isEmpty)
    #expect(!s.connect.editingRemote)
    #expect(ConsoleUpdate.update(&s, key: .paste("natscope1.abc")).isEmpty)
    #expect(!s.connect.editingRemote)
    #expect(ConsoleUpdate.update(&s, key: .char("r")) == [.rerun])
    #expect(ConsoleUpdate.update(&s, key: .char("q")) == [.quit])
  }

  @Test func storyStartsUnlessTheTableWasTouched() throws {
    var s = DemoConsole(table: try Fixtures.demoScreen(rows: 24, cols: 80))
    #expect(s.readyForStory)
    ConsoleUpdate.update(&s, key: .down)
    #expect(!s.readyForStory)
    ConsoleUpdate.update(&s, engine: .table(.restarted))
    #expect(!s.readyForStory)  // the probes run again
  }

  @Test func matrixCellPicksThePairToWatch() throws {
    var s = DemoConsole(table: try Fixtures.demoScreen(rows: 24, cols: 80))
    ConsoleUpdate.update(&s, key: .tab)
    ConsoleUpdate.update(&s, key: .down)  // full-cone
    ConsoleUpdate.update(&s, key: .right)
    ConsoleUpdate.update(&s, key: .right)
    ConsoleUpdate.update(&s, key: .right)
    ConsoleUpdate.update(&s, key: .left)  // restricted-cone
    #expect(ConsoleUpdate.update(&s, key: .enter).isEmpty)
    #expect(s.chrome.detailOpen)
    #expect(ConsoleUpdate.update(&s, key: .enter) == [.rerun])
    #expect(s.watchRequest == DemoConsole.Pick(a: "full-cone", b: "restricted-cone"))
    #expect(!s.chrome.detailOpen)
    // `w` watches without the popup.
    s.watchRequest = nil
    ConsoleUpdate.update(&s, key: .left)
    #expect(ConsoleUpdate.update(&s, key: .char("w")) == [.rerun])
    #expect(s.watchRequest == DemoConsole.Pick(a: "full-cone", b: "full-cone"))
  }

  @Test func liveRunAndTableTakeTurns() throws {
    var s = DemoConsole(table: try Fixtures.demoScreen(rows: 24, cols: 80))
    ConsoleUpdate.update(&s, key: .char("m"))
    #expect(!s.showingLive)
    #expect(s.chrome.status.hasPrefix("no pair watched yet"))
    ConsoleUpdate.update(&s, engine: .liveStarted(a: "symmetric", b: "port-restricted"))
    #expect(s.showingLive)
    #expect(s.chrome.status.hasPrefix("pace 1x"))
    ConsoleUpdate.update(&s, key: .char("s"))
    ConsoleUpdate.update(&s, key: .char("m"))
    #expect(!s.showingLive)
    ConsoleUpdate.update(&s, key: .char("m"))
    #expect(s.showingLive)
    #expect(s.live?.pace.speed == 0.25)
    // The size follows both screens.
    ConsoleUpdate.update(&s, key: .resize(rows: 40, cols: 120))
    #expect(s.live?.chrome.cols == 120 && s.table?.chrome.cols == 120)
    // A new pair keeps the pace.
    ConsoleUpdate.update(&s, engine: .liveStarted(a: "open", b: "cgnat"))
    #expect(s.live?.natA == "open" && s.live?.pace.speed == 0.25)
  }

  /// `r` on the table says "running again" until every probe has reported again.
  @Test func rerunStatusClearsWhenTheProbesAreDone() throws {
    let run = try Fixtures.demoEvents()
    var s = DemoScreen(sites: run.sites, server: "203.0.113.10:3478", setting: "seed 1")
    for (_, e) in run.events { ConsoleUpdate.update(&s, engine: e) }
    #expect(s.finished)
    ConsoleUpdate.update(&s, engine: .restarted)
    #expect(s.chrome.status == "running again")
    for (_, e) in run.events.dropLast() { ConsoleUpdate.update(&s, engine: e) }
    #expect(!s.finished && s.chrome.status == "running again")
    if let last = run.events.last { ConsoleUpdate.update(&s, engine: last.1) }
    #expect(s.finished && s.chrome.status == "")
  }

  /// At 80 columns the table's names fit their cells, and the title keeps the loss.
  @Test func tableFits80Columns() throws {
    let text = ConsoleView.view(
      try Fixtures.demoScreen(rows: 24, cols: 80), options: RenderOptions()
    ).text
    #expect(text.contains("Port Restr. Cone"))
    #expect(!text.contains("Port Restricted C…"))
    #expect(text.contains("port-restricted "))
    #expect(text.split(separator: "\n").first?.contains("0% loss") == true)
  }
}
