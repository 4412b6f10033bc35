import Foundation
import Report
import Sessions
import Testing
import Traversal

@testable import Console

/// Issue 18, defects 9 and 13, in the console's model and run loop: the `j` file, Tab, pastes,
/// the answerer's first step and the title while a side waits.
@Suite struct SessionEndConsoleTests {
  static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-j-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  // MARK: #9 the j file

  /// Two `j` presses in the same second (or two consoles in one directory) each keep their
  /// report: the second file gets its own name, and neither is overwritten.
  @Test func twoWritesInOneSecondMakeTwoFiles() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try Fixtures.probeScreen(rows: 24, cols: 80)
    let first = ConsoleRunLoop.writeJSON(s, directory: dir.path)
    let second = ConsoleRunLoop.writeJSON(s, directory: dir.path)
    #expect(first.hasPrefix("wrote "), "\(first)")
    #expect(second.hasPrefix("wrote "), "\(second)")
    #expect(first != second)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    #expect(files.count == 2, "\(files)")
    #expect(files.allSatisfy { $0.contains("-\(getpid())") }, "\(files)")
  }

  /// A file already there under the name (another console's) is never opened: the report
  /// goes to the next free name and the other file keeps its bytes.
  @Test func anExistingFileIsNeverOverwritten() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = Data("{\"theirs\": true}\n".utf8)
    let stem = "natscope-probe-20260101-000000-1"
    let taken = dir.appendingPathComponent("\(stem).json")
    try data.write(to: taken)
    let path = try ConsoleRunLoop.createExclusively(
      directory: dir.path, stem: stem, data: Data("{}".utf8)
    ).get()
    #expect(path.hasSuffix("\(stem)-2.json"))
    #expect(FileManager.default.contents(atPath: taken.path) == data)
  }

  /// The probe's `j` file is the `--json` document: with its `schema` key.
  @Test func theProbeFileCarriesTheSchemaKey() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try Fixtures.probeScreen(rows: 24, cols: 80)
    _ = ConsoleRunLoop.writeJSON(s, directory: dir.path)
    let name = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first)
    let data = try #require(
      FileManager.default.contents(atPath: dir.appendingPathComponent(name).path))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["schema"] as? String == JSONSchemaID.probe.identifier)
    let report = try #require(s.report)
    #expect(
      data == (try ReportJSON.encode(SchemaTaggedDocument(ProbeDocument(report), schema: .probe))))
  }

  // MARK: #13 Tab, pastes, the answerer's first step, the title

  /// After the verdict the candidates and tokens panels are gone: Tab moves between the check
  /// list and the report only.
  @Test func tabSkipsThePanelsTheVerdictHides() {
    var s = ConnectConsoleTests.finishedScreen(connected: true)
    var seen: Set<Int> = []
    for _ in 0..<8 {
      ConsoleUpdate.update(&s, key: .tab)
      seen.insert(s.chrome.focus)
    }
    #expect(seen == [0, 2])
    for _ in 0..<8 {
      ConsoleUpdate.update(&s, key: .backTab)
      #expect(s.showsPanel(s.chrome.focus))
    }
    // Before the verdict every panel is on the screen.
    var live = ConnectScreen(model: Fixtures.connectModel())
    var all: Set<Int> = []
    for _ in 0..<8 {
      ConsoleUpdate.update(&live, key: .tab)
      all.insert(live.chrome.focus)
    }
    #expect(all == [0, 1, 2, 3])
  }

  /// A second paste before Enter replaces the first (joined, two tokens read as one damaged
  /// token), and the status line says so.
  @Test func aSecondPasteReplacesTheFirstAndSaysSo() {
    var s = ConnectScreen(model: Fixtures.connectModel())
    ConsoleUpdate.update(&s, key: .paste("natscope1.first"))
    ConsoleUpdate.update(&s, key: .paste("natscope1.second"))
    #expect(s.remoteDraft == "natscope1.second")
    #expect(s.chrome.status.contains("replaced the earlier 15 characters"), "\(s.chrome.status)")
  }

  /// The answerer's first step is to paste the offer: its tokens panel and token view say
  /// where.
  @Test func theAnswererIsAskedForTheOffer() {
    var s = ConnectScreen(model: Fixtures.connectModel(), peerRole: .offer, rows: 24, cols: 80)
    s.model.remoteToken = ""
    let grid = ConsoleView.view(s, options: RenderOptions(ascii: false, color: false))
    #expect(grid.text.contains("paste the offer here"), "\(grid.text)")
    s.showToken = true
    let view = ConsoleView.view(s, options: RenderOptions(ascii: false, color: false))
    #expect(view.text.contains("First paste the offer"), "\(view.text)")
    // The offerer is asked for no offer.
    var offerer = ConnectScreen(
      model: Fixtures.connectModel(), peerRole: .answer, rows: 24, cols: 80)
    offerer.model.remoteToken = ""
    let other = ConsoleView.view(offerer, options: RenderOptions(ascii: false, color: false))
    #expect(!other.text.contains("paste the offer here"))
  }

  /// While the answerer waits for the offerer's first check, its own checks may already have
  /// succeeded (the offerer answers before it has read the answer): that is no connection, so
  /// the title keeps saying "waiting" until the wait ends.
  @Test func theTitleSaysWaitingWhileTheAnswererWaits() {
    var feed = ConnectFeed()
    var s = ConnectScreen(peerRole: .offer, rows: 24, cols: 80)
    func feedIn(_ ms: Int64, _ event: ConnectEvent) {
      for e in feed.events(for: ConnectLogEntry(at: .zero + .milliseconds(ms), event: event)) {
        ConsoleUpdate.update(&s, engine: e)
      }
    }
    feedIn(0, .waitingForPeer(.checks, waitedMs: 0, limitMs: 300_000))
    feedIn(5, .ice(.agentStateChanged(from: .new, to: .checking, reason: nil)))
    feedIn(9, .ice(.agentStateChanged(from: .checking, to: .connected, reason: nil)))
    let grid = ConsoleView.view(s, options: RenderOptions(ascii: false, color: false))
    let title = grid.text.split(separator: "\n").first.map(String.init) ?? ""
    #expect(title.contains("agent waiting"), "\(title)")
    #expect(!title.contains("connected"), "\(title)")
    feedIn(20, .peerWaitEnded(.checks, waitedMs: 20))
    #expect(s.model.agentState == .connected)
  }
}
