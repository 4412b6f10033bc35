import STUN
import Traversal

// The findings of `natscope explain`: what another stack's artifact shows of an ICE session,
// derived from ``ExplainEvidence`` by ``ExplainFindings/derive(_:)`` and worded by its
// vocabulary (the only place their sentences live).

extension FindingCode {
  /// How the input was read (`format`, `lines`, `understood`, `label`).
  public static let explainInput: FindingCode = "explain.input"
  /// The input held credentials; none is shown (`count`).
  public static let explainCredentialsRedacted: FindingCode = "explain.credentials.redacted"
  /// One candidate (`kind`, `transport`, `address`, `port`, `class`, `related`, `ignored`).
  public static let explainCandidate: FindingCode = "explain.candidate"
  /// A side's TCP candidates the agent did not take (`count`).
  public static let explainTCPIgnored: FindingCode = "explain.candidates.tcp-ignored"
  /// A side offered only host candidates (`stunConfigured` when known).
  public static let explainHostOnly: FindingCode = "explain.candidates.host-only"
  /// A side offered only mDNS names (`count`).
  public static let explainMDNSOnly: FindingCode = "explain.candidates.mdns-only"
  /// Candidates no one on another network can reach: link-local, loopback (`addresses`).
  public static let explainNeverUsable: FindingCode = "explain.candidates.never-usable"
  /// The NAT gave a reflexive port other than the base's (`base`, `mapped`, `low`, `high`,
  /// `outside`).
  public static let explainPortRewritten: FindingCode = "explain.nat.port-rewritten"
  /// The NAT kept the base's port (`base`, `mapped`).
  public static let explainPortKept: FindingCode = "explain.nat.port-kept"
  /// One base got different reflexive ports from different servers (`base`, `ports`).
  public static let explainMappingVaries: FindingCode = "explain.nat.mapping-varies"
  /// The servers the session was configured with (`stun`, `turn`).
  public static let explainServers: FindingCode = "explain.servers"
  /// A server answered with an error while gathering, or did not answer (701)
  /// (`code`, `uri`).
  public static let explainServerError: FindingCode = "explain.server.error"
  /// The peer's side is not in the input (not measured).
  public static let explainMissingPeer: FindingCode = "explain.missing.peer"
  /// The check list is not in the input (not measured).
  public static let explainMissingChecks: FindingCode = "explain.missing.checks"
  /// How the session ended is not in the input (not measured).
  public static let explainMissingOutcome: FindingCode = "explain.missing.outcome"
  /// Checks answered with an error (`code`, `count`, `remote`, `connected`).
  public static let explainCheckError: FindingCode = "explain.checks.error-response"
  /// One pair of the check list (`local`, `remote`, `localKind`, `remoteKind`, `state`,
  /// counts, `nominated`, `rttMs`).
  public static let explainPair: FindingCode = "explain.pair"
  /// One event of the timeline (`event`, `atMs`, `detail`).
  public static let explainEvent: FindingCode = "explain.event"
  /// ICE connected (`local`, `remote`, `localKind`, `remoteKind`, `path`, `atMs`).
  public static let explainConnected: FindingCode = "explain.outcome.connected"
  /// ICE failed (`state`, `atMs`).
  public static let explainFailed: FindingCode = "explain.outcome.failed"
  /// Connected, then lost (`afterMs`, `state`).
  public static let explainLost: FindingCode = "explain.outcome.lost"
  /// The input ends before the session did (`state`).
  public static let explainUnfinished: FindingCode = "explain.outcome.unfinished"
  /// From the first remote candidate to connected (`ms`).
  public static let explainTimeToConnect: FindingCode = "explain.timing.remote-to-connected"
  /// Gathering took `ms`.
  public static let explainGatheringTime: FindingCode = "explain.timing.gathering"
  /// The DTLS handshake took `ms`.
  public static let explainDTLSTime: FindingCode = "explain.timing.dtls"
  /// DTLS started and did not finish in the input.
  public static let explainDTLSNotFinished: FindingCode = "explain.dtls.not-finished"
  /// DTLS failed.
  public static let explainDTLSFailed: FindingCode = "explain.dtls.failed"
  /// A pair of this path worked (`local`, `remote`, `selected`).
  public static let explainPathWorked: FindingCode = "explain.path.worked"
  /// Every pair of this path was checked and failed (`pairs`, `requests`, `answered`).
  public static let explainPathFailed: FindingCode = "explain.path.failed"
  /// No pair of this path could be formed (`why`).
  public static let explainPathNotFormed: FindingCode = "explain.path.not-formed"
  /// The path's pairs were not checked to the end (`pairs`).
  public static let explainPathNotChecked: FindingCode = "explain.path.not-checked"
  /// The input does not show whether the path works (not measured).
  public static let explainPathNotMeasured: FindingCode = "explain.path.not-measured"
  /// Root causes.
  public static let explainCauseChecksUnanswered: FindingCode = "explain.cause.checks-unanswered"
  public static let explainCauseOneWay: FindingCode = "explain.cause.one-way"
  public static let explainCauseSymmetric: FindingCode = "explain.cause.symmetric-nats"
  public static let explainCauseNoRelay: FindingCode = "explain.cause.no-relay"
  public static let explainCauseHostOnly: FindingCode = "explain.cause.host-only"
  public static let explainCauseMDNSOnly: FindingCode = "explain.cause.mdns-only"
  public static let explainCauseRoleConflict: FindingCode = "explain.cause.role-conflict"
  public static let explainCauseCheckUnauthorized: FindingCode =
    "explain.cause.check-unauthorized"
  public static let explainCauseConsentLost: FindingCode = "explain.cause.consent-lost"
  public static let explainCauseDTLS: FindingCode = "explain.cause.dtls"
  public static let explainCauseUnknown: FindingCode = "explain.cause.unknown"
}

