import STUN
import Traversal

extension FindingCode {
  // What was asked, and who answered (subject: the server).
  /// The server sent an OTHER-ADDRESS with another IP and port: it can run RFC 5780's tests.
  public static let serverRFC5780: FindingCode = "server.rfc5780"
  /// The server sent no OTHER-ADDRESS.
  public static let serverNoOtherAddress: FindingCode = "server.no-other-address"
  /// The server's OTHER-ADDRESS has the server's own IP.
  public static let serverOtherSameIP: FindingCode = "server.other-address.same-ip"
  /// The server's OTHER-ADDRESS has the server's own port.
  public static let serverOtherSamePort: FindingCode = "server.other-address.same-port"
  /// The server is on this host (loopback, or the address it saw is its own).
  public static let serverOnThisHost: FindingCode = "server.on-this-host"
  /// No answer came from one server over UDP, after every retransmission.
  public static let probeUDPNoAnswer: FindingCode = "udp.no-answer"
  /// An ICMP error came back for the requests to one server.
  public static let probeUDPUnreachable: FindingCode = "udp.unreachable"
  /// The server answered the Binding request with an error response.
  public static let probeUDPErrorResponse: FindingCode = "udp.error-response"
  /// Every server was silent over UDP and something shows that is the network's doing.
  public static let probeUDPBlocked: FindingCode = "udp.blocked"
  /// Whether UDP gets out of this network was not measured (one silent server says nothing).
  public static let probeUDPNotMeasured: FindingCode = "udp.reachability.not-measured"
  /// The probe saw no answer over UDP, but later UDP answers (a server-reflexive or relayed
  /// candidate, an answered check) show packets were lost, not blocked (the demo).
  public static let probeUDPBlockedContradicted: FindingCode = "udp.blocked.contradicted"
  /// No answer over UDP yet, said before anything else could tell loss from blocking (the
  /// demo's line when a probe ends).
  public static let probeUDPSilentSoFar: FindingCode = "udp.silent-so-far"
  /// No server was given.
  public static let probeNoServer: FindingCode = "probe.no-server"
  /// A server's name did not resolve, so it was not asked.
  public static let probeNotResolved: FindingCode = "probe.not-resolved"
  /// STUN over TCP to the server was answered.
  public static let probeTCPAnswered: FindingCode = "tcp.answered"
  /// The server's host refused the TCP connection: the host is up and was reached.
  public static let probeTCPRefused: FindingCode = "tcp.refused"
  /// STUN over TCP got no answer in time.
  public static let probeTCPNoAnswer: FindingCode = "tcp.no-answer"
  /// STUN over TCP failed another way (closed, reset, unreachable).
  public static let probeTCPFailed: FindingCode = "tcp.failed"

  // This host's address and its NAT (subject: this host).
  /// The server saw this host's own address: no NAT.
  public static let natNone: FindingCode = "nat.none"
  /// The server saw another address than the socket's: a NAT translates it.
  public static let natDetected: FindingCode = "nat.detected"
  /// The path to the internet was not measured (every server that answered is on this host).
  public static let internetPathNotMeasured: FindingCode = "internet-path.not-measured"

  /// Mapping: no NAT, so one address for every destination.
  public static let mappingNoNAT: FindingCode = "mapping.no-nat"
  /// Mapping: endpoint-independent, tests I and II.
  public static let mappingEndpointIndependent: FindingCode = "mapping.endpoint-independent"
  /// Mapping: endpoint-independent from tests I and III (test II silent).
  public static let mappingEndpointIndependentTest3: FindingCode =
    "mapping.endpoint-independent.test-3"
  /// Mapping: endpoint-independent, several servers saw one address.
  public static let mappingEndpointIndependentServers: FindingCode =
    "mapping.endpoint-independent.servers"
  /// Mapping: address-dependent.
  public static let mappingAddressDependent: FindingCode = "mapping.address-dependent"
  /// Mapping: address-and-port-dependent.
  public static let mappingAddressAndPortDependent: FindingCode =
    "mapping.address-and-port-dependent"
  /// Mapping changes with the destination, which kind is unknown (servers without RFC 5780).
  public static let mappingDependsOnDestination: FindingCode = "mapping.depends-on-destination"
  /// Mapping not measured: test II got nothing.
  public static let mappingTest2Silent: FindingCode = "mapping.test-2.silent"
  /// Mapping not measured: test III got nothing after test II changed the address.
  public static let mappingTest3Silent: FindingCode = "mapping.test-3.silent"
  /// Mapping not measured: one server, without RFC 5780.
  public static let mappingNotMeasured: FindingCode = "mapping.not-measured"

