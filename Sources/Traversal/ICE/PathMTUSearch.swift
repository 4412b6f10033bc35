import STUN

/// What a path probe carries so that the peer's ICE agent answers it as a check on the
/// selected pair: the pair's USERNAME, the peer's password (MESSAGE-INTEGRITY), this side's
/// role and tie-breaker, and a PRIORITY. ``ICEAgent/pathProbeIdentity`` gives it.
public struct PathProbeIdentity: Sendable {
  /// `remote-ufrag:local-ufrag`.
  public var username: String
  /// The short-term key of the peer's password.
  public var remoteKey: IntegrityKey
  public var role: ICERole
  public var tieBreaker: UInt64
  public var priority: UInt32

  public init(
    username: String, remoteKey: IntegrityKey, role: ICERole, tieBreaker: UInt64,
    priority: UInt32
  ) {
    self.username = username
    self.remoteKey = remoteKey
    self.role = role
    self.tieBreaker = tieBreaker
    self.priority = priority
  }
}

/// The limits of a path MTU search.
public struct PathMTUConfiguration: Sendable, Hashable {
  /// The smallest IP datagram tried (the baseline: every IPv4 path must carry 576 bytes).
  public var smallest: Int
  /// The largest IP datagram tried (a full Ethernet frame).
  public var largest: Int
  /// Sizes are tried in steps of this many bytes (STUN messages grow 4 bytes at a time).
  public var step: Int
  /// Requests sent for one size before it counts as lost.
  public var attempts: Int
  /// How long one request waits for its answer.
  public var probeTimeout: Duration
  /// The whole search (both directions) ends after this long, finished or not.
  public var limit: Duration
  /// Whether the reverse direction is measured too (by asking the peer to pad its answers).
  public var measureReverse: Bool

  public init(
    smallest: Int = 576, largest: Int = 1500, step: Int = 4, attempts: Int = 2,
    probeTimeout: Duration = .milliseconds(500), limit: Duration = .seconds(8),
    measureReverse: Bool = true
  ) {
    self.step = max(4, step / 4 * 4)
    self.smallest = max(100, smallest)
    self.largest = max(self.smallest, largest)
    self.attempts = max(1, attempts)
    self.probeTimeout = max(probeTimeout, .milliseconds(10))
    self.limit = max(limit, .milliseconds(10))
    self.measureReverse = measureReverse
  }
}

/// What a path MTU search found: per direction, the largest datagram that crossed the
/// selected pair whole and the smallest that did not, and every probe sent. Evidence only:
/// the report words it.
public struct PathMTUResult: Sendable, Hashable, Codable {
  /// Which way datagrams went.
  public enum Direction: String, Sendable, Hashable, Codable {
    /// From this host to the peer (padded requests; the answers are small).
    case forward
    /// From the peer to this host (small requests asking for padded answers).
    case reverse
  }

  /// How a direction's search ended.
  public enum Outcome: String, Sendable, Hashable, Codable {
    /// The search ended with a largest size answered (and, below `largest`, a smallest lost).
    case measured
    /// Not even the smallest padded probe was answered: the peer does not answer padded
    /// checks, or the path stopped carrying anything; nothing is known about sizes.
    case baselineUnanswered = "baseline-unanswered"
    /// Reverse only: the peer answered, but without the padding asked for (an agent that does
    /// not know natscope's NATSCOPE-RESPONSE-SIZE); the reverse direction is not measured.
    case peerDoesNotPad = "peer-does-not-pad"
    /// The time limit came (or the session ended) before the search did; the sizes known so
    /// far are kept.
    case unfinished
  }

  /// One size tried.
  public struct Probe: Sendable, Hashable, Codable {
    /// The IP datagram size (IP and UDP headers included).
    public var size: Int
    /// Whether an answer came.
    public var answered: Bool
    /// Requests sent for this size.
    public var attempts: Int
    /// The round trip of the answered request.
    public var rttMs: Double?
    /// The next-hop MTU an ICMP "fragmentation needed" / "packet too big" named for it.
    public var icmpMTU: Int?

