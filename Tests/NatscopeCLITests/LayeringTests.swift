import Foundation
import Testing

/// The layers of docs/architecture.md, as Package.swift declares them: a module may depend only on the
/// modules below it. A new dependency that points the wrong way (a machine reaching for a
/// runtime, a front for the sockets) fails here with the offending edge named.
@Suite struct LayeringTests {
  /// Each module and the project modules it may depend on.
  static let allowed: [String: Set<String>] = [
    "STUN": [],
    "Traversal": ["STUN"],
    "Runtime": ["STUN", "Traversal"],
    "DTLS": ["STUN", "Traversal", "COpenSSL"],
    "Report": ["STUN", "Traversal", "Runtime"],
    "Sessions": ["STUN", "Traversal", "Runtime", "Report", "DTLS"],
    "Network": ["STUN", "Traversal", "Runtime"],
    "Simulation": ["STUN", "Traversal", "Runtime"],
    "Scenarios": ["STUN", "Traversal", "Runtime", "Simulation", "Sessions", "Report", "DTLS"],
    "Console": ["STUN", "Traversal", "Sessions", "Report", "CNcursesw"],
    "Explain": ["STUN", "Traversal", "Report", "CZlib", "CPcap"],
  ]

  /// The project dependencies of every `.target(name: …)` in Package.swift (quoted names in
  /// its `dependencies:` list; products of other packages are written `.product(…)` and skipped).
  static func targets() throws -> [String: Set<String>] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(
      contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    var result: [String: Set<String>] = [:]
    for chunk in text.components(separatedBy: ".target(").dropFirst() {
      guard let nameStart = chunk.range(of: "name: \"") else { continue }
      let afterName = chunk[nameStart.upperBound...]
      guard let nameEnd = afterName.firstIndex(of: "\"") else { continue }
      let name = String(afterName[..<nameEnd])
      var deps: Set<String> = []
      if let d = chunk.range(of: "dependencies: [") {
        var depth = 1
        var i = d.upperBound
        var list = ""
        while i < chunk.endIndex, depth > 0 {
          let c = chunk[i]
          if c == "[" { depth += 1 }
          if c == "]" { depth -= 1 }
          if depth > 0 { list.append(c) }
          i = chunk.index(after: i)
        }
        // Drop `.product(name: "…", package: "…")` entries, keep bare quoted module names.
        let withoutProducts = list.replacingOccurrences(
          of: #"\.product\([^)]*\)"#, with: "", options: .regularExpression)
        for part in withoutProducts.components(separatedBy: "\"").enumerated()
        where part.offset % 2 == 1 {
          deps.insert(String(part.element))
        }
      }
      result[name] = deps
    }
    return result
  }

  @Test func everyModuleDependsOnlyOnLayersBelowIt() throws {
    let targets = try Self.targets()
    for (module, allowed) in Self.allowed {
      let deps = try #require(targets[module], "Package.swift has no target \(module)")
      let wrong = deps.subtracting(allowed)
      #expect(wrong.isEmpty, "\(module) must not depend on \(wrong.sorted())")
    }
  }

  @Test func theMachinesCannotSeeARuntime() throws {
    let traversal = try #require(try Self.targets()["Traversal"])
    #expect(!traversal.contains("Runtime"))
    #expect(!traversal.contains("Network"))
    #expect(!traversal.contains("Simulation"))
    let dtls = try #require(try Self.targets()["DTLS"])
    #expect(dtls.isDisjoint(with: ["Runtime", "Network", "Simulation", "Sessions"]))
  }
}