  /// Filtering: endpoint-independent (test II got through).
  public static let filteringEndpointIndependent: FindingCode = "filtering.endpoint-independent"
  /// Filtering: endpoint-independent from tests III and IV (test II lost).
  public static let filteringEndpointIndependentTests34: FindingCode =
    "filtering.endpoint-independent.tests-3-4"
  /// Filtering: address-dependent.
  public static let filteringAddressDependent: FindingCode = "filtering.address-dependent"
  /// Filtering: address-and-port-dependent.
  public static let filteringAddressAndPortDependent: FindingCode =
    "filtering.address-and-port-dependent"
  /// Filtering: a port-only filter RFC 4787 does not name.
  public static let filteringPortOnly: FindingCode = "filtering.port-only"
  /// Filtering not measured: the server refused CHANGE-REQUEST.
  public static let filteringChangeRefused: FindingCode = "filtering.change-request.refused"
  /// Filtering not measured: the server ignores CHANGE-REQUEST.
  public static let filteringChangeIgnored: FindingCode = "filtering.change-request.ignored"
  /// Filtering not measured: the tests did not run.
  public static let filteringNotRun: FindingCode = "filtering.not-run"
  /// Filtering not measured: the server cannot answer from another address.
  public static let filteringNotMeasured: FindingCode = "filtering.not-measured"

  /// Hairpinning works.
  public static let hairpinWorks: FindingCode = "hairpinning.works"
  /// Hairpinning fails: nothing came back inside.
  public static let hairpinFails: FindingCode = "hairpinning.fails"
  /// Hairpinning fails: the NAT answered with an ICMP error.
  public static let hairpinICMP: FindingCode = "hairpinning.icmp"
  /// No NAT, nothing to hairpin.
  public static let hairpinNoNAT: FindingCode = "hairpinning.no-nat"
  /// Hairpinning not measured (disabled, or no second mapping).
  public static let hairpinNotMeasured: FindingCode = "hairpinning.not-measured"

  /// No ALG seen: MAPPED-ADDRESS and XOR-MAPPED-ADDRESS agree.
  public static let algNone: FindingCode = "alg.none"
  /// An ALG rewrote MAPPED-ADDRESS.
  public static let algRewrites: FindingCode = "alg.rewrites"
  /// ALG not measured (no MAPPED-ADDRESS, or no XOR-MAPPED-ADDRESS).
  public static let algNotMeasured: FindingCode = "alg.not-measured"

  /// How the NAT picks public ports, from fresh sockets.
  public static let portAllocation: FindingCode = "port-allocation"

  /// Binding lifetime bounds found.
  public static let lifetimeMeasured: FindingCode = "lifetime.measured"
  /// No NAT, so no mapping to expire.
  public static let lifetimeNoNAT: FindingCode = "lifetime.no-nat"
  /// Lifetime not measured (no RFC 5780, or nothing conclusive).
  public static let lifetimeNotMeasured: FindingCode = "lifetime.not-measured"

  // What the NAT means for peers (the verdict).
  /// Which kinds of peers connect directly, from mapping and filtering.
  public static let peersPrediction: FindingCode = "peers.prediction"
  /// Mapping known, filtering not: only peers this host contacts first are sure.
  public static let peersFilteringUnknown: FindingCode = "peers.filtering-unknown"
  /// Neither mapping nor filtering could be told.
  public static let peersUnknown: FindingCode = "peers.unknown"
  /// UDP does not get out: only a relay over TCP or TLS.
  public static let peersUDPBlocked: FindingCode = "peers.udp-blocked"
  /// No server answered: nothing learned.
  public static let peersNothingLearned: FindingCode = "peers.nothing-learned"
  /// The server is on this host: the result says nothing about the internet.
  public static let peersServerOnThisHost: FindingCode = "peers.server-on-this-host"
}

