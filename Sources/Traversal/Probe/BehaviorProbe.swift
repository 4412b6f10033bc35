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

  /// Whether `answer` (from `server`) shows that the server can run RFC 5780 tests, and why.
  public static func serverSupport(server: TransportAddress, answer: BindingAnswer) -> ServerSupport
  {
    guard let other = answer.otherAddress else {
      return ServerSupport(
        rfc5780: false, otherAddress: nil, software: answer.software,
        reason: "The server sent no OTHER-ADDRESS, so it cannot answer from a second address.")
    }
    if other.ip == server.ip {
      return ServerSupport(
        rfc5780: false, otherAddress: other, software: answer.software,
        reason:
          "The server's OTHER-ADDRESS \(other) has the same IP as the server, so tests that need a second IP cannot run."
      )
    }
    if other.port == server.port {
      return ServerSupport(
        rfc5780: false, otherAddress: other, software: answer.software,
        reason:
          "The server's OTHER-ADDRESS \(other) uses the same port as the server, so tests that need a second port cannot run."
      )
    }
    return ServerSupport(
      rfc5780: true, otherAddress: other, software: answer.software,
      reason: "The server answers from a second IP and port (\(other)).")
  }

  // MARK: - Verdicts

  private func outcome(_ test: ProbeTest) -> BindingOutcome? {
    steps.last { $0.test == test }?.outcome
  }

  private func report(at now: Instant, udpBlocked: Bool) -> ProbeReport {
    let mapping: BehaviorVerdict<MappingBehavior>
    let filtering: BehaviorVerdict<FilteringBehavior>
    var hairpin: Bool? = nil
    var hairpinReason = "Not tested."
    var alg = ALGVerdict(detected: nil, reason: "Not tested.")
    var allocation: PortAllocation?
    var lifetime: LifetimeVerdict?
    let refusals = reachability.compactMap { entry -> Unreachable? in
      if case .unreachable(let u, _)? = steps[entry.step].outcome { u } else { nil }
    }
    if primary == nil, !refusals.isEmpty {
      // No server answered and at least one destination was reported unreachable.
      let reason = Self.noServerReason(refusals, tried: configuration.servers.count)
      mapping = BehaviorVerdict(nil, reason)
      filtering = BehaviorVerdict(nil, reason)
      hairpinReason = reason
    } else if udpBlocked {
      let n = configuration.servers.count
      let reason =
        n == 0
        ? "No STUN server was given."
        : "No STUN server answered over UDP (\(n) server\(n == 1 ? "" : "s") tried, every request retransmitted)."
      mapping = BehaviorVerdict(nil, reason)
      filtering = BehaviorVerdict(nil, reason)
      hairpinReason = reason
    } else {
      mapping = mappingVerdict()
      filtering = filteringVerdict()
      (hairpin, hairpinReason) = hairpinVerdict()
      alg = algVerdict()
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
      filtering: filtering, hairpinning: hairpin, hairpinningReason: hairpinReason,
      portAllocation: allocation, alg: alg, bindingLifetime: lifetime,
      // The summary (and, for the fronts, every reason) is worded from the report's findings
      // (Report's ProbeFindings.apply), which the probe session applies.
      legacyType: profile.legacyType.rawValue, summary: "",
      durationMs: (now - startedAt).milliseconds, steps: steps, unreachable: refusals)
  }

  /// "No STUN server answers at 127.0.0.1:9 (ICMP port unreachable from 127.0.0.1)." and, when
  /// other servers were silent, how many.
  static func noServerReason(_ refusals: [Unreachable], tried: Int) -> String {
    let each = refusals.map { u -> String in
      switch u.kind {
      case .portUnreachable:
        return
          "No STUN server answers at \(u.destination) (\(u)): that host is up but nothing listens on that port."
      case .hostUnreachable, .networkUnreachable:
        return "\(u.destination) cannot be reached (\(u))."
      case .prohibited:
        return "A firewall refused the requests to \(u.destination) (\(u))."
      }
    }
    let silent = tried - refusals.count
    let rest =
      silent == 1
      ? " The other server did not answer either."
      : (silent > 1 ? " The other \(silent) servers did not answer either." : "")
    return each.joined(separator: " ") + rest
  }

  private func mappingVerdict() -> BehaviorVerdict<MappingBehavior> {
    guard let m1 = primaryAnswer?.reflexive else { return BehaviorVerdict(nil, "Test I failed.") }
    if !natDetected {
      return BehaviorVerdict(
        .endpointIndependent,
        "No NAT: the server saw this host's own address \(m1), which stays the same for every destination."
      )
    }
    if support?.rfc5780 == true {
      guard let m2 = outcome(.mappingAlternateIP)?.answer?.reflexive else {
        // Test III alone still proves endpoint independence if it saw test I's mapping.
        if let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive, m3 == m1 {
          return BehaviorVerdict(
            .endpointIndependent,
            "The public address stayed \(m1) when both the destination IP and port changed (tests I and III; test II \(silence(.mappingAlternateIP)))."
          )
        }
        return BehaviorVerdict(
          nil,
          "Test II (to the server's alternate IP) \(silence(.mappingAlternateIP)), so mapping is unknown."
        )
      }
      if m2 == m1 {
        return BehaviorVerdict(
          .endpointIndependent,
          "The public address stayed \(m1) when the destination IP changed (tests I and II).")
      }
      guard let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive else {
        return BehaviorVerdict(
          nil,
          "The public address changed from \(m1) to \(m2) with the destination IP, but test III \(silence(.mappingAlternateIPAndPort))."
        )
      }
      if m3 == m2 {
        return BehaviorVerdict(
          .addressDependent,
          "The public address changed with the destination IP (\(m1) → \(m2)) but not with the port (test III: \(m3))."
        )
      }
      return BehaviorVerdict(
        .addressAndPortDependent,
        "The public address changed with the destination IP (\(m1) → \(m2)) and again with the port (\(m3))."
      )
    }
    // No RFC 5780: compare what independent servers saw from the same socket.
    let seen = reachability.compactMap { entry -> (TransportAddress, TransportAddress)? in
      guard let m = steps[entry.step].outcome?.answer?.reflexive else { return nil }
      return (entry.server, m)
    }
    let distinctServerIPs = Set(seen.map(\.0.ip))
    guard distinctServerIPs.count >= 2 else {
      return BehaviorVerdict(
        nil,
        "The server does not support RFC 5780 and no second server on another IP answered, so mapping cannot be judged. \(support?.reason ?? "")"
      )
    }
    if Set(seen.map(\.1)).count == 1 {
      return BehaviorVerdict(
        .endpointIndependent,
        "\(seen.count) servers on different IPs all saw the same public address \(m1).")
    }
    let detail = seen.map { "\($0.0) saw \($0.1)" }.joined(separator: ", ")
    return BehaviorVerdict(
      nil,
      "The public address depends on the destination (\(detail)); without an RFC 5780 server natscope cannot tell address-dependent from address-and-port-dependent mapping."
    )
  }

  private func filteringVerdict() -> BehaviorVerdict<FilteringBehavior> {
    guard let support, support.rfc5780, let server = primary, let other = support.otherAddress
    else {
      return BehaviorVerdict(
        nil,
        "Filtering needs a server that can answer from another address (RFC 5780). \(support?.reason ?? "")"
      )
    }
    let t2 = outcome(.filteringChangeIPAndPort)
    let t3 = outcome(.filteringChangePort)
    let t4 = outcome(.filteringChangeIP)
    for (test, result) in [("II", t2), ("III", t3), ("IV", t4)] {
      if let a = result?.answer, let code = a.errorCode {
        return BehaviorVerdict(
          nil,
          "The server refused CHANGE-REQUEST in filtering test \(test) (error \(code)\(a.errorReason.map { " \($0)" } ?? ""))."
        )
      }
    }
    if let a = t2?.answer {
      if a.source.ip == server.ip {
        return BehaviorVerdict(
          nil,
          "Asked to answer from \(other), the server answered from \(a.source): it ignores CHANGE-REQUEST."
        )
      }
      return BehaviorVerdict(
        .endpointIndependent,
        "An answer from another IP and port (\(a.source)) got through a mapping opened towards \(server) (test II)."
      )
    }
    if let a3 = t3?.answer, let a4 = t4?.answer, a3.source.port != server.port,
      a4.source.ip != server.ip
    {
      // Both "another port" and "another IP" got in; test II's packets were lost.
      return BehaviorVerdict(
        .endpointIndependent,
        "Answers from another port (\(a3.source), test III) and from another IP (\(a4.source), test IV) both got through; test II got no answer."
      )
    }
    if let a = t3?.answer {
      if a.source.port == server.port {
        return BehaviorVerdict(
          nil,
          "Asked to answer from another port, the server answered from \(a.source): it ignores CHANGE-REQUEST."
        )
      }
      return BehaviorVerdict(
        .addressDependent,
        "Answers from another IP were dropped (test II), but one from the same IP on another port (\(a.source)) got through (test III)."
      )
    }
    if let a = t4?.answer {
      return BehaviorVerdict(
        nil,
        "Answers from the same IP on another port were dropped (test III) while one from another IP on the same port (\(a.source)) got through (test IV): a port-only filter that RFC 4787 does not name."
      )
    }
    guard t2 != nil, t3 != nil else { return BehaviorVerdict(nil, "Filtering tests did not run.") }
    let tries = [t2, t3].compactMap { r -> Int? in
      if case .noAnswer(let n, _) = r { return n }
      return nil
    }.reduce(0, +)
    return BehaviorVerdict(
      .addressAndPortDependent,
      "Only answers from the exact address the socket sent to got through: none from another IP (test II) or another port (tests III, IV), after \(counted(tries, "request"))."
    )
  }

  /// "got no answer", or "got ICMP port unreachable from X instead of an answer" when an ICMP
  /// error ended the test.
  private func silence(_ test: ProbeTest) -> String {
    if case .unreachable(let u, _)? = outcome(test) { return "got \(u) instead of an answer" }
    return "got no answer"
  }

  private func hairpinVerdict() -> (Bool?, String) {
    guard natDetected else { return (nil, "No NAT, so there is nothing to hairpin.") }
    guard configuration.testHairpinning else { return (nil, "Not tested (disabled).") }
    let runs = steps.filter { $0.test == .hairpinning }
    guard let m1 = primaryAnswer?.reflexive, let first = runs.first else {
      return (nil, "Not tested.")
    }
    guard let mh = first.outcome?.answer?.reflexive, runs.count == 3 else {
      return (
        nil,
        "The second socket got no public address from the server, so hairpinning was not tested."
      )
    }
    if let a = runs.dropFirst().compactMap({ $0.outcome?.answer }).first {
      return (
        true,
        "Two sockets behind the NAT reached each other through their public addresses \(m1) and \(mh) (answered from \(a.source))."
      )
    }
    let refusal = runs.dropFirst().lazy.compactMap { step -> Unreachable? in
      if case .unreachable(let u, _)? = step.outcome { u } else { nil }
    }.first
    if let refusal {
      return (
        false,
        "Two sockets behind the NAT sent to each other's public address (\(m1), \(mh)); instead of passing the requests back inside, the NAT answered with \(refusal)."
      )
    }
    return (
      false,
      "Two sockets behind the NAT sent to each other's public address (\(m1), \(mh)); nothing came back inside the NAT."
    )
  }

  private func algVerdict() -> ALGVerdict {
    guard let a = primaryAnswer, let xor = a.xorMappedAddress else {
      return ALGVerdict(detected: nil, reason: "No XOR-MAPPED-ADDRESS to compare.")
    }
    guard let plain = a.mappedAddress else {
      return ALGVerdict(
        detected: nil,
        reason:
          "The server sent no MAPPED-ADDRESS next to XOR-MAPPED-ADDRESS, so rewriting cannot be seen."
      )
    }
    if plain == xor {
      return ALGVerdict(
        detected: false, reason: "MAPPED-ADDRESS and XOR-MAPPED-ADDRESS agree (\(xor)).")
    }
    return ALGVerdict(
      detected: true,
      reason:
        "MAPPED-ADDRESS arrived as \(plain) but XOR-MAPPED-ADDRESS as \(xor): something on the path rewrites addresses inside packets."
    )
  }

  private func lifetimeVerdict() -> LifetimeVerdict? {
    guard let search = configuration.lifetime else { return nil }
    guard natDetected, support?.rfc5780 == true else {
      return LifetimeVerdict(
        aliveAfterSeconds: nil, expiredAfterSeconds: nil,
        reason: natDetected
          ? "The lifetime test needs RESPONSE-PORT, an RFC 5780 server feature."
          : "No NAT, so there is no mapping to expire.")
    }
    let alive = lifetimeAlive.filter { $0.value }.map(\.key).max()
    let dead = lifetimeAlive.filter { !$0.value && $0.key > (alive ?? -1) }.map(\.key).min()
    let aliveS = alive.map { search.rungs[$0].milliseconds / 1000 }
    let deadS = dead.map { search.rungs[$0].milliseconds / 1000 }
    let reason: String
    switch (aliveS, deadS) {
    case (let a?, let d?):
      reason = "An idle mapping still worked after \(Int(a)) s and was gone after \(Int(d)) s."
    case (let a?, nil):
      reason = "An idle mapping still worked after \(Int(a)) s, the longest wait tried."
    case (nil, let d?):
      reason = "An idle mapping was already gone after \(Int(d)) s, the shortest wait tried."
    case (nil, nil):
      reason = "No lifetime check got a conclusive result."
    }
    return LifetimeVerdict(aliveAfterSeconds: aliveS, expiredAfterSeconds: deadS, reason: reason)
  }
}
