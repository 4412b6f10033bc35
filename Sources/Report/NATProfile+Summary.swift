import Traversal

extension NATProfile {
  /// A plain-language paragraph: what this NAT means for direct connections to peers of each
  /// kind (the sentence of ``ProbeFindings/prediction(_:)``).
  public var summary: String { ProbeFindings.prediction(self).text }
}
