import STUN

/// A sans-IO RFC 8445 full ICE agent for one data stream with one UDP component, with
/// RFC 7675 consent freshness on the selected pair.
///
/// It never reads a clock or touches a socket. The driver adds local candidates (host sockets,
/// server-reflexive addresses from STUN, relayed addresses from TURN) and remote ones (from
/// signalling), sets the remote credentials, calls ``start(at:)``, then hands in every STUN
/// datagram that arrives on a candidate's base with ``handleInput(_:from:to:at:)`` and calls
/// ``handleTimeout(at:)`` at the last `.timeout` instant. Every call returns outputs to carry
/// out in order: `.transmit` (from a base, with its transaction ID), `.event(…)`, and last
/// `.timeout(nextDeadline)` while the agent has one.
///
/// ```swift
/// var a = ICEAgent(role: .controlling)
/// var out = a.addHostCandidate(TransportAddress("192.168.1.10:40000")!, at: now)
/// out += a.setRemoteCredentials(peerCredentials, at: now)
/// out += a.addRemoteCandidate(peerCandidate, at: now)
/// out += a.endOfLocalCandidates(at: now) + a.endOfRemoteCandidates(at: now)
/// out += a.start(at: now)   // [.event(.agentStateChanged(…)), .transmit(check), .timeout(…)]
/// ```
public struct ICEAgent: Sendable {
  /// The agent's current role (it changes on a role conflict).
  public private(set) var role: ICERole
  /// Our ufrag and password (give them to the peer through signalling).
  public let localCredentials: ICECredentials
  /// The peer's ufrag and password, once known.
  public private(set) var remoteCredentials: ICECredentials?
  /// The tunables.
  public let configuration: ICEConfiguration
  /// The tie-breaker sent in ICE-CONTROLLING / ICE-CONTROLLED.
  public let tieBreaker: UInt64
  /// The agent's state.
  public private(set) var state: ICEAgentState = .new
  /// Local candidates, in the order added.
  public private(set) var localCandidates: [Candidate] = []
  /// Remote candidates, in the order added.
  public private(set) var remoteCandidates: [Candidate] = []
  /// Every pair: the check list (highest priority first) and valid-only pairs.
  public private(set) var pairs: [CandidatePair] = []
  /// The selected pair's ID.
  public private(set) var selectedPairID: Int?
  /// Whether ``endOfLocalCandidates(at:)`` / ``endOfRemoteCandidates(at:)`` were called.
  public private(set) var localGatheringDone = false
  public private(set) var remoteGatheringDone = false
  /// Datagrams that were not STUN Binding messages or did not decode.
  public private(set) var malformedDropped = 0
  /// STUN messages refused (FINGERPRINT, USERNAME, MESSAGE-INTEGRITY, unknown transaction).
  public private(set) var rejectedMessages = 0
  /// Pairs dropped because the check list was full.
  public private(set) var prunedPairs = 0
  /// Whether an authenticated check from the peer has arrived (the peer holds our
  /// description and is checking). Until then, pairs whose checks ended get a Binding
  /// indication every ``ICEConfiguration/keepaliveInterval`` so this side's NAT stays open
  /// for the peer's checks.
  public private(set) var peerCheckReceived = false
  /// Path MTU probes from the peer answered on the selected pair (not counted as checks).
  public private(set) var pathProbesAnswered = 0

  private var rng: AnyRandomGenerator
  private var localKey: IntegrityKey?
  private var remoteKey: IntegrityKey?
  private var table: TransactionTable<Message>
  private var checks: [TransactionID: CheckContext] = [:]
  private var activeCheck: [Int: TransactionID] = [:]
  private var triggered: [Int] = []
  private var nextPairID = 1
  private var lastCheckAt: Instant?
  private var firstValidAt: Instant?
  private var foundations: [String: String] = [:]
  private var remotePrflxCount = 0
  private var useCandidateOn: Set<Int> = []
  private var nominationInFlight: Int?
  private var nominateOnSuccess: Set<Int> = []
  private var consent: Consent?
  private var outputs: [ICEAgentOutput] = []
  /// When ``handleTimeout(at:)`` should next be called (the `.timeout` every call ends with);
  /// nil once closed or failed.
  public private(set) var nextDeadline: Instant?
  /// When something last went out on each pair (check or keepalive), for the keepalives
  /// while the peer has not checked yet.
  private var lastSentOnPair: [Int: Instant] = [:]
  /// The transaction IDs of the last requests this side answered, to see the peer repeat one
  /// (its answer was lost on the way).
  private var answered: Set<TransactionID> = []
  private var answeredOrder: [TransactionID] = []

  private struct CheckContext: Sendable {
    var pairID: Int
    var localBase: TransportAddress
    var remote: TransportAddress
    var useCandidate: Bool
    var roleAtSend: ICERole
    var priority: UInt32
    var triggered: Bool
    var consent: Bool
    /// The pair had been answered before this check went out (a nominating check).
    var provenAtSend = false
  }

  private struct Consent: Sendable {
    var pairID: Int
    var lastResponseAt: Instant
    var nextRequestAt: Instant
    var lastSentAt: Instant
  }

  /// A new agent.
  /// - Parameters:
  ///   - role: the initial role (the offerer is usually controlling).
  ///   - localCredentials: our ufrag and password; nil draws fresh ones from `generator`.
  ///   - configuration: pacing, retransmission, nomination and consent settings.
  ///   - generator: the source of credentials, tie-breaker, transaction IDs and consent jitter;
  ///     `SystemRandomNumberGenerator` unless a test injects a seeded one.
  public init(
    role: ICERole, localCredentials: ICECredentials? = nil,
    configuration: ICEConfiguration = ICEConfiguration(),
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    var g = AnyRandomGenerator(generator)
    self.role = role
    self.localCredentials = localCredentials ?? ICECredentials.random(using: &g)
    self.configuration = configuration
    self.tieBreaker = g.next()
    self.rng = g
    self.localKey = try? IntegrityKey.shortTerm(password: self.localCredentials.password)
    self.table = TransactionTable(policy: configuration.checkPolicy)
  }

  // MARK: - Queries

  /// The pair with this ID.
  public func pair(id: Int) -> CandidatePair? { pairs.first { $0.id == id } }

  /// The selected pair, once nominated.
  public var selectedPair: CandidatePair? { selectedPairID.flatMap { pair(id: $0) } }

  /// The valid list, highest priority first.
  public var validPairs: [CandidatePair] { pairs.filter(\.isValid) }

  /// The check list, highest priority first.
  public var checkList: [CandidatePair] { pairs.filter(\.inCheckList) }

  /// What a ``PathMTUSearch`` on the selected pair needs so that the peer's agent answers
  /// its probes as checks; nil until a pair is selected and the peer's password is known.
  public var pathProbeIdentity: PathProbeIdentity? {
    guard let remote = remoteCredentials, let key = remoteKey, let sel = selectedPair else {
      return nil
    }
    return PathProbeIdentity(
      username: "\(remote.ufrag):\(localCredentials.ufrag)", remoteKey: key, role: role,
      tieBreaker: tieBreaker, priority: prflxPriority(sel.local))
  }