extension FindingAspect {
  /// Whether UDP gets out of this network.
  public static let udpReachability: FindingAspect = "udp-reachability"
  /// Whether a NAT translates this host's address.
  public static let nat: FindingAspect = "nat"
  /// How the NAT maps (RFC 4787).
  public static let mapping: FindingAspect = "mapping"
  /// How the NAT filters (RFC 4787).
  public static let filtering: FindingAspect = "filtering"
  /// Whether the NAT hairpins.
  public static let hairpinning: FindingAspect = "hairpinning"
  /// Whether an ALG rewrites addresses.
  public static let alg: FindingAspect = "alg"
  /// How long an idle mapping lives.
  public static let lifetime: FindingAspect = "lifetime"
  /// The path from this host to the internet (not measured when the server is on this host).
  public static let internetPath: FindingAspect = "internet-path"
}

/// The findings of `natscope probe`, derived from what the probe recorded (its steps and their
/// outcomes, ICMP errors, the STUN-over-TCP check), and their sentences. The report's string
/// fields (`mapping.reason`, `summary`, …) are filled from these (``apply(to:)``).
public enum ProbeFindings {
  /// Every finding `report` supports, in the order a reader meets them; `unresolved` are the
  /// server names that did not resolve (name, the resolver's sentence), so were not asked.
  public static func derive(
    _ report: ProbeReport, unresolved: [(name: String, error: String)] = []
  ) -> FindingSet {
    var d = Derivation(report: report)
    var out = FindingSet()
    for u in unresolved {
      out.append(
        Finding(
          .probeNotResolved, about: .session, .measured,
          parameters: ["name": .text(u.name), "error": .text(u.error)],
          evidence: [EvidenceItem(.notRun, step: "resolve")]))
    }
    d.resolvedNothing = !unresolved.isEmpty
    out.append(contentsOf: d.run())
    if let verdict = report.doubleNAT { out.append(DoubleNATFindings.finding(verdict)) }
    return out
  }

  /// `report` with its sentences (reasons, summary) taken from its findings, and the legacy
  /// name dropped when the server is on this host. `udpBlocked` stays what the probe saw
  /// (nothing came back over UDP, RFC 3489's "UDP Blocked" observation); whether that is the
  /// network's doing is the findings' to say (`udp.blocked` or `udp.reachability.not-measured`).
  public static func apply(to report: ProbeReport) -> ProbeReport {
    var r = report
    let findings = derive(report)
    func text(_ aspect: FindingAspect) -> String? {
      findings.first { $0.aspect == aspect && $0.subject == .thisHost }?.text
    }
    let reachability = findings.filter {
      [
        .probeUDPNoAnswer, .probeUDPUnreachable, .probeUDPErrorResponse, .probeUDPBlocked,
        .probeNoServer,
      ]
      .contains($0.code)
    }.map(\.text).joined(separator: " ")
    if r.mappedAddress == nil {
      r.mapping.reason = reachability
      r.filtering.reason = reachability
      r.hairpinningReason = reachability
    } else {
      if let t = text(.mapping) { r.mapping.reason = t }
      if let t = text(.filtering) { r.filtering.reason = t }
      if let t = text(.hairpinning) { r.hairpinningReason = t }
      if let t = text(.alg) { r.alg.reason = t }
      if let t = text(.lifetime) { r.bindingLifetime?.reason = t }
    }
    if var s = r.serverSupport,
      let f = findings.first(where: {
        $0.code.rawValue.hasPrefix("server.") && $0.code != .serverOnThisHost
      })
    {
      s.reason = f.text
      r.serverSupport = s
    }
    if var tcp = r.tcp, let f = findings.first(where: { $0.code.rawValue.hasPrefix("tcp.") }) {
      tcp.reason = f.text
      r.tcp = tcp
    }
    if let verdict = findings.first(where: { $0.code.rawValue.hasPrefix("peers.") }) {
      // The verdict, and the way out when STUN over TCP got through.
      r.summary = ([verdict] + findings.with(.probeTCPAnswered)).map(\.text).joined(separator: " ")
    }
    // A server on this host says nothing about the path to the internet: no NAT type.
    if findings.contains(.internetPathNotMeasured) { r.legacyType = "unknown" }
    return r
  }

