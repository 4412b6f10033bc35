/// The findings of one report, in the order they were derived, with the rule that keeps a
/// report honest: nothing may claim a property that a finding marks as not measured.
public struct FindingSet: Codable, Sendable, Hashable, Sequence {
  public private(set) var findings: [Finding]

  public init(_ findings: [Finding] = []) { self.findings = findings }

  public mutating func append(_ finding: Finding) { findings.append(finding) }
  public mutating func append(contentsOf other: some Sequence<Finding>) {
    findings.append(contentsOf: other)
  }

  public func makeIterator() -> IndexingIterator<[Finding]> { findings.makeIterator() }

  /// The findings with this code.
  public func with(_ code: FindingCode) -> [Finding] { findings.filter { $0.code == code } }

  /// Whether a finding with this code is there.
  public func contains(_ code: FindingCode) -> Bool { findings.contains { $0.code == code } }

  /// Whether `aspect` of `subject` is marked as not measured.
  public func notMeasured(_ aspect: FindingAspect, of subject: FindingSubject) -> Bool {
    findings.contains {
      $0.certainty == .notMeasured && $0.aspect == aspect && $0.subject == subject
    }
  }

  /// Claims that rest on a property marked as not measured: each pair is a finding that says
  /// (or covers) `aspect` of its subject while another says that was not measured. A report
  /// builder must leave none; the situation matrix checks every row for them.
  public func contradictions() -> [(claim: Finding, notMeasured: Finding)] {
    var out: [(Finding, Finding)] = []
    for claim in findings where claim.certainty != .notMeasured {
      let aspects = (claim.aspect.map { [$0] } ?? []) + claim.covers
      for aspect in aspects {
        if let gap = findings.first(where: {
          $0.certainty == .notMeasured && $0.aspect == aspect && $0.subject == claim.subject
        }) {
          out.append((claim, gap))
        }
      }
    }
    return out
  }

  public init(from decoder: any Decoder) throws {
    findings = try decoder.singleValueContainer().decode([Finding].self)
  }

  /// JSON: an array of findings.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(findings)
  }
}
