/// What a ``ConnectSession`` (Sessions) waits for while a person copies tokens.
public enum ConnectPeerWait: String, Codable, Sendable, Hashable {
  /// The offerer waits for the answer to be pasted.
  case answer
  /// The answerer waits for the offerer's first check (its answer must be pasted there).
  case checks

  /// "the peer's answer" / "the offerer's first check".
  public var noun: String {
    switch self {
    case .answer: "the peer's answer"
    case .checks: "the offerer's first check"
    }
  }

  /// The line shown while waiting: "waiting for the other side: paste your answer there
  /// (waited 45 s of 5 min)".
  public func waitingText(waitedMs: Double, limitMs: Double) -> String {
    let what =
      switch self {
      case .answer: "waiting for the answer token to be pasted here"
      case .checks: "waiting for the other side: paste your answer there"
      }
    return
      "\(what) (waited \(ConnectReportText.duration(waitedMs)) of \(ConnectReportText.duration(limitMs)))"
  }

  /// The line shown when the wait ended.
  public func endedText(waitedMs: Double) -> String {
    switch self {
    case .answer: "the answer came after \(ConnectReportText.duration(waitedMs))"
    case .checks:
      "the offerer's first check came after \(ConnectReportText.duration(waitedMs)): checks running"
    }
  }
}