extension FindingAspect {
  /// A side's candidates.
  public static let explainCandidates: FindingAspect = "candidates"
  /// The check list (pair states, checks and answers).
  public static let explainChecks: FindingAspect = "checks"
  /// How the session ended.
  public static let explainOutcome: FindingAspect = "outcome"
  /// Whether relaying was available.
  public static let explainRelay: FindingAspect = "relay"
  /// How a NAT maps.
  public static let explainMapping: FindingAspect = "mapping"
}

/// Derives and words the explanation of one ICE session another stack left behind.
public enum ExplainFindings {
  /// Every finding `e` supports, in the order a report shows them.
  public static func derive(_ e: ExplainEvidence) -> FindingSet {
    var out = FindingSet()
    out.append(
      Finding(
        .explainInput, about: .session, .measured,
        parameters: [
          "format": .text(e.format.rawValue), "lines": .int(e.linesRead),
          "understood": .int(e.linesUnderstood), "truncated": .flag(e.truncated),
        ]))
    if e.credentialsSeen > 0 {
      out.append(
        Finding(
          .explainCredentialsRedacted, about: .session, .measured,
          parameters: ["count": .int(e.credentialsSeen)]))
    }
    if e.serversKnown {
      let stun = e.servers.filter { $0.kind == .stun }.map { FindingValue.text($0.uri) }
      let turn = e.servers.filter { $0.kind == .turn }.map { FindingValue.text($0.uri) }
      out.append(
        Finding(
          .explainServers, about: .thisHost, .measured,
          parameters: ["stun": .list(stun), "turn": .list(turn)]))
    }
    for err in e.serverErrors {
      var p: FindingParameters = ["code": .int(err.code)]
      if let uri = err.uri { p["uri"] = .text(uri) }
      if let at = err.atMs { p["atMs"] = .milliseconds(at) }
      out.append(
        Finding(
          .explainServerError, about: .thisHost, .measured, parameters: p,
          evidence: [EvidenceItem(.errorCode, step: "gathering", value: Double(err.code))]))
    }
    let peerKnown = !e.remote.isEmpty || !e.pairs.isEmpty || e.selected != nil
    for (side, list) in [(FindingSubject.thisHost, e.local), (.peer, e.remote)] {
      candidates(list, side: side, e, into: &out)
    }
    if !peerKnown {
      out.append(
        Finding(
          .explainMissingPeer, about: .peer, .notMeasured, aspect: .explainCandidates))
    }
    for err in e.checkErrors {
      var p: FindingParameters = ["code": .int(err.code), "count": .int(err.count)]
      if let r = err.remote { p["remote"] = .text(r) }
      p["connected"] = .flag(e.selected != nil || first(e, [.connected, .completed]) != nil)
      out.append(
        Finding(
          .explainCheckError, about: .session, .measured, parameters: p,
          evidence: [
            EvidenceItem(.errorCode, step: "checks", count: err.count, value: Double(err.code))
          ]))
    }
    if e.checksShown {
      for pair in e.pairs { out.append(pairFinding(pair)) }
    } else {
      out.append(
        Finding(.explainMissingChecks, about: .session, .notMeasured, aspect: .explainChecks))
    }
    for event in e.timeline {
      var p: FindingParameters = ["event": .text(event.kind.rawValue)]
      if let at = event.atMs { p["atMs"] = .milliseconds(at) }
      if let d = event.detail { p["detail"] = .text(d) }
      out.append(Finding(.explainEvent, about: .session, .measured, parameters: p))
    }
    outcome(e, peerKnown: peerKnown, into: &out)
    return out
  }

  // MARK: candidates

