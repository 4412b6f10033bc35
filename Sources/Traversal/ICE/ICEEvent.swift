import STUN

/// The role of an ICE agent (RFC 8445 §6.1.1).
public enum ICERole: String, Codable, Sendable, Hashable {
  case controlling, controlled
}

/// The overall state of an ICE agent (the WebRTC `RTCIceTransportState` names).
public enum ICEAgentState: String, Codable, Sendable, Hashable {
  /// Created, not started.
  case new
  /// Checks are running; no valid pair yet.
  case checking
  /// A valid pair exists; nomination has not finished.
  case connected
  /// A pair is nominated and selected.
  case completed
  /// The selected pair's consent responses stopped coming (RFC 7675); may recover.
  case disconnected
  /// Every pair failed with no more candidates to come, or consent was lost.
  case failed
  /// Closed by its owner.
  case closed
}

/// A summary of a pair for events: enough to print it without the agent.
public struct ICEPairSummary: Codable, Sendable, Hashable {
  public var id: Int
  public var local: Candidate
  public var remote: Candidate
  public var priority: UInt64
  public var state: CandidatePairState

  public init(_ pair: CandidatePair) {
    id = pair.id
    local = pair.local
    remote = pair.remote
    priority = pair.priority
    state = pair.state
  }
}

/// Something the ICE agent (or its session) did or saw: the structured version of an ICE log.
/// No event carries a password.
public enum ICEEvent: Codable, Sendable, Hashable {
  /// A local candidate was added (host, server-reflexive, relayed, or a peer-reflexive one
  /// learnt from a check's XOR-MAPPED-ADDRESS).
  case candidateGathered(Candidate)
  /// A local candidate was not added (same address and base as an existing one).
  case candidateRedundant(Candidate)
  /// No more local candidates will come.
  case gatheringDone(localCandidates: Int)
  /// A remote candidate was added (from signalling, or peer-reflexive from a check's source).
  case remoteCandidateAdded(Candidate)
  /// A remote candidate was refused (wrong component or transport, duplicate, unusable).
  case remoteCandidateRejected(Candidate, reason: String)
  /// The peer said it has no more candidates.
  case remoteGatheringDone
  /// A pair joined the check list (or the valid list only, when `inCheckList` is false).
  case pairAdded(ICEPairSummary, inCheckList: Bool)
  /// A pair was dropped from the check list.
  case pairPruned(pairID: Int, reason: ICEPairReason)
  /// A pair changed state. `rttMs` is the round trip of the answer that made it succeed
  /// (set only when an answer to a check did).
  case pairStateChanged(
    pairID: Int, from: CandidatePairState, to: CandidatePairState, reason: ICEPairReason?,
    rttMs: Double? = nil)
  /// A connectivity check request went out (`attempt` 1 is the first transmission).
  case checkSent(
    pairID: Int, from: TransportAddress, to: TransportAddress, attempt: Int, useCandidate: Bool,
    triggered: Bool)
  /// A connectivity check arrived from the peer and was answered.
  case checkReceived(pairID: Int, from: TransportAddress, useCandidate: Bool)
  /// A request or response was refused: bad FINGERPRINT, USERNAME or MESSAGE-INTEGRITY, …
  case messageRejected(from: TransportAddress, reason: String)
  /// A pair became valid.
  case pairValid(pairID: Int)
  /// A pair was nominated.
  case pairNominated(pairID: Int)
  /// The agent's role changed (role conflict, RFC 8445 §7.3.1.1 / §7.2.5.1); `priorities` are
  /// every pair's priority for the new role, by pair number.
  case roleChanged(from: ICERole, to: ICERole, reason: String, priorities: [Int: UInt64])
  /// The selected pair changed.
  case selectedPairChanged(ICEPairSummary)
  /// The agent's state changed.
  case agentStateChanged(from: ICEAgentState, to: ICEAgentState, reason: String?)
  /// The selected pair's consent expired (RFC 7675): nothing answered for `silentForMs`.
  case consentLost(pairID: Int, silentForMs: Double)
  /// Consent responses came back after a silence.
  case consentRestored(pairID: Int)
  /// A STUN Binding indication went out on a pair only to keep this side's NAT open for the
  /// peer's checks while a person is slow: no check from the peer has arrived yet.
  case keepaliveSent(from: TransportAddress, to: TransportAddress)
}

/// What an ``ICEAgent`` asks its driver to do, or tells it: transmits `from` a local base (a
/// host socket, or a relayed address: the session routes those through the relay), with the
/// transaction ID of the check or answer they carry; `.timeout` last (the agent's
/// ``ICEAgent/nextDeadline``); and events.
public typealias ICEAgentOutput = MachineOutput<ICEEvent>
