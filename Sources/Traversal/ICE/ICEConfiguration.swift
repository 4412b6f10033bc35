/// The tunables of an ``ICEAgent``. Defaults suit a diagnostic tool: checks fail fast.
public struct ICEConfiguration: Sendable, Hashable {
  /// How nomination works (RFC 8445 §8.1.1; aggressive nomination from RFC 5245).
  public enum Nomination: String, Sendable, Hashable, Codable {
    /// The controlling agent lets checks run, then repeats the best valid pair's check with
    /// USE-CANDIDATE.
    case regular
    /// The controlling agent puts USE-CANDIDATE in every check; the first success is selected
    /// (and replaced by any later, better one).
    case aggressive
  }

  /// Ta: the pacing between two new connectivity checks (RFC 8445 §14.2); default 50 ms.
  public var pacing: Duration
  /// The retransmission schedule of each connectivity check. The default sends 7 requests
  /// 250 ms apart and gives up 500 ms after the last: a pair fails 2 s after its first check.
  public var checkPolicy: RetransmissionPolicy
  /// How many times a pair's check is sent again, as a new transaction, after one went
  /// unanswered on a path that has shown it works (the peer's checks arrive on it, it was
  /// answered before, or the check nominates): there an unanswered transaction means loss.
  /// Default 2.
  public var provenPathRetries: Int
  /// The most pairs kept in the check list (RFC 8445 §6.1.2.5); default 100.
  public var maxPairs: Int
  /// Regular or aggressive nomination.
  public var nomination: Nomination
  /// With regular nomination, the controlling agent nominates when no pair of higher priority
  /// than the best valid pair is still pending, or this long after the first valid pair,
  /// whichever comes first.
  public var nominationDelay: Duration
  /// With regular nomination, a pending pair of two host candidates (which needs no hole
  /// punching) stops holding nomination back once its first check has gone unanswered this
  /// long, or four round trips of the best valid pair if that is longer; default 20 ms.
  public var hostPairPatience: Duration
  /// Local preferences by interface and family.
  public var localPreferences: LocalPreferencePolicy
  /// RFC 7675 consent: requests on the selected pair about this often (randomised 0.8–1.2×);
  /// nil turns consent freshness off.
  public var consentInterval: Duration?
  /// Without any consent response for this long the agent is `disconnected`.
  public var disconnectedTimeout: Duration
  /// Without any consent response for this long consent is lost and the agent `failed`
  /// (RFC 7675 §5.1: 30 s).
  public var consentTimeout: Duration
  /// The retransmission schedule of each consent request.
  public var consentPolicy: RetransmissionPolicy
  /// A Binding indication is sent on the selected pair when nothing else was sent on it for
  /// this long (RFC 8445 §11, 15 s).
  public var keepaliveInterval: Duration

  public init(
    pacing: Duration = .milliseconds(50),
    checkPolicy: RetransmissionPolicy = RetransmissionPolicy(
      initialRTO: .milliseconds(250), maxRequests: 7, lastWaitMultiplier: 2, backoff: 1),
    maxPairs: Int = 100, nomination: Nomination = .regular,
    nominationDelay: Duration = .milliseconds(500), hostPairPatience: Duration = .milliseconds(20),
    localPreferences: LocalPreferencePolicy = LocalPreferencePolicy(),
    consentInterval: Duration? = .seconds(5), disconnectedTimeout: Duration = .seconds(10),
    consentTimeout: Duration = .seconds(30),
    consentPolicy: RetransmissionPolicy = RetransmissionPolicy(
      initialRTO: .milliseconds(500), maxRequests: 4, lastWaitMultiplier: 2, backoff: 1),
    keepaliveInterval: Duration = .seconds(15), provenPathRetries: Int = 2
  ) {
    self.pacing = max(.milliseconds(1), pacing)
    self.checkPolicy = checkPolicy
    self.maxPairs = max(1, maxPairs)
    self.nomination = nomination
    self.nominationDelay = nominationDelay
    self.hostPairPatience = hostPairPatience
    self.localPreferences = localPreferences
    self.consentInterval = consentInterval
    self.disconnectedTimeout = disconnectedTimeout
    self.consentTimeout = consentTimeout
    self.consentPolicy = consentPolicy
    self.keepaliveInterval = keepaliveInterval
    self.provenPathRetries = max(0, provenPathRetries)
  }
}