  static func candidates(
    _ list: [ObservedCandidate], side: FindingSubject, _ e: ExplainEvidence,
    into out: inout FindingSet
  ) {
    guard !list.isEmpty else { return }
    for c in list {
      var p: FindingParameters = [
        "kind": .text(c.kind.rawValue), "transport": .text(c.transport.rawValue),
        "address": .text(c.endpointText), "class": .text(c.addressClass.rawValue),
        "ignored": .flag(c.ignored),
      ]
      if let r = c.relatedTransportAddress { p["related"] = .address(r) }
      if let t = c.tcpType { p["tcpType"] = .text(t.rawValue) }
      if let n = c.networkType { p["networkType"] = .text(n) }
      if let r = c.relayProtocol { p["relayProtocol"] = .text(r) }
      out.append(Finding(.explainCandidate, about: side, .measured, parameters: p))
    }
    let ignoredTCP = list.filter { $0.transport == .tcp && $0.ignored }.count
    if ignoredTCP > 0 {
      out.append(
        Finding(
          .explainTCPIgnored, about: side, .measured, parameters: ["count": .int(ignoredTCP)]))
    }
    let udp = list.filter { $0.transport == .udp }
    let unusable = udp.filter { [.linkLocal, .loopback].contains($0.addressClass) }
    if !unusable.isEmpty {
      out.append(
        Finding(
          .explainNeverUsable, about: side, .likely,
          parameters: [
            "addresses": .list(unusable.map { .text($0.endpointText) }),
            "linkLocal": .int(unusable.filter { $0.addressClass == .linkLocal }.count),
          ]))
    }
    if !udp.isEmpty, udp.allSatisfy({ $0.kind == .host }) {
      if udp.allSatisfy({ $0.addressClass == .mdns }) {
        out.append(
          Finding(.explainMDNSOnly, about: side, .measured, parameters: ["count": .int(udp.count)]))
      } else {
        var p: FindingParameters = ["count": .int(udp.count)]
        if side == .thisHost, e.serversKnown {
          p["stunConfigured"] = .flag(!e.servers.isEmpty)
        }
        out.append(Finding(.explainHostOnly, about: side, .measured, parameters: p))
      }
    }
    // The NAT's ports: each reflexive candidate against its base.
    var portsByBase: [TransportAddress: [Int]] = [:]
    for c in udp where c.kind == .srflx {
      guard let base = c.relatedTransportAddress, let mapped = c.transportAddress else {
        continue
      }
      portsByBase[base, default: []].append(c.port)
      var p: FindingParameters = ["base": .address(base), "mapped": .address(mapped)]
      if c.port == Int(base.port) {
        out.append(Finding(.explainPortKept, about: side, .measured, parameters: p))
        continue
      }
      if side == .thisHost, let range = e.portRange {
        p["low"] = .int(range.low)
        p["high"] = .int(range.high)
        p["outside"] = .flag(!range.contains(c.port))
      }
      out.append(
        Finding(
          .explainPortRewritten, about: side, .measured, aspect: .explainMapping, parameters: p))
    }
    for (base, ports) in portsByBase.sorted(by: { $0.key.description < $1.key.description })
    where Set(ports).count > 1 {
      out.append(
        Finding(
          .explainMappingVaries, about: side, .inferred, aspect: .explainMapping,
          parameters: [
            "base": .address(base), "ports": .list(Array(Set(ports)).sorted().map { .int($0) }),
          ]))
    }
  }

  static func pairFinding(_ pair: ObservedPair) -> Finding {
    var p: FindingParameters = [
      "local": .text(pair.local.text), "remote": .text(pair.remote.text),
      "state": .text(pair.state ?? "unknown"),
    ]
    if let k = pair.local.kind { p["localKind"] = .text(k.rawValue) }
    if let k = pair.remote.kind { p["remoteKind"] = .text(k.rawValue) }
    if let n = pair.requestsSent { p["requestsSent"] = .int(n) }
    if let n = pair.responsesReceived { p["responsesReceived"] = .int(n) }
    if let n = pair.requestsReceived { p["requestsReceived"] = .int(n) }
    if let n = pair.responsesSent { p["responsesSent"] = .int(n) }
    if let n = pair.nominated { p["nominated"] = .flag(n) }
    if let r = pair.rttMs { p["rttMs"] = .milliseconds(r) }
    var evidence: [EvidenceItem] = []
    if let sent = pair.requestsSent {
      let answered = pair.responsesReceived ?? 0
      evidence.append(
        EvidenceItem(answered > 0 ? .answered : .noAnswer, step: "checks", count: sent))
    }
    return Finding(
      .explainPair, about: .path(pair.path), .measured, parameters: p, evidence: evidence)
  }

  // MARK: outcome, paths, cause

  static func first(_ e: ExplainEvidence, _ kinds: Set<TimelineEvent.Kind>) -> TimelineEvent? {
    e.timeline.first { kinds.contains($0.kind) }
  }