    public init(size: Int, answered: Bool, attempts: Int, rttMs: Double? = nil, icmpMTU: Int? = nil)
    {
      self.size = size
      self.answered = answered
      self.attempts = attempts
      self.rttMs = rttMs
      self.icmpMTU = icmpMTU
    }
  }

  /// One direction's search.
  public struct Leg: Sendable, Hashable, Codable {
    public var direction: Direction
    public var outcome: Outcome
    /// The largest IP datagram that crossed (answered), when one did.
    public var largestAnswered: Int?
    /// The smallest IP datagram above it that did not cross, when one was found.
    public var smallestLost: Int?
    /// The MTU an ICMP "fragmentation needed" / "packet too big" named (forward only: the
    /// error comes back to the sender).
    public var icmpMTU: Int?
    /// Who sent that ICMP error (a router on the way).
    public var icmpReporter: IPAddress?
    /// Every size tried, in order.
    public var probes: [Probe]

    public init(
      direction: Direction, outcome: Outcome, largestAnswered: Int? = nil,
      smallestLost: Int? = nil, icmpMTU: Int? = nil, icmpReporter: IPAddress? = nil,
      probes: [Probe] = []
    ) {
      self.direction = direction
      self.outcome = outcome
      self.largestAnswered = largestAnswered
      self.smallestLost = smallestLost
      self.icmpMTU = icmpMTU
      self.icmpReporter = icmpReporter
      self.probes = probes
    }
  }

  /// This host to the peer.
  public var forward: Leg
  /// The peer to this host; nil when it was not asked for.
  public var reverse: Leg?
  /// The smallest and largest sizes tried.
  public var smallest: Int
  public var largest: Int
  /// Bytes of IP and UDP header in each size (28 over IPv4, 48 over IPv6).
  public var headerBytes: Int
  /// Whether the selected pair runs through a TURN relay (the sizes are then of what natscope
  /// hands the relay, which adds its own headers on the leg to the server).
  public var viaRelay: Bool
  /// How long the search took.
  public var durationMs: Double

  public init(
    forward: Leg, reverse: Leg?, smallest: Int, largest: Int, headerBytes: Int, viaRelay: Bool,
    durationMs: Double
  ) {
    self.forward = forward
    self.reverse = reverse
    self.smallest = smallest
    self.largest = largest
    self.headerBytes = headerBytes
    self.viaRelay = viaRelay
    self.durationMs = durationMs
  }
}

/// What a ``PathMTUSearch`` reports.
public enum PathMTUEvent: Sendable, Hashable {
  /// Both directions ended (measured, or why not).
  case finished(PathMTUResult)
}

/// A sans-IO search for the largest datagram the selected pair carries, both ways.
///
/// Forward: Binding requests on the pair, padded with PADDING (RFC 5780 §7.6) to the size
/// under test and sent with the don't-fragment bit (the driver's job:
/// ``Transmit/dontFragment``); the peer's agent answers each as a check, which proves it
/// arrived whole. An ICMP "fragmentation needed" that comes back (``handleTooBig(mtu:reporter:at:)``)
/// ends a size at once and names the next hop's MTU. Reverse: small requests carrying
/// NATSCOPE-RESPONSE-SIZE, which a natscope peer answers padded to that size (also with the
/// don't-fragment bit); an agent that answers unpadded is recorded as such, not as a small path.
///
/// Each direction tries the largest size first (most paths carry it: one round trip), then
/// the smallest (a baseline: a peer that does not answer padded checks is told apart from a
/// small path), then halves the interval between the largest answered and the smallest lost
/// until they are one step apart. A size counts as lost after
/// ``PathMTUConfiguration/attempts`` unanswered requests. The two directions run at once,
/// one request each in flight.
public struct PathMTUSearch: Sendable {
  public let configuration: PathMTUConfiguration
  /// The pair's local base (host socket or relayed address) and the peer's address.
  public let base: TransportAddress
  public let remote: TransportAddress
  public let viaRelay: Bool
  /// Datagrams handed in that were not answers to this search's requests.
  public private(set) var ignored = 0
  /// The result, once both directions ended.
  public private(set) var result: PathMTUResult?

