import Runtime
import Traversal

/// What `natscope connect` found: the outcome, the selected pair, each path (direct, through
/// the NATs, relayed) with what happened and why, the prediction from both NAT profiles, and
/// every candidate and pair. This is the `--json` schema of `natscope connect` (version
/// `ConnectReport.currentSchemaVersion`); the key names are documented and must not change.
///
/// The ICE password is never part of it. Build one with `ConnectReportBuilder`.
public struct ConnectReport: Codable, Sendable, Hashable {
  public static let currentSchemaVersion = 1

  /// Whether a pair was selected.
  public enum State: String, Codable, Sendable, Hashable {
    case connected, failed
  }

  /// One end of a pair: `{type, address, port, protocol}`.
  public struct Endpoint: Codable, Sendable, Hashable, CustomStringConvertible {
    public var type: SignaledCandidate.Kind
    /// An IP address (IPv6 without brackets) or a host name.
    public var address: String
    public var port: UInt16
    public var `protocol`: SignaledCandidate.Transport

    public init(
      type: SignaledCandidate.Kind, address: String, port: UInt16,
      protocol: SignaledCandidate.Transport = .udp
    ) {
      self.type = type
      self.address = address
      self.port = port
      self.protocol = `protocol`
    }

    /// The endpoint of a signalled candidate.
    public init(_ c: SignaledCandidate) {
      self.init(type: c.kind, address: c.address.description, port: c.port, protocol: c.transport)
    }

    /// `1.2.3.4:5678` or `[2001:db8::1]:5678`.
    public var description: String {
      address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
  }

  /// The pair ICE selected: `{local, remote, rttMs}`.
  public struct SelectedPair: Codable, Sendable, Hashable {
    public var local: Endpoint
    public var remote: Endpoint
    public var rttMs: Double?

    public init(local: Endpoint, remote: Endpoint, rttMs: Double?) {
      self.local = local
      self.remote = remote
      self.rttMs = rttMs
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(local, forKey: .local)
      try c.encode(remote, forKey: .remote)
      try c.encode(rttMs, forKey: .rttMs)
    }
  }

  /// Milliseconds from the start of `connect`; null when the step did not happen. The wait
  /// for the person at the other end is reported apart: `waitedForPeerMs` (null when this
  /// side did not wait), and what it waited for, `waitedFor` (`answer`: the offerer waited
  /// for the answer to be pasted; `checks`: the answerer waited for the offerer's first
  /// check). `checksStartedMs` is when this side held both descriptions (for an answerer
  /// that waited, when the offerer's first check came): the ICE part starts there.
  public struct Timings: Codable, Sendable, Hashable {
    public var gatheringMs: Double?
    public var firstCheckMs: Double?
    public var connectedMs: Double?
    public var checksStartedMs: Double?
    public var waitedForPeerMs: Double?
    public var waitedFor: String?

    public init(
      gatheringMs: Double? = nil, firstCheckMs: Double? = nil, connectedMs: Double? = nil,
      checksStartedMs: Double? = nil, waitedForPeerMs: Double? = nil,
      waitedFor: ConnectPeerWait? = nil
    ) {
      self.gatheringMs = gatheringMs
      self.firstCheckMs = firstCheckMs
      self.connectedMs = connectedMs
      self.checksStartedMs = checksStartedMs
      self.waitedForPeerMs = waitedForPeerMs
      self.waitedFor = waitedFor?.rawValue
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(gatheringMs, forKey: .gatheringMs)
      try c.encode(firstCheckMs, forKey: .firstCheckMs)
      try c.encode(connectedMs, forKey: .connectedMs)
      try c.encode(checksStartedMs, forKey: .checksStartedMs)
      try c.encode(waitedForPeerMs, forKey: .waitedForPeerMs)
      try c.encode(waitedFor, forKey: .waitedFor)
    }
  }

  /// The three kinds of path, in the order ICE prefers them.
  public enum PathKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// host ↔ host.
    case direct
    /// Any pair with a server- or peer-reflexive end and no relay.
    case reflexive
    /// Any pair with a relayed end.
    case relay

    /// The kind of path a pair of candidate types is.
    public static func of(_ local: SignaledCandidate.Kind, _ remote: SignaledCandidate.Kind)
      -> PathKind
    {
      if local == .relay || remote == .relay { return .relay }
      if local == .host && remote == .host { return .direct }
      return .reflexive
    }
  }

