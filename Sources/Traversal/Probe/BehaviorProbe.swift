import STUN

/// Identifies one query a probe handed out, so its outcome can be handed back.
public struct ProbeQueryID: Hashable, Sendable, CustomStringConvertible {
  public var rawValue: Int
  public init(_ rawValue: Int) { self.rawValue = rawValue }
  public var description: String { "query \(rawValue)" }
}

/// How a probe searches for the binding lifetime: mappings left idle for each of `rungs`, all
/// at once, each checked when its time is up.
public struct LifetimeSearch: Sendable, Hashable {
  public var rungs: [Duration]

  public init(rungs: [Duration]) { self.rungs = rungs.sorted() }

  /// The default ladder up to `maximum` (2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300 s).
  public static func upTo(_ maximum: Duration) -> LifetimeSearch {
    let ladder: [Int64] = [2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300]
    var rungs = ladder.map { Duration.seconds($0) }.filter { $0 <= maximum }
    if rungs.last != maximum && maximum > .zero { rungs.append(maximum) }
    return LifetimeSearch(rungs: rungs)
  }
}

/// What a probe should test.
public struct ProbeConfiguration: Sendable {
  /// STUN servers in order of preference. Test I goes to each; the first one that shows RFC
  /// 5780 support (an OTHER-ADDRESS with a different IP) runs the mapping and filtering tests.
  /// With none, mapping is judged by comparing what the servers saw.
  public var servers: [TransportAddress]
  /// This host's addresses: a reflexive address equal to one of them (and the local port)
  /// means there is no NAT.
  public var localAddresses: [IPAddress]
  public var testHairpinning: Bool
  /// Fresh sockets used to learn port allocation (0 to skip).
  public var portAllocationSamples: Int
  /// Opt-in binding-lifetime search.
  public var lifetime: LifetimeSearch?

  public init(
    servers: [TransportAddress], localAddresses: [IPAddress], testHairpinning: Bool = true,
    portAllocationSamples: Int = 4, lifetime: LifetimeSearch? = nil
  ) {
    self.servers = servers
    self.localAddresses = localAddresses
    self.testHairpinning = testHairpinning
    self.portAllocationSamples = max(0, min(portAllocationSamples, 32))
    self.lifetime = lifetime
  }
}

/// What a probe asks its driver to do, and what it reports: the event type of its
/// ``MachineOutput``s. (The probe sends no bytes itself: its driver's STUN client encodes and
/// retransmits each query.)
public enum ProbeEvent: Sendable, Hashable {
  /// Send this Binding request (opening the socket if it is new) and hand the outcome back
  /// with `BehaviorProbe.handleInput(_:localAddress:for:at:)`.
  case query(ProbeQueryID, BindingQuery)
  case stepStarted(ProbeStep)
  case stepFinished(ProbeStep)
  /// The probe is over; no more actions will follow.
  case finished(ProbeReport)
}

/// The name the fronts use for a probe's step events.
public typealias ProbeAction = ProbeEvent

/// The RFC 5780 NAT behaviour discovery, as a sans-IO machine.
///
/// It hands out Binding queries (which socket, where to, which CHANGE-REQUEST or
/// RESPONSE-PORT), takes their outcomes back, and ends with a `ProbeReport`. It never opens a
/// socket, never reads a clock and never retransmits: the driver's STUN client does that and
/// reports `noAnswer` only after its whole retransmission window.
///
/// Order: test I to every server on socket 0. Then, at once: mapping tests II and III from
/// socket 0; filtering tests II, III and IV, each on its own fresh socket so earlier traffic
/// cannot open the filter; hairpinning from a fresh socket to socket 0's reflexive address.
/// Then port-allocation samples on fresh sockets one after another, then the optional lifetime
/// search.
public struct BehaviorProbe: Sendable {
  /// What the probe hands back: events, and `.timeout` (last) while a lifetime check is due.
  public typealias Output = MachineOutput<ProbeEvent>

  public let configuration: ProbeConfiguration

  private enum Phase: Sendable {
    case idle, reachability, behaviour, portAllocation, lifetime, done
  }

  private var phase = Phase.idle
  private var startedAt = Instant.zero
  private var nextSocket = 0
  private var nextQuery = 0
  private var steps: [ProbeStep] = []
  private var stepForQuery: [ProbeQueryID: Int] = [:]
  private var outstanding = 0

  // Filled as tests finish.
  private var reachability: [(server: TransportAddress, step: Int)] = []
  private var primary: TransportAddress?
  private var primaryAnswer: BindingAnswer?
  private var primaryLocal: TransportAddress?
  private var support: ServerSupport?
  private var natDetected = false

