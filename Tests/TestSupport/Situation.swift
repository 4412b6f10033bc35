import Report

/// One row of the situation matrix: a situation users meet (a silent server, a closed port, a
/// wrong password, a peer that quit, …), and what a report made there must and must not claim.
/// Each test target runs its rows its own way (the binary on loopback, the simulator, the lab)
/// and hands the findings it got to ``check(_:)``.
public struct Situation: Sendable, CustomStringConvertible {
  /// What happens, in a few words ("one silent server", "TURN forbids the peer (403)").
  public var name: String
  /// Codes that must be among the findings.
  public var mustFind: [FindingCode]
  /// Codes that must not be: the claims the situation does not support.
  public var mustNotFind: [FindingCode]

  public init(_ name: String, mustFind: [FindingCode] = [], mustNotFind: [FindingCode] = []) {
    self.name = name
    self.mustFind = mustFind
    self.mustNotFind = mustNotFind
  }

  public var description: String { name }

  /// What is wrong with `findings` for this situation: a missing claim, a claim the situation
  /// does not support, a claim resting on what a finding marks as not measured, or a finding
  /// no vocabulary words. Empty when the report is right.
  public func check(_ findings: FindingSet) -> [String] {
    var problems: [String] = []
    let codes = findings.map(\.code)
    for code in mustFind where !codes.contains(code) {
      problems.append(
        "\(name): no \(code) finding; found \(codes.map(\.rawValue).joined(separator: ", "))")
    }
    for code in mustNotFind {
      for f in findings.with(code) {
        problems.append("\(name): claims \(code) (\(f.text))")
      }
    }
    for (claim, gap) in findings.contradictions() {
      problems.append(
        "\(name): \(claim.code) (\(claim.text)) rests on \(gap.aspect?.rawValue ?? "?"), which \(gap.code) marks as not measured"
      )
    }
    for f in findings where !FindingText.isWorded(f) {
      problems.append("\(name): no vocabulary words \(f.code)")
    }
    return problems
  }
}