  static func outcome(_ e: ExplainEvidence, peerKnown: Bool, into out: inout FindingSet) {
    let connected = first(e, [.connected, .completed])
    let connectedAt = connected?.atMs ?? e.selected?.atMs
    let isConnected = connected != nil || e.selected != nil
    // A loss is the first disconnection, failure or consent expiry after the last time it
    // connected (libnice starts "disconnected": that is no loss).
    let lossKinds: Set<TimelineEvent.Kind> = [.disconnected, .failed, .consentExpired]
    var lost: TimelineEvent?
    if isConnected,
      let ci = e.timeline.lastIndex(where: { $0.kind == .connected || $0.kind == .completed })
    {
      lost = e.timeline[(ci + 1)...].first { lossKinds.contains($0.kind) }
    }
    let failed = !isConnected ? e.timeline.last { $0.kind == .failed } : nil

    if isConnected {
      var p: FindingParameters = [:]
      if let s = e.selected {
        p["local"] = .text(s.local.text)
        p["remote"] = .text(s.remote.text)
        if let k = s.local.kind { p["localKind"] = .text(k.rawValue) }
        if let k = s.remote.kind { p["remoteKind"] = .text(k.rawValue) }
        p["path"] = .text(ExplainEvidence.path(s.local.kind, s.remote.kind))
      }
      if let at = connectedAt { p["atMs"] = .milliseconds(at) }
      out.append(Finding(.explainConnected, about: .session, .measured, parameters: p))
    } else if let f = failed {
      var p: FindingParameters = ["state": .text(f.detail ?? "failed")]
      if let at = f.atMs { p["atMs"] = .milliseconds(at) }
      out.append(Finding(.explainFailed, about: .session, .measured, parameters: p))
    } else if let last = e.timeline.last(where: {
      [.checking, .gatheringStarted, .gatheringDone, .remoteCandidate, .remoteDescription]
        .contains($0.kind)
    }) {
      out.append(
        Finding(
          .explainUnfinished, about: .session, .measured,
          parameters: ["state": .text(last.detail ?? last.kind.rawValue)]))
    } else {
      out.append(
        Finding(.explainMissingOutcome, about: .session, .notMeasured, aspect: .explainOutcome))
    }
    if let l = lost {
      var p: FindingParameters = ["state": .text(l.kind.rawValue)]
      if let c = connectedAt, let t = l.atMs { p["afterMs"] = .milliseconds(t - c) }
      out.append(Finding(.explainLost, about: .session, .measured, parameters: p))
    }

    // Timings.
    if let r = (first(e, [.remoteCandidate]) ?? first(e, [.remoteDescription]))?.atMs,
      let c = connectedAt,
      c >= r
    {
      out.append(
        Finding(
          .explainTimeToConnect, about: .session, .measured,
          parameters: ["ms": .milliseconds(c - r)],
          evidence: [EvidenceItem(.timing, step: "remote-to-connected", value: c - r)]))
    }
    if let g = first(e, [.gatheringStarted])?.atMs, let d = first(e, [.gatheringDone])?.atMs,
      d >= g
    {
      out.append(
        Finding(
          .explainGatheringTime, about: .thisHost, .measured,
          parameters: ["ms": .milliseconds(d - g)]))
    }
    let dtlsStart = first(e, [.dtlsStarted])
    let dtlsDone = first(e, [.dtlsConnected])
    let dtlsFailed = first(e, [.dtlsFailed])
    if let s = dtlsStart?.atMs, let d = dtlsDone?.atMs, d >= s {
      out.append(
        Finding(
          .explainDTLSTime, about: .session, .measured, parameters: ["ms": .milliseconds(d - s)],
          evidence: [EvidenceItem(.timing, step: "dtls", value: d - s)]))
    }
    if dtlsFailed != nil {
      out.append(Finding(.explainDTLSFailed, about: .session, .measured))
    } else if isConnected, dtlsStart != nil, dtlsDone == nil {
      out.append(Finding(.explainDTLSNotFinished, about: .session, .measured))
    }

    paths(e, peerKnown: peerKnown, into: &out)

    // The root cause.
    if let l = lost {
      var p: FindingParameters = ["state": .text(l.kind.rawValue)]
      if let c = connectedAt, let t = l.atMs { p["afterMs"] = .milliseconds(t - c) }
      out.append(
        Finding(.explainCauseConsentLost, about: .session, .likely, parameters: p))
    } else if isConnected, dtlsStart != nil, dtlsDone == nil {
      out.append(
        Finding(
          .explainCauseDTLS, about: .session, dtlsFailed != nil ? .measured : .likely,
          parameters: ["failed": .flag(dtlsFailed != nil)]))
    } else if failed != nil {
      failureCauses(e, peerKnown: peerKnown, into: &out)
    }
  }

  static func paths(_ e: ExplainEvidence, peerKnown: Bool, into out: inout FindingSet) {
    let selectedPath = e.selected.map { ExplainEvidence.path($0.local.kind, $0.remote.kind) }
    let localKinds = Set(e.local.filter { $0.transport == .udp }.map(\.kind))
    let remoteKinds = Set(e.remote.filter { $0.transport == .udp }.map(\.kind))
    for kind in ["direct", "reflexive", "relay"] {
      let subject = FindingSubject.path(kind)
      if kind == selectedPath, let s = e.selected {
        out.append(
          Finding(
            .explainPathWorked, about: subject, .measured, aspect: .connectPathWorks,
            parameters: [
              "local": .text(s.local.text), "remote": .text(s.remote.text), "selected": .flag(true),
            ]))
        continue
      }
      let pairs = e.pairs.filter { $0.path == kind }
      if e.checksShown, !pairs.isEmpty {
        if let ok = pairs.first(where: { $0.state == "succeeded" }) {
          out.append(
            Finding(
              .explainPathWorked, about: subject, .measured, aspect: .connectPathWorks,
              parameters: [
                "local": .text(ok.local.text), "remote": .text(ok.remote.text),
                "selected": .flag(false),
              ]))
        } else if pairs.allSatisfy({ $0.state == "failed" }) {
          let requests = pairs.compactMap(\.requestsSent).reduce(0, +)
          let answered = pairs.compactMap(\.responsesReceived).reduce(0, +)
          out.append(
            Finding(
              .explainPathFailed, about: subject, .measured, aspect: .connectPathWorks,
              parameters: [
                "pairs": .int(pairs.count), "requests": .int(requests), "answered": .int(answered),
              ],
              evidence: [EvidenceItem(answered > 0 ? .answered : .noAnswer, count: requests)]))
        } else {
          out.append(
            Finding(
              .explainPathNotChecked, about: subject, .measured,
              parameters: ["pairs": .int(pairs.count), "connected": .flag(e.selected != nil)]))
        }
        continue
      }
      // No pair of the path in the check list (or no check list): what the candidates say,
      // when the input shows both sides' candidates.
      let candidatesShown = !e.local.isEmpty && !e.remote.isEmpty
      let why: String? = {
        guard candidatesShown else { return nil }
        switch kind {
        case "relay":
          return !localKinds.contains(.relay) && !remoteKinds.contains(.relay) && peerKnown
            ? "no-relay-candidate" : nil
        case "reflexive":
          let l = localKinds.contains(.srflx) || localKinds.contains(.prflx)
          let r = remoteKinds.contains(.srflx) || remoteKinds.contains(.prflx)
          return !l && !r && peerKnown ? "no-reflexive-candidate" : nil
        default:
          return !localKinds.contains(.host) && !remoteKinds.contains(.host) && peerKnown
            ? "no-host-candidate" : nil
        }
      }()
      if let why, e.checksShown || kind != "direct" {
        out.append(
          Finding(
            .explainPathNotFormed, about: subject, .measured, parameters: ["why": .text(why)]))
      } else {
        out.append(
          Finding(
            .explainPathNotMeasured, about: subject, .notMeasured, aspect: .connectPathWorks,
            parameters: [
              "checksShown": .flag(e.checksShown), "peerKnown": .flag(peerKnown),
              "typesUnknown": .flag(e.pairs.contains { $0.path == "unknown" }),
            ]))
      }
    }
  }