  private var hairpinSocket: ProbeSocketID?
  private var hairpinTarget: (ProbeSocketID, TransportAddress)?

  // Lifetime search state.
  private var lifetimeSocketY: ProbeSocketID?
  private var lifetimeDue:
    [(at: Instant, rung: Int, mapped: TransportAddress, holder: ProbeSocketID)] = []
  private var lifetimeAlive: [Int: Bool] = [:]

  public init(configuration: ProbeConfiguration) {
    self.configuration = configuration
  }

  /// Whether the probe has finished.
  public var isFinished: Bool { phase == .done }

  /// When ``handleTimeout(at:)`` should next be called: the earliest binding-lifetime check
  /// due; nil when none is.
  public var nextDeadline: Instant? { lifetimeDue.map(\.at).min() }

  // MARK: - Inputs

  /// Starts the probe: test I to every configured server.
  public mutating func start(at now: Instant) -> [Output] {
    guard phase == .idle else { return finish([]) }
    startedAt = now
    var actions: [Output] = []
    guard !configuration.servers.isEmpty else {
      phase = .done
      return [.event(.finished(report(at: now, udpBlocked: true)))]
    }
    phase = .reachability
    let socket = newSocket()
    for server in configuration.servers {
      let index = issue(
        .reachability, BindingQuery(socket: socket, destination: server), at: now, into: &actions)
      reachability.append((server, index))
    }
    return finish(actions)
  }

  /// Hands back the outcome of a query. `localAddress` is the address of the socket that sent
  /// it.
  public mutating func handleInput(
    _ outcome: BindingOutcome, localAddress: TransportAddress?, for id: ProbeQueryID,
    at now: Instant
  ) -> [Output] {
    guard let index = stepForQuery.removeValue(forKey: id), phase != .done else {
      return finish([])
    }
    steps[index].outcome = outcome
    steps[index].localAddress = localAddress
    steps[index].finishedAtMs = (now - startedAt).milliseconds
    outstanding -= 1
    var actions: [Output] = [.event(.stepFinished(steps[index]))]
    switch phase {
    case .reachability:
      if outstanding == 0 { finishReachability(at: now, into: &actions) }
    case .behaviour:
      if steps[index].test == .hairpinning && steps[index].index == 0 {
        continueHairpinning(after: index, at: now, into: &actions)
      }
      if outstanding == 0 { startPortAllocation(at: now, into: &actions) }
    case .portAllocation:
      continuePortAllocation(at: now, into: &actions)
    case .lifetime:
      handleLifetimeOutcome(step: index, at: now, into: &actions)
    case .idle, .done:
      break
    }
    return finish(actions)
  }

  /// Called at (or after) the time the probe asked for with `.timeout`.
  public mutating func handleTimeout(at now: Instant) -> [Output] {
    guard phase == .lifetime else { return finish([]) }
    var actions: [Output] = []
    checkDueLifetimeRungs(at: now, into: &actions)
    return finish(actions)
  }

  /// Ends every call the same way: `.timeout(nextDeadline)` last when a check is due.
  private func finish(_ actions: [Output]) -> [Output] {
    guard let next = nextDeadline else { return actions }
    return actions + [.timeout(next)]
  }

  // MARK: - Phases

