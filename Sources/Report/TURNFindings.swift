import Runtime
import STUN
import Traversal

// What `natscope turn` claims, as findings: the rows of each server's table, its problems
// (whose codes are the JSON `problems[].code` values), its notes, each server's verdict and
// the document's. The sentences are in ``TURNFindings/vocabulary`` and nowhere else.

extension FindingAspect {
  /// Whether the TURN server answered (or accepted the connection).
  public static let turnReachability: FindingAspect = "reachability"
  /// The TLS handshake of a `turns:` server.
  public static let turnTLS: FindingAspect = "tls"
  /// Whether the credentials were accepted.
  public static let turnAuthentication: FindingAspect = "authentication"
  /// Whether the server granted an allocation (and a relayed address peers can reach).
  public static let turnAllocation: FindingAspect = "allocation"
  /// Whether data went through the relay both ways.
  public static let turnRelay: FindingAspect = "relay"
  /// Whether the allocations were released.
  public static let turnRelease: FindingAspect = "release"
  /// Which peer addresses the server's policy lets it relay to.
  public static let turnPeerPolicy: FindingAspect = "peer-policy"
}

extension FindingCode {
  // Rows of a server's table.
  /// The server answered (its 401 challenge) or accepted the connection.
  public static let turnReachable: FindingCode = "turn.reachable"
  /// No answer (or an ICMP error) from the server.
  public static let turnNoAnswer: FindingCode = "turn.no-answer"
  /// The TLS handshake succeeded.
  public static let turnTLSDone: FindingCode = "turn.tls.done"
  /// The TLS handshake failed.
  public static let turnTLSFailed: FindingCode = "turn.tls.failed"
  /// The credentials were accepted.
  public static let turnAuthenticated: FindingCode = "turn.authenticated"
  /// The credentials were rejected (401, 441).
  public static let turnCredentialsRejected: FindingCode = "turn.credentials-rejected"
  /// Authentication was not reached (not measured).
  public static let turnAuthenticationNotReached: FindingCode = "turn.authentication.not-reached"
  /// An allocation was granted.
  public static let turnAllocated: FindingCode = "turn.allocated"
  /// No allocation was granted.
  public static let turnNoAllocation: FindingCode = "turn.no-allocation"
  /// Allocating was not reached (not measured).
  public static let turnAllocationNotReached: FindingCode = "turn.allocation.not-reached"
  /// Data went through the relay both ways.
  public static let turnRelays: FindingCode = "turn.relays"
  /// Probes were sent through the relay, and not all of them came back.
  public static let turnRelayIncomplete: FindingCode = "turn.relay.incomplete"
  /// Relaying was not measured (the server forbade the peer, or the check never got there).
  public static let turnRelayNotMeasured: FindingCode = "turn.relay.not-measured"
  /// Every allocation made was released.
  public static let turnReleased: FindingCode = "turn.released"
  /// An allocation was made and not released.
  public static let turnNotReleased: FindingCode = "turn.not-released"
  /// No allocation was made, so nothing was released.
  public static let turnNothingToRelease: FindingCode = "turn.release.nothing"

  // Notes.
  /// The server's policy refused the peer address (403 to CreatePermission or ChannelBind).
  public static let turnPeerForbidden: FindingCode = "turn.peer-forbidden"

  // Verdicts.
  /// One server: authenticates, allocates and relays both ways, with no problem.
  public static let turnServerWorks: FindingCode = "turn.server.works"
  /// One server: authenticates and allocates; relaying was not measured.
  public static let turnServerAllocates: FindingCode = "turn.server.allocates"
  /// One server: a check failed.
  public static let turnServerBroken: FindingCode = "turn.server.broken"
  /// Every server works.
  public static let turnVerdictWorks: FindingCode = "turn.verdict.works"
  /// No server failed, and relaying was not measured on at least one.
  public static let turnVerdictUnverified: FindingCode = "turn.verdict.unverified"
  /// At least one server failed a check.
  public static let turnVerdictBroken: FindingCode = "turn.verdict.broken"

  /// The finding code of a problem: `turn.` and the problem's JSON code (`turn.quota`).
  public static func turnProblem(_ code: TURNCheckProblem.Code) -> FindingCode {
    FindingCode(rawValue: "turn." + code.rawValue)
  }
}

