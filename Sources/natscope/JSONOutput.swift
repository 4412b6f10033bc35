import Report
import Sessions

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Writes a report as pretty-printed JSON with sorted keys (stable for scripts and diffs):
/// ``ReportJSON``, which the console's `j` file uses too.
enum JSONOutput {
  static func encode<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try ReportJSON.encode(value).dropLast(), as: UTF8.self)
  }

  /// Prints `value` with a `schema` key naming its published JSON Schema.
  /// `addsVersion` adds `schemaVersion` too, for a value that does not encode it.
  static func print<T: Encodable>(
    _ value: T, schema: JSONSchemaID, addsVersion: Bool = false
  ) throws {
    Swift.print(
      try encode(SchemaTaggedDocument(value, schema: schema, addsVersion: addsVersion)))
  }
}