  private mutating func finishReachability(at now: Instant, into actions: inout [Output]) {
    let answered = reachability.compactMap { entry -> (TransportAddress, BindingAnswer, Int)? in
      guard let answer = steps[entry.step].outcome?.answer, answer.errorCode == nil,
        answer.reflexive != nil
      else { return nil }
      return (entry.server, answer, entry.step)
    }
    guard let first = answered.first else {
      phase = .done
      // UDP blocked only when nothing at all came back; an ICMP error says UDP got out and
      // reached a host (or router) that answered "not here".
      let refused = reachability.contains { entry in
        if case .unreachable? = steps[entry.step].outcome { true } else { false }
      }
      actions.append(.event(.finished(report(at: now, udpBlocked: !refused))))
      return
    }
    // Prefer a server with a usable alternate address.
    let chosen =
      answered.first { server, answer, _ in
        Self.serverSupport(server: server, answer: answer).rfc5780
      } ?? first
    primary = chosen.0
    primaryAnswer = chosen.1
    primaryLocal = steps[chosen.2].localAddress
    support = Self.serverSupport(server: chosen.0, answer: chosen.1)
    natDetected = !isLocal(chosen.1.reflexive, socketAddress: primaryLocal)

    phase = .behaviour
    let socket0 = steps[chosen.2].query.socket
    guard let supportInfo = support, let mapped = chosen.1.reflexive else { return }
    if supportInfo.rfc5780, let other = supportInfo.otherAddress, let server = primary {
      if natDetected {
        issue(
          .mappingAlternateIP,
          BindingQuery(
            socket: socket0, destination: TransportAddress(ip: other.ip, port: server.port)),
          at: now, into: &actions)
        issue(
          .mappingAlternateIPAndPort, BindingQuery(socket: socket0, destination: other), at: now,
          into: &actions)
      }
      issue(
        .filteringChangeIPAndPort,
        BindingQuery(
          socket: newSocket(), destination: server, changeIP: true, changePort: true,
          acceptAnySource: true), at: now, into: &actions)
      issue(
        .filteringChangePort,
        BindingQuery(
          socket: newSocket(), destination: server, changePort: true, acceptAnySource: true),
        at: now, into: &actions)
      issue(
        .filteringChangeIP,
        BindingQuery(
          socket: newSocket(), destination: server, changeIP: true, acceptAnySource: true),
        at: now, into: &actions)
    }
    if natDetected && configuration.testHairpinning, let server = primary {
      // First learn a second socket's public address; then both sockets send to each other's
      // public address at once (see `continueHairpinning`).
      let h = newSocket()
      hairpinSocket = h
      hairpinTarget = (socket0, mapped)
      issue(.hairpinning, BindingQuery(socket: h, destination: server), at: now, into: &actions)
    }
    if outstanding == 0 { startPortAllocation(at: now, into: &actions) }
  }

  /// Hairpinning as ICE meets it (RFC 5780 §4.5, made symmetric): socket 0 sends to the
  /// second socket's public address while the second socket sends to socket 0's, so each
  /// request also opens the sender's filter for the other's. Hairpinning works if either
  /// request comes back inside.
  private mutating func continueHairpinning(
    after index: Int, at now: Instant, into actions: inout [Output]
  ) {
    guard let h = hairpinSocket, let (socket0, m1) = hairpinTarget,
      let mh = steps[index].outcome?.answer?.reflexive
    else { return }
    issue(
      .hairpinning, BindingQuery(socket: socket0, destination: mh, acceptAnySource: true), at: now,
      into: &actions)
    issue(
      .hairpinning, BindingQuery(socket: h, destination: m1, acceptAnySource: true), at: now,
      into: &actions)
  }

  private var portSamplesTaken: Int {
    steps.filter { $0.test == .portAllocation }.count
  }

  private mutating func startPortAllocation(at now: Instant, into actions: inout [Output]) {
    phase = .portAllocation
    continuePortAllocation(at: now, into: &actions)
  }

  private mutating func continuePortAllocation(at now: Instant, into actions: inout [Output]) {
    guard outstanding == 0 else { return }
    if natDetected, let server = primary, portSamplesTaken < configuration.portAllocationSamples {
      issue(
        .portAllocation, BindingQuery(socket: newSocket(), destination: server), at: now,
        into: &actions)
      return
    }
    startLifetime(at: now, into: &actions)
  }

  private mutating func startLifetime(at now: Instant, into actions: inout [Output]) {
    guard let search = configuration.lifetime, natDetected, support?.rfc5780 == true,
      let server = primary, !search.rungs.isEmpty
    else {
      phase = .done
      actions.append(.event(.finished(report(at: now, udpBlocked: false))))
      return
    }
    phase = .lifetime
    lifetimeSocketY = newSocket()
    for rung in search.rungs.indices {
      let index = issue(
        .bindingLifetime, BindingQuery(socket: newSocket(), destination: server), at: now,
        into: &actions)
      steps[index].index = rung
    }
  }

  private mutating func handleLifetimeOutcome(
    step index: Int, at now: Instant, into actions: inout [Output]
  ) {
    let step = steps[index]
    guard let search = configuration.lifetime, step.index < search.rungs.count else { return }
    if step.idleMs == nil && step.query.responsePort == nil {
      // A mapping was just made (or failed to be): schedule its check.
      if let mapped = step.outcome?.answer?.reflexive {
        let due = now + search.rungs[step.index]
        lifetimeDue.append((due, step.index, mapped, step.query.socket))
      } else {
        lifetimeAlive[step.index] = nil
      }
    } else {
      lifetimeAlive[step.index] = step.outcome?.answer != nil
    }
    finishLifetimeIfDone(at: now, into: &actions)
  }