  /// What `profile` means for direct connections to peers of each kind (the verdict a probe
  /// ends with, and what `connect` says of a probed host).
  public static func prediction(_ profile: NATProfile) -> Finding {
    if profile.udpBlocked {
      return Finding(
        .peersUDPBlocked, about: .network, .inferred, covers: [.udpReachability])
    }
    guard let mapping = profile.mapping, let filtering = profile.filtering else {
      return Finding(.peersUnknown, about: .thisHost, .inferred)
    }
    var works: [FindingValue] = []
    var fails: [FindingValue] = []
    for peer in NATProfile.referencePeers {
      if ReflexivePathRule.decide(profile, peer.profile).outcome == .works {
        works.append(.text(peer.name))
      } else {
        fails.append(.text(peer.name))
      }
    }
    return Finding(
      .peersPrediction, about: .thisHost, .inferred,
      covers: [.mapping, .filtering, .internetPath],
      parameters: [
        "nat": .flag(profile.natDetected), "mapping": .text(mapping.rawValue),
        "filtering": .text(filtering.rawValue), "works": .list(works), "fails": .list(fails),
      ])
  }

  // MARK: - Derivation

  private struct Derivation {
    let report: ProbeReport
    var out = FindingSet()
    /// Some names did not resolve (so "no server was given" is not the reason).
    var resolvedNothing = false

    init(report: ProbeReport) { self.report = report }

    var steps: [ProbeStep] { report.steps }
    var reachability: [ProbeStep] { steps.filter { $0.test == .reachability } }
    var primaryAnswer: BindingAnswer? {
      reachability.first { $0.query.destination == report.server && $0.outcome?.answer != nil }?
        .outcome?.answer
    }

    func outcome(_ test: ProbeTest) -> BindingOutcome? { steps.last { $0.test == test }?.outcome }

    mutating func add(
      _ code: FindingCode, _ subject: FindingSubject = .thisHost,
      _ certainty: FindingCertainty = .inferred, aspect: FindingAspect? = nil,
      covers: [FindingAspect] = [], _ parameters: FindingParameters = [:],
      evidence: [EvidenceItem] = []
    ) {
      out.append(
        Finding(
          code, about: subject, certainty, aspect: aspect, covers: covers,
          parameters: parameters, evidence: evidence))
    }

    mutating func run() -> FindingSet {
      if report.mappedAddress == nil {
        noAnswer()
      } else {
        answered()
      }
      return out
    }

    // MARK: No answer

    mutating func noAnswer() {
      let servers = reachability
      guard !servers.isEmpty else {
        if !resolvedNothing {
          add(.probeNoServer, .network, .notMeasured, aspect: .udpReachability)
        }
        add(.peersNothingLearned, .session, .inferred, ["count": .int(0)])
        return
      }
      var silent: [TransportAddress] = []
      var gotOut = false
      for step in servers {
        let s = step.query.destination
        switch step.outcome {
        case .noAnswer(let n, let w)?:
          silent.append(s)
          add(
            .probeUDPNoAnswer, .server(s), .measured,
            [
              "server": .address(s), "attempts": .int(n), "windowMs": .milliseconds(w.milliseconds),
            ],
            evidence: [EvidenceItem(.noAnswer, step: step.test.rawValue, address: s, count: n)])
        case .unreachable(let u, let n)?:
          gotOut = true
          add(
            .probeUDPUnreachable, .server(s), .measured, Self.icmp(u),
            evidence: [EvidenceItem(.icmp, step: step.test.rawValue, address: s, count: n)])
        case .answered(let a)?:
          gotOut = true
          add(
            .probeUDPErrorResponse, .server(s), .measured,
            [
              "server": .address(s), "code": .int(a.errorCode ?? 0),
              "reason": .text(a.errorReason ?? ""),
            ],
            evidence: [
              EvidenceItem(
                .errorCode, step: step.test.rawValue, address: s, value: Double(a.errorCode ?? 0))
            ])
        case nil:
          silent.append(s)
        }
      }
      let tcp = report.tcp
      if let tcp { addTCP(tcp) }
      let refused = tcp.map { !$0.reachable && $0.refused == true } ?? false
      // "UDP blocked" is a claim about the network: every server silent, and evidence that the
      // silence is the network's (servers on several hosts, or the same host reached over TCP).
      let severalHosts = Set(silent.map(\.ip)).count >= 2
      let tcpReached = tcp?.reachable == true
      if !gotOut && silent.count == servers.count && !refused && (severalHosts || tcpReached) {
        add(
          .probeUDPBlocked, .network, .likely, aspect: .udpReachability,
          ["count": .int(servers.count)],
          evidence: silent.map {
            EvidenceItem(.noAnswer, step: ProbeTest.reachability.rawValue, address: $0)
          })
        out.append(ProbeFindings.prediction(.udpBlocked))
      } else {
        if !gotOut {
          add(
            .probeUDPNotMeasured, .network, .notMeasured, aspect: .udpReachability,
            ["count": .int(silent.count), "refused": .flag(refused)])
        }
        add(.peersNothingLearned, .session, .inferred, ["count": .int(servers.count)])
      }
      if let first = servers.first?.query.destination, first.ip.isLoopback {
        add(.serverOnThisHost, .server(first), .measured, ["server": .address(first)])
      }
    }

