import Report
import STUN
import Traversal

/// What a ``ConnectSession`` has done so far, rebuilt from its events alone: the reducer that
/// fronts (the console, the CLI, tests) fold the session's ``ConnectLogEntry``s into instead of
/// reading the session. Feed every entry in order to ``apply(_:)``.
///
/// ```swift
/// var progress = ConnectProgress()
/// for entry in runner.drain() { progress.apply(entry) }
/// progress.pairs.first { $0.selected }   // the selected pair, with its RTT and check counts
/// ```
public struct ConnectProgress: Sendable, Hashable {
  /// One candidate pair as the events describe it.
  public struct Pair: Sendable, Hashable, Identifiable {
    /// The agent's pair number.
    public var id: Int
    public var local: Candidate
    public var remote: Candidate
    /// The pair priority for the agent's current role.
    public var priority: UInt64
    public var state: CandidatePairState
    /// In the check list (false for a valid pair learnt from a check's mapped address).
    public var inCheckList: Bool
    public var nominated = false
    /// The agent's selected pair.
    public var selected = false
    /// The round trip of the last answered check, in milliseconds.
    public var rttMs: Double?
    /// Checks sent (first transmissions; retransmissions are not counted).
    public var checksSent = 0
    /// Checks answered (a success, or an error response that failed the pair).
    public var checksAnswered = 0
    /// Why the pair failed, while it is failed.
    public var failureReason: ICEPairReason?
    /// For a valid pair learnt from a check's mapped address (not in the check list): the
    /// check-list pair whose answered check produced it. Its checks are this pair's checks:
    /// ``checksSent``, ``checksAnswered`` and ``rttMs`` count them, as the report does.
    public var producedBy: Int?
  }

  /// The session's phase.
  public private(set) var phase: ConnectPhase = .new
  /// The ICE agent's state (`new` until it changes).
  public private(set) var agentState: ICEAgentState = .new
  /// The ICE role, once the session said it (a role conflict changes it).
  public private(set) var role: ICERole?
  /// Candidates in the order they were gathered (peer-reflexive ones included).
  public private(set) var localCandidates: [Candidate] = []
  /// The peer's candidates in the order they were added.
  public private(set) var remoteCandidates: [Candidate] = []
  /// The pairs, highest priority first (ties in creation order), as the agent orders them.
  public private(set) var pairs: [Pair] = []
  /// The selected pair's number.
  public private(set) var selectedPairID: Int?
  /// This side's description, from `localDescriptionReady`. In-process events carry the ICE
  /// password (the peer needs it); encoded events never do, so one decoded from JSON has none.
  public private(set) var localDescription: SessionDescription?
  /// The verdict, once `finished` arrived.
  public private(set) var report: ConnectReport?
  /// The DTLS handshake on the selected pair: `handshaking` once it started, then how it
  /// ended; nil before (or when the session runs none).
  public private(set) var dtls: ConnectReport.DTLS?
  /// When the first event, the peer's description and the verdict arrived.
  public private(set) var startedAt: Instant?
  public private(set) var remoteSetAt: Instant?
  public private(set) var verdictAt: Instant?
  /// The last pair an answer made succeed: the generator of the valid pair that follows.
  private var lastSucceeded: Int?

  public init() {}

  /// The time from the peer's description to the verdict, when both happened.
  public var checksToVerdictMs: Double? {
    guard let a = remoteSetAt, let v = verdictAt else { return nil }
    return max(0, (v - a).milliseconds)
  }

  /// Folds one event in.
  public mutating func apply(_ entry: ConnectLogEntry) {
    if startedAt == nil { startedAt = entry.at }
    switch entry.event {
    case .phaseChanged(let p): phase = p
    case .localDescriptionReady(let d): localDescription = d
    case .remoteDescriptionSet: remoteSetAt = entry.at
    case .finished(let r):
      report = r
      verdictAt = entry.at
    case .ice(let e): apply(e)
    case .dtls(let d): dtls = d
    case .portMapping(let m):
      // Renewals and the deletion come after the verdict too: the report keeps up.
      report?.local.portMapping = m
    default: break  // probe and relay events change nothing the fronts show from here
    }
  }

  private mutating func apply(_ event: ICEEvent) {
    switch event {
    case .candidateGathered(let c): localCandidates.append(c)
    case .remoteCandidateAdded(let c): remoteCandidates.append(c)
    case .pairAdded(let s, let inCheckList):
      guard !pairs.contains(where: { $0.id == s.id }) else { return }
      pairs.append(
        Pair(
          id: s.id, local: s.local, remote: s.remote, priority: s.priority, state: s.state,
          inCheckList: inCheckList))
      sortPairs()
    case .pairPruned(let id, _): pairs.removeAll { $0.id == id }
    case .pairStateChanged(let id, let from, let to, let reason, let rtt):
      update(id) { p in
        p.state = to
        p.failureReason = to == .failed ? reason : nil
        if let rtt { p.rttMs = rtt }
        if from == .inProgress, Self.isAnswer(to: to, reason) { p.checksAnswered += 1 }
      }
      if to == .succeeded, case .succeeded? = reason { lastSucceeded = id }
    case .pairValid(let id):
      // The agent makes a pair valid right after the answer that produced it: a valid-only
      // pair takes its generator's checks as its own.
      guard let g = lastSucceeded, g != id, let vi = pairs.firstIndex(where: { $0.id == id }),
        !pairs[vi].inCheckList, let gi = pairs.firstIndex(where: { $0.id == g })
      else { return }
      pairs[vi].producedBy = g
      pairs[vi].checksSent += pairs[gi].checksSent
      pairs[vi].checksAnswered += pairs[gi].checksAnswered
      if pairs[vi].rttMs == nil { pairs[vi].rttMs = pairs[gi].rttMs }
    case .checkSent(let id, _, _, let attempt, _, _):
      if attempt == 1 { update(id) { $0.checksSent += 1 } }
    case .pairNominated(let id): update(id) { $0.nominated = true }
    case .selectedPairChanged(let s):
      selectedPairID = s.id
      for i in pairs.indices { pairs[i].selected = pairs[i].id == s.id }
    case .agentStateChanged(_, let to, _): agentState = to
    case .roleChanged(_, let to, _, let priorities):
      role = to
      for i in pairs.indices {
        if let p = priorities[pairs[i].id] { pairs[i].priority = p }
      }
      sortPairs()
    default: break
    }
  }

  /// Whether a pair leaving In-Progress this way means an answer came back.
  private static func isAnswer(to: CandidatePairState, _ reason: ICEPairReason?) -> Bool {
    switch reason {
    case .succeeded?: to == .succeeded
    case .errorCode?: to == .failed
    default: false
    }
  }

  private mutating func update(_ id: Int, _ change: (inout Pair) -> Void) {
    guard let i = pairs.firstIndex(where: { $0.id == id }) else { return }
    let before = pairs[i]
    change(&pairs[i])
    // The valid pairs this one produced count its checks too.
    let after = pairs[i]
    for k in pairs.indices where pairs[k].producedBy == id {
      pairs[k].checksSent += after.checksSent - before.checksSent
      pairs[k].checksAnswered += after.checksAnswered - before.checksAnswered
      if after.rttMs != before.rttMs, let rtt = after.rttMs { pairs[k].rttMs = rtt }
    }
  }

  private mutating func sortPairs() {
    pairs.sort { ICEPriority.precedes(($0.priority, $0.id), ($1.priority, $1.id)) }
  }
}
