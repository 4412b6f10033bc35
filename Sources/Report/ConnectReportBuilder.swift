import Runtime
import STUN
import Traversal

/// Assembles a `ConnectReport` from what both hosts signalled and the per-pair outcomes the ICE
/// agent reports, deriving `paths.*` (what happened, and why, in one sentence each) and
/// `prediction.*` (what should happen, from both NAT profiles).
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

    public init(
      profile: NATProfile?, legacyType: LegacyNATType? = nil, candidates: [SignaledCandidate],
      turn: [SignaledCandidate.Transport] = [], relays: [ConnectReport.RelayServer] = [],
      portMapping: ConnectReport.PortMapping? = nil
    ) {
      self.portMapping = portMapping
      self.profile = profile
      self.legacyType = legacyType ?? profile?.legacyType ?? .unknown
      self.candidates = candidates
      self.turn = turn
      self.relays = relays
    }

    /// A side from its session description. `turn` defaults to `[.udp]` when the description
    /// has relay candidates (the peer's TURN transport is not signalled).
    public init(_ d: SessionDescription, turn: [SignaledCandidate.Transport]? = nil) {
      self.init(
        profile: d.natProfile, legacyType: d.legacyNATType, candidates: d.candidates,
        turn: turn ?? (d.candidates.contains { $0.kind == .relay } ? [.udp] : []))
    }

    var hasRelay: Bool { !turn.isEmpty || candidates.contains { $0.kind == .relay } }
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
  /// What the checks showed of packet loss; nil when unknown.
  public var loss: ConnectReport.Loss?

  public init(local: Side, remote: Side) {
    self.local = local
    self.remote = remote
  }

  /// The report.
  public func build() -> ConnectReport {
    let connected = selectedPair != nil
    var r = ConnectReport(
      state: connected ? .connected : .failed, selectedPair: selectedPair,
      timeToConnectedMs: connected ? (timeToConnectedMs ?? timings.connectedMs) : nil,
      timings: timings,
      paths: Self.paths(pairs, local: local, remote: remote, selected: selectedPair),
      prediction: Self.predict(local: local, remote: remote),
      local: .init(
        profile: local.profile, legacyType: local.legacyType.rawValue, turn: local.turn,
        relays: local.relays, portMapping: local.portMapping),
      remote: .init(
        profile: remote.profile, legacyType: remote.legacyType.rawValue, turn: remote.turn),
      candidates: .init(
        local: local.candidates.map(ConnectReport.CandidateEntry.init),
        remote: remote.candidates.map(ConnectReport.CandidateEntry.init)),
      pairs: pairs, reason: connected ? nil : failureReason())
    r.loss = loss
    // When loss was seen and nothing connected, the loss may well be why.
    if !connected, let sentence = loss?.sentence, let why = r.reason {
      r.reason = why + " " + sentence
    }
    explainStoppedPaths(&r)
    explainBlockedUDP(&r)
    explainPortMapping(&r)
    return r
  }

  /// When the selected pair's local candidate is the router's port mapping (and STUN saw this
  /// host elsewhere, so only the mapping offered that address), the mapping made the
  /// difference: the reflexive path says so.
  func explainPortMapping(_ r: inout ConnectReport) {
    if let m = local.portMapping, m.granted, let seen = Self.mappingBehindAnotherNAT(local) {
      // The router's own external address is not where servers see this host: the mapping
      // opens a port on a NAT that is itself behind another one.
      let name =
        m.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName }
        ?? "port mapping"
      let sentence =
        "The port mapping natscope made on your router (\(name), \(m.externalAddress ?? "?"):\(m.externalPort ?? 0)) is on a router behind another NAT (servers see this host at \(seen)), so peers outside that NAT cannot use it."
      r.paths.reflexive.reason += r.paths.reflexive.reason.isEmpty ? sentence : " " + sentence
      return
    }
    guard let m = local.portMapping, m.granted, let s = r.selectedPair, s.local.type == .srflx,
      s.local.address == m.externalAddress, s.local.port == m.externalPort
    else { return }
    // With an endpoint-independent NAT, STUN learns the same address: then the mapping made
    // no difference that the evidence shows.
    guard let a = local.profile?.mapping, a != .endpointIndependent else { return }
    let name =
      m.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName } ?? "port mapping"
    var text =
      "Connected through the port mapping natscope made on your router (\(name), \(m.externalAddress ?? "?"):\(m.externalPort ?? 0)): without it, this host's NAT (\(a.rawValue) mapping) gives each destination its own port, so the peer would have had no address it could reach"
    if remote.profile?.mapping.map({ $0 != .endpointIndependent }) == true {
      text += "; with the peer's NAT doing the same, the two hosts would have needed the relay"
    }
    r.paths.reflexive.reason = text + "."
  }

  /// Pairs still being checked when another path won (`cancelled`) say nothing about their
  /// own path. A path explains itself by its other checked pairs when it has some; when every
  /// checked pair of a path was stopped, it says so, with the prediction's reason when that
  /// was "fails".
  func explainStoppedPaths(_ r: inout ConnectReport) {
    guard r.state == .connected else { return }
    func stopped(_ p: ConnectReport.PairOutcome) -> Bool { p.failure == .cancelled }
    let informative = pairs.filter { p in
      !stopped(p) || !pairs.contains { $0.kind == p.kind && $0.checked && !stopped($0) }
    }
    if informative.count != pairs.count {
      r.paths = Self.paths(informative, local: local, remote: remote, selected: r.selectedPair)
    }
    let winner =
      r.selectedPair.map {
        "the \(ConnectReport.PathKind.of($0.local.type, $0.remote.type).rawValue) path"
      } ?? "another path"
    for kind in ConnectReport.PathKind.allCases {
      let checked = pairs.filter { $0.kind == kind && $0.checked }
      guard !checked.isEmpty, !checked.contains(where: \.succeeded),
        checked.allSatisfy(stopped)
      else { continue }
      let requests = checked.map(\.requests).max() ?? 0
      // Not a failure: these checks were cut short, so the path was never really tried.
      var reason =
        "Not tried to the end: \(winner) connected first, while these checks had no answer yet (\(requests) request\(requests == 1 ? "" : "s"))."
      let predicted = r.prediction[kind]
      if predicted.outcome == .fails { reason += " " + predicted.reason }
      r.paths[kind].reason = reason
    }
  }

  /// When a host's probe found UDP blocked, that is the reason the UDP paths failed, not the
  /// generic ones ("no pair could be formed"). The relay keeps its own reason: a blocked host
  /// may reach the relay over TCP.
  func explainBlockedUDP(_ r: inout ConnectReport) {
    let mine = local.profile?.udpBlocked == true
    let peers = remote.profile?.udpBlocked == true
    guard mine || peers else { return }
    let who =
      mine && peers
      ? "both hosts' networks" : (mine ? "this host's network" : "the peer's network")
    let blockedReachRelayOverTCP =
      (!mine || local.turn.contains(.tcp)) && (!peers || remote.turn.contains(.tcp))
    let noUDP =
      blockedReachRelayOverTCP
      ? "UDP is blocked on \(who), so no UDP path can work; only the TURN relay, reached over TCP, can connect these hosts."
      : "UDP is blocked on \(who), so no UDP path can work; only a TURN relay over TCP or TLS could connect these hosts."
    // A probe to servers on the internet says nothing about the LAN: two hosts that share a
    // subnet keep the direct path's own evidence.
    if !r.paths.direct.succeeded && Self.sharedSubnet(local, remote) == nil {
      r.paths.direct.reason = noUDP
    }
    if !r.paths.reflexive.succeeded { r.paths.reflexive.reason = noUDP }
  }

  /// Why nothing was selected, in one sentence.
  func failureReason() -> String {
    let checked = pairs.filter(\.checked).count
    if let (what, limit) = peerWaitExpired {
      return Self.peerWaitExpiredReason(what, limit: limit)
    }
    if pairs.contains(where: \.succeeded) {
      switch role {
      case .controlled?:
        return
          "Checks worked, but the peer (the controlling side) never nominated a pair before the time ran out: it may have quit or given up first."
      case .controlling?:
        return "Checks worked, but no nominating check was answered before the time ran out."
      case nil:
        return "Checks worked, but no pair was nominated before the time ran out."
      }
    }
    if pairs.isEmpty {
      return remote.candidates.isEmpty
        ? "No pair could be formed: the peer signalled no candidates."
        : "No pair could be formed from the candidates."
    }
    return Self.noPathWorked(checked: checked)
  }

  /// Why nothing happened when the person at the other end did not act in time.
  static func peerWaitExpiredReason(_ what: ConnectPeerWait, limit: Duration) -> String {
    let time = ConnectReportText.duration(limit.milliseconds)
    switch what {
    case .answer:
      return
        "No answer was pasted within \(time) of the offer being ready; run again and paste the answer token sooner, or raise --timeout."
    case .checks:
      return
        "No check came from the offerer within \(time) of this answer being ready: the answer was not pasted there in time, the offerer had quit, or its checks could not reach this host."
    }
  }

  /// "No path worked (N pairs checked)."
  static func noPathWorked(checked: Int) -> String {
    "No path worked (\(checked) pair\(checked == 1 ? "" : "s") checked)."
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
    let connected = selected != nil
    func result(_ kind: ConnectReport.PathKind) -> ConnectReport.PathResult {
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
        let answered = rtt.map { "answered in \(ConnectReportText.ms($0))" } ?? "answered"
        let mark = chosen != nil ? "; selected" : ""
        return .init(
          attempted: true, succeeded: true,
          reason:
            "Worked: \(best.peerReflexive ?? best.local) ↔ \(best.remote) \(answered)\(mark).",
          rttMs: rtt)
      }
      if checked.isEmpty {
        if kind == .direct, let p = pairs.first(where: { $0.throughLocalNAT }),
          let seen = p.peerReflexive
        {
          return .init(
            attempted: false, succeeded: false,
            reason:
              "This host's checks to the peer's host address \(p.remote) were answered through this host's NAT (the peer saw it at \(seen)), so that pair is the path through the NATs; no path avoids a NAT."
          )
        }
        return .init(
          attempted: false, succeeded: false,
          reason: notTried(
            kind, formed: !all.isEmpty, local: local, remote: remote,
            connected: connected))
      }
      return .init(
        attempted: true, succeeded: false,
        reason: failed(kind, checked, local: local, remote: remote))
    }
    var relay = result(.relay)
    if !relay.succeeded, let trouble = local.relays.first(where: { $0.problem != nil }) {
      relay.problem = trouble.problem
      // Relayed pairs through an address no peer can reach time out: the address is why.
      if trouble.problem == TURNCheckProblem.Code.relayedAddressUnroutable.rawValue,
        let why = trouble.reason
      {
        let pairs = pairs.filter { $0.kind == .relay && $0.checked }
        let lead =
          pairs.isEmpty
          ? ""
          : "\(pairs.count == 1 ? "The relayed pair" : "All \(pairs.count) relayed pairs") failed: "
        let sentence = lead.isEmpty ? why.prefix(1).uppercased() + why.dropFirst() : why
        relay.reason = lead + sentence + "."
      }
    }
    return .init(direct: result(.direct), reflexive: result(.reflexive), relay: relay)
  }

  static func notTried(
    _ kind: ConnectReport.PathKind, formed: Bool, local: Side, remote: Side, connected: Bool
  ) -> String {
    if formed {
      return connected
        ? "Not tried: a better path connected before these pairs were checked."
        : "These pairs were formed but never checked."
    }
    switch kind {
    case .relay:
      if !local.hasRelay && !remote.hasRelay { return "No relay was configured (use --turn)." }
      if !local.turn.isEmpty && !local.candidates.contains(where: { $0.kind == .relay }) {
        let failed = local.relays.filter { !$0.allocated }
        guard !failed.isEmpty else {
          return "The TURN server gave no relay address, so no relayed pair could be formed."
        }
        let why = failed.map { r in
          "at \(r.server) over \(r.transport.rawValue), \(r.reason ?? "no answer")"
        }
        return "No relayed candidate, so no relayed pair could be formed: "
          + why.joined(separator: "; ") + "."
      }
      return "No relayed pair could be formed from the candidates."
    case .reflexive:
      let any = (local.candidates + remote.candidates).contains {
        $0.kind == .srflx || $0.kind == .prflx
      }
      if !any {
        // A STUN answer that shows no NAT gives a reflexive address equal to the host one,
        // which ICE drops as redundant: say so rather than "no answer".
        let open = [(local.profile, "this host"), (remote.profile, "the peer")].filter {
          $0.0.map { !$0.udpBlocked && !$0.natDetected } ?? false
        }.map(\.1)
        if !open.isEmpty {
          let who = open.count == 2 ? "both hosts" : open[0]
          return
            "The STUN server saw \(who) at its own address (no NAT), so there was no separate public address to try: the direct path covers it."
        }
        if local.profile == nil && remote.profile == nil {
          return
            "Neither host offered a server-reflexive candidate (no STUN server was given with --stun, or none answered), so this path was not tried."
        }
        return
          "Neither host learned a public address different from its own, so this path was not tried."
      }
      return "No pair through the NATs could be formed from the candidates."
    case .direct:
      let remoteHosts = remote.candidates.filter { $0.kind == .host }
      if !remoteHosts.isEmpty && remoteHosts.allSatisfy({ $0.unusableReason != nil }) {
        return
          "The peer's host candidates are mDNS names or TCP, which natscope cannot check."
      }
      if !local.candidates.contains(where: { $0.kind == .host }) || remoteHosts.isEmpty {
        return "One host offered no host candidates, so no host↔host pair was formed."
      }
      return "No host↔host pair could be formed (the addresses' families differ)."
    }
  }

  static func failed(
    _ kind: ConnectReport.PathKind, _ checked: [ConnectReport.PairOutcome], local: Side,
    remote: Side
  ) -> String {
    let requests = checked.map(\.requests).max() ?? 0
    let allTimedOut = checked.allSatisfy { $0.failure == .timeout || $0.failure == nil }
    if !allTimedOut,
      let other = checked.first(where: { $0.failure != .timeout && $0.failure != nil })
    {
      let detail = other.detail.map { " (\($0))" } ?? ""
      switch other.failure {
      case .errorResponse:
        return "The peer answered the checks to \(other.remote) with an error\(detail)."
      case .unreachable:
        // The detail is the ICMP evidence ("ICMP port unreachable from X") when the socket
        // learned it.
        let kind = other.detail.flatMap { d in
          Unreachable.Kind.allCases.first { d.hasPrefix($0.phrase) }
        }
        switch kind {
        case .portUnreachable?:
          return
            "The peer is not listening on \(other.remote)\(detail): it may have quit, or the token is old."
        case .hostUnreachable?, .networkUnreachable?:
          return
            "Checks to \(other.remote) could not be delivered\(detail): that address cannot be reached from here."
        case .prohibited?:
          return "A firewall refused the checks to \(other.remote)\(detail)."
        case nil:
          return
            "Checks to \(other.remote) were refused (ICMP unreachable)\(detail): nothing listens at that address."
        }
      default:
        return "The checks were stopped before any answer came back\(detail)."
      }
    }
    let nPairs: String = {
      let what = kind == .direct ? "host↔host" : (kind == .relay ? "relayed" : "NAT")
      return checked.count == 1 ? "The \(what) pair" : "All \(checked.count) \(what) pairs"
    }()
    let after = "timed out after \(requests) request\(requests == 1 ? "" : "s")"
    switch kind {
    case .direct:
      // Timed out: requests went out, no answer and no ICMP error came back.
      let seen = "\(nPairs) \(after), no ICMP error"
      if let subnet = sharedSubnet(local, remote) {
        return
          "\(seen), although both hosts are on \(subnet): a firewall probably drops the checks."
      }
      if bothLoopback(local, remote) {
        return
          "\(seen), although both ends are on this machine (loopback): a firewall probably drops the checks."
      }
      if hostIPs(local).isEmpty || hostIPs(remote).isEmpty {
        return "\(seen): a firewall probably drops the checks."
      }
      return "\(seen): the hosts share no subnet, so probably different networks."
    case .reflexive:
      let target =
        checked.first(where: { $0.remote.type == .srflx })?.remote ?? checked[0].remote
      return "Checks to \(target) got no answer: \(natReason(local.profile, remote.profile))."
    case .relay:
      let target =
        checked.first(where: { $0.local.type == .relay })?.local ?? checked[0].remote
      return
        "\(nPairs) \(after): the relay at \(target) did not pass the checks on, or the peer cannot reach it."
    }
  }

  /// Why checks through the NATs got no answer, from both profiles.
  static func natReason(_ mine: NATProfile?, _ peer: NATProfile?) -> String {
    if mine?.udpBlocked == true { return "UDP is blocked on this host's network" }
    if peer?.udpBlocked == true { return "UDP is blocked on the peer's network" }
    guard let mine, let peer, let mm = mine.mapping, let mf = mine.filtering,
      let pm = peer.mapping, let pf = peer.filtering
    else {
      return
        "natscope does not know how both NATs map and filter, so it cannot say which one dropped them"
    }
    func filters(_ f: FilteringBehavior) -> String {
      f == .addressDependent ? "filters by address" : "filters by address and port"
    }
    if mm != .endpointIndependent && pm != .endpointIndependent {
      return
        "both NATs change ports for each destination (symmetric), so neither side's checks reach a port the other has opened"
    }
    if mm != .endpointIndependent && pf != .endpointIndependent {
      return "the peer's NAT \(filters(pf)) and yours changes ports (symmetric)"
    }
    if pm != .endpointIndependent && mf != .endpointIndependent {
      return "your NAT \(filters(mf)) and the peer's changes ports (symmetric)"
    }
    return
      "both NATs should have let them through, so a firewall probably drops UDP between the hosts"
  }

  // MARK: - What should happen

  /// Predicts each kind of path from both sides' NAT profiles, candidates and TURN settings.
  public static func predict(local: Side, remote: Side) -> ConnectReport.Predictions {
    .init(
      direct: predictDirect(local, remote), reflexive: predictReflexive(local, remote),
      relay: predictRelay(local, remote))
  }

  static func predictReflexive(_ local: Side, _ remote: Side) -> PathPrediction {
    guard var a = local.profile, var b = remote.profile else {
      let who =
        local.profile == nil && remote.profile == nil
        ? "either host" : (local.profile == nil ? "this host" : "the peer")
      return PathPrediction(
        .unknown, "There is no NAT profile for \(who), so this path can only be tried.")
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
    var p = PathPrediction.reflexive(a, b)
    func name(_ m: ConnectReport.PortMapping?) -> String {
      m?.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName } ?? "port mapping"
    }
    if mapped && peerMapped {
      p.reason =
        "With both routers' mappings (\(name(local.portMapping)), \(name(remote.portMapping))) counted as endpoint-independent NATs for the mapped ports: "
        + p.reason
    } else if mapped {
      p.reason =
        "With the router's \(name(local.portMapping)) mapping counted as an endpoint-independent NAT for this host's port: "
        + p.reason
    } else if peerMapped {
      p.reason =
        "With the peer's router's \(name(remote.portMapping)) mapping counted as an endpoint-independent NAT for the peer's port: "
        + p.reason
    }
    // PathPrediction names the hosts A and B; the report speaks of this host and the peer.
    for (from, to) in [
      ("Host A's", "This host's"), ("Host B's", "The peer's"), ("Host A ", "This host "),
      ("Host B ", "The peer "), ("host A", "this host"), ("host B", "the peer"),
    ] {
      p.reason = p.reason.replacingAll(from, with: to)
    }
    return p
  }

  /// The reflexive path's prediction from both sides, as `natscope demo` states it: the local
  /// side is host A and the remote side host B. `counted` is true when a port mapping of
  /// either side changed it (it then differs from `PathPrediction.reflexive` of the probes).
  public func reflexivePredictionNamingHosts() -> (prediction: PathPrediction, counted: Bool) {
    var p = Self.predictReflexive(local, remote)
    let counted = [local, remote].contains { side in
      side.profile != nil && side.portMapping?.granted == true
        && Self.mappingBehindAnotherNAT(side) == nil
    }
    for (from, to) in [
      ("This host's", "Host A's"), ("The peer's", "Host B's"), ("This host ", "Host A "),
      ("The peer ", "Host B "), ("this host", "host A"), ("the peer", "host B"),
    ] {
      p.reason = p.reason.replacingAll(from, with: to)
    }
    return (p, counted)
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

  static func predictDirect(_ local: Side, _ remote: Side) -> PathPrediction {
    let remoteHosts = remote.candidates.filter { $0.kind == .host }
    if bothLoopback(local, remote) {
      return PathPrediction(
        .works,
        "Both ends are on this machine (loopback), so their host addresses reach each other.")
    }
    if !remoteHosts.isEmpty && hostIPs(remote).isEmpty {
      return PathPrediction(
        .unknown,
        "The peer hides its host addresses behind mDNS names, so whether the hosts share a network is unknown."
      )
    }
    if let subnet = sharedSubnet(local, remote) {
      let mine = publicIPs(local)
      let theirs = publicIPs(remote)
      if mine.isEmpty || theirs.isEmpty {
        return PathPrediction(
          .works, "Both hosts have addresses on \(subnet), so they are probably on the same LAN.")
      }
      if !mine.isDisjoint(with: theirs) {
        return PathPrediction(
          .works,
          "Both hosts are on \(subnet) behind the same public address, so their host addresses reach each other."
        )
      }
      return PathPrediction(
        .unknown,
        "Both hosts use \(subnet) but reach the internet through different public addresses, so they are probably different networks reusing the same private range."
      )
    }
    // UDP that does not get out reaches no other network (a shared subnet was handled above).
    let blocked = [(local, "this host's network"), (remote, "the peer's network")].filter {
      $0.0.profile?.udpBlocked == true
    }.map(\.1)
    if !blocked.isEmpty {
      let who = blocked.count == 2 ? "both hosts' networks" : blocked[0]
      return PathPrediction(
        .fails, "UDP is blocked on \(who), so the hosts' addresses cannot reach each other.")
    }
    for (side, who, otherSide, otherWho) in [
      (remote, "The peer", local, "this host"), (local, "This host", remote, "the peer"),
    ] {
      guard hostIPs(side).contains(where: isPublic) else { continue }
      // A host behind a NAT reaches a public address only through its NAT: the pair that
      // answers is then host ↔ peer-reflexive, the path through the NATs, not a direct one.
      if otherSide.profile?.natDetected == true
        || (!hostIPs(otherSide).isEmpty && !hostIPs(otherSide).contains(where: isPublic))
      {
        return PathPrediction(
          .fails,
          "\(who) has a public address but \(otherWho) is behind a NAT, so checks between them pass through that NAT: the path through the NATs, not a direct one."
        )
      }
      guard let p = side.profile else {
        return PathPrediction(
          .unknown,
          "\(who) has a public address, so a direct path works unless a firewall blocks it.")
      }
      if !p.natDetected && p.filtering == .endpointIndependent {
        return PathPrediction(
          .works,
          "\(who) has a public address and no firewall, so \(otherWho == "this host" ? "your" : "the peer's") checks reach it directly."
        )
      }
    }
    if hostIPs(local).isEmpty || hostIPs(remote).isEmpty {
      return PathPrediction(.fails, "One host has no usable host address.")
    }
    return PathPrediction(
      .fails,
      "The hosts are on different private networks, so their host addresses cannot reach each other."
    )
  }

  static func predictRelay(_ local: Side, _ remote: Side) -> PathPrediction {
    guard local.hasRelay || remote.hasRelay else {
      return PathPrediction(.fails, "No relay was configured on either host (use --turn).")
    }
    if !remote.hasRelay, local.profile?.udpBlocked == true, !local.turn.contains(.tcp) {
      return PathPrediction(
        .fails,
        "UDP is blocked on this host's network and its TURN server is reached over UDP; use a TURN server over TCP."
      )
    }
    let who =
      local.hasRelay && remote.hasRelay ? "both hosts" : (local.hasRelay ? "this host" : "the peer")
    let how =
      local.hasRelay && !local.turn.isEmpty
      ? " (\(local.turn.map { $0.rawValue.uppercased() }.joined(separator: ", ")))" : ""
    return PathPrediction(
      .works,
      "A TURN relay is configured on \(who)\(how), so traffic can be relayed as long as the TURN server is reachable."
    )
  }
}

extension String {
  fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
    guard !target.isEmpty else { return self }
    var out = ""
    var rest = self[...]
    while let r = rest.firstRange(of: target) {
      out += rest[..<r.lowerBound] + replacement
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}
