/// What the connect screen shows, as plain values the ICE engine's events are folded into
/// (the engine lives elsewhere; the CLI maps its events onto `ConnectScreen.Event`).
public struct ConnectViewModel: Equatable, Sendable, Codable {
  /// ICE agent state (RFC 8445 checking/connected/completed/failed, plus gathering).
  public enum AgentState: String, Equatable, Sendable, Codable {
    case new, gathering, waiting, checking, connected, completed, disconnected, failed, closed
  }

  /// One candidate row.
  public struct Candidate: Equatable, Sendable, Codable {
    public enum Side: String, Equatable, Sendable, Codable { case local, remote }
    public var side: Side
    /// host, srflx, prflx, relay.
    public var kind: String
    public var address: String
    /// raddr/rport for srflx and relay.
    public var related: String?
    public var priority: UInt32
    public var foundation: String

    public init(
      side: Side, kind: String, address: String, related: String? = nil, priority: UInt32,
      foundation: String
    ) {
      self.side = side
      self.kind = kind
      self.address = address
      self.related = related
      self.priority = priority
      self.foundation = foundation
    }
  }

  /// One pair of the check list.
  public struct Pair: Equatable, Sendable, Codable {
    public enum State: String, Equatable, Sendable, Codable {
      case frozen, waiting, inProgress = "in-progress", succeeded, failed
    }
    /// Stable id (e.g. "local-foundation:remote-foundation") for updates.
    public var id: String
    public var local: String
    public var remote: String
    public var localKind: String
    public var remoteKind: String
    public var state: State
    public var nominated: Bool
    public var selected: Bool
    public var rttMs: Double?
    public var checksSent: Int
    public var checksAnswered: Int
    public var failureReason: String?
    public var priority: UInt64
    /// For a valid pair learnt from an answer: the id of the check-list pair whose checks it
    /// shows as its own (so the totals count them once).
    public var producedBy: String?

    public init(
      id: String, local: String, remote: String, localKind: String, remoteKind: String,
      state: State, nominated: Bool = false, selected: Bool = false, rttMs: Double? = nil,
      checksSent: Int = 0, checksAnswered: Int = 0, failureReason: String? = nil,
      priority: UInt64 = 0
    ) {
      self.id = id
      self.local = local
      self.remote = remote
      self.localKind = localKind
      self.remoteKind = remoteKind
      self.state = state
      self.nominated = nominated
      self.selected = selected
      self.rttMs = rttMs
      self.checksSent = checksSent
      self.checksAnswered = checksAnswered
      self.failureReason = failureReason
      self.priority = priority
    }
  }

  public var agentState: AgentState = .new
  /// "controlling" or "controlled".
  public var role: String = "controlling"
  public var elapsedMs: Double = 0
  public var candidates: [Candidate] = []
  public var pairs: [Pair] = []
  /// Newest last.
  public var log: [String] = []
  /// This side's token, to give to the peer.
  public var localToken: String = ""
  /// The peer's token, once pasted.
  public var remoteToken: String = ""
  /// Why the agent failed, when it did.
  public var failureReason: String?
  /// The connect report's plain-text lines, once the verdict is in.
  public var reportLines: [String] = []
  /// The verdict: true connected, false no path worked, nil not yet.
  public var connected: Bool?
  /// The DTLS handshake on the selected pair in a word or two ("dtls running", "dtls ok",
  /// "dtls failed", "dtls off", "no dtls"); nil before it starts.
  public var dtls: String?

  public init() {}

  /// Checks sent and answered over all pairs, each check once (a learnt valid pair shows its
  /// generator's checks, which the generator already counts).
  public var checksSent: Int {
    pairs.filter { $0.producedBy == nil }.reduce(0) { $0 + $1.checksSent }
  }
  public var checksAnswered: Int {
    pairs.filter { $0.producedBy == nil }.reduce(0) { $0 + $1.checksAnswered }
  }
}