    mutating func addTCP(_ tcp: TCPReachability) {
      out.append(ProbeFindings.tcpFinding(tcp))
    }

    static func icmp(_ u: Unreachable) -> FindingParameters {
      var p: FindingParameters = [
        "destination": .address(u.destination), "icmp": .text(u.kind.rawValue),
      ]
      if let r = u.reporter { p["reporter"] = .ip(r) }
      return p
    }

    // MARK: Answered

    mutating func answered() {
      let server = report.server
      guard let m1 = report.mappedAddress else { return }
      // The servers that said nothing, next to the one that answered.
      for step in reachability where step.query.destination != server {
        switch step.outcome {
        case .noAnswer(let n, let w)?:
          let s = step.query.destination
          add(
            .probeUDPNoAnswer, .server(s), .measured,
            [
              "server": .address(s), "attempts": .int(n), "windowMs": .milliseconds(w.milliseconds),
            ],
            evidence: [EvidenceItem(.noAnswer, step: step.test.rawValue, address: s, count: n)])
        case .unreachable(let u, let n)?:
          add(
            .probeUDPUnreachable, .server(u.destination), .measured, Self.icmp(u),
            evidence: [
              EvidenceItem(.icmp, step: step.test.rawValue, address: u.destination, count: n)
            ])
        default: break
        }
      }
      if let s = report.serverSupport { serverSupport(s) }
      let onThisHost = server.ip.isLoopback || m1.ip == server.ip
      if onThisHost {
        add(.serverOnThisHost, .server(server), .measured, ["server": .address(server)])
        add(.internetPathNotMeasured, .thisHost, .notMeasured, aspect: .internetPath)
      }
      var natParameters: FindingParameters = ["mapped": .address(m1)]
      if let local = report.localAddress { natParameters["local"] = .address(local) }
      add(
        report.natDetected ? .natDetected : .natNone, .thisHost, .measured, aspect: .nat,
        natParameters,
        evidence: [EvidenceItem(.answered, step: ProbeTest.reachability.rawValue, address: server)])
      mapping(m1)
      filtering()
      hairpinning(m1)
      alg()
      portAllocation()
      lifetime()
      verdict(onThisHost: onThisHost)
    }

    mutating func serverSupport(_ s: ServerSupport) {
      let server = report.server
      guard let other = s.otherAddress else {
        add(.serverNoOtherAddress, .server(server), .measured)
        return
      }
      let p: FindingParameters = ["other": .address(other)]
      if other.ip == server.ip {
        add(.serverOtherSameIP, .server(server), .measured, p)
      } else if other.port == server.port {
        add(.serverOtherSamePort, .server(server), .measured, p)
      } else {
        add(.serverRFC5780, .server(server), .measured, p)
      }
    }

    var rfc5780: Bool { report.serverSupport?.rfc5780 == true }

    /// "got no answer", or the ICMP error that ended the test, as parameters.
    func silence(_ test: ProbeTest) -> FindingParameters {
      if case .unreachable(let u, _)? = outcome(test) {
        return [
          "silence": .text(u.kind.rawValue),
          "silenceFrom": u.reporter.map(FindingValue.ip) ?? .text(""),
        ]
      }
      return ["silence": .text("no-answer")]
    }