/// How a row of the text table is marked.
public enum TURNRowMark: Sendable, Hashable {
  /// ✓: shown to work.
  case done
  /// ✗: shown to fail.
  case failed
  /// –: not tried (or nothing to do).
  case notTried
}

/// What one server's check was doing, for the line that says what natscope waits for.
public enum TURNCheckStage: String, Sendable, Hashable {
  case allocating, refreshing, secondAllocation, permitting, indications, binding, channels,
    releasing
}

/// The findings of `natscope turn` and their sentences.
public enum TURNFindings {
  /// The rows of a server's table, in order, with their labels.
  public static let rows: [(aspect: FindingAspect, label: String)] = [
    (.turnReachability, "reachable"), (.turnTLS, "TLS"), (.turnAuthentication, "authenticates"),
    (.turnAllocation, "allocates"), (.turnRelay, "relays"), (.turnRelease, "releases"),
  ]

  static let rowCodes: Set<FindingCode> = [
    .turnReachable, .turnNoAnswer, .turnTLSDone, .turnTLSFailed, .turnAuthenticated,
    .turnCredentialsRejected, .turnAuthenticationNotReached, .turnAllocated, .turnNoAllocation,
    .turnAllocationNotReached, .turnRelays, .turnRelayIncomplete, .turnRelayNotMeasured,
    .turnReleased, .turnNotReleased, .turnNothingToRelease,
  ]

  /// Whether `finding` is a row of a server's table.
  public static func isRow(_ finding: Finding) -> Bool { rowCodes.contains(finding.code) }

  /// The problem code of a problem finding; nil for rows, notes and verdicts.
  public static func problemCode(_ finding: Finding) -> TURNCheckProblem.Code? {
    TURNCheckProblem.Code.allCases.first { FindingCode.turnProblem($0) == finding.code }
  }

  /// Whether `finding` is a verdict (of one server or of the whole check).
  public static func isVerdict(_ finding: Finding) -> Bool {
    [
      FindingCode.turnServerWorks, .turnServerAllocates, .turnServerBroken, .turnVerdictWorks,
      .turnVerdictUnverified, .turnVerdictBroken,
    ].contains(finding.code)
  }

  /// The mark of a row.
  public static func mark(_ finding: Finding) -> TURNRowMark {
    switch finding.code {
    case .turnReachable, .turnTLSDone, .turnAuthenticated, .turnRelays, .turnReleased:
      return .done
    case .turnAllocated:
      return finding.parameters.flag("usable") == false ? .failed : .done
    case .turnNoAnswer, .turnTLSFailed, .turnCredentialsRejected, .turnNoAllocation,
      .turnRelayIncomplete, .turnNotReleased:
      return .failed
    default:
      return .notTried
    }
  }

  // MARK: Derivation

  /// Every aspect the verdict of a server that works rests on.
  static let allAspects: [FindingAspect] = [
    .turnReachability, .turnAuthentication, .turnAllocation, .turnRelay, .turnRelease,
  ]