  /// A transaction ID from the agent's generator (for a session's own STUN requests, so one
  /// seeded generator makes a whole run reproducible).
  public mutating func randomTransactionID() -> TransactionID {
    TransactionID.random(using: &rng)
  }

  // MARK: - Candidates and credentials

  /// Adds a host candidate for a socket bound to `address`; `interfaceIndex` orders
  /// interfaces of one family for the local preference.
  public mutating func addHostCandidate(
    _ address: TransportAddress, interfaceIndex: Int = 0, at now: Instant
  ) -> [ICEAgentOutput] {
    let pref = configuration.localPreferences.preference(for: address.ip, index: interfaceIndex)
    let c = Candidate(
      foundation: foundation(.host, base: address.ip, server: nil),
      priority: ICEPriority.candidate(typePreference: 126, localPreference: pref),
      address: address, type: .host, base: address)
    return addLocalCandidate(c, at: now)
  }

  /// Adds a server-reflexive candidate: `mapped` as a STUN `server` saw the socket at `base`.
  /// It is dropped as redundant when it equals the base (no NAT).
  public mutating func addServerReflexiveCandidate(
    _ mapped: TransportAddress, base: TransportAddress, server: TransportAddress, at now: Instant
  ) -> [ICEAgentOutput] {
    let pref =
      localCandidates.first { $0.type == .host && $0.address == base }?.localPreference
      ?? configuration.localPreferences.preference(for: base.ip, index: 0)
    let c = Candidate(
      foundation: foundation(.srflx, base: base.ip, server: server.ip),
      priority: ICEPriority.candidate(typePreference: 100, localPreference: pref),
      address: mapped, type: .srflx, relatedAddress: base, base: base)
    return addLocalCandidate(c, at: now)
  }

  /// Adds a relayed candidate from a TURN allocation. Its base is the relayed address itself;
  /// checks on it are sent "from" `relayed` and the driver routes them through the relay.
  public mutating func addRelayedCandidate(
    _ relayed: TransportAddress, mappedAddress: TransportAddress?, server: TransportAddress,
    at now: Instant
  ) -> [ICEAgentOutput] {
    let pref = configuration.localPreferences.preference(for: relayed.ip, index: 0)
    let c = Candidate(
      foundation: foundation(.relay, base: relayed.ip, server: server.ip),
      priority: ICEPriority.candidate(typePreference: 0, localPreference: pref),
      address: relayed, type: .relay, relatedAddress: mappedAddress ?? server, base: relayed)
    return addLocalCandidate(c, at: now)
  }

  /// Adds a local candidate built by the caller (its base defaults to its address).
  public mutating func addLocalCandidate(_ candidate: Candidate, at now: Instant)
    -> [ICEAgentOutput]
  {
    var c = candidate
    if c.base == nil { c.base = c.address }
    guard state != .closed, state != .failed else { return flush(now) }
    if localCandidates.contains(where: { $0.address == c.address && $0.base == c.base })
      || (c.type == .srflx && c.address == c.base)
    {
      emit(.candidateRedundant(c))
      return flush(now)
    }
    localCandidates.append(c)
    emit(.candidateGathered(c))
    if c.type != .prflx {
      for r in remoteCandidates { formPair(local: c, remote: r, now: now) }
    }
    return flush(now)
  }

  /// No more local candidates will be added.
  public mutating func endOfLocalCandidates(at now: Instant) -> [ICEAgentOutput] {
    if !localGatheringDone {
      localGatheringDone = true
      emit(.gatheringDone(localCandidates: localCandidates.count))
    }
    return flush(now)
  }

  /// Sets the peer's ufrag and password (from signalling).
  public mutating func setRemoteCredentials(_ credentials: ICECredentials, at now: Instant)
    -> [ICEAgentOutput]
  {
    remoteCredentials = credentials
    remoteKey = try? IntegrityKey.shortTerm(password: credentials.password)
    return flush(now)
  }

  /// Adds a remote candidate (from signalling) and pairs it with the local candidates.
  public mutating func addRemoteCandidate(_ candidate: Candidate, at now: Instant)
    -> [ICEAgentOutput]
  {
    guard state != .closed, state != .failed else { return flush(now) }
    var c = candidate
    c.base = nil
    guard c.component == 1 else {
      emit(
        .remoteCandidateRejected(c, reason: "component \(c.component); only component 1 is used"))
      return flush(now)
    }
    guard c.transport.lowercased() == "udp" else {
      emit(.remoteCandidateRejected(c, reason: "transport \(c.transport); only UDP is supported"))
      return flush(now)
    }
    if let k = remoteCandidates.firstIndex(where: { $0.address == c.address }) {
      guard remoteCandidates[k].type == .prflx, c.type != .prflx else {
        emit(.remoteCandidateRejected(c, reason: "duplicate of \(remoteCandidates[k])"))
        return flush(now)
      }
      // A signalled candidate replaces the peer-reflexive one learnt from a check.
      remoteCandidates[k] = c
      for i in pairs.indices where pairs[i].remote.address == c.address { pairs[i].remote = c }
      recomputePriorities()
      emit(.remoteCandidateAdded(c))
    } else {
      remoteCandidates.append(c)
      emit(.remoteCandidateAdded(c))
    }
    for l in localCandidates where l.type != .prflx { formPair(local: l, remote: c, now: now) }
    return flush(now)
  }

  /// The peer has no more candidates.
  public mutating func endOfRemoteCandidates(at now: Instant) -> [ICEAgentOutput] {
    if !remoteGatheringDone {
      remoteGatheringDone = true
      emit(.remoteGatheringDone)
    }
    return flush(now)
  }

  /// Puts the check-list pairs whose checks went unanswered back to Waiting, to be checked
  /// again (paced as usual). An answerer calls this when its answer leaves: checks it sent
  /// before then could not be answered through a NAT that the offerer only opens once it holds
  /// the answer, so their timeouts say nothing yet. Pairs that failed for another reason (an
  /// ICMP error, an error response) stay failed.
  public mutating func recheckUnansweredPairs(at now: Instant) -> [ICEAgentOutput] {
    guard state == .checking || state == .connected || state == .new else { return flush(now) }
    for i in pairs.indices where pairs[i].inCheckList && pairs[i].state == .failed {
      guard case .timeout? = pairs[i].failureReason else { continue }
      setPairState(i, .waiting, .recheck, now)
    }
    return flush(now)
  }

  // MARK: - Running