    mutating func mapping(_ m1: TransportAddress) {
      if !report.natDetected {
        add(.mappingNoNAT, aspect: .mapping, ["mapped": .address(m1)])
        return
      }
      if rfc5780 {
        guard let m2 = outcome(.mappingAlternateIP)?.answer?.reflexive else {
          if let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive, m3 == m1 {
            var p = silence(.mappingAlternateIP)
            p["m1"] = .address(m1)
            add(.mappingEndpointIndependentTest3, aspect: .mapping, p)
            return
          }
          add(
            .mappingTest2Silent, .thisHost, .notMeasured, aspect: .mapping,
            silence(.mappingAlternateIP))
          return
        }
        if m2 == m1 {
          add(.mappingEndpointIndependent, aspect: .mapping, ["m1": .address(m1)])
          return
        }
        guard let m3 = outcome(.mappingAlternateIPAndPort)?.answer?.reflexive else {
          var p = silence(.mappingAlternateIPAndPort)
          p["m1"] = .address(m1)
          p["m2"] = .address(m2)
          add(.mappingTest3Silent, .thisHost, .notMeasured, aspect: .mapping, p)
          return
        }
        let p: FindingParameters = ["m1": .address(m1), "m2": .address(m2), "m3": .address(m3)]
        add(
          m3 == m2 ? .mappingAddressDependent : .mappingAddressAndPortDependent, aspect: .mapping, p
        )
        return
      }
      let seen = reachability.compactMap { step -> (TransportAddress, TransportAddress)? in
        guard let m = step.outcome?.answer?.reflexive, step.outcome?.answer?.errorCode == nil else {
          return nil
        }
        return (step.query.destination, m)
      }
      guard Set(seen.map(\.0.ip)).count >= 2 else {
        add(.mappingNotMeasured, .thisHost, .notMeasured, aspect: .mapping)
        return
      }
      if Set(seen.map(\.1)).count == 1 {
        add(
          .mappingEndpointIndependentServers, aspect: .mapping,
          ["m1": .address(m1), "count": .int(seen.count)])
        return
      }
      add(
        .mappingDependsOnDestination, .thisHost, .measured, aspect: .mapping,
        [
          "servers": .list(seen.map { .address($0.0) }),
          "seen": .list(seen.map { .address($0.1) }),
        ])
    }

    mutating func filtering() {
      guard rfc5780, let other = report.serverSupport?.otherAddress else {
        add(.filteringNotMeasured, .thisHost, .notMeasured, aspect: .filtering)
        return
      }
      let server = report.server
      let t2 = outcome(.filteringChangeIPAndPort)
      let t3 = outcome(.filteringChangePort)
      let t4 = outcome(.filteringChangeIP)
      for (test, result) in [("II", t2), ("III", t3), ("IV", t4)] {
        if let a = result?.answer, let code = a.errorCode {
          add(
            .filteringChangeRefused, .thisHost, .notMeasured, aspect: .filtering,
            ["test": .text(test), "code": .int(code), "reason": .text(a.errorReason ?? "")],
            evidence: [EvidenceItem(.errorCode, address: server, value: Double(code))])
          return
        }
      }
      if let a = t2?.answer {
        if a.source.ip == server.ip {
          add(
            .filteringChangeIgnored, .thisHost, .notMeasured, aspect: .filtering,
            ["asked": .address(other), "source": .address(a.source), "test": .text("II")])
          return
        }
        add(
          .filteringEndpointIndependent, aspect: .filtering,
          ["source": .address(a.source), "server": .address(server)])
        return
      }
      if let a3 = t3?.answer, let a4 = t4?.answer, a3.source.port != server.port,
        a4.source.ip != server.ip
      {
        add(
          .filteringEndpointIndependentTests34, aspect: .filtering,
          ["source3": .address(a3.source), "source4": .address(a4.source)])
        return
      }
      if let a = t3?.answer {
        if a.source.port == server.port {
          add(
            .filteringChangeIgnored, .thisHost, .notMeasured, aspect: .filtering,
            ["source": .address(a.source), "test": .text("III")])
          return
        }
        add(.filteringAddressDependent, aspect: .filtering, ["source": .address(a.source)])
        return
      }
      if let a = t4?.answer {
        add(
          .filteringPortOnly, .thisHost, .measured, aspect: .filtering,
          ["source": .address(a.source)])
        return
      }
      guard t2 != nil, t3 != nil else {
        add(.filteringNotRun, .thisHost, .notMeasured, aspect: .filtering)
        return
      }
      let tries = [t2, t3].compactMap { r -> Int? in
        if case .noAnswer(let n, _)? = r { return n }
        return nil
      }.reduce(0, +)
      add(.filteringAddressAndPortDependent, aspect: .filtering, ["requests": .int(tries)])
    }

