import Foundation

/// The one way a report becomes JSON: pretty-printed, keys sorted (stable for scripts and
/// diffs), slashes unescaped, ending with a line break. `--json` prints this and the console's
/// `j` file holds the same bytes.
public enum ReportJSON {
  public static func encode<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value) + Data("\n".utf8)
  }
}
