import Runtime
import STUN
import Traversal

/// The recorded evidence of one `connect` (what both hosts signalled, the per-pair outcomes the
/// ICE agent reports, the waits, the relays' results, the probe's servers) and the pure
/// derivation of its findings (``ConnectFindings``), from which the ``ConnectReport`` is
/// built: `paths.*` (what happened, and why), `prediction.*` (what should happen, from both
/// NAT profiles), the verdict and every other sentence are the findings' texts.
///
/// ```swift
/// var b = ConnectReportBuilder(
///   local: .init(mine, turn: [.udp]), remote: .init(peerDescription))
/// b.pairs = agentStats.map { … ConnectReport.PairOutcome(…) }
/// b.selectedPair = …
/// b.timings = .init(gatheringMs: 120, firstCheckMs: 130, connectedMs: 412)
/// let report = b.build()
/// print(report.text)
/// ```
public struct ConnectReportBuilder: Sendable {
  /// What is known about one host.
  public struct Side: Sendable, Hashable {
    public var profile: NATProfile?
    public var legacyType: LegacyNATType
    public var candidates: [SignaledCandidate]
    /// Transports of the TURN servers configured (for the peer, inferred from its relay
    /// candidates); empty when none.
    public var turn: [SignaledCandidate.Transport]
    /// What each TURN server of this side did (known for the local side only).
    public var relays: [ConnectReport.RelayServer]
    /// The port mapping this side's router granted (known for the local side only, except in
    /// the demo, which knows both hosts').
    public var portMapping: ConnectReport.PortMapping?
    /// The probe's server, when every server the probe asked is on this host (loopback or one
    /// of its own addresses): the profile then says nothing about a NAT, and the report does
    /// not state it. Known for the local side only.
    public var probeServerOnThisHost: TransportAddress?

    public init(
      profile: NATProfile?, legacyType: LegacyNATType? = nil, candidates: [SignaledCandidate],
      turn: [SignaledCandidate.Transport] = [], relays: [ConnectReport.RelayServer] = [],
      portMapping: ConnectReport.PortMapping? = nil,
      probeServerOnThisHost: TransportAddress? = nil
    ) {
      self.portMapping = portMapping
      self.profile = profile
      self.legacyType = legacyType ?? profile?.legacyType ?? .unknown
      self.candidates = candidates
      self.turn = turn
      self.relays = relays
      self.probeServerOnThisHost = probeServerOnThisHost
    }

    /// A side from its session description. `turn` defaults to `[.udp]` when the description
    /// has relay candidates (the peer's TURN transport is not signalled).
    public init(_ d: SessionDescription, turn: [SignaledCandidate.Transport]? = nil) {
      self.init(
        profile: d.natProfile, legacyType: d.legacyNATType, candidates: d.candidates,
        turn: turn ?? (d.candidates.contains { $0.kind == .relay } ? [.udp] : []))
    }

    var hasRelay: Bool { !turn.isEmpty || candidates.contains { $0.kind == .relay } }

    /// The side as the derivations see it: no profile when its probe asked only a server on
    /// this host (that profile is no measurement of a NAT).
    var measured: Side {
      guard probeServerOnThisHost != nil else { return self }
      var s = self
      s.profile = nil
      return s
    }
  }

  /// How the wait for the person at the other end went.
  public struct PeerWait: Sendable, Hashable {
    /// What this side waited for.
    public var what: ConnectPeerWait
    /// How long it waited, in milliseconds.
    public var waitedMs: Double
    /// Whether what it waited for came (the answer, the offerer's first check).
    public var came: Bool

    public init(_ what: ConnectPeerWait, waitedMs: Double, came: Bool) {
      self.what = what
      self.waitedMs = waitedMs
      self.came = came
    }
  }

  public var local: Side
  public var remote: Side
  public var pairs: [ConnectReport.PairOutcome] = []
  /// nil when ICE selected nothing.
  public var selectedPair: ConnectReport.SelectedPair?
  public var timings = ConnectReport.Timings()
  /// This host's ICE role, when known: it decides who should have nominated a working pair.
  public var role: ICERole?
  /// Milliseconds from the start of the checks to the selected pair; nil uses
  /// `timings.connectedMs`.
  public var timeToConnectedMs: Double?
  /// Set when the verdict came because the person at the other end took longer than this
  /// side waits: what did not come, and the limit.
  public var peerWaitExpired: (ConnectPeerWait, Duration)?
  /// Set when the answerer stopped waiting for the offerer's first check because every pair
  /// failed and ``everyPathPredictedToFail``: the verdict then rests on both sides' measured
  /// behaviour, not on a silence.
  public var peerWaitNeedless = false
  /// The wait for the person at the other end, when this side waited; nil when it did not
  /// (or it is not known: then the report says nothing about it).
  public var peerWait: PeerWait?
  /// What the checks showed of packet loss; nil when unknown.
  public var loss: ConnectReport.Loss?
  /// Whether the peer's description arrived. When it did not, nothing is known of its
  /// candidates or the pairs: the paths are not measured.
  public var peerDescriptionReceived = true
  /// How many checks came from the peer (nil when not known): none at all, on an answerer,
  /// means the offerer may not have had the answer yet.
  public var peerChecksReceived: Int?
  /// How the reflexive prediction names the hosts: `this host` and `the peer` (false), or
  /// `host A` and `host B` (true, the demo).
  public var namesHostsAB = false
  /// What the DTLS handshake over the selected pair did; nil when the session had no DTLS
  /// configured (the simulated labs).
  public var dtls: ConnectReport.DTLS?
  /// What the path MTU search on the selected pair found; nil when none ran.
  public var pathMTU: PathMTUResult?
  /// `--no-path-mtu`: the report says the search was not run.
  public var pathMTUTurnedOff = false