  /// The findings of one server's check: its rows, its problems, its notes and its verdict.
  public static func derive(_ s: TURNServerCheck) -> FindingSet {
    let about = FindingSubject.server(s.server)
    var set = FindingSet()
    let codes = Set(s.problems.map(\.code))
    let tlsFailed = codes.contains(.tlsCertificate) || codes.contains(.tlsHandshake)

    // Reachable.
    if s.reachable {
      var p = FindingParameters()
      if let rtt = s.rttMs { p["rttMs"] = .milliseconds(rtt) }
      if let realm = s.realm { p["realm"] = .text(realm) }
      if let software = s.software { p["software"] = .text(software) }
      var evidence: [EvidenceItem] = []
      if let rtt = s.rttMs {
        evidence.append(EvidenceItem(.answered, step: "allocate", address: s.server, value: rtt))
      } else {
        evidence.append(EvidenceItem(.tcp, step: "connect", address: s.server))
      }
      set.append(
        Finding(
          .turnReachable, about: about, .measured, aspect: .turnReachability, parameters: p,
          evidence: evidence))
    } else {
      let failure = s.problems.first { $0.code == .unreachable }?.finding
      var evidence = failure?.evidence ?? []
      if evidence.isEmpty {
        evidence = [EvidenceItem(.noAnswer, step: "allocate", address: s.server)]
      }
      var p: FindingParameters = ["transport": .text(s.transport)]
      if let icmp = failure?.parameters.text("icmp") { p["icmp"] = .text(icmp) }
      set.append(
        Finding(
          .turnNoAnswer, about: about, .measured, aspect: .turnReachability, parameters: p,
          evidence: evidence))
    }
    // TLS.
    if s.transport == "tls" {
      if tlsFailed {
        set.append(
          Finding(
            .turnTLSFailed, about: about, .measured, aspect: .turnTLS,
            evidence: [EvidenceItem(.tls, step: "handshake", address: s.server)]))
      } else if s.reachable {
        var p = FindingParameters()
        if let c = s.certificate { p["certificate"] = .text(c.summary) }
        set.append(
          Finding(
            .turnTLSDone, about: about, .measured, aspect: .turnTLS, parameters: p,
            evidence: [EvidenceItem(.tls, step: "handshake", address: s.server)]))
      }
    }
    // Authenticates.
    if s.authenticated {
      set.append(
        Finding(
          .turnAuthenticated, about: about, .measured, aspect: .turnAuthentication,
          evidence: [EvidenceItem(.answered, step: "allocate", address: s.server)]))
    } else if codes.contains(.unauthorized) {
      set.append(
        Finding(
          .turnCredentialsRejected, about: about, .measured, aspect: .turnAuthentication,
          evidence: s.problems.first { $0.code == .unauthorized }?.finding.evidence ?? []))
    } else {
      set.append(
        Finding(
          .turnAuthenticationNotReached, about: about, .notMeasured,
          aspect: .turnAuthentication))
    }
    // Allocates.
    if let relayed = s.relayedAddress {
      var p: FindingParameters = [
        "relayed": .address(relayed),
        "usable": .flag(!codes.contains(.relayedAddressUnroutable)),
      ]
      if let lifetime = s.lifetime { p["lifetime"] = .int(lifetime) }
      if let reflexive = s.reflexiveAddress { p["reflexive"] = .address(reflexive) }
      if let refreshed = s.refreshed { p["refreshed"] = .flag(refreshed) }
      set.append(
        Finding(
          .turnAllocated, about: about, .measured, aspect: .turnAllocation, parameters: p,
          evidence: [EvidenceItem(.answered, step: "allocate", address: s.server)]))
    } else if s.authenticated || codes.contains(.forbidden) || codes.contains(.quota)
      || codes.contains(.allocateFailed)
    {
      set.append(
        Finding(
          .turnNoAllocation, about: about, .measured, aspect: .turnAllocation,
          evidence: s.problems.first {
            [.forbidden, .quota, .allocateFailed].contains($0.code)
          }?.finding.evidence ?? []))
    } else {
      set.append(
        Finding(.turnAllocationNotReached, about: about, .notMeasured, aspect: .turnAllocation))
    }
    // Relays.
    if let relay = s.relay, relay.indicationsSent > 0 {
      var p: FindingParameters = [
        "indicationsSent": .int(relay.indicationsSent),
        "indicationsReceived": .int(relay.indicationsReceived),
        "channelSent": .int(relay.channelSent), "channelReceived": .int(relay.channelReceived),
      ]
      if let rtt = relay.rttMs { p["rttMs"] = .milliseconds(rtt) }
      let evidence = [
        EvidenceItem(.traffic, step: "indications", count: relay.indicationsSent),
        EvidenceItem(.answered, step: "indications", count: relay.indicationsReceived),
        EvidenceItem(.traffic, step: "channels", count: relay.channelSent),
        EvidenceItem(.answered, step: "channels", count: relay.channelReceived),
      ]
      set.append(
        Finding(
          s.relays == true ? .turnRelays : .turnRelayIncomplete, about: about, .measured,
          aspect: .turnRelay, parameters: p, evidence: evidence))
    } else {
      set.append(
        Finding(
          .turnRelayNotMeasured, about: about, .notMeasured, aspect: .turnRelay,
          parameters: ["peerForbidden": .flag(s.peerForbidden)],
          evidence: s.peerForbidden
            ? [EvidenceItem(.errorCode, step: "create-permission", address: s.server, value: 403)]
            : [EvidenceItem(.notRun, step: "relay")]))
    }
    // Releases.
    if s.relayedAddress != nil {
      set.append(
        Finding(
          s.released ? .turnReleased : .turnNotReleased, about: about, .measured,
          aspect: .turnRelease))
    } else {
      set.append(Finding(.turnNothingToRelease, about: about, .measured))
    }
    // Problems, then notes.
    set.append(contentsOf: s.problems.map(\.finding))
    if s.peerForbidden {
      set.append(
        Finding(
          .turnPeerForbidden, about: about, .measured, aspect: .turnPeerPolicy,
          evidence: [
            EvidenceItem(.errorCode, step: "create-permission", address: s.server, value: 403)
          ]
        ))
    }
    // The verdict covers only what was shown.
    if !s.problems.isEmpty || !s.authenticated || s.relayedAddress == nil {
      set.append(
        Finding(
          .turnServerBroken, about: about, .measured,
          parameters: ["problems": .list(s.problems.map { .text($0.code.rawValue) })]))
    } else if s.relays == true {
      set.append(
        Finding(
          .turnServerWorks, about: about, .measured,
          covers: allAspects + (s.transport == "tls" ? [.turnTLS] : [])))
    } else {
      set.append(
        Finding(
          .turnServerAllocates, about: about, .measured,
          covers: [.turnReachability, .turnAuthentication, .turnAllocation, .turnRelease]
            + (s.transport == "tls" ? [.turnTLS] : []),
          parameters: ["peerForbidden": .flag(s.peerForbidden)]))
    }
    return set
  }