    mutating func hairpinning(_ m1: TransportAddress) {
      guard report.natDetected else {
        add(.hairpinNoNAT, aspect: .hairpinning)
        return
      }
      let runs = steps.filter { $0.test == .hairpinning }
      guard let first = runs.first else {
        add(
          .hairpinNotMeasured, .thisHost, .notMeasured, aspect: .hairpinning,
          ["why": .text("disabled")])
        return
      }
      guard let mh = first.outcome?.answer?.reflexive, runs.count == 3 else {
        add(
          .hairpinNotMeasured, .thisHost, .notMeasured, aspect: .hairpinning,
          ["why": .text("no-second-mapping")])
        return
      }
      var p: FindingParameters = ["m1": .address(m1), "mh": .address(mh)]
      if let a = runs.dropFirst().compactMap({ $0.outcome?.answer }).first {
        p["source"] = .address(a.source)
        add(.hairpinWorks, .thisHost, .measured, aspect: .hairpinning, p)
        return
      }
      let refusal = runs.dropFirst().lazy.compactMap { step -> Unreachable? in
        if case .unreachable(let u, _)? = step.outcome { u } else { nil }
      }.first
      if let refusal {
        for (k, v) in Self.icmp(refusal).values { p[k] = v }
        add(.hairpinICMP, .thisHost, .measured, aspect: .hairpinning, p)
        return
      }
      add(.hairpinFails, .thisHost, .measured, aspect: .hairpinning, p)
    }

    mutating func alg() {
      guard let a = primaryAnswer, let xor = a.xorMappedAddress else {
        add(.algNotMeasured, .thisHost, .notMeasured, aspect: .alg, ["why": .text("no-xor")])
        return
      }
      guard let plain = a.mappedAddress else {
        add(.algNotMeasured, .thisHost, .notMeasured, aspect: .alg, ["why": .text("no-mapped")])
        return
      }
      if plain == xor {
        add(.algNone, .thisHost, .measured, aspect: .alg, ["xor": .address(xor)])
      } else {
        add(
          .algRewrites, .thisHost, .measured, aspect: .alg,
          ["xor": .address(xor), "plain": .address(plain)])
      }
    }

    mutating func portAllocation() {
      guard let p = report.portAllocation else { return }
      add(
        .portAllocation, .thisHost, .measured, aspect: "port-allocation",
        [
          "pattern": .text(p.pattern.rawValue), "samples": .int(p.samples.count),
          "preserved": .int(p.preservedCount), "parity": .int(p.parityPreservedCount),
        ])
    }

    mutating func lifetime() {
      guard let l = report.bindingLifetime else { return }
      guard report.natDetected else {
        add(.lifetimeNoNAT, aspect: .lifetime)
        return
      }
      guard rfc5780 else {
        add(
          .lifetimeNotMeasured, .thisHost, .notMeasured, aspect: .lifetime,
          ["why": .text("no-rfc5780")])
        return
      }
      guard l.aliveAfterSeconds != nil || l.expiredAfterSeconds != nil else {
        add(
          .lifetimeNotMeasured, .thisHost, .notMeasured, aspect: .lifetime,
          ["why": .text("inconclusive")])
        return
      }
      var p: FindingParameters = [:]
      if let a = l.aliveAfterSeconds { p["alive"] = .int(Int(a)) }
      if let d = l.expiredAfterSeconds { p["expired"] = .int(Int(d)) }
      add(.lifetimeMeasured, .thisHost, .measured, aspect: .lifetime, p)
    }

