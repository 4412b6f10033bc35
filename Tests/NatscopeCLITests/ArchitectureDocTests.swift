import Foundation
import Testing

/// docs/architecture.md stays true: every name it writes in backticks is in the code (a
/// type, member, case, module, file or option), and its table of modules is the table
/// `LayeringTests` enforces.
@Suite struct ArchitectureDocTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func document() throws -> String {
    try String(
      contentsOf: root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
  }

  /// Every Swift source and test file, joined.
  static func code() throws -> String {
    var text = ""
    for folder in ["Sources", "Tests"] {
      let base = root.appendingPathComponent(folder)
      let e = FileManager.default.enumerator(atPath: base.path)
      while let p = e?.nextObject() as? String {
        guard p.hasSuffix(".swift") else { continue }
        text += try String(contentsOf: base.appendingPathComponent(p), encoding: .utf8)
      }
    }
    return text
  }

  /// The spans between backticks, outside fenced code blocks.
  static func names(in document: String) -> [String] {
    var out: [String] = []
    var fenced = false
    for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("```") {
        fenced.toggle()
        continue
      }
      guard !fenced else { continue }
      let parts = line.split(separator: "`", omittingEmptySubsequences: false)
      for (i, part) in parts.enumerated() where i % 2 == 1 { out.append(String(part)) }
    }
    return out
  }

  static func isWord(_ word: Substring, in code: String) -> Bool {
    var from = code.startIndex
    while let r = code.range(of: word, range: from..<code.endIndex) {
      let before = r.lowerBound == code.startIndex ? " " : code[code.index(before: r.lowerBound)]
      let after = r.upperBound == code.endIndex ? " " : code[r.upperBound]
      if !(before.isLetter || before.isNumber || before == "_")
        && !(after.isLetter || after.isNumber || after == "_")
      {
        return true
      }
      from = r.upperBound
    }
    return false
  }

  @Test func everyNameInTheDocumentIsInTheCode() throws {
    let code = try Self.code()
    var missing: [String] = []
    for name in Self.names(in: try Self.document()) {
      if name.contains("/") && !name.contains("://") {
        // A file of the repository.
        if !FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(name).path) {
          missing.append(name)
        }
        continue
      }
      if name.hasPrefix("--") || name.contains("://") || name == "-v" {
        if !code.contains("\"\(name)") && !code.contains(name) { missing.append(name) }
        continue
      }
      // A type, a member (`Type.member`, `f(_:at:)`), a case (`.transmit`): every identifier.
      let head = name.split(separator: "(").first ?? Substring(name)
      for word in head.split(separator: ".") where !word.isEmpty {
        if !Self.isWord(word, in: code) { missing.append("\(name) (\(word))") }
      }
    }
    #expect(missing.isEmpty, "docs/architecture.md names what the code does not have: \(missing)")
  }

  @Test func theModuleTableIsTheLayeringTestsTable() throws {
    var table: [String: Set<String>] = [:]
    for line in try Self.document().split(separator: "\n") where line.hasPrefix("| `") {
      let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard cells.count >= 3 else { continue }
      let module = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
      table[module] = Set(
        cells[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
          !$0.isEmpty
        })
    }
    #expect(table == LayeringTests.allowed)
  }

  /// The scanner: names outside fences only, files and options told apart.
  @Test func theScannerReadsBackticks() {
    let text = "a `One` b `Two.three(_:)`\n```\n`Fenced`\n```\n`docs/x.md`"
    #expect(Self.names(in: text) == ["One", "Two.three(_:)", "docs/x.md"])
    #expect(Self.isWord("Two", in: "let x = Two()"))
    #expect(!Self.isWord("Two", in: "let x = TwoThree()"))
  }
}