  private mutating func checkDueLifetimeRungs(at now: Instant, into actions: inout [Output]) {
    guard let server = primary, let y = lifetimeSocketY,
      let search = configuration.lifetime
    else { return }
    let due = lifetimeDue.filter { $0.at <= now }
    lifetimeDue.removeAll { $0.at <= now }
    for entry in due {
      let index = issue(
        .bindingLifetime,
        BindingQuery(
          socket: y, destination: server, responsePort: entry.mapped.port, acceptAnySource: true),
        at: now, into: &actions)
      steps[index].index = entry.rung
      steps[index].idleMs = search.rungs[entry.rung].milliseconds
    }
  }

  private mutating func finishLifetimeIfDone(at now: Instant, into actions: inout [Output]) {
    guard outstanding == 0, lifetimeDue.isEmpty else { return }
    phase = .done
    actions.append(.event(.finished(report(at: now, udpBlocked: false))))
  }

  // MARK: - Helpers

  private mutating func newSocket() -> ProbeSocketID {
    defer { nextSocket += 1 }
    return ProbeSocketID(nextSocket)
  }

  @discardableResult
  private mutating func issue(
    _ test: ProbeTest, _ query: BindingQuery, at now: Instant, into actions: inout [Output]
  ) -> Int {
    let id = ProbeQueryID(nextQuery)
    nextQuery += 1
    let index = steps.count
    steps.append(
      ProbeStep(
        test: test, index: steps.filter { $0.test == test }.count, query: query,
        startedAtMs: (now - startedAt).milliseconds))
    stepForQuery[id] = index
    outstanding += 1
    actions.append(.event(.stepStarted(steps[index])))
    actions.append(.event(.query(id, query)))
    return index
  }

  private func isLocal(_ mapped: TransportAddress?, socketAddress: TransportAddress?) -> Bool {
    guard let mapped, let socketAddress, mapped.port == socketAddress.port else { return false }
    if !socketAddress.ip.isUnspecified { return mapped.ip == socketAddress.ip }
    return configuration.localAddresses.contains(mapped.ip)
  }

  /// Whether `answer` (from `server`) shows that the server can run RFC 5780 tests. The
  /// reason is worded from findings (Report's `ProbeFindings`); here it is left empty.
  public static func serverSupport(server: TransportAddress, answer: BindingAnswer) -> ServerSupport
  {
    let other = answer.otherAddress
    let usable = other.map { $0.ip != server.ip && $0.port != server.port } ?? false
    return ServerSupport(
      rfc5780: usable, otherAddress: other, software: answer.software, reason: "")
  }

  // MARK: - Verdicts
  //
  // The probe decides the behaviours from its steps; every sentence about them (the reasons,
  // the summary) is a finding's, derived from the same steps by Report's `ProbeFindings` and
  // filled in by the probe session. The reasons here stay empty.

  private func outcome(_ test: ProbeTest) -> BindingOutcome? {
    steps.last { $0.test == test }?.outcome
  }

  private func report(at now: Instant, udpBlocked: Bool) -> ProbeReport {
    var mapping = BehaviorVerdict<MappingBehavior>(nil, "")
    var filtering = BehaviorVerdict<FilteringBehavior>(nil, "")
    var hairpin: Bool? = nil
    var alg = ALGVerdict(detected: nil, reason: "")
    var allocation: PortAllocation?
    var lifetime: LifetimeVerdict?
    let refusals = reachability.compactMap { entry -> Unreachable? in
      if case .unreachable(let u, _)? = steps[entry.step].outcome { u } else { nil }
    }
    if primary != nil, !udpBlocked {
      mapping = BehaviorVerdict(mappingBehavior(), "")
      filtering = BehaviorVerdict(filteringBehavior(), "")
      hairpin = hairpinWorks()
      alg = ALGVerdict(detected: algDetected(), reason: "")
      let samples = steps.filter { $0.test == .portAllocation }.compactMap {
        step -> PortAllocation.Sample? in
        guard let local = step.localAddress, let mapped = step.outcome?.answer?.reflexive else {
          return nil
        }
        return PortAllocation.Sample(localPort: local.port, publicPort: mapped.port)
      }
      if samples.count >= 2 { allocation = .analyse(samples) }
      lifetime = lifetimeVerdict()
    }
    let profile = NATProfile(
      udpBlocked: udpBlocked, natDetected: natDetected, mapping: mapping.behavior,
      filtering: filtering.behavior)
    return ProbeReport(
      schemaVersion: ProbeReport.currentSchemaVersion,
      server: primary ?? configuration.servers.first ?? TransportAddress(ip: .anyV4, port: 0),
      serverSupport: support, udpBlocked: udpBlocked, natDetected: natDetected,
      localAddress: primaryLocal, mappedAddress: primaryAnswer?.reflexive, mapping: mapping,
      filtering: filtering, hairpinning: hairpin, hairpinningReason: "",
      portAllocation: allocation, alg: alg, bindingLifetime: lifetime,
      legacyType: profile.legacyType.rawValue, summary: "",
      durationMs: (now - startedAt).milliseconds, steps: steps, unreachable: refusals)
  }