  /// The findings of a whole check: each server's, then the verdict of the check.
  public static func derive(_ servers: [TURNServerCheck]) -> FindingSet {
    var set = FindingSet()
    var broken = 0
    var unverified = 0
    for s in servers {
      let found = derive(s)
      set.append(contentsOf: found)
      if found.contains(.turnServerBroken) { broken += 1 }
      if found.contains(.turnServerAllocates) { unverified += 1 }
    }
    let p: FindingParameters = [
      "servers": .int(servers.count), "broken": .int(broken), "unverified": .int(unverified),
    ]
    if broken > 0 || servers.isEmpty {
      set.append(Finding(.turnVerdictBroken, about: .session, .measured, parameters: p))
    } else if unverified > 0 {
      set.append(
        Finding(
          .turnVerdictUnverified, about: .session, .measured,
          covers: [.turnReachability, .turnAuthentication, .turnAllocation], parameters: p))
    } else {
      set.append(
        Finding(.turnVerdictWorks, about: .session, .measured, covers: allAspects, parameters: p))
    }
    return set
  }

  // MARK: Problems

  /// The problem an allocation failure is, as a finding about `subject`.
  static func allocationFinding(
    _ failure: TURNFailure, reachable: Bool, about subject: FindingSubject
  ) -> (TURNCheckProblem.Code, Finding) {
    var p = failureParameters(failure)
    var evidence: [EvidenceItem] = []
    let address: TransportAddress? = if case .server(let a) = subject { a } else { nil }
    if let code = failure.code {
      evidence.append(
        EvidenceItem(.errorCode, step: "allocate", address: address, value: Double(code)))
    } else if let u = failure.unreachable {
      evidence.append(EvidenceItem(.icmp, step: "allocate", address: u.destination))
      p["icmp"] = .text(u.kind.rawValue)
    } else if let ms = failure.silentForMs {
      evidence.append(EvidenceItem(.noAnswer, step: "allocate", address: address, value: ms))
    }
    let code: TURNCheckProblem.Code
    switch failure.code {
    case nil:
      if case .connectionClosed(.tls(let problem)) = failure.cause {
        code = problem.isCertificate ? .tlsCertificate : .tlsHandshake
        p["failure"] = .text(problem.explanation)
      } else {
        code = reachable ? .allocateFailed : .unreachable
      }
    case 401, 441: code = .unauthorized
    case 403: code = .forbidden
    case 486, 508: code = .quota
    case 437: code = .allocationLost
    default: code = .allocateFailed
    }
    return (
      code,
      Finding(
        .turnProblem(code), about: subject, .measured, parameters: p, evidence: evidence)
    )
  }

  /// A failure's explanation, STUN error code and the server's reason phrase, as parameters.
  public static func failureParameters(_ failure: TURNFailure) -> FindingParameters {
    var p: FindingParameters = ["failure": .text(failure.explanation)]
    if let code = failure.code { p["errorCode"] = .int(code) }
    if let reason = failure.serverReason { p["serverReason"] = .text(reason) }
    return p
  }

  // MARK: Vocabulary