  public init(local: Side, remote: Side) {
    self.local = local
    self.remote = remote
  }

  /// The findings the evidence supports, in the order the report shows them.
  public func findings() -> FindingSet { derive().findings }

  /// The report: every sentence in it is one of ``findings()``'s texts.
  public func build() -> ConnectReport {
    let d = derive()
    let connected = selectedPair != nil
    func result(_ k: ConnectReport.PathKind) -> ConnectReport.PathResult {
      let p = d.paths[k]
      return .init(
        attempted: p.attempted, succeeded: p.succeeded,
        reason: p.findings.map(\.text).joined(separator: " "), rttMs: p.rttMs,
        problem: p.problem)
    }
    func predicted(_ k: ConnectReport.PathKind) -> PathPrediction {
      PathPrediction(d.predictions[k].outcome, d.predictions[k].finding.text)
    }
    var r = ConnectReport(
      state: connected ? .connected : .failed, selectedPair: selectedPair,
      timeToConnectedMs: connected ? (timeToConnectedMs ?? timings.connectedMs) : nil,
      timings: timings,
      paths: .init(direct: result(.direct), reflexive: result(.reflexive), relay: result(.relay)),
      prediction: .init(
        direct: predicted(.direct), reflexive: predicted(.reflexive), relay: predicted(.relay)),
      local: .init(
        profile: local.profile, legacyType: local.legacyType.rawValue, turn: local.turn,
        relays: local.relays, portMapping: local.portMapping),
      remote: .init(
        profile: remote.profile, legacyType: remote.legacyType.rawValue, turn: remote.turn),
      candidates: .init(
        local: local.candidates.map(ConnectReport.CandidateEntry.init),
        remote: remote.candidates.map(ConnectReport.CandidateEntry.init)),
      pairs: pairs, reason: d.verdict.isEmpty ? nil : d.verdict.map(\.text).joined(separator: " "))
    if connected { r.reason = nil }
    r.loss = loss
    r.findings = d.findings
    r.dtls = dtls
    r.pathMTU = pathMTU
    if connected, dtls?.state == .failed {
      // ICE connected, DTLS did not: nothing a WebRTC peer sends would flow, so the verdict is
      // failed, and its reason is the DTLS findings' sentences.
      r.state = .failed
      let failed = d.findings.filter { DTLSFindings.codes.contains($0.code) }
      r.reason = failed.reversed().map(\.text).joined(separator: " ")
    }
    return r
  }

  /// One path while it is derived: its result and the findings its reason is made of.
  struct PathDraft: Codable, Sendable, Hashable {
    var attempted = false
    var succeeded = false
    var rttMs: Double?
    var problem: String?
    var findings: [Finding] = []
  }

  struct Derived {
    var paths: ConnectReport.PerPath<PathDraft>
    var predictions: ConnectReport.PerPath<PredictionBox>
    /// The verdict's findings when nothing was selected (why, and the loss seen); empty when
    /// connected.
    var verdict: [Finding]
    var findings: FindingSet
  }

  /// A prediction with its finding.
  struct PredictionBox: Codable, Sendable, Hashable {
    var outcome: PathPrediction.Outcome
    var finding: Finding
  }