  private func mappingBehavior() -> MappingBehavior? {
    guard let m1 = primaryAnswer?.reflexive else { return nil }
    if !natDetected { return .endpointIndependent }
    if support?.rfc5780 == true {
      guard let m2 = outcome(.mappingAlternateIP)?.answer?.reflexive else {
        // Test III alone still proves endpoint independence if it saw test I's mapping.
        if let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive, m3 == m1 {
          return .endpointIndependent
        }
        return nil
      }
      if m2 == m1 { return .endpointIndependent }
      guard let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive else { return nil }
      return m3 == m2 ? .addressDependent : .addressAndPortDependent
    }
    // No RFC 5780: compare what independent servers saw from the same socket.
    let seen = reachability.compactMap { entry -> (TransportAddress, TransportAddress)? in
      guard let m = steps[entry.step].outcome?.answer?.reflexive else { return nil }
      return (entry.server, m)
    }
    guard Set(seen.map(\.0.ip)).count >= 2 else { return nil }
    // Different addresses per destination: which kind cannot be told without RFC 5780.
    return Set(seen.map(\.1)).count == 1 ? .endpointIndependent : nil
  }

  private func filteringBehavior() -> FilteringBehavior? {
    guard let support, support.rfc5780, let server = primary else { return nil }
    let t2 = outcome(.filteringChangeIPAndPort)
    let t3 = outcome(.filteringChangePort)
    let t4 = outcome(.filteringChangeIP)
    // A refused CHANGE-REQUEST decides nothing.
    if [t2, t3, t4].contains(where: { $0?.answer?.errorCode != nil }) { return nil }
    if let a = t2?.answer {
      // Answered from the server's own IP: it ignores CHANGE-REQUEST.
      return a.source.ip == server.ip ? nil : .endpointIndependent
    }
    if let a3 = t3?.answer, let a4 = t4?.answer, a3.source.port != server.port,
      a4.source.ip != server.ip
    {
      // Both "another port" and "another IP" got in; test II's packets were lost.
      return .endpointIndependent
    }
    if let a = t3?.answer { return a.source.port == server.port ? nil : .addressDependent }
    // Only another IP on the same port got in: a port-only filter RFC 4787 does not name.
    if t4?.answer != nil { return nil }
    guard t2 != nil, t3 != nil else { return nil }
    return .addressAndPortDependent
  }

  /// nil when not tested (no NAT, disabled, or no second mapping).
  private func hairpinWorks() -> Bool? {
    guard natDetected, configuration.testHairpinning else { return nil }
    let runs = steps.filter { $0.test == .hairpinning }
    guard primaryAnswer?.reflexive != nil, let first = runs.first,
      first.outcome?.answer?.reflexive != nil, runs.count == 3
    else { return nil }
    return runs.dropFirst().contains { $0.outcome?.answer != nil }
  }

  /// nil when it cannot be seen (no XOR-MAPPED-ADDRESS, or no MAPPED-ADDRESS next to it).
  private func algDetected() -> Bool? {
    guard let a = primaryAnswer, let xor = a.xorMappedAddress, let plain = a.mappedAddress else {
      return nil
    }
    return plain != xor
  }

  private func lifetimeVerdict() -> LifetimeVerdict? {
    guard let search = configuration.lifetime else { return nil }
    guard natDetected, support?.rfc5780 == true else {
      return LifetimeVerdict(aliveAfterSeconds: nil, expiredAfterSeconds: nil, reason: "")
    }
    let alive = lifetimeAlive.filter { $0.value }.map(\.key).max()
    let dead = lifetimeAlive.filter { !$0.value && $0.key > (alive ?? -1) }.map(\.key).min()
    return LifetimeVerdict(
      aliveAfterSeconds: alive.map { search.rungs[$0].milliseconds / 1000 },
      expiredAfterSeconds: dead.map { search.rungs[$0].milliseconds / 1000 }, reason: "")
  }
}