  /// Starts connectivity checks: unfreezes one pair per foundation (RFC 8445 §6.1.2.6) and
  /// sends the first check (once remote credentials are known).
  public mutating func start(at now: Instant) -> [ICEAgentOutput] {
    guard state == .new else { return flush(now) }
    setAgentState(.checking, reason: nil)
    var seen: Set<String> = []
    for i in pairs.indices where pairs[i].inCheckList && pairs[i].state == .frozen {
      if seen.insert(pairs[i].foundation).inserted {
        setPairState(i, .waiting, .unfrozen, now)
      }
    }
    return flush(now)
  }

  /// Advances time: retransmissions and timeouts, the next paced check, nomination, consent
  /// and keepalives.
  public mutating func handleTimeout(at now: Instant) -> [ICEAgentOutput] {
    guard state != .closed else { return [] }
    processTable(table.handleTimeout(at: now), now: now)
    return flush(now)
  }

  /// Handles a datagram that arrived from `source` on the local base `localBase` (a host
  /// socket's address, or a relayed address). Non-STUN and malformed datagrams are dropped and
  /// counted.
  public mutating func handleInput(
    _ bytes: [UInt8], from source: TransportAddress, to localBase: TransportAddress,
    at now: Instant
  ) -> [ICEAgentOutput] {
    guard state != .closed, state != .failed else { return [] }
    guard PacketKind.classify(bytes) == .stun, let m = try? Message(bytes: bytes) else {
      malformedDropped += 1
      return flush(now)
    }
    return handleInput(message: m, from: source, to: localBase, at: now)
  }

  /// Handles a STUN message already decoded from a datagram (the session decodes each datagram
  /// once, to route it): as ``handleInput(_:from:to:at:)`` does after decoding.
  public mutating func handleInput(
    message m: Message, from source: TransportAddress, to localBase: TransportAddress,
    at now: Instant
  ) -> [ICEAgentOutput] {
    guard state != .closed, state != .failed else { return [] }
    guard m.method == .binding else {
      malformedDropped += 1
      return flush(now)
    }
    guard m.hasFingerprint, m.verifyFingerprint() else {
      reject(source, "FINGERPRINT missing or wrong")
      return flush(now)
    }
    switch m.messageClass {
    case .request: handleRequest(m, from: source, to: localBase, now: now)
    case .successResponse, .errorResponse: handleResponse(m, from: source, to: localBase, now: now)
    default: break  // Binding indications are keepalives.
    }
    return flush(now)
  }

  /// The network reported `remote` unreachable from `localBase` (ICMP): checks in progress
  /// to it fail at once.
  public mutating func handleUnreachable(
    _ remote: TransportAddress, from localBase: TransportAddress, at now: Instant
  ) -> [ICEAgentOutput] {
    for (id, ctx) in checks where ctx.remote == remote && ctx.localBase == localBase && !ctx.consent
    {
      table.cancel(id: id)
      checks[id] = nil
      if let i = index(ctx.pairID), activeCheck[ctx.pairID] == id {
        failPair(i, .unreachable, now)
      }
    }
    _ = table.removeFinished()
    return flush(now)
  }

  /// Stops everything; no further outputs except the state change.
  public mutating func close(at now: Instant) -> [ICEAgentOutput] {
    guard state != .closed else { return [] }
    for id in checks.keys { table.cancel(id: id) }
    checks.removeAll()
    triggered.removeAll()
    consent = nil
    setAgentState(.closed, reason: "closed by its owner")
    nextDeadline = nil
    let out = outputs
    outputs = []
    return out
  }

  // MARK: - Pairs

  private func index(_ id: Int) -> Int? { pairs.firstIndex { $0.id == id } }

  private mutating func foundation(_ type: CandidateType, base: IPAddress, server: IPAddress?)
    -> String
  {
    let key = "\(type.rawValue)|\(base)|\(server.map { "\($0)" } ?? "-")|udp"
    if let f = foundations[key] { return f }
    let f = String(foundations.count + 1)
    foundations[key] = f
    return f
  }

  private func pairPriority(local: Candidate, remote: Candidate) -> UInt64 {
    role == .controlling
      ? ICEPriority.pair(controlling: local.priority, controlled: remote.priority)
      : ICEPriority.pair(controlling: remote.priority, controlled: local.priority)
  }

  private mutating func recomputePriorities() {
    for i in pairs.indices {
      pairs[i].priority = pairPriority(local: pairs[i].local, remote: pairs[i].remote)
    }
    sortPairs()
  }

  private mutating func sortPairs() {
    pairs.sort { ICEPriority.precedes(($0.priority, $0.id), ($1.priority, $1.id)) }
  }

  /// Pairs `local` with `remote` for the check list (RFC 8445 §6.1.2.2–6.1.2.5): same
  /// component and family; a server-reflexive local candidate is replaced by its base; a pair
  /// redundant with an existing one (same base, same remote) is not added.
  @discardableResult
  private mutating func formPair(local: Candidate, remote: Candidate, now: Instant) -> Int? {
    guard local.component == remote.component,
      local.address.ip.family == remote.address.ip.family,
      local.address.ip.isLinkLocal == remote.address.ip.isLinkLocal
    else { return nil }
    var l = local
    if l.type == .srflx || l.type == .prflx,
      let host = localCandidates.first(where: { $0.type == .host && $0.address == l.base })
    {
      l = host
    }
    let base = l.base ?? l.address
    if let existing = pairs.first(where: {
      $0.inCheckList && $0.localBase == base && $0.remote.address == remote.address
    }) {
      return existing.id
    }
    let id = nextPairID
    nextPairID += 1
    var p = CandidatePair(
      id: id, local: l, remote: remote, priority: pairPriority(local: l, remote: remote),
      state: .frozen, inCheckList: true)
    p.stats.history.append(CandidatePairTransition(state: .frozen, at: now, reason: nil))
    pairs.append(p)
    sortPairs()
    emit(.pairAdded(ICEPairSummary(p), inCheckList: true))
    if state == .checking || state == .connected,
      !pairs.contains(where: {
        $0.id != id && $0.foundation == p.foundation
          && ($0.state == .waiting || $0.state == .inProgress)
      }), let i = index(id)
    {
      setPairState(i, .waiting, .unfrozen, now)
    }
    enforcePairLimit(now)
    return index(id) == nil ? nil : id
  }

  private mutating func enforcePairLimit(_ now: Instant) {
    while pairs.filter(\.inCheckList).count > configuration.maxPairs {
      guard
        let victim = pairs.lastIndex(where: {
          $0.inCheckList && ($0.state == .frozen || $0.state == .waiting)
        })
      else { return }
      let id = pairs[victim].id
      pairs.remove(at: victim)
      triggered.removeAll { $0 == id }
      prunedPairs += 1
      emit(
        .pairPruned(
          pairID: id,
          reason: .pruned("the check list is limited to \(configuration.maxPairs) pairs")))
    }
  }

