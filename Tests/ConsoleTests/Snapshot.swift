import Console
import Foundation
import Report
import Sessions
import Testing

/// Golden frames: a grid's text compared with `Snapshots/<name>.txt`. Re-record with
/// `NATSCOPE_RECORD_SNAPSHOTS=1 swift test --filter ConsoleTests`.
enum Snapshot {
  static var directory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
  }

  static var recording: Bool {
    let v = ProcessInfo.processInfo.environment["NATSCOPE_RECORD_SNAPSHOTS"] ?? ""
    return !v.isEmpty && v != "0"
  }

  /// The grid's text with trailing spaces kept, plus a final newline.
  static func text(_ grid: Grid) -> String { grid.text + "\n" }

  static func assert(
    _ grid: Grid, named name: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let url = directory.appendingPathComponent(name + ".txt")
    let actual = text(grid)
    if recording {
      try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      do {
        try Data(actual.utf8).write(to: url)
      } catch {
        Issue.record("could not record \(url.path): \(error)", sourceLocation: sourceLocation)
      }
      return
    }
    guard let data = FileManager.default.contents(atPath: url.path) else {
      Issue.record(
        """
        missing snapshot \(url.lastPathComponent); record it with
          NATSCOPE_RECORD_SNAPSHOTS=1 swift test --filter ConsoleTests
        and check the new file in. The frame was:
        \(actual)
        """, sourceLocation: sourceLocation)
      return
    }
    let expected = String(decoding: data, as: UTF8.self)
    if expected != actual {
      let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
      let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
      let firstDiff = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset
      Issue.record(
        """
        frame differs from \(url.lastPathComponent) (first differing line \(firstDiff.map { "\($0 + 1)" } ?? "count")); \
        re-record with NATSCOPE_RECORD_SNAPSHOTS=1 if the change is intended.
        expected:
        \(expected)
        actual:
        \(actual)
        """, sourceLocation: sourceLocation)
    }
  }
}