  /// Derives every finding from the evidence.
  func derive() -> Derived {
    let local = self.local.measured
    let remote = self.remote.measured
    let predictions = Self.predictionFindings(
      local: local, remote: remote, peerKnown: peerDescriptionReceived, namesHostsAB: namesHostsAB)
    var drafts = Self.pathDrafts(
      pairs, local: local, remote: remote, selected: selectedPair, role: role,
      peerChecksReceived: peerChecksReceived)
    var all = FindingSet()
    var verdict: [Finding] = []
    let connected = selectedPair != nil
    if !peerDescriptionReceived {
      for kind in ConnectReport.PathKind.allCases {
        drafts[kind] = PathDraft(findings: [
          Finding(
            .connectPathNotMeasured, about: .path(kind.rawValue), .notMeasured,
            aspect: .connectPairs)
        ])
      }
    } else {
      if connected {
        Self.explainStoppedPaths(
          &drafts, pairs: pairs, selected: selectedPair, predictions: predictions,
          derive: { informative in
            Self.pathDrafts(
              informative, local: local, remote: remote, selected: selectedPair, role: role,
              peerChecksReceived: peerChecksReceived)
          })
      }
      Self.explainBlockedUDP(&drafts, local: local, remote: remote)
      Self.explainPortMapping(&drafts, local: local, remote: remote, selected: selectedPair)
    }
    if let s = selectedPair {
      var p: FindingParameters = [
        "path": .text(ConnectReport.PathKind.of(s.local.type, s.remote.type).rawValue),
        "localType": .text(s.local.type.rawValue), "remoteType": .text(s.remote.type.rawValue),
      ]
      if let t = timeToConnectedMs ?? timings.connectedMs { p["ms"] = .milliseconds(t) }
      all.append(
        Finding(
          .connectConnected, about: .session, .measured, aspect: .connectPathWorks,
          parameters: p,
          evidence: [EvidenceItem(.answered, step: "selected pair", value: s.rttMs)]))
    } else {
      verdict.append(failureFinding())
      if let l = loss, l.seen { verdict.append(Self.lossFinding(l)) }
    }
    all.append(contentsOf: verdict)
    if !peerDescriptionReceived {
      all.append(
        Finding(.connectNoPeerDescription, about: .peer, .notMeasured, aspect: .connectPeer))
    }
    // The NAT line, and this host's NAT type when its probe's server was on this host.
    var nat: FindingParameters = [
      "local": .text(self.local.legacyType.rawValue),
      "peer": .text(self.remote.legacyType.rawValue), "peerKnown": .flag(peerDescriptionReceived),
    ]
    if let server = self.local.probeServerOnThisHost {
      nat["localServerOnThisHost"] = .address(server)
      all.append(
        Finding(
          .connectProbeServerOnThisHost, about: .thisHost, .notMeasured, aspect: .connectNATType,
          parameters: ["server": .address(server)]))
    }
    all.append(Finding(.connectNATTypes, about: .session, .measured, parameters: nat))
    for kind in ConnectReport.PathKind.allCases { all.append(contentsOf: drafts[kind].findings) }
    for kind in ConnectReport.PathKind.allCases { all.append(predictions[kind].finding) }
    if connected, let l = loss, l.seen { all.append(Self.lossFinding(l)) }
    if let dtls { all.append(contentsOf: DTLSFindings.derive(dtls)) }
    if let pathMTU {
      all.append(contentsOf: PathMTUFindings.derive(pathMTU, dtls: dtls))
    } else if pathMTUTurnedOff, connected {
      all.append(Finding(.mtuOff, about: .session, .notMeasured, aspect: .pathMTU))
    }
    if let w = peerWait {
      all.append(
        Finding(
          w.came ? .connectWaitEnded : .connectWaitUnanswered, about: .peer, .measured,
          parameters: ["waitedFor": .text(w.what.rawValue), "ms": .milliseconds(w.waitedMs)],
          evidence: [EvidenceItem(.signalling, step: w.what.rawValue, value: w.waitedMs)]))
    }
    return Derived(paths: drafts, predictions: predictions, verdict: verdict, findings: all)
  }

  static func lossFinding(_ l: ConnectReport.Loss) -> Finding {
    Finding(
      .connectLoss, about: .network, .measured, aspect: "loss",
      parameters: [
        "checks": .int(l.checks), "checksRetransmitted": .int(l.checksRetransmitted),
        "answersLost": .int(l.answersLost), "provenChecks": .int(l.provenChecks),
        "provenChecksRetransmitted": .int(l.provenChecksRetransmitted),
      ],
      evidence: [EvidenceItem(.traffic, step: "checks", count: l.checks)])
  }

