/// Words a finding: the one place a finding becomes a sentence. Each domain (probe, binding,
/// TURN check, connect, …) keeps a vocabulary beside the function that derives its findings,
/// and registers it here.
public enum FindingText {
  /// A domain's sentences: the sentence for a finding whose code it knows, nil otherwise.
  public typealias Vocabulary = @Sendable (Finding) -> String?

  /// Every domain's vocabulary. A finding no vocabulary knows is a programming error that the
  /// tests catch (`FindingTextTests`); it is then shown by its code rather than dropped.
  static let vocabularies: [Vocabulary] = [
    ProbeFindings.vocabulary, BindingFindings.vocabulary, TURNFindings.vocabulary,
    ConnectFindings.vocabulary, SessionEndFindings.vocabulary, DoubleNATFindings.vocabulary,
    DTLSFindings.vocabulary, PathMTUFindings.vocabulary, ExplainFindings.vocabulary,
    MonitorFindings.vocabulary, WHIPFindings.vocabulary,
  ]

  /// The sentence for `finding`.
  public static func sentence(_ finding: Finding) -> String {
    for vocabulary in vocabularies {
      if let s = vocabulary(finding) { return s }
    }
    return finding.code.rawValue
  }

  /// Whether some vocabulary words `finding` (tests check every code a builder derives).
  public static func isWorded(_ finding: Finding) -> Bool {
    vocabularies.contains { $0(finding) != nil }
  }
}
