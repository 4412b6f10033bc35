import Foundation
import Sessions

/// Writes a report as pretty-printed JSON with sorted keys (stable for scripts and diffs):
/// ``ReportJSON``, which the console's `j` file uses too.
enum JSONOutput {
  static func encode<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try ReportJSON.encode(value).dropLast(), as: UTF8.self)
  }

  static func print<T: Encodable>(_ value: T) throws {
    Swift.print(try encode(value))
  }
}
