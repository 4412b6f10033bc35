import Foundation

/// Writes a report as pretty-printed JSON with sorted keys (stable for scripts and diffs).
enum JSONOutput {
  static func encode<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }

  static func print<T: Encodable>(_ value: T) throws {
    Swift.print(try encode(value))
  }
}
