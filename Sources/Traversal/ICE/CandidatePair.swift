import STUN

/// The state of a candidate pair in the check list (RFC 8445 §6.1.2.6).
public enum CandidatePairState: String, Codable, Sendable, Hashable {
  case frozen = "Frozen"
  case waiting = "Waiting"
  case inProgress = "In-Progress"
  case succeeded = "Succeeded"
  case failed = "Failed"
}

/// Why a pair changed state, or why it failed (typed: the report module words it, and trace
/// lines show the case as it is).
public enum ICEPairReason: Codable, Sendable, Hashable {
  /// Unfrozen: first pair of its foundation, or no other pair of the foundation is active.
  case unfrozen
  /// Unfrozen because a pair with the same foundation succeeded.
  case foundationSucceeded
  /// A check was sent (ordinary or triggered).
  case checkSent(triggered: Bool)
  /// A check arrived on the pair, so a triggered check was queued.
  case triggeredByIncomingCheck
  /// A valid response came back.
  case succeeded
  /// No response to any of `attempts` requests.
  case timeout(attempts: Int)
  /// The peer answered with an error.
  case errorCode(code: Int, reason: String)
  /// The network reported the destination unreachable.
  case unreachable
  /// A 487 Role Conflict came back; the check is repeated with the new role.
  case roleConflict
  /// The pair was dropped: redundant, or beyond the pair limit.
  case pruned(String)
  /// The response came from another address than the request went to, or arrived on another
  /// local address than it left from (RFC 8445 §7.2.5.2.1).
  case nonSymmetric
  /// The agent stopped checking (nominated pair found, or closed).
  case cancelled
  /// Checked again: its checks went unanswered before the peer could hold our description.
  case recheck
}

/// One state change of a pair, for its history.
public struct CandidatePairTransition: Codable, Sendable, Hashable {
  public var state: CandidatePairState
  public var at: Instant
  public var reason: ICEPairReason?
}

/// Counters and timings of one pair, for reports.
public struct CandidatePairStats: Codable, Sendable, Hashable {
  /// Every state the pair went through, first one at creation.
  public var history: [CandidatePairTransition] = []
  /// Connectivity-check requests sent (first transmissions).
  public var requestsSent = 0
  /// Retransmissions of those requests.
  public var retransmissions = 0
  /// Requests received from the peer on this pair.
  public var requestsReceived = 0
  /// Responses sent to those requests.
  public var responsesSent = 0
  /// Responses (success or error) accepted for our requests.
  public var responsesReceived = 0
  /// Consent requests sent (RFC 7675) and answered.
  public var consentRequestsSent = 0
  public var consentResponsesReceived = 0
  /// Keepalive indications sent.
  public var keepalivesSent = 0
  /// Checks (transactions) that needed at least one retransmission. Before a path is open
  /// that is hole punching as much as loss.
  public var checksRetransmitted = 0
  /// Checks sent on this pair after it had been answered once (the nominating check), and
  /// how many of them needed a retransmission although the pair's round trip is well under
  /// the retransmission timeout: on a proven path that is loss.
  public var checksOnProvenPath = 0
  public var checksOnProvenPathRetransmitted = 0
  /// Requests the peer repeated after this side had answered them, on a pair whose round
  /// trip is well under the retransmission timeout: the answer was lost on the way.
  public var requestsRepeatedByPeer = 0
  /// Checks sent again after a whole transaction went unanswered on a path the peer's checks
  /// (or an earlier answer) had proven.
  public var checksRetried = 0
  /// Round-trip times, in milliseconds, of answered checks (first send to answer).
  public var lastRTTMs: Double?
  public var minRTTMs: Double?
  public var meanRTTMs: Double?
  public var rttSamples = 0

  mutating func addRTT(_ rtt: Duration) {
    let ms = rtt.milliseconds
    lastRTTMs = ms
    minRTTMs = Swift.min(minRTTMs ?? ms, ms)
    meanRTTMs = ((meanRTTMs ?? 0) * Double(rttSamples) + ms) / Double(rttSamples + 1)
    rttSamples += 1
  }
}

/// A local and a remote candidate that connectivity checks test (RFC 8445 §6.1.2).
public struct CandidatePair: Codable, Sendable, Hashable, Identifiable {
  /// A small number, unique within the agent, in creation order.
  public var id: Int
  public var local: Candidate
  public var remote: Candidate
  /// The pair priority for the agent's current role.
  public var priority: UInt64
  public var state: CandidatePairState
  /// In the check list (false for valid pairs built from a peer-reflexive mapping).
  public var inCheckList: Bool
  /// In the valid list: a check produced an authenticated, symmetric success.
  public var isValid: Bool = false
  /// Nominated (RFC 8445 §8.1).
  public var nominated: Bool = false
  /// The valid pair the last success of this pair produced (itself, or a pair with a
  /// server- or peer-reflexive local candidate).
  public var validPairID: Int?
  /// Why the pair failed, once failed.
  public var failureReason: ICEPairReason?
  public var stats = CandidatePairStats()

  /// `local foundation:remote foundation` (RFC 8445 §6.1.2.6).
  public var foundation: String { "\(local.foundation):\(remote.foundation)" }

  /// The address checks on this pair leave from.
  public var localBase: TransportAddress { local.base ?? local.address }
}

extension CandidatePair: CustomStringConvertible {
  /// `#3 host 192.168.1.10:40000 -> srflx 198.51.100.2:40000 Waiting`.
  public var description: String {
    "#\(id) \(local.type.rawValue) \(local.address) -> \(remote.type.rawValue) \(remote.address) \(state.rawValue)"
  }
}