  private let identity: PathProbeIdentity
  private let headerBytes: Int
  private var rng: AnyRandomGenerator
  private var legs: [LegState]
  private var startedAt: Instant?
  private var outputs: [MachineOutput<PathMTUEvent>] = []

  private struct InFlight: Sendable {
    var size: Int
    var attempt: Int
    var ids: [TransactionID: Instant]
    var deadline: Instant
  }

  private struct LegState: Sendable {
    var direction: PathMTUResult.Direction
    var largestAnswered: Int?
    var smallestLost: Int?
    var icmpMTU: Int?
    var icmpReporter: IPAddress?
    var icmpHintUsed = false
    var probes: [PathMTUResult.Probe] = []
    var inFlight: InFlight?
    var outcome: PathMTUResult.Outcome?
  }

  public init(
    configuration: PathMTUConfiguration = PathMTUConfiguration(), identity: PathProbeIdentity,
    base: TransportAddress, remote: TransportAddress, viaRelay: Bool = false,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.configuration = configuration
    self.identity = identity
    self.base = base
    self.remote = remote
    self.viaRelay = viaRelay
    self.headerBytes = remote.ip.family == .ipv6 ? 48 : 28
    self.rng = AnyRandomGenerator(generator)
    var legs = [LegState(direction: .forward)]
    if configuration.measureReverse { legs.append(LegState(direction: .reverse)) }
    self.legs = legs
  }

  /// Whether `id` is one of this search's requests (its answer belongs to ``handleInput(_:length:from:at:)``).
  public func owns(_ id: TransactionID) -> Bool {
    legs.contains { $0.inFlight?.ids[id] != nil }
  }

  /// Sends the first probe of each direction.
  public mutating func start(at now: Instant) -> [MachineOutput<PathMTUEvent>] {
    guard startedAt == nil else { return [] }
    startedAt = now
    for i in legs.indices { advance(i, now) }
    return flush(now)
  }

  /// An answer (success or error response) that arrived from `source`; `length` is the UDP
  /// payload's size as it arrived.
  public mutating func handleInput(
    _ message: Message, length: Int, from source: TransportAddress, at now: Instant
  ) -> [MachineOutput<PathMTUEvent>] {
    guard result == nil, source == remote,
      message.messageClass == .successResponse || message.messageClass == .errorResponse,
      let i = legs.firstIndex(where: { $0.inFlight?.ids[message.transactionID] != nil }),
      let flight = legs[i].inFlight, let sentAt = flight.ids[message.transactionID]
    else {
      ignored += 1
      return flush(now)
    }
    // A success answer is signed with the peer's password; an error (420 from an agent
    // that does not know PADDING) still proves the padded request arrived.
    if message.messageClass == .successResponse,
      !message.verifyMessageIntegrity(key: identity.remoteKey)
    {
      ignored += 1
      return flush(now)
    }
    let rtt = (now - sentAt).milliseconds
    legs[i].inFlight = nil
    if legs[i].direction == .reverse,
      message.messageClass == .errorResponse || length < flight.size - headerBytes
    {
      legs[i].probes.append(.init(size: flight.size, answered: true, attempts: flight.attempt))
      legs[i].outcome = .peerDoesNotPad
      finishIfDone(now)
      return flush(now)
    }
    legs[i].probes.append(
      .init(
        size: flight.size, answered: true, attempts: flight.attempt,
        rttMs: (rtt * 10).rounded() / 10))
    legs[i].largestAnswered = max(legs[i].largestAnswered ?? 0, flight.size)
    advance(i, now)
    return flush(now)
  }

