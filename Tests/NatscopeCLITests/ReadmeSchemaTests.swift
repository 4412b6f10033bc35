import Foundation
import Testing

/// The README's JSON key tables agree with the schemas in `schema/`: every key a table lists
/// exists in the schema the table names, with the same type, and every top-level key of each
/// schema is in its table. A table belongs to the schema file named (`schema/NAME-1.json`) in
/// the text just before it.
@Suite struct ReadmeSchemaTests {
  static let repository = SchemaValidator.repository

  /// Every schema by `$id`.
  static func schemas() throws -> [String: [String: Any]] {
    let dir = repository.appendingPathComponent("schema")
    var result: [String: [String: Any]] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: dir.path)
    where name.hasSuffix(".json") {
      let data = try Data(contentsOf: dir.appendingPathComponent(name))
      let object = try #require(
        try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not an object")
      let id = try #require(object["$id"] as? String, "\(name) has no $id")
      result[id] = object
    }
    return result
  }

  /// A README table: the schema file it documents, and per row the keys (dotted paths) and
  /// the type words.
  struct Table {
    var schemaFile: String
    var line: Int
    var rows: [(keys: [String], types: Set<String>, line: Int)]
  }

  static let typeWords: Set<String> = [
    "string", "number", "integer", "boolean", "object", "array", "null",
  ]

  /// Tables whose header starts `| key | type |`.
  static func tables() throws -> [Table] {
    let text = try String(
      contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
    let lines = text.components(separatedBy: "\n")
    var tables: [Table] = []
    var lastSchema: String?
    var current: Table?
    for (i, line) in lines.enumerated() {
      if line.hasPrefix("#") { lastSchema = nil }
      if let r = line.range(of: #"schema/[a-z0-9-]+\.json"#, options: .regularExpression),
        !line.hasPrefix("|")
      {
        lastSchema = String(line[r].dropFirst("schema/".count))
      }
      let cells = line.split(separator: "|", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespaces) }
      if line.hasPrefix("| key | type |") {
        if let lastSchema {
          current = Table(schemaFile: lastSchema, line: i + 1, rows: [])
        } else {
          Issue.record("README.md:\(i + 1): a key table with no schema/NAME-1.json named before it")
        }
        continue
      }
      guard var table = current else { continue }
      guard line.hasPrefix("|") else {
        tables.append(table)
        current = nil
        continue
      }
      if line.hasPrefix("|---") || cells.count < 4 { continue }
      let keys = matches(#"`([A-Za-z0-9_.\[\]]+)`"#, in: cells[1])
      let words = cells[2].lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
      table.rows.append((keys, Set(words).intersection(typeWords), i + 1))
      current = table
    }
    if let current { tables.append(current) }
    return tables
  }

  static func matches(_ pattern: String, in text: String) -> [String] {
    guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
    return re.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
      Range($0.range(at: 1), in: text).map { String(text[$0]) }
    }
  }

  /// Follows `$ref` (within a schema or to another one by `$id`).
  static func resolve(
    _ node: [String: Any], in root: [String: Any], _ all: [String: [String: Any]]
  ) -> (node: [String: Any], root: [String: Any]) {
    var node = node
    var root = root
    for _ in 0..<20 {
      guard let ref = node["$ref"] as? String else { break }
      let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
      if let doc = parts.first, !doc.isEmpty {
        guard let other = all[String(doc)] else { break }
        root = other
      }
      var target: Any? = root
      if parts.count == 2 {
        for component in parts[1].split(separator: "/") {
          target = (target as? [String: Any])?[String(component)]
        }
      }
      guard let next = target as? [String: Any] else { break }
      node = next
    }
    return (node, root)
  }

  /// The sub-schemas of a node: itself, and its anyOf/oneOf/allOf branches, resolved.
  static func branches(
    _ node: [String: Any], in root: [String: Any], _ all: [String: [String: Any]]
  ) -> [(node: [String: Any], root: [String: Any])] {
    let resolved = resolve(node, in: root, all)
    var result = [resolved]
    for key in ["anyOf", "oneOf", "allOf"] {
      for branch in resolved.node[key] as? [[String: Any]] ?? [] {
        result += branches(branch, in: resolved.root, all)
      }
    }
    return result
  }

  /// The schema of `path` (dotted; arrays are looked through), or nil.
  static func lookup(
    _ path: String, in schema: [String: Any], _ all: [String: [String: Any]]
  ) -> [(node: [String: Any], root: [String: Any])]? {
    var nodes = [(node: schema, root: schema)]
    for key in path.replacingOccurrences(of: "[]", with: "").split(separator: ".") {
      var next: [(node: [String: Any], root: [String: Any])] = []
      for (node, root) in nodes {
        for branch in branches(node, in: root, all) {
          var candidates = [branch]
          if let items = branch.node["items"] as? [String: Any] {
            candidates += branches(items, in: branch.root, all)
          }
          for candidate in candidates {
            if let property = (candidate.node["properties"] as? [String: Any])?[String(key)]
              as? [String: Any]
            {
              next.append((property, candidate.root))
            }
          }
        }
      }
      guard !next.isEmpty else { return nil }
      nodes = next
    }
    return nodes
  }

  static func types(
    _ nodes: [(node: [String: Any], root: [String: Any])], _ all: [String: [String: Any]]
  ) -> Set<String> {
    var result = Set<String>()
    for (node, root) in nodes {
      for branch in branches(node, in: root, all) {
        if let t = branch.node["type"] as? String { result.insert(t) }
        if let ts = branch.node["type"] as? [String] { result.formUnion(ts) }
      }
    }
    return result
  }

  @Test func everyREADMEKeyTableMatchesItsSchema() throws {
    let all = try Self.schemas()
    let tables = try Self.tables()
    let documented = Set(tables.map(\.schemaFile))
    for id in all.keys {
      let file = id.replacingOccurrences(of: "urn:natscope:schema:", with: "") + ".json"
      #expect(
        documented.contains(file),
        "README.md has no key table (| key | type | value |) after a mention of schema/\(file)")
    }
    for table in tables {
      let id = "urn:natscope:schema:" + table.schemaFile.replacingOccurrences(of: ".json", with: "")
      guard let schema = all[id] else {
        Issue.record(
          "README.md:\(table.line): the table names schema/\(table.schemaFile), which does not exist"
        )
        continue
      }
      var topLevel = Set<String>()
      for row in table.rows {
        #expect(!row.keys.isEmpty, "README.md:\(row.line): a key table row with no `key`")
        #expect(!row.types.isEmpty, "README.md:\(row.line): a key table row with no type")
        for key in row.keys {
          topLevel.insert(String(key.split(separator: ".").first ?? ""))
          guard let nodes = Self.lookup(key, in: schema, all) else {
            Issue.record(
              "README.md:\(row.line): `\(key)` is in the README's table for \(table.schemaFile) but not in schema/\(table.schemaFile)"
            )
            continue
          }
          let types = Self.types(nodes, all)
          // "number" in the README covers an integer in the schema.
          let expected = row.types.contains("number") ? row.types.union(["integer"]) : row.types
          #expect(
            types.isSubset(of: expected) && row.types.isSubset(of: types.union(["number"])),
            "README.md:\(row.line): `\(key)` is \(row.types.sorted().joined(separator: " or ")) in the README but \(types.sorted().joined(separator: " or ")) in schema/\(table.schemaFile)"
          )
        }
      }
      let properties = (schema["properties"] as? [String: Any])?.keys.sorted() ?? []
      for key in properties where !topLevel.contains(key) {
        Issue.record(
          "schema/\(table.schemaFile) has the top-level key `\(key)`, which README.md's table (line \(table.line)) does not list"
        )
      }
    }
  }
}