  /// A pair outside the check list for a valid pair whose local candidate is reflexive.
  private mutating func validOnlyPair(local: Candidate, remote: Candidate, now: Instant) -> Int {
    if let p = pairs.first(where: {
      $0.local.address == local.address && $0.localBase == (local.base ?? local.address)
        && $0.remote.address == remote.address
    }) {
      return p.id
    }
    let id = nextPairID
    nextPairID += 1
    var p = CandidatePair(
      id: id, local: local, remote: remote, priority: pairPriority(local: local, remote: remote),
      state: .succeeded, inCheckList: false)
    p.stats.history.append(CandidatePairTransition(state: .succeeded, at: now, reason: .succeeded))
    pairs.append(p)
    sortPairs()
    emit(.pairAdded(ICEPairSummary(p), inCheckList: false))
    return id
  }

  private mutating func setPairState(
    _ i: Int, _ to: CandidatePairState, _ reason: ICEPairReason?, _ now: Instant
  ) {
    let from = pairs[i].state
    guard from != to else { return }
    pairs[i].state = to
    pairs[i].stats.history.append(CandidatePairTransition(state: to, at: now, reason: reason))
    if to != .failed { pairs[i].failureReason = nil }
    emit(
      .pairStateChanged(
        pairID: pairs[i].id, from: from, to: to, reason: reason,
        rttMs: to == .succeeded && reason == .succeeded ? pairs[i].stats.lastRTTMs : nil))
  }

  private mutating func failPair(_ i: Int, _ reason: ICEPairReason, _ now: Instant) {
    let id = pairs[i].id
    activeCheck[id] = nil
    triggered.removeAll { $0 == id }
    useCandidateOn.remove(id)
    if nominationInFlight == id { nominationInFlight = nil }
    pairs[i].failureReason = reason
    setPairState(i, .failed, reason, now)
    if let v = pairs[i].validPairID, v != id, let vi = index(v), !pairs[vi].nominated {
      pairs[vi].isValid = false
    }
    if !pairs[i].nominated { pairs[i].isValid = false }
  }

  private mutating func enqueueTriggered(_ i: Int, _ reason: ICEPairReason, _ now: Instant) {
    let id = pairs[i].id
    if pairs[i].state != .inProgress { setPairState(i, .waiting, reason, now) }
    if !triggered.contains(id) { triggered.append(id) }
  }

  // MARK: - Sending checks

  /// The PRIORITY a check carries: the local candidate's priority as a peer-reflexive one.
  private func prflxPriority(_ local: Candidate) -> UInt32 {
    ICEPriority.candidate(
      typePreference: CandidateType.prflx.defaultTypePreference,
      localPreference: local.localPreference, component: local.component)
  }

  private mutating func buildRequest(
    id: TransactionID, priority: UInt32, useCandidate: Bool
  ) -> [UInt8]? {
    guard let remote = remoteCredentials, let key = remoteKey else { return nil }
    var b = MessageBuilder(type: .bindingRequest, transactionID: id, capacity: 128)
    b.add(Username("\(remote.ufrag):\(localCredentials.ufrag)"))
    b.add(Priority(priority))
    switch role {
    case .controlling: b.add(ICEControlling(tieBreaker))
    case .controlled: b.add(ICEControlled(tieBreaker))
    }
    if useCandidate { b.add(UseCandidate()) }
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    return b.bytes
  }

  private mutating func sendCheck(_ i: Int, triggered isTriggered: Bool, _ now: Instant) {
    let pair = pairs[i]
    let useCandidate =
      role == .controlling
      && (configuration.nomination == .aggressive || useCandidateOn.contains(pair.id))
    let id = randomTransactionID()
    let priority = prflxPriority(pair.local)
    guard let bytes = buildRequest(id: id, priority: priority, useCandidate: useCandidate) else {
      return
    }
    // An earlier transaction on the pair keeps running (its answer still counts, RFC 8445
    // §7.3.1.4), but no longer fails the pair if it goes unanswered.
    checks[id] = CheckContext(
      pairID: pair.id, localBase: pair.localBase, remote: pair.remote.address,
      useCandidate: useCandidate, roleAtSend: role, priority: priority, triggered: isTriggered,
      consent: false, provenAtSend: pair.validPairID != nil)
    if pair.validPairID != nil { pairs[i].stats.checksOnProvenPath += 1 }
    activeCheck[pair.id] = id
    lastCheckAt = now
    lastSentOnPair[pair.id] = now
    pairs[i].stats.requestsSent += 1
    setPairState(i, .inProgress, .checkSent(triggered: isTriggered), now)
    processTable(table.start(id: id, request: bytes, to: pair.remote.address, at: now), now: now)
  }

  /// Sends at most one check, respecting Ta (RFC 8445 §6.1.4.2): a triggered check first,
  /// else the highest-priority Waiting pair, else unfreezes the best Frozen pair whose
  /// foundation has nothing Waiting or In-Progress.
  private mutating func pump(_ now: Instant) {
    guard state == .checking || state == .connected || nominationInFlight != nil,
      remoteKey != nil
    else { return }
    // The nomination check does not wait for Ta: it repeats a check on a path already proven,
    // opens no new NAT binding and is sent once per session (RFC 8445 §14 paces Ta to bound
    // the rate of new bindings and transactions; one early transaction does not change it).
    let nominationNext = triggered.first.map { $0 == nominationInFlight } ?? false
    if let last = lastCheckAt, now < last + configuration.pacing, !nominationNext { return }
    while let id = triggered.first {
      triggered.removeFirst()
      guard let i = index(id), pairs[i].state != .failed || useCandidateOn.contains(id) else {
        continue
      }
      if pairs[i].state == .inProgress, let t = activeCheck[id], checks[t]?.triggered == true,
        !useCandidateOn.contains(id)
      {
        continue
      }
      sendCheck(i, triggered: true, now)
      return
    }
    guard state == .checking || state == .connected else { return }
    if let i = pairs.firstIndex(where: { $0.inCheckList && $0.state == .waiting }) {
      sendCheck(i, triggered: false, now)
      return
    }
    let active = Set(
      pairs.filter { $0.state == .waiting || $0.state == .inProgress }.map(\.foundation))
    if let i = pairs.firstIndex(where: {
      $0.inCheckList && $0.state == .frozen && !active.contains($0.foundation)
    }) {
      setPairState(i, .waiting, .unfrozen, now)
      sendCheck(i, triggered: false, now)
    }
  }

  /// Whether ``pump(_:)`` would send a check once Ta allows (so a wake is worth having).
  private var hasCheckWork: Bool {
    guard remoteKey != nil, state != .new else { return false }
    let checking = state == .checking || state == .connected
    if !triggered.isEmpty && (checking || nominationInFlight != nil) { return true }
    guard checking else { return false }
    if pairs.contains(where: { $0.inCheckList && $0.state == .waiting }) { return true }
    let active = Set(
      pairs.filter { $0.state == .waiting || $0.state == .inProgress }.map(\.foundation))
    return pairs.contains {
      $0.inCheckList && $0.state == .frozen && !active.contains($0.foundation)
    }
  }