  /// What happened on one kind of path: `{attempted, succeeded, reason, problem?, rttMs?}`.
  public struct PathResult: Codable, Sendable, Hashable {
    /// At least one pair of this kind was checked.
    public var attempted: Bool
    public var succeeded: Bool
    /// One plain sentence.
    public var reason: String
    /// For the relay path when a TURN server is why it failed: the problem code
    /// `natscope turn` gives the same failure (`unauthorized`, `unreachable`,
    /// `tls-certificate`, `relayed-address-unroutable`, …); absent otherwise.
    public var problem: String?
    /// The best round-trip time of a succeeded pair of this kind.
    public var rttMs: Double?

    public init(
      attempted: Bool, succeeded: Bool, reason: String, rttMs: Double? = nil,
      problem: String? = nil
    ) {
      self.attempted = attempted
      self.succeeded = succeeded
      self.reason = reason
      self.rttMs = rttMs
      self.problem = problem
    }
  }

  /// One value per kind of path, encoded as `{direct, reflexive, relay}`.
  public struct PerPath<Value: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    public var direct: Value
    public var reflexive: Value
    public var relay: Value

    public init(direct: Value, reflexive: Value, relay: Value) {
      self.direct = direct
      self.reflexive = reflexive
      self.relay = relay
    }

    public subscript(kind: PathKind) -> Value {
      get {
        switch kind {
        case .direct: direct
        case .reflexive: reflexive
        case .relay: relay
        }
      }
      set {
        switch kind {
        case .direct: direct = newValue
        case .reflexive: reflexive = newValue
        case .relay: relay = newValue
        }
      }
    }
  }

  /// What happened on each kind of path.
  public typealias Paths = PerPath<PathResult>

  /// The prediction per kind of path, made before the checks from both NAT profiles and the
  /// candidates, each `{outcome, reason}`.
  public typealias Predictions = PerPath<PathPrediction>

  /// What one host knows about its NAT: `{profile, legacyType, turn}`.
  public struct Host: Codable, Sendable, Hashable {
    /// nil when the host ran no probe.
    public var profile: NATProfile?
    /// The RFC 3489 name, e.g. "Port Restricted Cone" or "unknown".
    public var legacyType: String
    /// Transports of the TURN servers configured on this host (for the peer: `udp` when it
    /// sent relay candidates), empty when none.
    public var turn: [SignaledCandidate.Transport]
    /// What each TURN server configured on this host did: a relayed address, or why not. Empty
    /// for the peer (its TURN servers are not signalled).
    public var relays: [RelayServer]
    /// The port mapping natscope asked this host's router for (`connect` without
    /// `--no-port-mapping`); nil for the peer and when none was asked for.
    public var portMapping: PortMapping?

    public init(
      profile: NATProfile?, legacyType: String, turn: [SignaledCandidate.Transport],
      relays: [RelayServer] = [], portMapping: PortMapping? = nil
    ) {
      self.profile = profile
      self.legacyType = legacyType
      self.turn = turn
      self.relays = relays
      self.portMapping = portMapping
    }

    private enum CodingKeys: String, CodingKey {
      case profile, legacyType, turn, relays, portMapping
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      profile = try c.decodeIfPresent(NATProfile.self, forKey: .profile)
      legacyType = try c.decode(String.self, forKey: .legacyType)
      turn = try c.decode([SignaledCandidate.Transport].self, forKey: .turn)
      relays = try c.decodeIfPresent([RelayServer].self, forKey: .relays) ?? []
      portMapping = try c.decodeIfPresent(PortMapping.self, forKey: .portMapping)
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(profile, forKey: .profile)
      try c.encode(legacyType, forKey: .legacyType)
      try c.encode(turn, forKey: .turn)
      try c.encode(relays, forKey: .relays)
      try c.encodeIfPresent(portMapping, forKey: .portMapping)
    }
  }

  /// The port mapping `connect` asked the router for: `{protocol, gateway, externalAddress,
  /// externalPort, lifetime, renewals, deleted, error}`. Holds no secret.
  public struct PortMapping: Codable, Sendable, Hashable {
    /// `"pcp"` or `"nat-pmp"` when a router answered (the last protocol tried otherwise); nil
    /// when nothing was sent.
    public var `protocol`: String?
    /// Where the requests went, `192.168.1.1:5351`.
    public var gateway: String?
    /// The router's external address, when a mapping was granted.
    public var externalAddress: String?
    /// The mapped external port, when granted.
    public var externalPort: UInt16?
    /// The lifetime the router granted, in seconds (the latest renewal's).
    public var lifetime: UInt32?
    /// How many times the mapping was renewed.
    public var renewals: Int
    /// Whether the router confirmed the deletion.
    public var deleted: Bool
    /// Why there is no mapping (or why it was lost or not deleted); nil when all went well.
    public var error: String?
    /// Each protocol's answer refusing the mapping, with its code; nil when none refused.
    public var refusals: [PortMappingRefusal]? = nil
    /// Whether there is a NAT above the router: its own address compared with the address
    /// STUN saw, and its refusals weighed; nil when the router claimed no address.
    public var doubleNAT: DoubleNATVerdict? = nil

    public init(
      protocol: String? = nil, gateway: String? = nil, externalAddress: String? = nil,
      externalPort: UInt16? = nil, lifetime: UInt32? = nil, renewals: Int = 0,
      deleted: Bool = false, error: String? = nil
    ) {
      self.protocol = `protocol`
      self.gateway = gateway
      self.externalAddress = externalAddress
      self.externalPort = externalPort
      self.lifetime = lifetime
      self.renewals = renewals
      self.deleted = deleted
      self.error = error
    }

    /// Whether a mapping was granted.
    public var granted: Bool { externalAddress != nil && externalPort != nil }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(self.protocol, forKey: .protocol)
      try c.encode(gateway, forKey: .gateway)
      try c.encode(externalAddress, forKey: .externalAddress)
      try c.encode(externalPort, forKey: .externalPort)
      try c.encode(lifetime, forKey: .lifetime)
      try c.encode(renewals, forKey: .renewals)
      try c.encode(deleted, forKey: .deleted)
      try c.encode(error, forKey: .error)
      try c.encodeIfPresent(refusals, forKey: .refusals)
      try c.encodeIfPresent(doubleNAT, forKey: .doubleNAT)
    }
  }

  /// One TURN server of this host: `{server, transport, allocated, relayedAddress, code,
  /// problem, reason}`. Never carries the credentials.
  /// How natscope reached a TURN server: `udp`, `tcp`, or `tls` (TLS over TCP, a `turns:`
  /// server).
  public enum RelayTransport: String, Codable, Sendable, Hashable, CaseIterable {
    case udp, tcp, tls
  }

  public struct RelayServer: Codable, Sendable, Hashable {
    /// The server's address, `203.0.113.10:3478`.
    public var server: String
    /// How natscope reached it.
    public var transport: RelayTransport
    /// Whether the server gave a relayed address.
    public var allocated: Bool
    /// The relayed address, when allocated.
    public var relayedAddress: String?
    /// The STUN error code of the failure, when the server sent one.
    public var code: Int?
    /// The problem code `natscope turn` gives the same failure (`unreachable`,
    /// `unauthorized`, `tls-certificate`, `relayed-address-unroutable`, …); nil when the relay
    /// is fine.
    public var problem: String?
    /// Why there is no (usable) relayed address (one sentence, as `natscope turn` says it);
    /// nil when allocated and usable.
    public var reason: String?
    /// The certificate a `turns:` server presented, after a TLS handshake that succeeded;
    /// nil over UDP and TCP, and when the handshake failed.
    public var certificate: TLSPeerCertificate?

    public init(
      server: String, transport: RelayTransport, allocated: Bool,
      relayedAddress: String? = nil, code: Int? = nil, reason: String? = nil,
      problem: String? = nil
    ) {
      self.server = server
      self.transport = transport
      self.allocated = allocated
      self.relayedAddress = relayedAddress
      self.code = code
      self.reason = reason
      self.problem = problem
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(server, forKey: .server)
      try c.encode(transport, forKey: .transport)
      try c.encode(allocated, forKey: .allocated)
      try c.encode(relayedAddress, forKey: .relayedAddress)
      try c.encode(code, forKey: .code)
      try c.encode(problem, forKey: .problem)
      try c.encode(reason, forKey: .reason)
      try c.encodeIfPresent(certificate, forKey: .certificate)
    }
  }

  /// One candidate as listed in the report: `{type, address, port, protocol, priority, usable,
  /// reason}`.
  public struct CandidateEntry: Codable, Sendable, Hashable {
    public var type: SignaledCandidate.Kind
    public var address: String
    public var port: UInt16
    public var `protocol`: SignaledCandidate.Transport
    public var priority: UInt32
    /// False for candidates natscope keeps but cannot check (TCP, mDNS names).
    public var usable: Bool
    /// Why it is unusable; nil when usable.
    public var reason: String?

    public init(_ c: SignaledCandidate) {
      type = c.kind
      address = c.address.description
      port = c.port
      self.protocol = c.transport
      priority = c.priority
      reason = c.unusableReason
      usable = reason == nil
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(type, forKey: .type)
      try c.encode(address, forKey: .address)
      try c.encode(port, forKey: .port)
      try c.encode(`protocol`, forKey: .protocol)
      try c.encode(priority, forKey: .priority)
      try c.encode(usable, forKey: .usable)
      try c.encode(reason, forKey: .reason)
    }
  }

  /// `{local, remote}` candidate lists.
  public struct Candidates: Codable, Sendable, Hashable {
    public var local: [CandidateEntry]
    public var remote: [CandidateEntry]

    public init(local: [CandidateEntry], remote: [CandidateEntry]) {
      self.local = local
      self.remote = remote
    }
  }

  /// How one candidate pair's checks ended: what the ICE agent's statistics give the builder.
  /// JSON `{local, remote, checked, succeeded, failure, detail, requests, rttMs}`, plus
  /// `peerReflexive` when the answer showed the check went through this host's NAT.
  public struct PairOutcome: Codable, Sendable, Hashable {
    /// How a pair failed.
    public enum Failure: String, Codable, Sendable, Hashable {
      /// No response to any request.
      case timeout
      /// The peer answered with a STUN error response (`detail` gives the code).
      case errorResponse = "error-response"
      /// ICMP port or host unreachable.
      case unreachable
      /// The agent stopped checking the pair (e.g. another pair was nominated).
      case cancelled
    }

    public var local: Endpoint
    public var remote: Endpoint
    /// At least one request was sent.
    public var checked: Bool
    public var succeeded: Bool
    /// nil for succeeded or unchecked pairs.
    public var failure: Failure?
    /// Extra detail, e.g. "487 Role Conflict".
    public var detail: String?
    /// Binding requests sent, retransmissions included.
    public var requests: Int
    public var rttMs: Double?
    /// When the peer's answer showed this host at another address than the local candidate
    /// (a NAT between them, RFC 8445 §7.2.5.3.1), that address: type `srflx` when STUN had
    /// already found it, else `prflx`. The pair then proves the path through the NATs, not a
    /// direct one. Absent otherwise.
    public var peerReflexive: Endpoint?
    /// For an `unreachable` failure, the ICMP error that came back, when the socket learned
    /// it (not encoded: `detail` words it).
    public var icmp: Unreachable.Kind?

    public init(
      local: Endpoint, remote: Endpoint, succeeded: Bool, failure: Failure? = nil,
      detail: String? = nil, requests: Int = 1, rttMs: Double? = nil, checked: Bool? = nil,
      peerReflexive: Endpoint? = nil, icmp: Unreachable.Kind? = nil
    ) {
      self.icmp = icmp
      self.local = local
      self.remote = remote
      self.succeeded = succeeded
      self.failure = succeeded ? nil : failure
      self.detail = detail
      self.requests = requests
      self.rttMs = rttMs
      self.checked = checked ?? (requests > 0 || succeeded)
      self.peerReflexive = succeeded ? peerReflexive : nil
    }

    /// A host↔host pair whose answer came back through this host's NAT.
    var throughLocalNAT: Bool {
      peerReflexive != nil && local.type == .host && remote.type == .host
    }

    /// The kind of path this pair proved: its candidates' kind, or the path through the NATs
    /// when the answer came back through this host's NAT (`peerReflexive`).
    public var kind: PathKind {
      peerReflexive == nil ? .of(local.type, remote.type) : .of(.prflx, remote.type)
    }

    private enum CodingKeys: String, CodingKey {
      case local, remote, checked, succeeded, failure, detail, requests, rttMs, peerReflexive
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      local = try c.decode(Endpoint.self, forKey: .local)
      remote = try c.decode(Endpoint.self, forKey: .remote)
      checked = try c.decode(Bool.self, forKey: .checked)
      succeeded = try c.decode(Bool.self, forKey: .succeeded)
      failure = try c.decodeIfPresent(Failure.self, forKey: .failure)
      detail = try c.decodeIfPresent(String.self, forKey: .detail)
      requests = try c.decode(Int.self, forKey: .requests)
      rttMs = try c.decodeIfPresent(Double.self, forKey: .rttMs)
      peerReflexive = try c.decodeIfPresent(Endpoint.self, forKey: .peerReflexive)
      // The ICMP kind is not encoded; `detail` starts with its phrase when it was known.
      icmp = detail.flatMap { d in Unreachable.Kind.allCases.first { d.hasPrefix($0.phrase) } }
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(local, forKey: .local)
      try c.encode(remote, forKey: .remote)
      try c.encode(checked, forKey: .checked)
      try c.encode(succeeded, forKey: .succeeded)
      try c.encode(failure, forKey: .failure)
      try c.encode(detail, forKey: .detail)
      try c.encode(requests, forKey: .requests)
      try c.encode(rttMs, forKey: .rttMs)
      try c.encodeIfPresent(peerReflexive, forKey: .peerReflexive)
    }
  }

  public var schemaVersion: Int
  public var state: State
  /// When `state` is failed, one sentence saying why no pair was selected; nil when connected.
  public var reason: String?
  /// nil when no pair was selected.
  public var selectedPair: SelectedPair?
  /// Milliseconds from `timings.checksStartedMs` (both descriptions held, and for an
  /// answerer that waited, the offerer's first check) until a pair was selected, so the time
  /// a person took to paste a token is not in it; nil when none was.
  public var timeToConnectedMs: Double?
  public var timings: Timings
  public var paths: Paths
  public var prediction: Predictions
  /// This host.
  public var local: Host
  /// The peer.
  public var remote: Host
  public var candidates: Candidates
  /// Every pair that was formed, checked or not.
  public var pairs: [PairOutcome]
  /// What the checks showed of packet loss; nil when no check was sent.
  public var loss: Loss?
  /// The DTLS handshake over the selected pair (``DTLS``); nil when the session ran without
  /// DTLS configured.
  public var dtls: DTLS?
  /// The largest datagram the selected pair carried, both ways (``PathMTUResult``); nil when
  /// no search ran (`--no-path-mtu`, no pair selected, or the simulated labs).
  public var pathMTU: PathMTUResult?

  /// Packet loss as the checks saw it: `{checks, checksRetransmitted, answersLost,
  /// provenChecks, provenChecksRetransmitted, seen}`. A check that needed a retransmission
  /// before its path was open may be hole punching; loss is `seen` only from evidence that
  /// cannot be: the peer repeated a check this host had answered (`answersLost`), or a check
  /// on a pair already answered needed a retransmission (`provenChecksRetransmitted`), on
  /// paths whose round trip is well under the retransmission timeout.
  public struct Loss: Codable, Sendable, Hashable {
    /// Checks (transactions) sent, and how many needed a retransmission.
    public var checks: Int
    public var checksRetransmitted: Int
    /// Checks the peer sent again after this host had answered them.
    public var answersLost: Int
    /// Checks sent on pairs already answered once, and how many needed a retransmission.
    public var provenChecks: Int
    public var provenChecksRetransmitted: Int

    public init(
      checks: Int, checksRetransmitted: Int, answersLost: Int, provenChecks: Int,
      provenChecksRetransmitted: Int
    ) {
      self.checks = checks
      self.checksRetransmitted = checksRetransmitted
      self.answersLost = answersLost
      self.provenChecks = provenChecks
      self.provenChecksRetransmitted = provenChecksRetransmitted
    }

    /// Whether the evidence shows lost packets.
    public var seen: Bool { answersLost > 0 || provenChecksRetransmitted > 0 }

    /// One sentence when loss was seen, e.g. "Packets were lost: 12 of 40 checks needed a
    /// retransmission, and the peer asked again for 3 answers this host had sent." (the
    /// ``FindingCode/connectLoss`` finding's text).
    public var sentence: String? {
      guard seen else { return nil }
      return ConnectReportBuilder.lossFinding(self).text
    }

    private enum CodingKeys: String, CodingKey {
      case checks, checksRetransmitted, answersLost, provenChecks, provenChecksRetransmitted
      case seen
    }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      checks = try c.decode(Int.self, forKey: .checks)
      checksRetransmitted = try c.decode(Int.self, forKey: .checksRetransmitted)
      answersLost = try c.decode(Int.self, forKey: .answersLost)
      provenChecks = try c.decode(Int.self, forKey: .provenChecks)
      provenChecksRetransmitted = try c.decode(Int.self, forKey: .provenChecksRetransmitted)
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(checks, forKey: .checks)
      try c.encode(checksRetransmitted, forKey: .checksRetransmitted)
      try c.encode(answersLost, forKey: .answersLost)
      try c.encode(provenChecks, forKey: .provenChecks)
      try c.encode(provenChecksRetransmitted, forKey: .provenChecksRetransmitted)
      try c.encode(seen, forKey: .seen)
    }
  }
  /// Every claim of the report as a finding (``ConnectFindings``): the verdict, each path's
  /// reason, the predictions, the waits. The string fields (`reason`, `paths.*.reason`,
  /// `prediction.*.reason`) are these findings' texts.
  public var findings = FindingSet()

  /// Sentences about how the run was set up that weaken what it proves (`--insecure`: TLS
  /// certificates of turns: servers not verified); `[]` when none.
  public var warnings: [String] = []

  /// The warning of `--insecure` (turns: certificates not verified).
  public static let insecureWarning =
    "--insecure: TLS certificates were not verified, so anyone on the path could have answered for the turns: servers."

  public init(
    schemaVersion: Int = ConnectReport.currentSchemaVersion, state: State,
    selectedPair: SelectedPair?, timeToConnectedMs: Double?, timings: Timings, paths: Paths,
    prediction: Predictions, local: Host, remote: Host, candidates: Candidates,
    pairs: [PairOutcome], reason: String? = nil
  ) {
    self.schemaVersion = schemaVersion
    self.state = state
    self.reason = reason
    self.selectedPair = selectedPair
    self.timeToConnectedMs = timeToConnectedMs
    self.timings = timings
    self.paths = paths
    self.prediction = prediction
    self.local = local
    self.remote = remote
    self.candidates = candidates
    self.pairs = pairs
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, state, reason, selectedPair, timeToConnectedMs, timings, paths
    case prediction, local, remote, candidates, pairs, loss, warnings, findings, dtls, pathMTU
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    schemaVersion = try c.decode(Int.self, forKey: .schemaVersion)
    state = try c.decode(State.self, forKey: .state)
    reason = try c.decodeIfPresent(String.self, forKey: .reason)
    selectedPair = try c.decodeIfPresent(SelectedPair.self, forKey: .selectedPair)
    timeToConnectedMs = try c.decodeIfPresent(Double.self, forKey: .timeToConnectedMs)
    timings = try c.decode(Timings.self, forKey: .timings)
    paths = try c.decode(Paths.self, forKey: .paths)
    prediction = try c.decode(Predictions.self, forKey: .prediction)
    local = try c.decode(Host.self, forKey: .local)
    remote = try c.decode(Host.self, forKey: .remote)
    candidates = try c.decode(Candidates.self, forKey: .candidates)
    pairs = try c.decode([PairOutcome].self, forKey: .pairs)
    loss = try c.decodeIfPresent(Loss.self, forKey: .loss)
    warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
    findings = try c.decodeIfPresent(FindingSet.self, forKey: .findings) ?? FindingSet()
    dtls = try c.decodeIfPresent(DTLS.self, forKey: .dtls)
    pathMTU = try c.decodeIfPresent(PathMTUResult.self, forKey: .pathMTU)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(schemaVersion, forKey: .schemaVersion)
    try c.encode(state, forKey: .state)
    try c.encode(reason, forKey: .reason)
    // Always present: null means "none".
    try c.encode(selectedPair, forKey: .selectedPair)
    try c.encode(timeToConnectedMs, forKey: .timeToConnectedMs)
    try c.encode(timings, forKey: .timings)
    try c.encode(paths, forKey: .paths)
    try c.encode(prediction, forKey: .prediction)
    try c.encode(local, forKey: .local)
    try c.encode(remote, forKey: .remote)
    try c.encode(candidates, forKey: .candidates)
    try c.encode(pairs, forKey: .pairs)
    try c.encode(loss, forKey: .loss)
    try c.encode(warnings, forKey: .warnings)
    try c.encode(findings, forKey: .findings)
    try c.encodeIfPresent(dtls, forKey: .dtls)
    try c.encodeIfPresent(pathMTU, forKey: .pathMTU)
  }
}
