import Foundation

/// The one way a report becomes JSON: pretty-printed, keys sorted (stable for scripts and
/// diffs), slashes unescaped, ending with a line break. `--json` prints this and the console's
/// `j` file holds the same bytes.
public enum ReportJSON {
  /// `pretty: false` writes the document on one line (monitor mode's JSON lines).
  public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting =
      pretty
      ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      : [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value) + Data("\n".utf8)
  }
}
