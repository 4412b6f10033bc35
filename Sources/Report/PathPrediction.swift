import Traversal

/// Whether a kind of ICE path should work between two hosts, and why, in words: the rule of
/// the model (``ReflexivePathRule``) or of the connect report's predictions, worded by the
/// connect vocabulary.
public struct PathPrediction: Codable, Sendable, Hashable {
  public typealias Outcome = PathOutcome
  public typealias Host = ReflexivePathRule.Host
  public typealias Basis = ReflexivePathRule.Basis

  public var outcome: Outcome
  /// One sentence a person can act on.
  public var reason: String
  /// The rule that decided, when the prediction came from ``reflexive(_:_:)``; nil otherwise
  /// (not encoded).
  public var basis: Basis?

  public init(_ outcome: Outcome, _ reason: String, basis: Basis? = nil) {
    self.outcome = outcome
    self.reason = reason
    self.basis = basis
  }

  /// The prediction of a finding of ``FindingCode/connectPrediction``: its outcome and its
  /// sentence.
  init(_ outcome: Outcome, _ finding: Finding, basis: Basis? = nil) {
    self.init(outcome, finding.text, basis: basis)
  }

  private enum CodingKeys: String, CodingKey {
    case outcome, reason
  }

  /// The "through the NATs" path between host A (`a`) and host B (`b`), as the demo states
  /// it: the model's rule, worded with the hosts' names.
  public static func reflexive(_ a: NATProfile, _ b: NATProfile) -> PathPrediction {
    let rule = ReflexivePathRule.decide(a, b)
    var p = ConnectReportBuilder.parameters(of: rule.basis)
    p["outcome"] = .text(rule.outcome.rawValue)
    p["naming"] = .text("hosts")
    let finding = Finding(
      .connectPrediction, about: .path(ConnectReport.PathKind.reflexive.rawValue), .inferred,
      parameters: p)
    return PathPrediction(rule.outcome, finding, basis: rule.basis)
  }

  /// Why the demo has no prediction for a pair of hosts, worded as a prediction.
  public enum Missing: String, Sendable {
    /// A probe's classification is uncertain because requests were lost.
    case uncertainFromLoss = "uncertain-from-loss"
    /// A probe did not finish.
    case probeUnfinished = "probe-unfinished"
  }

  /// No prediction, and why.
  public static func none(_ why: Missing) -> PathPrediction {
    let finding = Finding(
      .connectPrediction, about: .path(ConnectReport.PathKind.reflexive.rawValue), .notMeasured,
      aspect: "prediction", parameters: ["outcome": .text("unknown"), "why": .text(why.rawValue)])
    return PathPrediction(.unknown, finding)
  }
}