    mutating func verdict(onThisHost: Bool) {
      if onThisHost {
        add(.peersServerOnThisHost, .thisHost, .inferred)
        return
      }
      let profile = report.profile
      if profile.mapping != nil && profile.filtering != nil {
        out.append(ProbeFindings.prediction(profile))
      } else if let m = profile.mapping {
        add(
          .peersFilteringUnknown, .thisHost, .inferred, covers: [.mapping],
          ["nat": .flag(report.natDetected), "mapping": .text(m.rawValue)])
      } else {
        add(.peersUnknown, .thisHost, .inferred)
      }
    }
  }
}

extension ProbeFindings {
  /// What one STUN Binding request over a stream (`transport` "TCP", or "TLS" for stuns:)
  /// found: answered, refused (the host is up), no answer, or failed otherwise.
  public static func tcpFinding(_ tcp: TCPReachability, transport: String = "TCP") -> Finding {
    let s = tcp.server
    var p: FindingParameters = ["server": .address(s)]
    if transport != "TCP" { p["transport"] = .text(transport) }
    let code: FindingCode
    var evidence = EvidenceItem(.tcp, address: s, count: 1)
    if tcp.reachable {
      code = .probeTCPAnswered
      evidence.value = tcp.rttMs
    } else if tcp.refused == true {
      code = .probeTCPRefused
    } else if let ms = tcp.timeoutMs {
      code = .probeTCPNoAnswer
      p["timeoutMs"] = .milliseconds(ms)
    } else {
      code = .probeTCPFailed
      p["error"] = .text(tcp.error ?? "")
    }
    return Finding(code, about: .server(s), .measured, parameters: p, evidence: [evidence])
  }

  /// No answer over UDP, all a probe knows when it ends: the demo says later whether answers
  /// came after all (``udpBlockedContradicted(gathered:)``).
  public static let udpSilentSoFar = Finding(
    .probeUDPSilentSoFar, about: .thisHost, .inferred, aspect: .udpReachability,
    evidence: [EvidenceItem(.noAnswer, step: "reachability")])

  /// A probe's "no answer over UDP" that later UDP traffic contradicts: `gathered` when a
  /// server's answer over UDP gave a candidate, otherwise a UDP check was answered.
  public static func udpBlockedContradicted(gathered: Bool) -> Finding {
    Finding(
      .probeUDPBlockedContradicted, about: .thisHost, .measured, aspect: .udpReachability,
      parameters: ["later": .text(gathered ? "candidate" : "check")],
      evidence: [EvidenceItem(gathered ? .answered : .traffic, step: gathered ? "gather" : "check")]
    )
  }
}

/// The `--json` document of `natscope probe`: the report's keys and its `findings`.
public struct ProbeDocument: Encodable, Sendable {
  public var report: ProbeReport
  public var findings: FindingSet

  /// The document of `report`, its findings derived from it; `unresolved` are the server names
  /// that did not resolve (name, the resolver's sentence).
  public init(_ report: ProbeReport, unresolved: [(name: String, error: String)] = []) {
    self.report = report
    self.findings = ProbeFindings.derive(report, unresolved: unresolved)
  }

  /// The document of a probe that asked no server: every name failed to resolve.
  public static func unresolved(_ names: [(name: String, error: String)]) -> ProbeDocument? {
    var probe = BehaviorProbe(configuration: ProbeConfiguration(servers: [], localAddresses: []))
    var report: ProbeReport?
    for case .event(.finished(let r)) in probe.start(at: .zero) { report = r }
    guard let empty = report else { return nil }
    var doc = ProbeDocument(empty, unresolved: names)
    let reason = doc.findings.map(\.text).joined(separator: " ")
    doc.report.udpBlocked = false
    doc.report.legacyType = "unknown"
    doc.report.mapping.reason = reason
    doc.report.filtering.reason = reason
    doc.report.hairpinningReason = reason
    doc.report.alg.reason = reason
    doc.report.summary =
      doc.findings.first { $0.code.rawValue.hasPrefix("peers.") }?.text ?? reason
    return doc
  }

  private enum Key: String, CodingKey { case findings }

  public func encode(to encoder: any Encoder) throws {
    try report.encode(to: encoder)
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(findings, forKey: .findings)
  }
}