  /// The network said a forward probe was too big for a link on the way (ICMP fragmentation
  /// needed, ICMPv6 packet too big, or the local interface): the size in flight is lost now.
  public mutating func handleTooBig(
    mtu: Int?, reporter: IPAddress?, at now: Instant
  ) -> [MachineOutput<PathMTUEvent>] {
    // An MTU at or above the size in flight concerns an earlier, larger probe (the kernel may
    // report a local "message too long" twice: at the send and on the error queue).
    guard result == nil, let i = legs.firstIndex(where: { $0.direction == .forward }),
      let flight = legs[i].inFlight, mtu.map({ $0 < flight.size }) ?? true
    else { return flush(now) }
    legs[i].inFlight = nil
    if let mtu, mtu > 0 { legs[i].icmpMTU = min(legs[i].icmpMTU ?? mtu, mtu) }
    if let reporter { legs[i].icmpReporter = reporter }
    legs[i].probes.append(
      .init(size: flight.size, answered: false, attempts: flight.attempt, icmpMTU: mtu))
    lost(i, flight.size, now)
    return flush(now)
  }

  /// Advances time: a request unanswered past its timeout is sent again or its size lost; at
  /// the limit the search ends.
  public mutating func handleTimeout(at now: Instant) -> [MachineOutput<PathMTUEvent>] {
    guard result == nil, let startedAt else { return [] }
    if now >= startedAt + configuration.limit {
      for i in legs.indices where legs[i].outcome == nil {
        legs[i].inFlight = nil
        legs[i].outcome = .unfinished
      }
      finishIfDone(now)
      return flush(now)
    }
    for i in legs.indices {
      guard let flight = legs[i].inFlight, now >= flight.deadline else { continue }
      if flight.attempt < configuration.attempts {
        send(i, size: flight.size, attempt: flight.attempt + 1, now)
      } else {
        legs[i].inFlight = nil
        legs[i].probes.append(.init(size: flight.size, answered: false, attempts: flight.attempt))
        lost(i, flight.size, now)
      }
    }
    return flush(now)
  }

  /// Ends the search now (the session is closing): directions still searching are unfinished.
  public mutating func cancel(at now: Instant) -> [MachineOutput<PathMTUEvent>] {
    guard result == nil, startedAt != nil else { return [] }
    for i in legs.indices where legs[i].outcome == nil {
      legs[i].inFlight = nil
      legs[i].outcome = .unfinished
    }
    finishIfDone(now)
    return flush(now)
  }

  // MARK: - The search

  private mutating func lost(_ i: Int, _ size: Int, _ now: Instant) {
    legs[i].smallestLost = min(legs[i].smallestLost ?? size, size)
    advance(i, now)
  }

  /// Sends the next size of leg `i`, or ends it.
  private mutating func advance(_ i: Int, _ now: Instant) {
    guard legs[i].outcome == nil else {
      finishIfDone(now)
      return
    }
    let c = configuration
    let leg = legs[i]
    let next: Int?
    switch (leg.largestAnswered, leg.smallestLost) {
    case (nil, nil):
      next = c.largest
    case (nil, let lost?):
      next = lost > c.smallest ? c.smallest : nil
    case (let ok?, nil):
      next = ok >= c.largest ? nil : c.largest
    case (let ok?, let lost?):
      guard lost - ok > c.step else {
        next = nil
        break
      }
      if leg.icmpHintUsed, let hint = leg.icmpMTU, align(hint) == ok, ok + c.step < lost {
        // The size the router named crossed: one step above it settles the search.
        next = ok + c.step
        break
      }
      if let hint = leg.icmpMTU, !leg.icmpHintUsed {
        let aligned = align(hint)
        if aligned > ok, aligned < lost {
          legs[i].icmpHintUsed = true
          next = aligned
          break
        }
      }
      let mid = align(ok + (lost - ok) / 2)
      next = mid > ok && mid < lost ? mid : nil
    }
    guard let size = next else {
      legs[i].outcome = leg.largestAnswered == nil ? .baselineUnanswered : .measured
      finishIfDone(now)
      return
    }
    send(i, size: size, attempt: 1, now)
  }