  private mutating func processTable(_ outs: [TransactionTable<Message>.Output], now: Instant) {
    for o in outs {
      switch o {
      case .transmit(let t):
        guard let id = t.transactionID, let ctx = checks[id] else { continue }
        let to = t.to
        outputs.append(
          .transmit(Transmit(bytes: t.bytes, from: ctx.localBase, to: to, transactionID: id)))
        let attempt = table[id]?.attempts ?? 1
        if let i = index(ctx.pairID) {
          if ctx.consent {
            if attempt == 1 { pairs[i].stats.consentRequestsSent += 1 }
          } else {
            if attempt > 1 { pairs[i].stats.retransmissions += 1 }
            if attempt == 2 {
              pairs[i].stats.checksRetransmitted += 1
              if ctx.provenAtSend && roundTripIsShort(pairs[i]) {
                pairs[i].stats.checksOnProvenPathRetransmitted += 1
              }
            }
            emit(
              .checkSent(
                pairID: ctx.pairID, from: ctx.localBase, to: to, attempt: attempt,
                useCandidate: ctx.useCandidate, triggered: ctx.triggered))
          }
        }
        if ctx.pairID == consent?.pairID { consent?.lastSentAt = now }
      case .timeout:
        break
      case .event(.completed(let id, let response, let rtt, _)):
        guard let ctx = checks.removeValue(forKey: id) else { continue }
        if activeCheck[ctx.pairID] == id { activeCheck[ctx.pairID] = nil }
        checkCompleted(ctx, response, rtt: rtt, now)
      case .event(.failed(let id, let failure)):
        guard let ctx = checks.removeValue(forKey: id) else { continue }
        guard activeCheck[ctx.pairID] == id else { continue }
        activeCheck[ctx.pairID] = nil
        if case .timedOut(let n) = failure, !ctx.consent, let i = index(ctx.pairID) {
          if mayRetry(i, ctx) {
            retry(i, nominating: ctx.useCandidate)
          } else {
            failPair(i, .timeout(attempts: n), now)
          }
        }
      }
    }
    _ = table.removeFinished()
  }

  /// Whether a check that went unanswered should be sent again rather than fail its pair:
  /// when the path has shown it works (the peer's checks arrive on it, or an earlier check
  /// was answered), a whole unanswered transaction means loss, not a closed path. A
  /// nominating check that goes unanswered moves nomination to the next valid pair when there
  /// is one, and is retried only when there is none. At most `provenPathRetries` times per
  /// pair.
  private func mayRetry(_ i: Int, _ ctx: CheckContext) -> Bool {
    let p = pairs[i]
    guard p.stats.checksRetried < configuration.provenPathRetries,
      state == .checking || state == .connected
    else { return false }
    if ctx.useCandidate {
      let otherValid = pairs.contains { $0.isValid && $0.id != p.id && $0.id != p.validPairID }
      return !otherValid
    }
    return ctx.provenAtSend || p.validPairID != nil || p.stats.requestsReceived > 0
      || nominateOnSuccess.contains(p.id)
  }

  /// Whether the pair's measured round trip is well under the check RTO, so that a repeated
  /// or retransmitted request on it means a lost packet, not a slow path.
  private func roundTripIsShort(_ p: CandidatePair) -> Bool {
    guard let rtt = p.stats.minRTTMs else { return false }
    return rtt < configuration.checkPolicy.initialRTO.milliseconds * 0.8
  }

  /// Queues the pair's check again (first when it nominates); the pair stays In-Progress.
  private mutating func retry(_ i: Int, nominating: Bool) {
    let id = pairs[i].id
    pairs[i].stats.checksRetried += 1
    triggered.removeAll { $0 == id }
    if nominating { triggered.insert(id, at: 0) } else { triggered.append(id) }
  }

  // MARK: - Responses

  private mutating func handleResponse(
    _ m: Message, from source: TransportAddress, to localBase: TransportAddress, now: Instant
  ) {
    guard let ctx = checks[m.transactionID] else {
      reject(source, "response matches no check in progress")
      return
    }
    if m.hasMessageIntegrity {
      guard let key = remoteKey, m.verifyMessageIntegrity(key: key) else {
        reject(source, "response MESSAGE-INTEGRITY does not match the peer's password")
        return
      }
    } else if m.messageClass == .successResponse {
      reject(source, "success response without MESSAGE-INTEGRITY")
      return
    }
    if source != ctx.remote || localBase != ctx.localBase {
      table.cancel(id: m.transactionID)
      checks[m.transactionID] = nil
      if !ctx.consent, activeCheck[ctx.pairID] == m.transactionID, let i = index(ctx.pairID) {
        activeCheck[ctx.pairID] = nil
        failPair(i, .nonSymmetric, now)
      }
      _ = table.removeFinished()
      return
    }
    processTable(
      table.handleInput(id: m.transactionID, from: source, at: now, response: m), now: now)
  }

  private mutating func checkCompleted(
    _ ctx: CheckContext, _ m: Message, rtt: RTTSample, _ now: Instant
  ) {
    guard let i = index(ctx.pairID) else { return }
    pairs[i].stats.responsesReceived += 1
    if ctx.consent {
      if m.messageClass == .successResponse {
        pairs[i].stats.consentResponsesReceived += 1
        pairs[i].stats.addRTT(rtt.duration)
        consentAnswered(now)
      }
      return
    }
    if m.messageClass == .errorResponse {
      let ec = try? m.get(ErrorCodeAttribute.self)
      let code = Int(ec?.code.rawValue ?? 0)
      if code == 487 {
        if ctx.roleAtSend == role {
          switchRole(
            to: role == .controlling ? .controlled : .controlling,
            reason: "the peer answered 487 Role Conflict (RFC 8445 §7.2.5.1)")
        }
        enqueueTriggered(i, .roleConflict, now)
        return
      }
      failPair(i, .errorCode(code: code, reason: WireText.display(ec?.reason ?? "")), now)
      return
    }
    guard let mapped = (try? m.get(XORMappedAddress.self))?.address else {
      failPair(i, .errorCode(code: 0, reason: "success response without XOR-MAPPED-ADDRESS"), now)
      return
    }
    pairs[i].stats.addRTT(rtt.duration)
    setPairState(i, .succeeded, .succeeded, now)
    // Other checks still running on this pair have nothing left to prove.
    for (id, other) in checks where other.pairID == ctx.pairID && !other.consent {
      table.cancel(id: id)
      checks[id] = nil
    }
    activeCheck[ctx.pairID] = nil
    triggered.removeAll { $0 == ctx.pairID && !useCandidateOn.contains(ctx.pairID) }
    let pair = pairs[i]
    for k in pairs.indices
    where pairs[k].inCheckList && pairs[k].state == .frozen
      && pairs[k].foundation == pair.foundation
    {
      setPairState(k, .waiting, .foundationSucceeded, now)
    }
    // The valid pair (RFC 8445 §7.2.5.3.2).
    let validID: Int
    if mapped == pair.local.address {
      validID = pair.id
    } else if let known = localCandidates.first(where: {
      $0.address == mapped && ($0.base ?? $0.address) == pair.localBase
    }) {
      validID = validOnlyPair(local: known, remote: pair.remote, now: now)
    } else {
      let prflx = Candidate(
        foundation: foundation(.prflx, base: pair.localBase.ip, server: nil),
        priority: ctx.priority, address: mapped, type: .prflx, relatedAddress: pair.localBase,
        base: pair.localBase)
      localCandidates.append(prflx)
      emit(.candidateGathered(prflx))
      validID = validOnlyPair(local: prflx, remote: pair.remote, now: now)
    }
    guard let ii = index(ctx.pairID), let vi = index(validID) else { return }
    pairs[ii].validPairID = validID
    if !pairs[vi].isValid {
      pairs[vi].isValid = true
      emit(.pairValid(pairID: validID))
    }
    if firstValidAt == nil { firstValidAt = now }
    if state == .checking { setAgentState(.connected, reason: "pair #\(validID) is valid") }
    if role == .controlling && ctx.useCandidate {
      if nominationInFlight == ctx.pairID { nominationInFlight = nil }
      useCandidateOn.remove(ctx.pairID)
      nominate(validID, now)
    } else if role == .controlled && nominateOnSuccess.remove(ctx.pairID) != nil {
      nominate(validID, now)
    }
  }