  static func failureCauses(_ e: ExplainEvidence, peerKnown: Bool, into out: inout FindingSet) {
    var found = false
    var symmetric = false
    for err in e.checkErrors where err.code == 487 || err.code == 401 {
      var p: FindingParameters = ["count": .int(err.count)]
      if let r = err.remote { p["remote"] = .text(r) }
      out.append(
        Finding(
          err.code == 487 ? .explainCauseRoleConflict : .explainCauseCheckUnauthorized,
          about: .session, .measured, parameters: p,
          evidence: [
            EvidenceItem(.errorCode, step: "checks", count: err.count, value: Double(err.code))
          ]))
      found = true
    }
    let varies = { (side: [ObservedCandidate]) -> Bool in
      var byBase: [String: Set<Int>] = [:]
      for c in side where c.kind == .srflx && c.transport == .udp {
        if let b = c.relatedTransportAddress { byBase[b.description, default: []].insert(c.port) }
      }
      return byBase.values.contains { $0.count > 1 }
    }
    if varies(e.local), varies(e.remote) {
      out.append(
        Finding(.explainCauseSymmetric, about: .session, .inferred, covers: [.explainMapping]))
      found = true
      symmetric = true
    }
    let checked = e.pairs.filter { ($0.requestsSent ?? 0) > 0 }
    if e.checksShown, !symmetric, !checked.isEmpty,
      !e.pairs.contains(where: { $0.state == "succeeded" }),
      checked.allSatisfy({ ($0.responsesReceived ?? 0) == 0 })
    {
      let requests = checked.compactMap(\.requestsSent).reduce(0, +)
      let received = e.pairs.compactMap(\.requestsReceived).reduce(0, +)
      out.append(
        Finding(
          received > 0 ? .explainCauseOneWay : .explainCauseChecksUnanswered, about: .session,
          .likely, covers: [.explainChecks],
          parameters: [
            "pairs": .int(checked.count), "requests": .int(requests), "received": .int(received),
          ],
          evidence: [EvidenceItem(.noAnswer, step: "checks", count: requests)]))
      found = true
    }
    let hasRelay = (e.local + e.remote).contains { $0.kind == .relay }
    if peerKnown, !hasRelay {
      var p: FindingParameters = [:]
      if let err = e.serverErrors.first(where: { $0.code != 701 }) {
        p["why"] = .text("turn-error")
        p["code"] = .int(err.code)
        if let u = err.uri { p["uri"] = .text(u) }
      } else if let err = e.serverErrors.first(where: { $0.code == 701 }),
        err.uri?.lowercased().hasPrefix("turn") ?? false
      {
        p["why"] = .text("turn-unreachable")
        if let u = err.uri { p["uri"] = .text(u) }
      } else if e.serversKnown, !e.servers.contains(where: { $0.kind == .turn }) {
        p["why"] = .text("no-turn-configured")
      } else {
        p["why"] = .text("not-shown")
      }
      out.append(
        Finding(
          .explainCauseNoRelay, about: .session, .likely, covers: [.explainRelay], parameters: p))
      found = true
    }
    for (side, list) in [("this-host", e.local), ("peer", e.remote)] {
      let udp = list.filter { $0.transport == .udp }
      guard !udp.isEmpty, udp.allSatisfy({ $0.kind == .host }) else { continue }
      if udp.allSatisfy({ $0.addressClass == .mdns }) {
        out.append(
          Finding(
            .explainCauseMDNSOnly, about: .session, .likely, parameters: ["side": .text(side)]))
      } else {
        out.append(
          Finding(
            .explainCauseHostOnly, about: .session, .likely, parameters: ["side": .text(side)]))
      }
      found = true
    }
    if !found {
      out.append(
        Finding(
          .explainCauseUnknown, about: .session, .likely,
          parameters: ["peerKnown": .flag(peerKnown), "checksShown": .flag(e.checksShown)]))
    }
  }

  // MARK: words

  /// The vocabulary of `explain` (registered in ``FindingText``).
  public static let vocabulary: FindingText.Vocabulary = { f in ExplainFindings.sentence(f) }

  static func side(_ s: FindingSubject, capital: Bool = false) -> String {
    switch s {
    case .peer: capital ? "The peer" : "the peer"
    default: capital ? "This host" : "this host"
    }
  }

  static func sideWord(_ s: String?) -> String { s == "peer" ? "The peer" : "This host" }

  static func classWords(_ c: String) -> String {
    switch AddressClass(rawValue: c) {
    case .loopback?: "a loopback address (this machine only)"
    case .linkLocal?: "a link-local address (169.254/16 or fe80::/10: no router forwards it)"
    case .private?: "a private address (RFC 1918 or fc00::/7)"
    case .cgnat?: "a carrier-grade NAT address (100.64.0.0/10)"
    case .mdns?: "an mDNS name, which resolves only on the peer's own network"
    case .public?: "a public address"
    case .unspecified?: "an unspecified address"
    case .hostname?: "a host name"
    case nil: "an address"
    }
  }

