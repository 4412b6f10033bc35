import Traversal

/// What natscope says about how a session ended, and about the pastes that led up to it: the
/// person quit (or a signal stopped it) before a verdict, a token whose session has ended, a
/// paste that could not be read and was asked for again. Codes, the pure ``derive(_:)`` and the
/// domain's vocabulary, as every domain keeps them.
public enum SessionEndFindings {
  /// How a session's front stopped.
  public enum Stop: Sendable, Hashable {
    /// `q` or Ctrl-C in the console.
    case quit
    /// A signal (SIGTERM, SIGHUP) stopped it; its number.
    case signal(Int32)
  }

  /// What the session was doing when it stopped.
  public enum Stage: String, Sendable, Hashable {
    /// Gathering candidates (the token was not ready yet).
    case gathering
    /// Waiting for the peer's token to be pasted (the offer, or the answer).
    case peerToken = "peer-token"
    /// Waiting for the offerer's first check (an answerer whose answer went to a person).
    case offererChecks = "offerer-checks"
    /// Running the connectivity checks.
    case checks
    /// Running the NAT probe.
    case probe
  }

  /// The evidence: how the front stopped, what the session was doing, and whether a verdict
  /// was in by then.
  public struct End: Sendable, Hashable {
    public var stop: Stop
    public var stage: Stage
    public var verdictIn: Bool
    /// `offer` or `answer`: this side's token, when it had printed one.
    public var token: String?
    /// The peer's role (`offer`, `answer`) whose token was awaited.
    public var peerRole: String?

    public init(
      stop: Stop, stage: Stage, verdictIn: Bool, token: String? = nil, peerRole: String? = nil
    ) {
      self.stop = stop
      self.stage = stage
      self.verdictIn = verdictIn
      self.token = token
      self.peerRole = peerRole
    }
  }

  /// The findings about how the session ended: none when the verdict was in; else that it
  /// ended before one (what was not measured: the verdict) and, when this side had a token,
  /// that the token is no longer usable.
  public static func derive(_ end: End) -> FindingSet {
    guard !end.verdictIn else { return FindingSet() }
    var how: FindingParameters = ["stage": .text(end.stage.rawValue)]
    var evidence = [EvidenceItem(.signalling, step: end.stage.rawValue)]
    switch end.stop {
    case .quit:
      how.values["stop"] = .text("quit")
    case .signal(let n):
      how.values["stop"] = .text("signal")
      how.values["signal"] = .int(Int(n))
      evidence.append(EvidenceItem(.notRun, step: "signal", value: Double(n)))
    }
    if let peer = end.peerRole { how.values["peer"] = .text(peer) }
    var set = FindingSet([
      Finding(
        .sessionEndedBeforeVerdict, about: .session, .measured, aspect: "session-end",
        parameters: how, evidence: evidence),
      Finding(
        .sessionVerdictNotMeasured, about: .session, .notMeasured, aspect: "verdict",
        parameters: ["stage": .text(end.stage.rawValue)]),
    ])
    if let token = end.token {
      set.append(
        Finding(
          .sessionTokenEnded, about: .thisHost, .measured, aspect: "token",
          parameters: ["role": .text(token)], evidence: [EvidenceItem(.signalling, step: "close")]))
    }
    return set
  }

  /// A paste of the peer's description that could not be read: `reason` is the signalling
  /// error's sentence; `attempt` of `attempts` (the last one ends the session).
  public static func pasteRefused(reason: String, attempt: Int, attempts: Int) -> Finding {
    Finding(
      attempt < attempts ? .pasteRefused : .pasteGaveUp, about: .peer, .measured,
      aspect: "peer-description",
      parameters: ["reason": .text(reason), "attempt": .int(attempt), "attempts": .int(attempts)],
      evidence: [EvidenceItem(.signalling, step: "paste", count: attempt)])
  }

  /// The sentences of this domain.
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    switch f.code {
    case .sessionEndedBeforeVerdict:
      let stop: String
      switch (p.text("stop"), p.int("signal")) {
      case ("signal", 1?): stop = "the terminal hung up (SIGHUP)"
      case ("signal", 15?): stop = "SIGTERM stopped natscope"
      case ("signal", let n?): stop = "signal \(n) stopped natscope"
      default: stop = "you quit"
      }
      let peer = p.text("peer") ?? "peer's"
      let stage: String
      switch p.text("stage").flatMap(Stage.init(rawValue:)) {
      case .gathering?: stage = "the candidates were being gathered"
      case .peerToken?: stage = "natscope waited for the \(peer) token to be pasted"
      case .offererChecks?: stage = "natscope waited for the offerer's first check"
      case .checks?: stage = "the connectivity checks ran"
      case .probe?: stage = "the probe ran"
      case nil: stage = "the session ran"
      }
      return "The session ended before a verdict: \(stop) while \(stage)."
    case .sessionVerdictNotMeasured:
      return "No verdict: which paths work was not measured."
    case .sessionTokenEnded:
      let role = p.text("role") ?? "offer"
      return
        "Your \(role) token is no longer usable: the session that made it has ended and closed its ports; a new natscope connect makes a new one."
    case .pasteRefused:
      let reason = p.text("reason") ?? "The paste cannot be read."
      let attempt = p.int("attempt") ?? 1
      let attempts = p.int("attempts") ?? attempt
      return "\(reason) Paste it again (attempt \(attempt + 1) of \(attempts))."
    case .pasteGaveUp:
      let reason = p.text("reason") ?? "The paste cannot be read."
      let attempts = p.int("attempts") ?? 1
      return "\(reason) That was the last of \(counted(attempts, "attempt")): the session ends."
    default:
      return nil
    }
  }
}

extension FindingCode {
  /// The session ended (quit, or a signal) before a verdict.
  public static let sessionEndedBeforeVerdict: FindingCode = "session.ended-before-verdict"
  /// With ``sessionEndedBeforeVerdict``: the verdict was not measured.
  public static let sessionVerdictNotMeasured: FindingCode = "session.verdict.not-measured"
  /// This side's token belongs to a session that has ended: no peer can use it any more.
  public static let sessionTokenEnded: FindingCode = "session.token-ended"
  /// A pasted peer description could not be read; natscope asks again.
  public static let pasteRefused: FindingCode = "signalling.paste-refused"
  /// The last allowed paste could not be read either: the session ends.
  public static let pasteGaveUp: FindingCode = "signalling.paste-gave-up"
}