  /// The size rounded down to the smallest plus a whole number of steps.
  private func align(_ size: Int) -> Int {
    let c = configuration
    return c.smallest + max(0, size - c.smallest) / c.step * c.step
  }

  private mutating func send(_ i: Int, size: Int, attempt: Int, _ now: Instant) {
    let id = TransactionID.random(using: &rng)
    let bytes =
      legs[i].direction == .forward
      ? request(id: id, paddedTo: size - headerBytes, responseSize: nil)
      : request(id: id, paddedTo: nil, responseSize: size - headerBytes)
    var flight =
      legs[i].inFlight
      ?? InFlight(size: size, attempt: attempt, ids: [:], deadline: now)
    flight.attempt = attempt
    flight.ids[id] = now
    flight.deadline = now + configuration.probeTimeout
    legs[i].inFlight = flight
    var t = Transmit(bytes: bytes, from: base, to: remote, transactionID: id)
    t.dontFragment = legs[i].direction == .forward
    outputs.append(.transmit(t))
  }

  /// A check on the pair; padded so the whole message is `payload` bytes, or asking for an
  /// answer of `responseSize` bytes.
  private func request(id: TransactionID, paddedTo payload: Int?, responseSize: Int?) -> [UInt8] {
    func build(padding: Int?) -> [UInt8] {
      var b = MessageBuilder(
        type: .bindingRequest, transactionID: id, capacity: max(128, payload ?? 0))
      b.add(Username(identity.username))
      b.add(Priority(identity.priority))
      switch identity.role {
      case .controlling: b.add(ICEControlling(identity.tieBreaker))
      case .controlled: b.add(ICEControlled(identity.tieBreaker))
      }
      if let responseSize { b.add(ResponseSize(responseSize)) }
      if let padding { b.add(Padding(count: padding)) }
      b.addMessageIntegrity(key: identity.remoteKey)
      b.addFingerprint()
      return b.bytes
    }
    guard let payload else { return build(padding: nil) }
    let bare = build(padding: nil).count
    let fill = (payload - bare - 4) / 4 * 4
    return build(padding: max(0, fill))
  }

  private mutating func finishIfDone(_ now: Instant) {
    guard result == nil, legs.allSatisfy({ $0.outcome != nil }), let startedAt else { return }
    func leg(_ l: LegState) -> PathMTUResult.Leg {
      PathMTUResult.Leg(
        direction: l.direction, outcome: l.outcome ?? .unfinished,
        largestAnswered: l.largestAnswered,
        smallestLost: l.smallestLost.flatMap { lost in
          l.largestAnswered.map { lost > $0 ? lost : nil } ?? lost
        },
        icmpMTU: l.icmpMTU, icmpReporter: l.icmpReporter, probes: l.probes)
    }
    let forward = legs.first { $0.direction == .forward }.map(leg)
    let reverse = legs.first { $0.direction == .reverse }.map(leg)
    let r = PathMTUResult(
      forward: forward ?? PathMTUResult.Leg(direction: .forward, outcome: .unfinished),
      reverse: reverse, smallest: configuration.smallest, largest: configuration.largest,
      headerBytes: headerBytes, viaRelay: viaRelay,
      durationMs: ((now - startedAt).milliseconds * 10).rounded() / 10)
    result = r
    outputs.append(.event(.finished(r)))
  }

  private mutating func flush(_ now: Instant) -> [MachineOutput<PathMTUEvent>] {
    if result == nil, let startedAt {
      var next = startedAt + configuration.limit
      for l in legs { if let d = l.inFlight?.deadline { next = min(next, d) } }
      outputs.append(.timeout(next))
    }
    let out = outputs
    outputs = []
    return out
  }
}