  // MARK: - Requests

  private mutating func handleRequest(
    _ m: Message, from source: TransportAddress, to localBase: TransportAddress, now: Instant
  ) {
    guard let username = (try? m.get(Username.self))?.text, m.hasMessageIntegrity else {
      reject(source, "check without USERNAME or MESSAGE-INTEGRITY")
      sendError(m, .badRequest, from: localBase, to: source)
      return
    }
    guard username.hasPrefix(localCredentials.ufrag + ":") else {
      reject(source, "check USERNAME does not start with our ufrag")
      sendError(m, .unauthenticated, from: localBase, to: source)
      return
    }
    guard let key = localKey, m.verifyMessageIntegrity(key: key) else {
      reject(source, "check MESSAGE-INTEGRITY does not match our password")
      sendError(m, .unauthenticated, from: localBase, to: source)
      return
    }
    let unknown = m.unknownComprehensionRequired
    if !unknown.isEmpty {
      reject(source, "check with unknown comprehension-required attributes")
      var b = MessageBuilder(type: .bindingError, transactionID: m.transactionID)
      b.add(ErrorCodeAttribute(.unknownAttribute))
      b.add(UnknownAttributes(unknown))
      b.addMessageIntegrity(key: key)
      b.addFingerprint()
      outputs.append(
        .transmit(
          Transmit(bytes: b.bytes, from: localBase, to: source, transactionID: m.transactionID)))
      return
    }
    guard let priority = (try? m.get(Priority.self))?.value else {
      reject(source, "check without PRIORITY")
      sendError(m, .badRequest, from: localBase, to: source, key: key)
      return
    }
    // Role conflict (RFC 8445 §7.3.1.1).
    if role == .controlling, let theirs = try? m.get(ICEControlling.self) {
      if tieBreaker >= theirs.tieBreaker {
        sendError(m, .roleConflict, from: localBase, to: source, key: key)
        return
      }
      switchRole(
        to: .controlled, reason: "both agents were controlling; the peer's tie-breaker is larger")
    } else if role == .controlled, let theirs = try? m.get(ICEControlled.self) {
      if tieBreaker >= theirs.tieBreaker {
        switchRole(
          to: .controlling, reason: "both agents were controlled; our tie-breaker is larger")
      } else {
        sendError(m, .roleConflict, from: localBase, to: source, key: key)
        return
      }
    }
    if m.contains(.padding) || m.contains(.responseSize), let sel = selectedPair,
      sel.localBase == localBase, sel.remote.address == source
    {
      answerPathProbe(m, from: localBase, to: source, key: key)
      return
    }
    let repeated = answered.contains(m.transactionID)
    if !repeated {
      answered.insert(m.transactionID)
      answeredOrder.append(m.transactionID)
      if answeredOrder.count > 512 { answered.remove(answeredOrder.removeFirst()) }
    }
    var b = MessageBuilder(type: .bindingSuccess, transactionID: m.transactionID)
    b.add(XORMappedAddress(source))
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    outputs.append(
      .transmit(
        Transmit(bytes: b.bytes, from: localBase, to: source, transactionID: m.transactionID)))
    peerCheckReceived = true
    if consent?.pairID != nil, let sel = selectedPair, sel.localBase == localBase,
      sel.remote.address == source
    {
      consent?.lastSentAt = now
    }
    // Remote peer-reflexive candidate (RFC 8445 §7.3.1.3).
    let remote: Candidate
    if let r = remoteCandidates.first(where: { $0.address == source }) {
      remote = r
    } else {
      remotePrflxCount += 1
      remote = Candidate(
        foundation: "prflx\(remotePrflxCount)", priority: priority, address: source, type: .prflx)
      remoteCandidates.append(remote)
      emit(.remoteCandidateAdded(remote))
    }
    let useCandidate = m.contains(.useCandidate)
    guard
      let local = localCandidates.first(where: {
        ($0.type == .host || $0.type == .relay) && $0.address == localBase
      })
    else { return }
    // Triggered check (RFC 8445 §7.3.1.4).
    let existing = pairs.first {
      $0.inCheckList && $0.localBase == localBase && $0.remote.address == source
    }
    let pairID: Int
    if let existing {
      pairID = existing.id
    } else {
      guard state == .new || state == .checking || state == .connected,
        let id = formPair(local: local, remote: remote, now: now)
      else {
        return
      }
      pairID = id
    }
    guard let i = index(pairID) else { return }
    pairs[i].stats.requestsReceived += 1
    pairs[i].stats.responsesSent += 1
    if repeated && roundTripIsShort(pairs[i]) { pairs[i].stats.requestsRepeatedByPeer += 1 }
    emit(.checkReceived(pairID: pairID, from: source, useCandidate: useCandidate))
    switch pairs[i].state {
    case .succeeded:
      break
    case .inProgress:
      // RFC 8445 §7.3.1.4: the peer's check just opened the path our check may have been
      // dropped on, so check again now rather than at the next retransmission (once: not
      // when the check in progress is already a triggered one).
      if let t = activeCheck[pairID], checks[t]?.triggered == false,
        state == .checking || state == .connected, !triggered.contains(pairID)
      {
        triggered.append(pairID)
      }
    case .waiting, .frozen, .failed:
      if state == .checking || state == .connected || state == .new {
        enqueueTriggered(i, .triggeredByIncomingCheck, now)
      }
    }
    // Nomination by the controlling peer (RFC 8445 §7.3.1.5).
    if useCandidate && role == .controlled {
      if pairs[i].state == .succeeded, let v = pairs[i].validPairID {
        nominate(v, now)
      } else {
        nominateOnSuccess.insert(pairID)
      }
    }
  }

