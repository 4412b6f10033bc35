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

  /// The line shown while waiting: "waiting for the answer token to be pasted here (waited
  /// 45 s of 5 min)" (the ``FindingCode/connectWaiting`` finding's text).
  public func waitingText(waitedMs: Double, limitMs: Double) -> String {
    Finding(
      .connectWaiting, about: .peer, .measured,
      parameters: [
        "waitedFor": .text(rawValue), "waitedMs": .milliseconds(waitedMs),
        "limitMs": .milliseconds(limitMs),
      ]
    ).text
  }

  /// The line shown when the wait ended with what it waited for.
  public func endedText(waitedMs: Double) -> String {
    Finding(
      .connectWaitEndedLine, about: .peer, .measured,
      parameters: ["waitedFor": .text(rawValue), "ms": .milliseconds(waitedMs)]
    ).text
  }
}