  static func seconds(_ ms: Double) -> String {
    // A time read from a file may be anything: one that no Int holds is shown as it was read.
    guard ms.isFinite, abs(ms) < 1e15 else { return "\(ms) ms" }
    let thousandths = Int((ms).rounded())
    let sign = thousandths < 0 ? "-" : "+"
    let v = abs(thousandths)
    let frac = String(v % 1000)
    return "\(sign)\(v / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac) s"
  }

  static func codeWords(_ code: Int) -> String {
    switch code {
    case 400: "400 Bad Request"
    case 401: "401 Unauthorized: wrong or expired credentials"
    case 487: "487 Role Conflict"
    case 403: "403 Forbidden: the server's policy refuses this client or peer"
    case 437: "437 Allocation Mismatch: a stale allocation on the same 5-tuple"
    case 438: "438 Stale Nonce"
    case 441: "441 Wrong Credentials"
    case 486: "486 Allocation Quota Reached"
    case 508: "508 Insufficient Capacity"
    case 701: "701: the server could not be reached (no answer, or it could not be resolved)"
    default: "error \(code)"
    }
  }

  static func eventWords(_ event: String, _ detail: String?) -> String {
    let d = detail.map { " (\($0))" } ?? ""
    switch TimelineEvent.Kind(rawValue: event) {
    case .gatheringStarted?: return "gathering started"
    case .gatheringDone?: return "gathering done"
    case .localCandidate?: return "local candidate \(detail ?? "")"
    case .remoteDescription?: return "remote description set"
    case .remoteCandidate?: return "remote candidate \(detail ?? "")"
    case .checking?: return "checking\(d)"
    case .connected?: return "ICE connected\(d)"
    case .completed?: return "ICE completed\(d)"
    case .disconnected?: return "disconnected\(d)"
    case .failed?: return "ICE failed\(d)"
    case .closed?: return "closed\(d)"
    case .selectedPair?: return "selected pair \(detail ?? "")"
    case .consentExpired?: return "consent expired\(d)"
    case .dtlsStarted?: return "DTLS handshake started"
    case .dtlsConnected?: return "DTLS handshake finished"
    case .dtlsFailed?: return "DTLS failed\(d)"
    case .candidateError?: return "candidate error\(d)"
    case .state?: return "state \(detail ?? "?")"
    case nil: return event
    }
  }

