/// The published JSON Schemas (draft 2020-12) of natscope's `--json` documents, in `schema/`
/// of the source tree: `schema/NAME-VERSION.json`, whose `$id` is `urn:natscope:schema:NAME-VERSION`.
/// Every document names its schema in a `schema` key next to `schemaVersion`.
///
/// Versioning: adding a key keeps the version (consumers ignore keys they do not know);
/// removing a key, changing its type or changing what it means bumps it.
public enum JSONSchemaID: String, Sendable, CaseIterable {
  case probe
  case binding
  case connect
  case turn
  case serve
  /// `natscope demo`: the table of every NAT preset.
  case demo
  /// `natscope demo --a NAT --b NAT`.
  case demoTwoHost = "demo-two-host"
  /// `binding stuns:…`, and `probe` given only stuns: servers: STUN over TLS.
  case stuns
  /// `natscope explain FILE...`: what other stacks' artifacts show of their ICE sessions.
  case explain
  /// `probe`, `binding` or `turn` with `--every`: one document a line, one line per run.
  case monitor

  /// The schema's version (the document's `schemaVersion`).
  public var version: Int { 1 }

  /// The value of the document's `schema` key and the schema's `$id`.
  public var identifier: String { "urn:natscope:schema:\(rawValue)-\(version)" }

  /// The schema's file in the source tree.
  public var fileName: String { "\(rawValue)-\(version).json" }
}

/// A document as `--json` prints it: `value`'s keys plus `schema`, the identifier of its JSON
/// Schema (and `schemaVersion`, for a value that has none of its own).
public struct SchemaTaggedDocument<Value: Encodable>: Encodable {
  public var value: Value
  public var schema: JSONSchemaID
  /// Whether to add `schemaVersion` (for values that do not encode it themselves).
  public var addsVersion: Bool

  public init(_ value: Value, schema: JSONSchemaID, addsVersion: Bool = false) {
    self.value = value
    self.schema = schema
    self.addsVersion = addsVersion
  }

  private enum Key: String, CodingKey { case schema, schemaVersion }

  public func encode(to encoder: any Encoder) throws {
    try value.encode(to: encoder)
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(schema.identifier, forKey: .schema)
    if addsVersion { try c.encode(schema.version, forKey: .schemaVersion) }
  }
}

extension SchemaTaggedDocument: Sendable where Value: Sendable {}