  /// Answers a path MTU probe on the selected pair (``PathMTUSearch``): a success response,
  /// padded to the size NATSCOPE-RESPONSE-SIZE asks for (at most ``ResponseSize/maximum``),
  /// sent with the don't-fragment bit. It is no check: the pair's statistics and state stay
  /// as ICE left them.
  private mutating func answerPathProbe(
    _ m: Message, from localBase: TransportAddress, to source: TransportAddress,
    key: IntegrityKey
  ) {
    pathProbesAnswered += 1
    func build(padding: Int?) -> [UInt8] {
      var b = MessageBuilder(type: .bindingSuccess, transactionID: m.transactionID)
      b.add(XORMappedAddress(source))
      if let padding { b.add(Padding(count: padding)) }
      b.addMessageIntegrity(key: key)
      b.addFingerprint()
      return b.bytes
    }
    var bytes = build(padding: nil)
    let asked = min((try? m.get(ResponseSize.self))?.size ?? 0, ResponseSize.maximum)
    let fill = (asked - bytes.count - 4) / 4 * 4
    if fill >= 0 { bytes = build(padding: fill) }
    outputs.append(
      .transmit(
        Transmit(
          bytes: bytes, from: localBase, to: source, transactionID: m.transactionID,
          dontFragment: fill >= 0)))
  }

  private mutating func sendError(
    _ request: Message, _ code: ErrorCode, from localBase: TransportAddress,
    to source: TransportAddress, key: IntegrityKey? = nil
  ) {
    var b = MessageBuilder(type: .bindingError, transactionID: request.transactionID)
    b.add(ErrorCodeAttribute(code))
    if let key { b.addMessageIntegrity(key: key) }
    b.addFingerprint()
    outputs.append(
      .transmit(
        Transmit(
          bytes: b.bytes, from: localBase, to: source, transactionID: request.transactionID)))
  }

  private mutating func reject(_ source: TransportAddress, _ reason: String) {
    rejectedMessages += 1
    emit(.messageRejected(from: source, reason: reason))
  }

  private mutating func switchRole(to newRole: ICERole, reason: String) {
    guard newRole != role else { return }
    let old = role
    role = newRole
    if newRole == .controlled {
      useCandidateOn.removeAll()
      nominationInFlight = nil
    }
    recomputePriorities()
    emit(
      .roleChanged(
        from: old, to: newRole, reason: reason,
        priorities: Dictionary(uniqueKeysWithValues: pairs.map { ($0.id, $0.priority) })))
  }

  // MARK: - Nomination and selection

  private mutating func maybeNominate(_ now: Instant) {
    guard role == .controlling, configuration.nomination == .regular, state == .connected,
      nominationInFlight == nil, !pairs.contains(where: \.nominated)
    else { return }
    guard let best = pairs.first(where: \.isValid), let generator = generator(of: best),
      now >= nominationTime(best: best, generator: generator, now: now)
    else { return }
    nominationInFlight = generator.id
    useCandidateOn.insert(generator.id)
    if !triggered.contains(generator.id) { triggered.insert(generator.id, at: 0) }
  }

  /// The check-list pair whose success produced the valid pair `valid`.
  private func generator(of valid: CandidatePair) -> CandidatePair? {
    pairs.first { $0.inCheckList && $0.validPairID == valid.id && $0.state == .succeeded }
  }

  /// When regular nomination may pick `best`: at once when no pair of higher priority is still
  /// pending. A pending pair that waits for the peer's checks (one with a reflexive or relayed
  /// candidate: hole punching) holds nomination back for the whole `nominationDelay`. A pending
  /// pair of two host candidates needs no help from the peer's NAT, so it holds nomination back
  /// only until its first check has gone unanswered for `hostPairPatience`, or four round trips
  /// of the path that works, whichever is longer.
  private func nominationTime(best: CandidatePair, generator: CandidatePair, now: Instant)
    -> Instant
  {
    let latest = (firstValidAt ?? now) + configuration.nominationDelay
    let rtt = (generator.stats.minRTTMs ?? best.stats.minRTTMs).map {
      Duration.nanoseconds(Int64($0 * 4e6))
    }
    let patience = Swift.max(configuration.hostPairPatience, rtt ?? .zero)
    var due = now
    for p in pairs where p.inCheckList && p.priority > best.priority {
      switch p.state {
      case .succeeded, .failed: continue
      case .frozen, .waiting: return latest
      case .inProgress:
        guard p.local.type == .host, p.remote.type == .host,
          let sent = p.stats.history.first(where: { $0.state == .inProgress })?.at
        else { return latest }
        due = Swift.max(due, sent + patience)
      }
    }
    return Swift.min(due, latest)
  }

  private mutating func nominate(_ validID: Int, _ now: Instant) {
    guard let v = index(validID), !pairs[v].nominated else { return }
    pairs[v].nominated = true
    emit(.pairNominated(pairID: validID))
    guard let best = pairs.first(where: { $0.nominated && $0.isValid }) else { return }
    if selectedPairID != best.id {
      selectedPairID = best.id
      emit(.selectedPairChanged(ICEPairSummary(best)))
      if let interval = configuration.consentInterval {
        consent = Consent(
          pairID: best.id, lastResponseAt: now, nextRequestAt: now + jittered(interval),
          lastSentAt: now)
      } else {
        consent = Consent(
          pairID: best.id, lastResponseAt: now, nextRequestAt: .distantFuture, lastSentAt: now)
      }
    }
    if state == .checking || state == .connected {
      setAgentState(
        .completed, reason: "pair #\(best.id) nominated: \(best.local) -> \(best.remote)")
    }
  }

  // MARK: - Consent freshness (RFC 7675) and keepalives

  private mutating func jittered(_ d: Duration) -> Duration {
    let f = 0.8 + 0.4 * Double(rng.next() % 1_000_001) / 1_000_000
    return .nanoseconds(Int64(Double(d.nanoseconds) * f))
  }

  private mutating func consentAnswered(_ now: Instant) {
    guard var c = consent else { return }
    c.lastResponseAt = now
    consent = c
    if state == .disconnected {
      emit(.consentRestored(pairID: c.pairID))
      setAgentState(.completed, reason: "consent responses came back")
    }
  }