  static func sentence(_ f: Finding) -> String? {
    let p = f.parameters
    switch f.code {
    case .explainInput:
      let format: String =
        switch ExplainEvidence.Format(rawValue: p.text("format") ?? "") {
        case .text?: "a text log with SDP candidate lines"
        case .libnice?: "a libnice debug log"
        case .webrtcInternals?: "a chrome://webrtc-internals dump"
        case .aioice?: "an aioice log"
        case .pcap?: "a packet capture"
        case .pion?: "a pion/ice log"
        case nil: "an input"
        }
      let truncated =
        p.flag("truncated") == true
        ? "; it held more candidates, pairs or events than natscope keeps, and the rest was counted only"
        : ""
      let unit =
        switch p.text("format") {
        case ExplainEvidence.Format.webrtcInternals.rawValue?: "record"
        case ExplainEvidence.Format.pcap.rawValue?: "packet"
        default: "line"
        }
      return
        "Read as \(format): \(p.int("understood") ?? 0) of \(counted(p.int("lines") ?? 0, unit)) understood\(truncated)."
    case .explainCredentialsRedacted:
      return
        "The input holds \(counted(p.int("count") ?? 0, "credential")) (ICE or TURN passwords, secrets): none is shown here."
    case .explainCandidate:
      var s =
        "\(p.text("kind") ?? "?") \(p.text("address") ?? "?") \((p.text("transport") ?? "udp").uppercased())"
      if let t = p.text("tcpType") { s += " \(t)" }
      if let r = p.address("related") { s += ", from \(r)" }
      if let n = p.text("networkType") { s += ", on \(n)" }
      if let r = p.text("relayProtocol") { s += ", relayed over \(r.uppercased())" }
      s += ": \(classWords(p.text("class") ?? ""))"
      if p.flag("ignored") == true { s += "; not used by the agent" }
      return s + "."
    case .explainTCPIgnored:
      let n = p.int("count") ?? 0
      return
        "\(side(f.subject, capital: true))'s \(counted(n, "TCP candidate")) \(n == 1 ? "was" : "were") ignored: the agent takes UDP candidates only."
    case .explainHostOnly:
      let base =
        "\(side(f.subject, capital: true)) offered only host candidates (\(counted(p.int("count") ?? 0, "candidate"))), so a peer on another network can reach it only if this side's checks open the way"
      switch p.flag("stunConfigured") {
      case true?:
        return base
          + "; a STUN server was configured, and no server-reflexive candidate came of it (unanswered or blocked)."
      case false?:
        return base + "; no STUN server was configured."
      case nil:
        return base + "."
      }
    case .explainMDNSOnly:
      return
        "\(side(f.subject, capital: true)) offered only mDNS names (\(counted(p.int("count") ?? 0, "candidate"))): they resolve only on its own network, and it offered no server-reflexive or relay candidate."
    case .explainNeverUsable:
      let list = p.list("addresses").compactMap { v -> String? in
        if case .text(let s) = v { return s }
        return nil
      }
      return
        "\(side(f.subject, capital: true))'s \(list.joined(separator: ", ")) cannot work from another host (link-local or loopback): checks on pairs with \(list.count == 1 ? "it" : "them") only cost time."
    case .explainPortRewritten:
      let base = p.address("base").map(\.description) ?? "?"
      let mapped = p.address("mapped").map(\.description) ?? "?"
      let from = p.address("base").map { "\($0.port)" } ?? "?"
      let to = p.address("mapped").map { "\($0.port)" } ?? "?"
      var s =
        "\(side(f.subject, capital: true))'s NAT rewrote port \(from) to \(to) (\(base) → \(mapped))"
      if let low = p.int("low"), let high = p.int("high") {
        if p.flag("outside") == true {
          s +=
            ", outside the configured range \(low)–\(high): the NAT does not keep the range, so a firewall opened for \(low)–\(high) does not cover the port peers reach"
        } else {
          s += ", inside the configured range \(low)–\(high)"
        }
      }
      return s + "."
    case .explainPortKept:
      return
        "\(side(f.subject, capital: true))'s NAT kept port \(p.address("base").map { "\($0.port)" } ?? "?") (\(p.address("base").map(\.description) ?? "?") → \(p.address("mapped").map(\.description) ?? "?"))."
    case .explainMappingVaries:
      let ports = p.list("ports").compactMap { v -> String? in
        if case .int(let i) = v { return "\(i)" }
        return nil
      }
      return
        "\(side(f.subject, capital: true))'s NAT gave \(p.address("base").map(\.description) ?? "?") different ports for different servers (\(ports.joined(separator: ", "))): its mapping depends on the destination, as a symmetric NAT's does."
    case .explainServers:
      let stun = p.list("stun").count
      let turn = p.list("turn").count
      if stun == 0 && turn == 0 { return "No STUN or TURN server was configured." }
      return
        "Configured: \(stun == 0 ? "no STUN server" : counted(stun, "STUN server")) and \(turn == 0 ? "no TURN server" : counted(turn, "TURN server"))."
    case .explainServerError:
      let uri = p.text("uri").map { "\($0): " } ?? ""
      return "While gathering, \(uri)\(codeWords(p.int("code") ?? 0))."
    case .explainMissingPeer:
      return
        "The input holds nothing from the peer (no remote candidate, no check): what the peer offered, and why a path to it did or did not work, is not in it. Explain the peer's log or dump too."
    case .explainMissingChecks:
      return
        "The input does not show the check list (no pair states, checks or answers): which pairs were tried is not known."
    case .explainMissingOutcome:
      return "The input does not show how the session ended (no ICE state)."
    case .explainPair:
      let kinds =
        p.text("localKind") == nil && p.text("remoteKind") == nil
        ? "" : " (\(p.text("localKind") ?? "?") ↔ \(p.text("remoteKind") ?? "?"))"
      var s =
        "\(p.text("local") ?? "?") ↔ \(p.text("remote") ?? "?")\(kinds): \(p.text("state") ?? "unknown")"
      if p.flag("nominated") == true { s += ", nominated" }
      if let sent = p.int("requestsSent") {
        s += "; \(counted(sent, "check")) sent, \(p.int("responsesReceived") ?? 0) answered"
      }
      if let rec = p.int("requestsReceived") {
        // Whether this side answered is said only when the input shows it.
        s += "; \(rec) received" + (p.int("responsesSent").map { ", \($0) answered" } ?? "")
      }
      if let r = p.milliseconds("rttMs") { s += "; RTT \(ConnectReportText.ms(r))" }
      return s + "."
    case .explainCheckError:
      let from = p.text("remote").map { " from \($0)" } ?? ""
      let then =
        p.flag("connected") == true
        ? (p.int("code") == 487
          ? ": the agents took the same role, resolved it (RFC 8445 §7.3.1.1) and connected"
          : ", and the session still connected")
        : ""
      return
        "Checks were answered with \(codeWords(p.int("code") ?? 0))\(from), \(counted(p.int("count") ?? 0, "time"))\(then)."
    case .explainEvent:
      let at = p.milliseconds("atMs").map { seconds($0) + "  " } ?? ""
      return at + eventWords(p.text("event") ?? "", p.text("detail"))
    case .explainConnected:
      let at = p.milliseconds("atMs").map { " at \(seconds($0))" } ?? ""
      guard let l = p.text("local"), let r = p.text("remote") else {
        return "ICE connected\(at); the input does not name the selected pair."
      }
      let how =
        switch p.text("path") ?? "" {
        case "direct": "directly"
        case "reflexive": "through the NATs"
        case "relay": "through a TURN relay"
        default: ""
        }
      guard !how.isEmpty else {
        return
          "Connected\(at): \(l) ↔ \(r) (the input does not give the candidates' types, so which path this is is not known)."
      }
      return
        "Connected\(at), \(how): \(p.text("localKind") ?? "?") ↔ \(p.text("remoteKind") ?? "?") \(l) ↔ \(r)."
    case .explainFailed:
      let at = p.milliseconds("atMs").map { " at \(seconds($0))" } ?? ""
      return "ICE failed\(at): no pair worked."
    case .explainLost:
      let after =
        p.milliseconds("afterMs").map { " \(ConnectReportText.duration($0)) later" } ?? " later"
      return "Connected, then the connection was lost\(after) (\(p.text("state") ?? "?"))."
    case .explainUnfinished:
      return
        "The input ends before the session did (last seen: \(p.text("state") ?? "?")): how it ended is not in it."
    case .explainTimeToConnect:
      return
        "From the first remote candidate to connected: \(ConnectReportText.duration(p.milliseconds("ms") ?? 0))."
    case .explainGatheringTime:
      return "Gathering took \(ConnectReportText.duration(p.milliseconds("ms") ?? 0))."
    case .explainDTLSTime:
      return "The DTLS handshake took \(ConnectReportText.duration(p.milliseconds("ms") ?? 0))."
    case .explainDTLSNotFinished:
      return "ICE connected, but the DTLS handshake started and did not finish in the input."
    case .explainDTLSFailed:
      return "The DTLS handshake failed."
    case .explainPathWorked:
      let what = p.flag("selected") == true ? "selected" : "worked, not selected"
      return
        "\(pathName(f.subject)): \(what) (\(p.text("local") ?? "?") ↔ \(p.text("remote") ?? "?"))."
    case .explainPathFailed:
      let requests = p.int("requests") ?? 0
      let answered = p.int("answered") ?? 0
      let checks = requests > 0 ? ", \(counted(requests, "check")) sent, \(answered) answered" : ""
      return "\(pathName(f.subject)): failed (\(counted(p.int("pairs") ?? 0, "pair"))\(checks))."
    case .explainPathNotFormed:
      let why =
        switch p.text("why") ?? "" {
        case "no-relay-candidate":
          "neither side had a relay candidate (no TURN server, or it failed)"
        case "no-reflexive-candidate": "neither side had a server-reflexive candidate"
        default: "neither side had a host candidate"
        }
      return "\(pathName(f.subject)): no pair could be formed: \(why)."
    case .explainPathNotChecked:
      return p.flag("connected") == true
        ? "\(pathName(f.subject)): \(counted(p.int("pairs") ?? 0, "pair")) not checked to the end: another pair connected first."
        : "\(pathName(f.subject)): \(counted(p.int("pairs") ?? 0, "pair")) not checked to the end."
    case .explainPathNotMeasured:
      if p.flag("peerKnown") == false {
        return "\(pathName(f.subject)): not known (nothing from the peer is in the input)."
      }
      if p.flag("typesUnknown") == true {
        return
          "\(pathName(f.subject)): not known (the input gives the pairs' addresses, not their candidate types)."
      }
      return "\(pathName(f.subject)): not known (the input does not show its checks)."
    case .explainCauseChecksUnanswered:
      return
        "Cause (likely): every check went unanswered (\(counted(p.int("requests") ?? 0, "check")) on \(counted(p.int("pairs") ?? 0, "pair"))) and none came from the peer: a firewall or NAT filters the packets between the hosts."
    case .explainCauseOneWay:
      return
        "Cause (likely): checks got through one way only: \(counted(p.int("received") ?? 0, "check")) came from the peer, and none of this side's \(counted(p.int("requests") ?? 0, "check")) was answered; the answers or the checks are filtered on the way back."
    case .explainCauseSymmetric:
      return
        "Cause (inferred): both NATs change their mapping per destination (symmetric): hole punching cannot work between them, only a relay can."
    case .explainCauseNoRelay:
      let uri = p.text("uri").map { " \($0)" } ?? ""
      let why: String =
        switch p.text("why") ?? "" {
        case "turn-error": "the TURN server\(uri) refused (\(codeWords(p.int("code") ?? 0)))"
        case "turn-unreachable": "the TURN server\(uri) could not be reached"
        case "no-turn-configured": "no TURN server was configured"
        default: "the input does not show a TURN server"
        }
      return
        "Cause (likely): no relay candidate on either side, where only a relay could have connected these hosts: \(why)."
    case .explainCauseHostOnly:
      return
        "Cause (likely): \(sideWord(p.text("side")).lowercased()) offered only host candidates: STUN was not configured or not answered, so no address outside its NAT was offered."
    case .explainCauseMDNSOnly:
      return
        "Cause (likely): \(sideWord(p.text("side")).lowercased()) offered only mDNS names, which the other side cannot resolve from another network, and no reflexive or relay candidate."
    case .explainCauseRoleConflict:
      return
        "Cause: checks were answered with 487 Role Conflict (\(counted(p.int("count") ?? 0, "time"))): both sides took the same ICE role, as when an ICE restart is applied on one side only."
    case .explainCauseCheckUnauthorized:
      return
        "Cause: checks were answered with 401 Unauthorized (\(counted(p.int("count") ?? 0, "time"))): the sides use mixed-up or stale ICE credentials (an ICE restart half applied)."
    case .explainCauseConsentLost:
      let after = p.milliseconds("afterMs").map { " after \(ConnectReportText.duration($0))" } ?? ""
      return
        "Cause (likely): the path worked, then died\(after): consent checks or keepalives stopped being answered (a NAT mapping expired, a network changed, or the peer went away)."
    case .explainCauseDTLS:
      return p.flag("failed") == true
        ? "Cause: ICE connected, but the DTLS handshake failed (fingerprints or certificates do not match)."
        : "Cause (likely): ICE connected, but the DTLS handshake never finished: DTLS packets are dropped on the path, or the roles or fingerprints do not match."
    case .explainCauseUnknown:
      if p.flag("peerKnown") == false {
        return
          "Cause: not known: the input has nothing from the peer's side; explain its log or dump too."
      }
      if p.flag("checksShown") == false {
        return "Cause: not known: the input does not show the checks that failed."
      }
      return "Cause: not known: the input does not show why no pair worked."
    default:
      return nil
    }
  }

  static func pathName(_ s: FindingSubject) -> String {
    if case .path(let k) = s {
      switch k {
      case "direct": return "Direct"
      case "reflexive": return "Through the NATs"
      default: return "Relay"
      }
    }
    return "Path"
  }
}