  /// When the selected pair's local candidate is the router's port mapping (and STUN saw this
  /// host elsewhere, so only the mapping offered that address), the mapping made the
  /// difference: the reflexive path says so.
  static func explainPortMapping(
    _ drafts: inout ConnectReport.PerPath<PathDraft>, local: Side, remote: Side,
    selected: ConnectReport.SelectedPair?
  ) {
    func method(_ m: ConnectReport.PortMapping) -> String {
      m.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName } ?? "port mapping"
    }
    if let m = local.portMapping, m.granted, let seen = Self.mappingBehindAnotherNAT(local) {
      // The router's own external address is not where servers see this host: the mapping
      // opens a port on a NAT that is itself behind another one.
      drafts.reflexive.findings.append(
        Finding(
          .connectPathMappingBehindNAT, about: .path("reflexive"), .inferred,
          parameters: [
            "method": .text(method(m)), "external": .text(m.externalAddress ?? "?"),
            "port": .int(Int(m.externalPort ?? 0)), "seen": .text(seen.description),
          ]))
      return
    }
    guard let m = local.portMapping, m.granted, let s = selected, s.local.type == .srflx,
      s.local.address == m.externalAddress, s.local.port == m.externalPort
    else { return }
    // With an endpoint-independent NAT, STUN learns the same address: then the mapping made
    // no difference that the evidence shows.
    guard let a = local.profile?.mapping, a != .endpointIndependent else { return }
    drafts.reflexive.findings = [
      Finding(
        .connectPathThroughMapping, about: .path("reflexive"), .inferred,
        parameters: [
          "method": .text(method(m)), "external": .text(m.externalAddress ?? "?"),
          "port": .int(Int(m.externalPort ?? 0)), "mapping": .text(a.rawValue),
          "peerAlso": .flag(remote.profile?.mapping.map { $0 != .endpointIndependent } == true),
        ])
    ]
  }

  /// Pairs still being checked when another path won (`cancelled`) say nothing about their
  /// own path. A path explains itself by its other checked pairs when it has some; when every
  /// checked pair of a path was stopped, it says so, with the prediction's reason when that
  /// was "fails".
  static func explainStoppedPaths(
    _ drafts: inout ConnectReport.PerPath<PathDraft>, pairs: [ConnectReport.PairOutcome],
    selected: ConnectReport.SelectedPair?, predictions: ConnectReport.PerPath<PredictionBox>,
    derive: ([ConnectReport.PairOutcome]) -> ConnectReport.PerPath<PathDraft>
  ) {
    func stopped(_ p: ConnectReport.PairOutcome) -> Bool { p.failure == .cancelled }
    let informative = pairs.filter { p in
      !stopped(p) || !pairs.contains { $0.kind == p.kind && $0.checked && !stopped($0) }
    }
    if informative.count != pairs.count { drafts = derive(informative) }
    let winner = selected.map { ConnectReport.PathKind.of($0.local.type, $0.remote.type) }
    for kind in ConnectReport.PathKind.allCases {
      let checked = pairs.filter { $0.kind == kind && $0.checked }
      guard !checked.isEmpty, !checked.contains(where: \.succeeded),
        checked.allSatisfy(stopped)
      else { continue }
      let requests = checked.map(\.requests).max() ?? 0
      // Not a failure: these checks were cut short, so the path was never really tried.
      var p: FindingParameters = ["requests": .int(requests)]
      if let winner { p["winner"] = .text(winner.rawValue) }
      let predicted = predictions[kind]
      if predicted.outcome == .fails { p["predictedFails"] = .text(predicted.finding.text) }
      drafts[kind].findings = [
        Finding(.connectPathCutShort, about: .path(kind.rawValue), .measured, parameters: p)
      ]
    }
  }

  /// When a host's probe found UDP blocked, that is the reason the UDP paths failed, not the
  /// generic ones ("no pair could be formed"). The relay keeps its own reason: a blocked host
  /// may reach the relay over TCP.
  static func explainBlockedUDP(
    _ drafts: inout ConnectReport.PerPath<PathDraft>, local: Side, remote: Side
  ) {
    let mine = local.profile?.udpBlocked == true
    let peers = remote.profile?.udpBlocked == true
    guard mine || peers else { return }
    let who = mine && peers ? "both" : (mine ? "this-host" : "peer")
    let overTCP = (!mine || local.turn.contains(.tcp)) && (!peers || remote.turn.contains(.tcp))
    func blocked(_ kind: ConnectReport.PathKind) -> Finding {
      Finding(
        .connectPathUDPBlocked, about: .path(kind.rawValue), .inferred,
        parameters: ["who": .text(who), "overTCP": .flag(overTCP)])
    }
    // A probe to servers on the internet says nothing about the LAN: two hosts that share a
    // subnet keep the direct path's own evidence.
    if !drafts.direct.succeeded && Self.sharedSubnet(local, remote) == nil {
      drafts.direct.findings = [blocked(.direct)]
    }
    if !drafts.reflexive.succeeded { drafts.reflexive.findings = [blocked(.reflexive)] }
  }

  /// Why nothing was selected.
  func failureFinding() -> Finding {
    let checked = pairs.filter(\.checked).count
    if let (what, limit) = peerWaitExpired {
      return Finding(
        .connectWaitExpired, about: .session, .measured,
        parameters: [
          "waitedFor": .text(what.rawValue), "limitMs": .milliseconds(limit.milliseconds),
        ],
        evidence: [EvidenceItem(.signalling, step: what.rawValue, value: limit.milliseconds)])
    }
    if peerWaitNeedless {
      return Finding(
        .connectNoPathPossible, about: .session, .inferred, parameters: ["checked": .int(checked)],
        evidence: [EvidenceItem(.noAnswer, step: "checks from the peer", count: 0)])
    }
    if pairs.contains(where: \.succeeded) {
      let r: String =
        switch role {
        case .controlled?: "controlled"
        case .controlling?: "controlling"
        case nil: "unknown"
        }
      return Finding(
        .connectNotNominated, about: .session, .measured, parameters: ["role": .text(r)])
    }
    if !peerDescriptionReceived {
      return Finding(
        .connectNoPeerDescription, about: .session, .measured,
        evidence: [EvidenceItem(.signalling, step: "peer description")])
    }
    if pairs.isEmpty {
      return Finding(
        .connectNoPair, about: .session, .measured,
        parameters: ["peerSignalledNone": .flag(remote.candidates.isEmpty)])
    }
    if Self.peerSilent(pairs.filter(\.checked), role: role, peerChecksReceived: peerChecksReceived)
    {
      return Finding(
        .connectPeerSilent, about: .session, .likely, parameters: ["checked": .int(checked)],
        evidence: [EvidenceItem(.noAnswer, step: "checks from the peer", count: 0)])
    }
    return Finding(
      .connectNoPathWorked, about: .session, .measured, parameters: ["checked": .int(checked)])
  }

  /// Whether the checks all timed out on an answerer to which no check ever came: the offerer
  /// may not have had the answer yet, so the silence says nothing about the network.
  static func peerSilent(
    _ checked: [ConnectReport.PairOutcome], role: ICERole?, peerChecksReceived: Int?
  ) -> Bool {
    role == .controlled && peerChecksReceived == 0 && !checked.isEmpty
      && checked.allSatisfy { $0.failure == .timeout || $0.failure == nil }
      && !checked.contains(where: \.succeeded)
  }

  /// "No path worked (N pairs checked)."
  static func noPathWorked(checked: Int) -> String {
    Finding(
      .connectNoPathWorked, about: .session, .measured, parameters: ["checked": .int(checked)]
    )
    .text
  }

  // MARK: - What happened

  /// Derives each path's result from the pair outcomes.
  ///
  /// - Parameter selected: the pair ICE selected, if any: a path it belongs to names it, and
  ///   unchecked paths then say a better path won.
  public static func paths(
    _ pairs: [ConnectReport.PairOutcome], local: Side, remote: Side,
    selected: ConnectReport.SelectedPair?
  ) -> ConnectReport.Paths {
    let d = pathDrafts(
      pairs, local: local, remote: remote, selected: selected, role: nil, peerChecksReceived: nil)
    func result(_ p: PathDraft) -> ConnectReport.PathResult {
      .init(
        attempted: p.attempted, succeeded: p.succeeded,
        reason: p.findings.map(\.text).joined(separator: " "), rttMs: p.rttMs, problem: p.problem)
    }
    return .init(direct: result(d.direct), reflexive: result(d.reflexive), relay: result(d.relay))
  }

  static func pathDrafts(
    _ pairs: [ConnectReport.PairOutcome], local: Side, remote: Side,
    selected: ConnectReport.SelectedPair?, role: ICERole?, peerChecksReceived: Int?
  ) -> ConnectReport.PerPath<PathDraft> {
    let connected = selected != nil
    func result(_ kind: ConnectReport.PathKind) -> PathDraft {
      let subject = FindingSubject.path(kind.rawValue)
      let all = pairs.filter { $0.kind == kind }
      let checked = all.filter(\.checked)
      let won = checked.filter(\.succeeded)
      if !won.isEmpty {
        // The selected pair when it is on this path, else the fastest pair that worked.
        let chosen = selected.flatMap { s in
          won.first { $0.local == s.local && $0.remote == s.remote }
        }
        let best =
          chosen ?? won.min { ($0.rttMs ?? .infinity) < ($1.rttMs ?? .infinity) } ?? won[0]
        let rtt = best.rttMs ?? won.compactMap(\.rttMs).min()
        var p: FindingParameters = [
          "local": .text((best.peerReflexive ?? best.local).description),
          "remote": .text(best.remote.description), "selected": .flag(chosen != nil),
        ]
        if let rtt { p["rttMs"] = .milliseconds(rtt) }
        return PathDraft(
          attempted: true, succeeded: true, rttMs: rtt,
          findings: [
            Finding(
              .connectPathWorked, about: subject, .measured, aspect: .connectPathWorks,
              parameters: p,
              evidence: [EvidenceItem(.answered, step: "pair", count: best.requests, value: rtt)])
          ])
      }
      if checked.isEmpty {
        if kind == .direct, let p = pairs.first(where: { $0.throughLocalNAT }),
          let seen = p.peerReflexive
        {
          return PathDraft(findings: [
            Finding(
              .connectPathThroughLocalNAT, about: subject, .measured,
              parameters: ["remote": .text(p.remote.description), "seen": .text(seen.description)])
          ])
        }
        return PathDraft(findings: [
          notTried(kind, formed: !all.isEmpty, local: local, remote: remote, connected: connected)
        ])
      }
      return PathDraft(
        attempted: true,
        findings: [
          failed(
            kind, checked, local: local, remote: remote,
            peerSilent: peerSilent(checked, role: role, peerChecksReceived: peerChecksReceived))
        ])
    }
    var relay = result(.relay)
    if !relay.succeeded, let trouble = local.relays.first(where: { $0.problem != nil }) {
      relay.problem = trouble.problem
      // Relayed pairs through an address no peer can reach time out: the address is why.
      if trouble.problem == TURNCheckProblem.Code.relayedAddressUnroutable.rawValue,
        let why = trouble.reason
      {
        let n = pairs.filter { $0.kind == .relay && $0.checked }.count
        relay.findings = [
          Finding(
            .connectPathRelayUnroutable, about: .path("relay"), .inferred,
            parameters: ["pairs": .int(n), "why": .text(why)])
        ]
      }
    }
    return .init(direct: result(.direct), reflexive: result(.reflexive), relay: relay)
  }

  static func notTried(
    _ kind: ConnectReport.PathKind, formed: Bool, local: Side, remote: Side, connected: Bool
  ) -> Finding {
    let subject = FindingSubject.path(kind.rawValue)
    func notFormed(_ why: String, _ extra: FindingParameters = [:]) -> Finding {
      var p = extra
      p["why"] = .text(why)
      return Finding(.connectPathNotFormed, about: subject, .measured, parameters: p)
    }
    if formed {
      return Finding(
        .connectPathNotChecked, about: subject, .measured,
        parameters: ["connected": .flag(connected)])
    }
    switch kind {
    case .relay:
      if !local.hasRelay && !remote.hasRelay { return notFormed("no-relay-configured") }
      if !local.turn.isEmpty && !local.candidates.contains(where: { $0.kind == .relay }) {
        let failed = local.relays.filter { !$0.allocated }
        guard !failed.isEmpty else { return notFormed("no-relay-address") }
        return notFormed(
          "relay-failed",
          [
            "servers": .list(failed.map { .text($0.server) }),
            "transports": .list(failed.map { .text($0.transport.rawValue) }),
            "reasons": .list(failed.map { .text($0.reason ?? "no answer") }),
          ])
      }
      return notFormed("relay")
    case .reflexive:
      let any = (local.candidates + remote.candidates).contains {
        $0.kind == .srflx || $0.kind == .prflx
      }
      if !any {
        // A STUN answer that shows no NAT gives a reflexive address equal to the host one,
        // which ICE drops as redundant: say so rather than "no answer".
        let open = [(local.profile, "this-host"), (remote.profile, "peer")].filter {
          $0.0.map { !$0.udpBlocked && !$0.natDetected } ?? false
        }.map(\.1)
        if !open.isEmpty {
          return notFormed("no-nat", ["who": .text(open.count == 2 ? "both" : open[0])])
        }
        if local.profile == nil && remote.profile == nil { return notFormed("no-stun") }
        return notFormed("same-address")
      }
      return notFormed("reflexive")
    case .direct:
      let remoteHosts = remote.candidates.filter { $0.kind == .host }
      if !remoteHosts.isEmpty && remoteHosts.allSatisfy({ $0.unusableReason != nil }) {
        return notFormed("mdns")
      }
      if !local.candidates.contains(where: { $0.kind == .host }) {
        return notFormed("no-host-candidates", ["who": .text("this-host")])
      }
      if remoteHosts.isEmpty { return notFormed("no-host-candidates", ["who": .text("peer")]) }
      return notFormed("families")
    }
  }

  static func failed(
    _ kind: ConnectReport.PathKind, _ checked: [ConnectReport.PairOutcome], local: Side,
    remote: Side, peerSilent: Bool = false
  ) -> Finding {
    let subject = FindingSubject.path(kind.rawValue)
    let requests = checked.map(\.requests).max() ?? 0
    let allTimedOut = checked.allSatisfy { $0.failure == .timeout || $0.failure == nil }
    if !allTimedOut,
      let other = checked.first(where: { $0.failure != .timeout && $0.failure != nil })
    {
      var p: FindingParameters = ["remote": .text(other.remote.description)]
      if let d = other.detail { p["detail"] = .text(d) }
      switch other.failure {
      case .errorResponse:
        return Finding(
          .connectPathErrorResponse, about: subject, .measured, parameters: p,
          evidence: [EvidenceItem(.errorCode, step: "check", address: nil)])
      case .unreachable:
        p["icmp"] = .text(other.icmp?.rawValue ?? "unreachable")
        return Finding(
          .connectPathUnreachable, about: subject, .measured, parameters: p,
          evidence: [EvidenceItem(.icmp, step: "check")])
      default:
        var q: FindingParameters = [:]
        if let d = other.detail { q["detail"] = .text(d) }
        return Finding(.connectPathStopped, about: subject, .measured, parameters: q)
      }
    }
    var p: FindingParameters = ["pairs": .int(checked.count), "requests": .int(requests)]
    let evidence = [EvidenceItem(.noAnswer, step: "checks", count: requests)]
    // No check from the peer says nothing about the network, unless both profiles explain
    // the silence both ways (a NAT that changes ports against one that filters).
    let explained =
      kind == .reflexive
      && !["unknown", "firewall"].contains(natReason(local.profile, remote.profile).0)
    if peerSilent && !explained {
      return Finding(
        .connectPathPeerSilent, about: subject, .likely, parameters: p, evidence: evidence)
    }
    switch kind {
    case .direct:
      // Timed out: requests went out, no answer and no ICMP error came back.
      if let subnet = sharedSubnet(local, remote) {
        p["why"] = .text("same-subnet")
        p["subnet"] = .text(subnet)
      } else if bothLoopback(local, remote) {
        p["why"] = .text("loopback")
      } else if hostIPs(local).isEmpty || hostIPs(remote).isEmpty {
        p["why"] = .text("no-host-address")
      } else {
        p["why"] = .text("different-networks")
      }
    case .reflexive:
      let target =
        checked.first(where: { $0.remote.type == .srflx })?.remote ?? checked[0].remote
      p["target"] = .text(target.description)
      let (nat, filtering) = natReason(local.profile, remote.profile)
      p["nat"] = .text(nat)
      if let filtering { p["filtering"] = .text(filtering.rawValue) }
    case .relay:
      let target =
        checked.first(where: { $0.local.type == .relay })?.local ?? checked[0].remote
      p["why"] = .text("relay")
      p["target"] = .text(target.description)
    }
    return Finding(.connectPathTimedOut, about: subject, .likely, parameters: p, evidence: evidence)
  }

  /// Why checks through the NATs got no answer, from both profiles: the reason's name, and the
  /// filtering it names.
  static func natReason(_ mine: NATProfile?, _ peer: NATProfile?) -> (String, FilteringBehavior?) {
    if mine?.udpBlocked == true { return ("udp-blocked-here", nil) }
    if peer?.udpBlocked == true { return ("udp-blocked-peer", nil) }
    guard let mine, let peer, let mm = mine.mapping, let mf = mine.filtering,
      let pm = peer.mapping, let pf = peer.filtering
    else { return ("unknown", nil) }
    if mm != .endpointIndependent && pm != .endpointIndependent { return ("both-symmetric", nil) }
    if mm != .endpointIndependent && pf != .endpointIndependent { return ("peer-filters", pf) }
    if pm != .endpointIndependent && mf != .endpointIndependent { return ("local-filters", mf) }
    return ("firewall", nil)
  }

  // MARK: - What should happen

  /// Whether both sides' measured NAT behaviour, candidates and TURN settings rule out every
  /// kind of path (each predicted to fail, none unknown). An answerer whose pairs all failed
  /// then has no check from the offerer to wait for: none could arrive.
  public var everyPathPredictedToFail: Bool {
    let p = Self.predict(local: local, remote: remote)
    return ConnectReport.PathKind.allCases.allSatisfy { p[$0].outcome == .fails }
  }

  /// Predicts each kind of path from both sides' NAT profiles, candidates and TURN settings.
  public static func predict(local: Side, remote: Side) -> ConnectReport.Predictions {
    let p = predictionFindings(
      local: local.measured, remote: remote.measured, peerKnown: true, namesHostsAB: false)
    func one(_ k: ConnectReport.PathKind) -> PathPrediction {
      PathPrediction(p[k].outcome, p[k].finding)
    }
    return .init(direct: one(.direct), reflexive: one(.reflexive), relay: one(.relay))
  }

  static func predictionFindings(
    local: Side, remote: Side, peerKnown: Bool, namesHostsAB: Bool
  ) -> ConnectReport.PerPath<PredictionBox> {
    func box(_ kind: ConnectReport.PathKind, _ o: PathPrediction.Outcome, _ p: FindingParameters)
      -> PredictionBox
    {
      var p = p
      p["outcome"] = .text(o.rawValue)
      if namesHostsAB { p["naming"] = .text("hosts") }
      return PredictionBox(
        outcome: o,
        finding: Finding(.connectPrediction, about: .path(kind.rawValue), .inferred, parameters: p))
    }
    guard peerKnown else {
      let none: FindingParameters = ["why": .text("no-peer")]
      return .init(
        direct: box(.direct, .unknown, none), reflexive: box(.reflexive, .unknown, none),
        relay: box(.relay, .unknown, none))
    }
    let d = predictDirect(local, remote)
    let r = predictReflexive(local, remote)
    let l = predictRelay(local, remote)
    return .init(
      direct: box(.direct, d.0, d.1), reflexive: box(.reflexive, r.0, r.1),
      relay: box(.relay, l.0, l.1))
  }

  static func predictReflexive(_ local: Side, _ remote: Side) -> (
    PathPrediction.Outcome, FindingParameters
  ) {
    guard var a = local.profile, var b = remote.profile else {
      let who =
        local.profile == nil && remote.profile == nil
        ? "both" : (local.profile == nil ? "a" : "b")
      return (.unknown, ["why": .text("no-profile"), "who": .text(who)])
    }
    // A granted port mapping is a fixed open door for the host candidate's port: for that port
    // this host's NAT maps and filters independently of the destination. Not when the router
    // sits behind another NAT: that NAT still maps and filters as the probe measured. The
    // peer's mapping counts when it is known (the demo knows both hosts').
    let mapped = local.portMapping?.granted == true && mappingBehindAnotherNAT(local) == nil
    let peerMapped = remote.portMapping?.granted == true && mappingBehindAnotherNAT(remote) == nil
    if mapped {
      a.mapping = .endpointIndependent
      a.filtering = .endpointIndependent
    }
    if peerMapped {
      b.mapping = .endpointIndependent
      b.filtering = .endpointIndependent
    }
    let rule = ReflexivePathRule.decide(a, b)
    func name(_ m: ConnectReport.PortMapping?) -> String {
      m?.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName } ?? "port mapping"
    }
    var p = parameters(of: rule.basis)
    if mapped { p["mappedHere"] = .text(name(local.portMapping)) }
    if peerMapped { p["mappedPeer"] = .text(name(remote.portMapping)) }
    return (rule.outcome, p)
  }

  /// The parameters of a reflexive prediction that the model's rule `basis` decided.
  static func parameters(of basis: ReflexivePathRule.Basis) -> FindingParameters {
    var p: FindingParameters = [:]
    func who(_ h: ReflexivePathRule.Host) -> FindingValue { .text(h.rawValue) }
    switch basis {
    case .udpBlocked(let h):
      p["why"] = .text("reflexive-udp-blocked")
      p["who"] = who(h)
    case .behaviourUnknown: p["why"] = .text("behaviour-unknown")
    case .bothPublic: p["why"] = .text("both-public")
    case .bothKeepOneAddress: p["why"] = .text("both-keep-one-address")
    case .letsIn(let h, let nat):
      p["why"] = .text("lets-in")
      p["who"] = who(h)
      p["natDetected"] = .flag(nat)
    case .filtersTooStrictly: p["why"] = .text("filters-too-strictly")
    case .portPerDestination(let h):
      p["why"] = .text("port-per-destination")
      p["who"] = who(h)
    }
    return p
  }

  /// The reflexive path's prediction from both sides, as `natscope demo` states it: the local
  /// side is host A and the remote side host B. `counted` is true when a port mapping of
  /// either side changed it (it then differs from `PathPrediction.reflexive` of the probes).
  public func reflexivePredictionNamingHosts() -> (prediction: PathPrediction, counted: Bool) {
    let p = Self.predictionFindings(
      local: local.measured, remote: remote.measured, peerKnown: true, namesHostsAB: true
    ).reflexive
    let counted = [local, remote].contains { side in
      side.profile != nil && side.portMapping?.granted == true
        && Self.mappingBehindAnotherNAT(side) == nil
    }
    return (PathPrediction(p.outcome, p.finding.text), counted)
  }

  /// When `s`'s router granted a mapping whose external address differs from the address STUN
  /// saw (a server-reflexive candidate that is not the mapping's), the address servers see;
  /// nil otherwise. Addresses are compared, never guessed from their range.
  static func mappingBehindAnotherNAT(_ s: Side) -> IPAddress? {
    guard let m = s.portMapping, m.granted, let text = m.externalAddress,
      let external = IPAddress(text)
    else { return nil }
    return s.candidates.first { c in
      c.kind == .srflx
        && c.address.ip.map { $0 != external && $0.family == external.family }
          == true
    }?.address.ip
  }

  static func hostIPs(_ s: Side) -> [IPAddress] {
    s.candidates.filter { $0.kind == .host && $0.unusableReason == nil }.compactMap(\.address.ip)
      .filter { !$0.isLoopback && !$0.isUnspecified }
  }

  /// Whether each side offered a loopback host candidate of one family (both on this machine).
  static func bothLoopback(_ a: Side, _ b: Side) -> Bool {
    func loopbacks(_ s: Side) -> Set<AddressFamily> {
      Set(
        s.candidates.filter { $0.kind == .host }.compactMap(\.address.ip).filter(\.isLoopback)
          .map(\.family))
    }
    return !loopbacks(a).isDisjoint(with: loopbacks(b))
  }

  static func publicIPs(_ s: Side) -> Set<IPAddress> {
    Set(
      s.candidates.filter { $0.kind == .srflx || $0.kind == .prflx }.compactMap(\.address.ip))
  }

  static func isPublic(_ ip: IPAddress) -> Bool {
    !ip.isPrivate && !ip.isLinkLocal && !ip.isLoopback && !ip.isUnspecified
  }

  /// "192.168.1.0/24" when a host address of each side is in the same /24 (IPv4) or /64 (IPv6).
  static func sharedSubnet(_ a: Side, _ b: Side) -> String? {
    for x in hostIPs(a) {
      for y in hostIPs(b) {
        switch (x, y) {
        case (.v4(let p), .v4(let q)) where p >> 8 == q >> 8:
          return "\(IPAddress.v4(p & 0xFFFF_FF00))/24"
        case (.v6(let p, _), .v6(let q, _)) where p == q && !x.isLinkLocal:
          return "\(IPAddress.v6(p, 0))/64"
        default: continue
        }
      }
    }
    return nil
  }

  static func predictDirect(_ local: Side, _ remote: Side) -> (
    PathPrediction.Outcome, FindingParameters
  ) {
    func why(_ w: String, _ extra: FindingParameters = [:]) -> FindingParameters {
      var p = extra
      p["why"] = .text(w)
      return p
    }
    let remoteHosts = remote.candidates.filter { $0.kind == .host }
    if bothLoopback(local, remote) { return (.works, why("loopback")) }
    if !remoteHosts.isEmpty && hostIPs(remote).isEmpty { return (.unknown, why("mdns")) }
    if let subnet = sharedSubnet(local, remote) {
      let mine = publicIPs(local)
      let theirs = publicIPs(remote)
      let s: FindingParameters = ["subnet": .text(subnet)]
      if mine.isEmpty || theirs.isEmpty { return (.works, why("same-lan", s)) }
      if !mine.isDisjoint(with: theirs) { return (.works, why("same-public", s)) }
      return (.unknown, why("private-range-reused", s))
    }
    // UDP that does not get out reaches no other network (a shared subnet was handled above).
    let blocked = [(local, "a"), (remote, "b")].filter { $0.0.profile?.udpBlocked == true }.map(
      \.1)
    if !blocked.isEmpty {
      return (
        .fails, why("direct-udp-blocked", ["who": .text(blocked.count == 2 ? "both" : blocked[0])])
      )
    }
    for (side, who, otherSide) in [(remote, "b", local), (local, "a", remote)] {
      guard hostIPs(side).contains(where: isPublic) else { continue }
      // A host behind a NAT reaches a public address only through its NAT: the pair that
      // answers is then host ↔ peer-reflexive, the path through the NATs, not a direct one.
      if otherSide.profile?.natDetected == true
        || (!hostIPs(otherSide).isEmpty && !hostIPs(otherSide).contains(where: isPublic))
      {
        return (.fails, why("public-behind-nat", ["who": .text(who)]))
      }
      guard let p = side.profile else {
        return (.unknown, why("public-unknown", ["who": .text(who)]))
      }
      if !p.natDetected && p.filtering == .endpointIndependent {
        return (.works, why("public-open", ["who": .text(who)]))
      }
    }
    if hostIPs(local).isEmpty || hostIPs(remote).isEmpty { return (.fails, why("no-host-address")) }
    return (.fails, why("different-private"))
  }

  static func predictRelay(_ local: Side, _ remote: Side) -> (
    PathPrediction.Outcome, FindingParameters
  ) {
    guard local.hasRelay || remote.hasRelay else { return (.fails, ["why": .text("no-relay")]) }
    if !remote.hasRelay, local.profile?.udpBlocked == true, !local.turn.contains(.tcp) {
      return (.fails, ["why": .text("relay-udp-blocked")])
    }
    let who = local.hasRelay && remote.hasRelay ? "both" : (local.hasRelay ? "a" : "b")
    var p: FindingParameters = ["why": .text("relay-configured"), "who": .text(who)]
    if local.hasRelay && !local.turn.isEmpty {
      p["transports"] = .text(local.turn.map { $0.rawValue.uppercased() }.joined(separator: ", "))
    }
    return (.works, p)
  }
}