  private mutating func serviceConsent(_ now: Instant) {
    guard var c = consent, state == .completed || state == .disconnected,
      let i = index(c.pairID)
    else { return }
    if configuration.consentInterval != nil {
      let silent = now - c.lastResponseAt
      if silent >= configuration.consentTimeout {
        emit(.consentLost(pairID: c.pairID, silentForMs: silent.milliseconds))
        consent = nil
        for (id, ctx) in checks where ctx.consent { table.cancel(id: id); checks[id] = nil }
        _ = table.removeFinished()
        setAgentState(
          .failed,
          reason:
            "consent lost: no answer on the selected pair for \(Int(silent.milliseconds)) ms (RFC 7675)"
        )
        return
      }
      if silent >= configuration.disconnectedTimeout && state == .completed {
        setAgentState(
          .disconnected,
          reason: "no consent response on the selected pair for \(Int(silent.milliseconds)) ms")
      }
      if now >= c.nextRequestAt, let interval = configuration.consentInterval {
        c.nextRequestAt = now + jittered(interval)
        consent = c
        sendConsent(i, now)
        c = consent ?? c
      }
    }
    if now >= c.lastSentAt + configuration.keepaliveInterval {
      var b = MessageBuilder(type: .bindingIndication, transactionID: randomTransactionID())
      b.addFingerprint()
      outputs.append(
        .transmit(
          Transmit(bytes: b.bytes, from: pairs[i].localBase, to: pairs[i].remote.address)))
      pairs[i].stats.keepalivesSent += 1
      c.lastSentAt = now
    }
    consent = c
  }

  private mutating func sendConsent(_ i: Int, _ now: Instant) {
    let pair = pairs[i]
    let id = randomTransactionID()
    let priority = prflxPriority(pair.local)
    guard let bytes = buildRequest(id: id, priority: priority, useCandidate: false) else { return }
    checks[id] = CheckContext(
      pairID: pair.id, localBase: pair.localBase, remote: pair.remote.address,
      useCandidate: false, roleAtSend: role, priority: priority, triggered: false, consent: true)
    let t = ClientTransaction<Message>(
      id: id, request: bytes, destination: pair.remote.address, policy: configuration.consentPolicy)
    processTable(table.start(t, at: now), now: now)
  }

  // MARK: - Agent state

  private mutating func setAgentState(_ to: ICEAgentState, reason: String?) {
    let from = state
    guard from != to else { return }
    state = to
    emit(.agentStateChanged(from: from, to: to, reason: reason))
  }

  // MARK: - Keepalives while the peer has not checked yet

  /// The pairs that get keepalives now: no check from the peer yet, checks running, and the
  /// pair's own check over (failed, or answered while the peer's nomination is still to come).
  private var pairsKeptOpen: [CandidatePair] {
    guard !peerCheckReceived, remoteKey != nil, state == .checking || state == .connected else {
      return []
    }
    return pairs.filter { $0.inCheckList && ($0.state == .failed || $0.state == .succeeded) }
  }

  /// When the next such keepalive is due.
  private var nextPairKeepalive: Instant? {
    pairsKeptOpen.compactMap { p in
      lastSentOnPair[p.id].map { $0 + configuration.keepaliveInterval }
    }.min()
  }

  /// An answer handed to a person may reach the offerer minutes later; its first checks then
  /// arrive at a NAT that dropped the state our checks made (Linux after 30 s), and are
  /// filtered. A Binding indication on each pair every keepalive interval keeps that state
  /// (RFC 8445 §11 keepalives; the peer ignores them) until the peer's first check arrives.
  private mutating func keepPairsOpen(_ now: Instant) {
    for p in pairsKeptOpen {
      guard let last = lastSentOnPair[p.id], now >= last + configuration.keepaliveInterval,
        let i = index(p.id)
      else { continue }
      var b = MessageBuilder(type: .bindingIndication, transactionID: randomTransactionID())
      b.addFingerprint()
      outputs.append(
        .transmit(Transmit(bytes: b.bytes, from: p.localBase, to: p.remote.address)))
      pairs[i].stats.keepalivesSent += 1
      lastSentOnPair[p.id] = now
      emit(.keepaliveSent(from: p.localBase, to: p.remote.address))
    }
  }

  private mutating func checkForFailure() {
    guard state == .checking || state == .connected, localGatheringDone, remoteGatheringDone,
      triggered.isEmpty, nominationInFlight == nil
    else { return }
    let list = pairs.filter(\.inCheckList)
    guard list.allSatisfy({ $0.state == .failed }), !pairs.contains(where: \.isValid) else {
      return
    }
    if list.isEmpty {
      setAgentState(
        .failed,
        reason:
          "no candidate pairs: \(localCandidates.count) local and \(remoteCandidates.count) remote candidates share no address family"
      )
      return
    }
    var counts: [String: Int] = [:]
    for p in list { counts[p.failureReason.map { "\($0)" } ?? "failed", default: 0] += 1 }
    let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(
      separator: ", ")
    setAgentState(.failed, reason: "all \(list.count) candidate pairs failed (\(summary))")
  }

  private mutating func emit(_ e: ICEEvent) { outputs.append(.event(e)) }

  /// The common tail of every entry point: nominate, pace a check, consent, failure, wake.
  private mutating func flush(_ now: Instant) -> [ICEAgentOutput] {
    if state != .closed && state != .failed {
      maybeNominate(now)
      pump(now)
      serviceConsent(now)
      keepPairsOpen(now)
      checkForFailure()
    }
    var wakes: [Instant] = []
    if state != .closed && state != .failed {
      if let w = table.nextWake { wakes.append(w) }
      if hasCheckWork {
        wakes.append(Swift.max(now, (lastCheckAt ?? now) + configuration.pacing))
      }
      if role == .controlling, configuration.nomination == .regular, state == .connected,
        nominationInFlight == nil, !pairs.contains(where: \.nominated),
        let best = pairs.first(where: \.isValid), let generator = generator(of: best)
      {
        wakes.append(nominationTime(best: best, generator: generator, now: now))
      }
      if let w = nextPairKeepalive { wakes.append(w) }
      if let c = consent, state == .completed || state == .disconnected {
        wakes.append(c.lastSentAt + configuration.keepaliveInterval)
        if configuration.consentInterval != nil {
          wakes.append(c.nextRequestAt)
          if state == .completed {
            wakes.append(c.lastResponseAt + configuration.disconnectedTimeout)
          }
          wakes.append(c.lastResponseAt + configuration.consentTimeout)
        }
      }
    }
    var out = outputs
    outputs = []
    nextDeadline = wakes.min().map { Swift.max($0, now) }
    if let nextDeadline { out.append(.timeout(nextDeadline)) }
    return out
  }
}

extension ICEAgent: CustomStringConvertible, CustomReflectable {
  /// `ICE agent controlling, checking, 2 local / 3 remote candidates, 6 pairs` (no secrets).
  public var description: String {
    "ICE agent \(role.rawValue), \(state.rawValue), ufrag \(localCredentials.ufrag), \(localCandidates.count) local / \(remoteCandidates.count) remote candidates, \(pairs.count) pairs"
  }

  /// A mirror without keys or passwords.
  public var customMirror: Mirror {
    Mirror(
      self,
      children: [
        "role": role, "state": state, "localCredentials": localCredentials,
        "localCandidates": localCandidates, "remoteCandidates": remoteCandidates, "pairs": pairs,
        "selectedPairID": selectedPairID as Any,
      ])
  }
}