  /// The sentences of `natscope turn`'s findings.
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    switch f.code {
    case .turnReachable:
      var d =
        p.milliseconds("rttMs").map { "answered in " + TURNFindings.ms($0) }
        ?? "accepted the connection"
      if let realm = p.text("realm") { d += " (realm \(realm))" }
      if let software = p.text("software") { d += "; software \(software)" }
      return d
    case .turnNoAnswer:
      if let icmp = p.text("icmp").flatMap(Unreachable.Kind.init(rawValue:)) {
        return "no answer: \(icmp.phrase)"
      }
      return p.text("transport") == "udp" ? "no answer" : "no answer over the connection"
    case .turnTLSDone:
      return "handshake done" + (p.text("certificate").map { ": " + $0 } ?? "")
    case .turnTLSFailed: return "handshake failed"
    case .turnAuthenticated: return "credentials accepted"
    case .turnCredentialsRejected: return "credentials rejected"
    case .turnAuthenticationNotReached, .turnAllocationNotReached: return "not reached"
    case .turnAllocated:
      var d = "relayed " + (p.address("relayed").map(\.description) ?? "?")
      if let lifetime = p.int("lifetime") { d += " for \(lifetime) s" }
      if let reflexive = p.address("reflexive") { d += "; you are \(reflexive) to the server" }
      if let refreshed = p.flag("refreshed") {
        d += refreshed ? "; Refresh works" : "; Refresh failed"
      }
      return d
    case .turnNoAllocation: return "no allocation"
    case .turnRelays, .turnRelayIncomplete:
      var d =
        "\(p.int("indicationsReceived") ?? 0)/\(p.int("indicationsSent") ?? 0) Send/Data indications"
      if let sent = p.int("channelSent"), sent > 0 {
        d += ", \(p.int("channelReceived") ?? 0)/\(sent) ChannelData"
      }
      d += " came back"
      if let rtt = p.milliseconds("rttMs") {
        d += "; " + TURNFindings.ms(rtt) + " round trip through the relay"
      }
      return d
    case .turnRelayNotMeasured:
      return p.flag("peerForbidden") == true
        ? "not measured: the server's policy forbids the peer address (403 to CreatePermission)"
        : "not reached"
    case .turnReleased: return "release sent for every allocation"
    case .turnNotReleased: return "not released"
    case .turnNothingToRelease: return "nothing to release"
    case .turnPeerForbidden:
      return
        "the server refused a permission for the peer address natscope tests with (its own other relayed address): 403 to CreatePermission or ChannelBind is its policy (coturn, for one, refuses loopback and private peers unless --allow-loopback-peers or an --allowed-peer-ip range), not a failure, but relaying could not be tested. To test it, check a server whose policy allows its own relayed addresses as peers, or relay between two hosts with natscope connect --turn."
    case .turnServerWorks:
      return "works: authenticates, allocates and relays both ways"
    case .turnServerAllocates:
      return
        "authenticates and allocates, but relaying was not tested: the server's policy forbids the peer address"
    case .turnServerBroken:
      return "broken: a check failed"
    case .turnVerdictWorks:
      let n = p.int("servers") ?? 0
      return n == 1
        ? "works. The TURN server allocates and relays both ways."
        : n == 2
          ? "works. Both TURN servers allocate and relay both ways."
          : "works. All \(n) TURN servers allocate and relay both ways."
    case .turnVerdictUnverified:
      let n = p.int("servers") ?? 0
      let u = p.int("unverified") ?? 0
      if n == 1 {
        return
          "unverified. The TURN server authenticates and allocates, but its relaying was not tested: its policy forbids the peer address (note above)."
      }
      return
        "unverified. \(u) of \(n) TURN servers authenticate and allocate, but their relaying was not tested: their policy forbids the peer address (notes above)"
        + (u < n ? "; the others allocate and relay both ways." : ".")
    case .turnVerdictBroken:
      let n = p.int("servers") ?? 0
      if n == 0 { return "broken. No TURN server was checked." }
      return
        "broken. \(p.int("broken") ?? 0) of \(n) TURN server\(n == 1 ? "" : "s") failed a check (problems above)."
    default:
      return TURNFindings.problemSentence(f)
    }
  }

  /// The sentence of a problem finding.
  static func problemSentence(_ f: Finding) -> String? {
    guard let code = problemCode(f) else { return nil }
    let p = f.parameters
    // A sentence another report made itself (e.g. a stuns: connection that failed).
    if let message = p.text("message") { return message }
    let reason = p.text("serverReason").map { " (server said: \($0))" } ?? ""
    let failure = p.text("failure") ?? ""
    let described = (p.int("errorCode").map { "\($0): " } ?? "") + failure
    let prefix =
      p.flag("secondAllocation") == true
      ? "a second allocation for the relay test failed: " : ""
    switch p.text("stage") {
    case "deadline":
      let phase = p.text("phase").flatMap(TURNCheckStage.init(rawValue:))
      return
        "the check did not finish within \(p.int("deadlineS") ?? 0) s (stopped while \(phase.map(doing) ?? "checking"))"
    case "connect":
      return "natscope could not open a connection: \(failure)"
    case "refresh":
      return "a Refresh of the allocation failed: \(described)"
    case "lost":
      return "an allocation was lost during the check: \(described)"
    case "request":
      return
        "\(p.text("method") ?? "a request") between two allocations on the server failed: \(described)"
    case "probes":
      let sent = p.int("sent") ?? 0
      return
        "\(sent) probe\(sent == 1 ? "" : "s") sent between two allocations on the server as \(p.text("how") ?? "probes")"
        + " never came back: the server allocates but does not relay (a firewall between its"
        + " relay ports, or a relayed address that is not its own)"
    case "interrupted":
      return "the check was interrupted before it finished"
    default:
      break
    }
    switch code {
    case .unauthorized:
      return prefix
        + "the TURN server rejected the username or password (\(p.int("errorCode") ?? 0))" + reason
        + ": check --turn-user and --turn-password, or --turn-secret and the server's realm"
    case .relayedAddressUnroutable:
      return unroutableSentence(p)
    case .tlsCertificate, .tlsHandshake, .unreachable:
      return prefix + failure
    default:
      return prefix + failure + reason
    }
  }

  /// "waiting for an answer to its Allocate", … : what a check still running waits for.
  static func doing(_ stage: TURNCheckStage) -> String {
    switch stage {
    case .allocating: "allocating"
    case .refreshing: "refreshing"
    case .secondAllocation: "making the second allocation"
    case .permitting: "creating permissions"
    case .indications: "sending Send indications"
    case .binding: "binding channels"
    case .channels: "sending ChannelData"
    case .releasing: "releasing"
    }
  }

  static func waitsFor(_ stage: TURNCheckStage) -> String {
    switch stage {
    case .allocating: "an answer to its Allocate"
    case .refreshing: "an answer to its Refresh"
    case .secondAllocation: "the second allocation"
    case .permitting: "its CreatePermission answers"
    case .indications: "the echoes of its Send indications"
    case .binding: "its ChannelBind answers"
    case .channels: "the echoes of its ChannelData"
    case .releasing: "its allocations to be released"
    }
  }

  /// The line `natscope turn` prints (on a terminal's standard error) while checks still run:
  /// each server still being checked, and what it waits for.
  public static func waitingLine(
    _ running: [(uri: String, stage: TURNCheckStage)], deadline: Duration
  ) -> String? {
    guard !running.isEmpty else { return nil }
    return "still checking "
      + running.map { "\($0.uri) (waiting for \(waitsFor($0.stage)))" }.joined(separator: ", ")
      + "; each server's check stops after \(deadline.components.seconds) s at most"
  }

  /// The classes of relayed address peers cannot reach, with why.
  static func unroutableSentence(_ p: FindingParameters) -> String {
    let r = p.ip("relayed").map(\.description) ?? "?"
    let s = p.ip("server").map(\.description) ?? "?"
    let why: String
    switch p.text("class") {
    case "unspecified": why = "\(r) is no address at all"
    case "loopback": why = "\(r) is a loopback address, reachable only on the server"
    case "link-local": why = "\(r) is a link-local address, reachable only on its link"
    case "private":
      why = "\(r) is a private address, which peers that reach the server at \(s) cannot reach"
    default: why = "peers reach the server at its public address \(s), not at \(r)"
    }
    return
      "the server hands out relayed address \(r) but answered on \(s): \(why); make the server announce"
      + " its public address (coturn: --external-ip)"
  }

  static func ms(_ v: Double) -> String {
    let rounded = (v * 10).rounded() / 10
    return "\(rounded) ms"
  }
}
