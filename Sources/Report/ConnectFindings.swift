import STUN
import Traversal

// The findings of `natscope connect` (and of the two-host demo, which builds the same report):
// their codes, and the vocabulary that words them. ``ConnectReportBuilder`` derives them from
// the recorded evidence; every sentence of a ``ConnectReport`` is one of these.

extension FindingCode {
  /// A candidate natscope keeps but cannot check (`candidate`, `port`, `why`: `tcp`,
  /// `mdns-name`, `host-name`).
  public static let connectCandidateUnusable: FindingCode = "connect.candidate.unusable"
  /// A pair was selected (session): `path`, `localType`, `remoteType`, `ms` when known.
  public static let connectConnected: FindingCode = "connect.connected"
  /// Nothing was selected because the person at the other end did not act within `limitMs`
  /// (`waitedFor`: `answer` or `checks`).
  public static let connectWaitExpired: FindingCode = "connect.failed.wait-expired"
  /// Checks worked, but no pair was nominated (`role`).
  public static let connectNotNominated: FindingCode = "connect.failed.not-nominated"
  /// No pair could be formed (`peerSignalledNone`).
  public static let connectNoPair: FindingCode = "connect.failed.no-pair"
  /// Pairs were checked (`checked`) and none worked.
  public static let connectNoPathWorked: FindingCode = "connect.failed.no-path"
  /// Pairs were checked and none worked, and no check ever came from the peer: it may not have
  /// had this host's description yet (`checked`).
  public static let connectPeerSilent: FindingCode = "connect.failed.peer-silent"
  /// Pairs were checked (`checked`) and none worked, and both sides' measured behaviour rules
  /// out every path: the answerer did not wait for the offerer's checks (none could arrive).
  public static let connectNoPathPossible: FindingCode = "connect.failed.no-path-possible"
  /// No description came from the peer: nothing is known of its candidates (not measured).
  public static let connectNoPeerDescription: FindingCode = "connect.peer.no-description"
  /// What the checks showed of packet loss.
  public static let connectLoss: FindingCode = "connect.loss"
  /// The NAT types both hosts' probes gave (`local`, `peer`, `localServerOnThisHost`).
  public static let connectNATTypes: FindingCode = "connect.nat-types"
  /// This host's probe asked a server on this host: its NAT type is not measured (`server`).
  public static let connectProbeServerOnThisHost: FindingCode = "connect.probe.server-on-this-host"
  /// The wait for the person at the other end ended with what it waited for (`waitedFor`,
  /// `ms`).
  public static let connectWaitEnded: FindingCode = "connect.wait.ended"
  /// The log line of a wait that ended with what it waited for (`waitedFor`, `ms`).
  public static let connectWaitEndedLine: FindingCode = "connect.wait.ended-line"
  /// This side waited (`ms`) and what it waited for never came (`waitedFor`).
  public static let connectWaitUnanswered: FindingCode = "connect.wait.unanswered"
  /// This side is waiting (`waitedFor`, `waitedMs`, `limitMs`).
  public static let connectWaiting: FindingCode = "connect.waiting"

  // Per path (subject `.path(kind)`).
  /// A pair of the path worked (`local`, `remote`, `rttMs`, `selected`).
  public static let connectPathWorked: FindingCode = "connect.path.worked"
  /// A host↔host check was answered through this host's NAT (`remote`, `seen`).
  public static let connectPathThroughLocalNAT: FindingCode = "connect.path.through-local-nat"
  /// Pairs were formed but not checked (`connected`).
  public static let connectPathNotChecked: FindingCode = "connect.path.not-checked"
  /// The checks were cut short when another path won (`winner`, `requests`).
  public static let connectPathCutShort: FindingCode = "connect.path.cut-short"
  /// No pair of the path could be formed (`why`, and the values that reason names).
  public static let connectPathNotFormed: FindingCode = "connect.path.not-formed"
  /// No peer description arrived, so the path's pairs are not measured.
  public static let connectPathNotMeasured: FindingCode = "connect.path.not-measured"
  /// The peer answered the checks with an error (`remote`, `detail`).
  public static let connectPathErrorResponse: FindingCode = "connect.path.error-response"
  /// ICMP unreachable came back (`remote`, `icmp`, `detail`).
  public static let connectPathUnreachable: FindingCode = "connect.path.unreachable"
  /// The checks were stopped before any answer (`detail`).
  public static let connectPathStopped: FindingCode = "connect.path.stopped"
  /// The path's checks timed out (`pairs`, `requests`, `why`, …).
  public static let connectPathTimedOut: FindingCode = "connect.path.timed-out"
  /// The path's checks timed out and no check ever came from the peer (`pairs`, `requests`).
  public static let connectPathPeerSilent: FindingCode = "connect.path.peer-silent"
  /// The relayed address is one no peer can reach (`pairs`, `why`).
  public static let connectPathRelayUnroutable: FindingCode = "connect.path.relay-unroutable"
  /// UDP is blocked on a host's network (`who`, `overTCP`).
  public static let connectPathUDPBlocked: FindingCode = "connect.path.udp-blocked"
  /// The router's port mapping sits behind another NAT (`method`, `external`, `port`, `seen`).
  public static let connectPathMappingBehindNAT: FindingCode = "connect.path.mapping-behind-nat"
  /// The connection went through the router's port mapping (`method`, `external`, `port`,
  /// `mapping`, `peerAlso`).
  public static let connectPathThroughMapping: FindingCode = "connect.path.through-mapping"
  /// What should happen on the path (`outcome`, `why`, …): inferred before the checks.
  public static let connectPrediction: FindingCode = "connect.prediction"
}

extension FindingAspect {
  /// The pairs of a path, and the peer's candidates they are formed from.
  public static let connectPairs: FindingAspect = "pairs"
  /// A host's NAT type.
  public static let connectNATType: FindingAspect = "nat-type"
  /// Whether the path works.
  public static let connectPathWorks: FindingAspect = "path-works"
  /// What the peer did (its checks, its description).
  public static let connectPeer: FindingAspect = "peer"
}

/// Words the connect findings.
public enum ConnectFindings {
  /// The vocabulary of `connect` (registered in ``FindingText``).
  public static let vocabulary: FindingText.Vocabulary = { f in ConnectFindings.sentence(f) }

  static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

  static func sentence(_ f: Finding) -> String? {
    let p = f.parameters
    switch f.code {
    case .connectCandidateUnusable:
      let address = p.word("candidate") ?? "?"
      switch p.word("why").flatMap(SignaledCandidate.Unusable.init(rawValue:)) {
      case .tcp?:
        return
          "TCP candidate \(address) port \(p.int("port") ?? 0) is not supported: natscope checks UDP paths only."
      case .mdnsName?:
        return
          "Candidate \(address) is an mDNS name that only resolves on the peer's own network, so natscope cannot check it."
      case .hostName?, nil:
        return "Candidate address \(address) is a host name, and natscope only checks IP addresses."
      }
    case .connectConnected:
      let how =
        switch p.word("path") ?? "" {
        case "direct": "directly"
        case "reflexive": "through the NATs"
        default: "through a TURN relay"
        }
      let time = p.milliseconds("ms").map { " in \(ConnectReportText.ms($0))" } ?? ""
      return
        "Connected\(time), \(how) (\(p.word("localType") ?? "?") ↔ \(p.word("remoteType") ?? "?"))."
    case .connectWaitExpired:
      let time = ConnectReportText.duration(p.milliseconds("limitMs") ?? 0)
      if p.word("waitedFor") == "answer" {
        return
          "No answer was pasted within \(time) of the offer being ready; run again and paste the answer token sooner, or raise --timeout."
      }
      return
        "No check came from the offerer within \(time) of this answer being ready: the offerer may not have had the answer yet (not pasted there, or still on its way), or it had quit; no check arriving says nothing about the network."
    case .connectNotNominated:
      switch p.word("role") ?? "" {
      case "controlled":
        return
          "Checks worked, but the peer (the controlling side) never nominated a pair before the time ran out: it may not have had this host's description yet (a relay still passing it on), or it quit or gave up first."
      case "controlling":
        return "Checks worked, but no nominating check was answered before the time ran out."
      default:
        return "Checks worked, but no pair was nominated before the time ran out."
      }
    case .connectNoPair:
      return p.flag("peerSignalledNone") == true
        ? "No pair could be formed: the peer signalled no candidates."
        : "No pair could be formed from the candidates."
    case .connectNoPathWorked:
      return "No path worked (\(plural(p.int("checked") ?? 0, "pair")) checked)."
    case .connectPeerSilent:
      return
        "No path worked (\(plural(p.int("checked") ?? 0, "pair")) checked), and no check ever came from the peer: it may not have had this host's description yet, or it gave up before it had it."
    case .connectNoPathPossible:
      return
        "No path worked (\(plural(p.int("checked") ?? 0, "pair")) checked), and none can: both NATs' measured behaviour rules out every path (see the predictions), so no check from the offerer could arrive either, and natscope did not wait for one."
    case .connectNoPeerDescription:
      return
        "No description came from the peer, so no pair was formed: nothing is known of the peer's candidates, its NAT or the paths to it."
    case .connectLoss:
      return lossSentence(p)
    case .connectNATTypes:
      let local =
        p.address("localServerOnThisHost").map {
          "not measured (the probe's server \($0) is on this host, which says nothing about a NAT)"
        } ?? (p.word("local") ?? "unknown")
      let peer = p.flag("peerKnown") == false ? "not known" : (p.word("peer") ?? "unknown")
      return "NATs: this host \(local), peer \(peer)."
    case .connectProbeServerOnThisHost:
      return
        "This host's NAT type was not measured: the probe's server \(p.address("server").map { "\($0)" } ?? "?") is on this host, so its answers say nothing about the path to the internet."
    case .connectWaitEnded:
      let what = waitNoun(p.word("waitedFor"))
      return "Waited \(ConnectReportText.duration(p.milliseconds("ms") ?? 0)) for \(what)."
    case .connectWaitEndedLine:
      let time = ConnectReportText.duration(p.milliseconds("ms") ?? 0)
      return p.word("waitedFor") == "answer"
        ? "the answer came after \(time)"
        : "the offerer's first check came after \(time): checks running"
    case .connectWaitUnanswered:
      let what = waitNoun(p.word("waitedFor"))
      return
        "Waited \(ConnectReportText.duration(p.milliseconds("ms") ?? 0)) for \(what); none came."
    case .connectWaiting:
      let waited = ConnectReportText.duration(p.milliseconds("waitedMs") ?? 0)
      let limit = ConnectReportText.duration(p.milliseconds("limitMs") ?? 0)
      if p.word("waitedFor") == "answer" {
        return "waiting for the answer token to be pasted here (waited \(waited) of \(limit))"
      }
      return
        "waiting for the offerer's first check, which comes once it has your answer (waited \(waited) of \(limit))"
    case .connectPathWorked:
      let answered =
        p.milliseconds("rttMs").map { "answered in \(ConnectReportText.ms($0))" } ?? "answered"
      let mark = p.flag("selected") == true ? "; selected" : ""
      return "Worked: \(p.word("local") ?? "?") ↔ \(p.word("remote") ?? "?") \(answered)\(mark)."
    case .connectPathThroughLocalNAT:
      return
        "This host's checks to the peer's host address \(p.word("remote") ?? "?") were answered through this host's NAT (the peer saw it at \(p.word("seen") ?? "?")), so that pair is the path through the NATs; no path avoids a NAT."
    case .connectPathNotChecked:
      return p.flag("connected") == true
        ? "Not tried: a better path connected before these pairs were checked."
        : "These pairs were formed but never checked."
    case .connectPathCutShort:
      let winner = p.word("winner").map { "the \($0) path" } ?? "another path"
      let n = p.int("requests") ?? 0
      var s =
        "Not tried to the end: \(winner) connected first, while these checks had no answer yet (\(plural(n, "request")))."
      if let predicted = p.word("predictedFails") { s += " " + predicted }
      return s
    case .connectPathNotFormed:
      return notFormed(p)
    case .connectPathNotMeasured:
      return "Not measured: no description came from the peer, so no pair was formed."
    case .connectPathErrorResponse:
      return
        "The peer answered the checks to \(p.word("remote") ?? "?") with an error\(detail(p))."
    case .connectPathUnreachable:
      let remote = p.word("remote") ?? "?"
      switch p.word("icmp") ?? "" {
      case "portUnreachable":
        return
          "The peer is not listening on \(remote)\(detail(p)): it may have quit, or the token is old."
      case "hostUnreachable", "networkUnreachable":
        return
          "Checks to \(remote) could not be delivered\(detail(p)): that address cannot be reached from here."
      case "prohibited":
        return "A firewall refused the checks to \(remote)\(detail(p))."
      default:
        return
          "Checks to \(remote) were refused (ICMP unreachable)\(detail(p)): nothing listens at that address."
      }
    case .connectPathStopped:
      return "The checks were stopped before any answer came back\(detail(p))."
    case .connectPathTimedOut:
      return timedOut(f, p)
    case .connectPathPeerSilent:
      return
        "\(pairsPhrase(f, p)) timed out after \(plural(p.int("requests") ?? 0, "request")), and no check ever came from the peer: it may not have had this host's description yet, so this is no sign of a blocked network."
    case .connectPathRelayUnroutable:
      let n = p.int("pairs") ?? 0
      let why = p.word("why") ?? ""
      if n == 0 { return why.prefix(1).uppercased() + why.dropFirst() + "." }
      return
        "\(n == 1 ? "The relayed pair" : "All \(n) relayed pairs") failed: \(why)."
    case .connectPathUDPBlocked:
      let who = hostsPhrase(p.word("who"))
      return p.flag("overTCP") == true
        ? "UDP is blocked on \(who), so no UDP path can work; only the TURN relay, reached over TCP, can connect these hosts."
        : "UDP is blocked on \(who), so no UDP path can work; only a TURN relay over TCP or TLS could connect these hosts."
    case .connectPathMappingBehindNAT:
      return
        "The port mapping natscope made on your router (\(p.word("method") ?? "port mapping"), \(p.word("external") ?? "?"):\(p.int("port") ?? 0)) is on a router behind another NAT (servers see this host at \(p.word("seen") ?? "?")), so peers outside that NAT cannot use it."
    case .connectPathThroughMapping:
      var text =
        "Connected through the port mapping natscope made on your router (\(p.word("method") ?? "port mapping"), \(p.word("external") ?? "?"):\(p.int("port") ?? 0)): without it, this host's NAT (\(p.word("mapping") ?? "?") mapping) gives each destination its own port, so the peer would have had no address it could reach"
      if p.flag("peerAlso") == true {
        text += "; with the peer's NAT doing the same, the two hosts would have needed the relay"
      }
      return text + "."
    case .connectPrediction:
      return prediction(p)
    default:
      return nil
    }
  }

  static func detail(_ p: FindingParameters) -> String {
    p.word("detail").map { " (\($0))" } ?? ""
  }

  static func waitNoun(_ what: String?) -> String {
    what == "answer" ? "the peer's answer" : "the offerer's first check"
  }

  /// "this host's network", "the peer's network", "both hosts' networks".
  static func hostsPhrase(_ who: String?) -> String {
    switch who ?? "" {
    case "both": "both hosts' networks"
    case "peer": "the peer's network"
    default: "this host's network"
    }
  }

  static func pairsPhrase(_ f: Finding, _ p: FindingParameters) -> String {
    let n = p.int("pairs") ?? 0
    let what: String =
      switch f.subject {
      case .path("direct"): "host↔host"
      case .path("relay"): "relayed"
      default: "NAT"
      }
    return n == 1 ? "The \(what) pair" : "All \(n) \(what) pairs"
  }

  static func timedOut(_ f: Finding, _ p: FindingParameters) -> String {
    let after = "timed out after \(plural(p.int("requests") ?? 0, "request"))"
    let lead = "\(pairsPhrase(f, p)) \(after)"
    switch p.word("why") ?? "" {
    case "same-subnet":
      return
        "\(lead), no ICMP error, although both hosts are on \(p.word("subnet") ?? "?"): a firewall probably drops the checks."
    case "loopback":
      return
        "\(lead), no ICMP error, although both ends are on this machine (loopback): a firewall probably drops the checks."
    case "no-host-address":
      return "\(lead), no ICMP error: a firewall probably drops the checks."
    case "different-networks":
      return "\(lead), no ICMP error: the hosts share no subnet, so probably different networks."
    case "relay":
      return
        "\(lead): the relay at \(p.word("target") ?? "?") did not pass the checks on, or the peer cannot reach it."
    default:
      return "Checks to \(p.word("target") ?? "?") got no answer: \(natReason(p))."
    }
  }

  static func natReason(_ p: FindingParameters) -> String {
    func filters(_ key: String) -> String {
      p.word(key) == FilteringBehavior.addressDependent.rawValue
        ? "filters by address" : "filters by address and port"
    }
    switch p.word("nat") ?? "" {
    case "udp-blocked-here": return "UDP is blocked on this host's network"
    case "udp-blocked-peer": return "UDP is blocked on the peer's network"
    case "unknown":
      return
        "natscope does not know how both NATs map and filter, so it cannot say which one dropped them"
    case "both-symmetric":
      return
        "both NATs change ports for each destination (symmetric), so neither side's checks reach a port the other has opened"
    case "peer-filters":
      return "the peer's NAT \(filters("filtering")) and yours changes ports (symmetric)"
    case "local-filters":
      return "your NAT \(filters("filtering")) and the peer's changes ports (symmetric)"
    default:
      return
        "both NATs should have let them through, so a firewall probably drops UDP between the hosts"
    }
  }

  static func notFormed(_ p: FindingParameters) -> String? {
    switch p.word("why") ?? "" {
    case "no-relay-configured": return "No relay was configured (use --turn)."
    case "no-relay-address":
      return "The TURN server gave no relay address, so no relayed pair could be formed."
    case "relay-failed":
      let servers = p.list("servers")
      let transports = p.list("transports")
      let reasons = p.list("reasons")
      var why: [String] = []
      for (i, s) in servers.enumerated() {
        guard case .text(let server) = s else { continue }
        let t: String = {
          if i < transports.count, case .text(let t) = transports[i] { return t }
          return "?"
        }()
        let r: String = {
          if i < reasons.count, case .text(let r) = reasons[i] { return r }
          return "no answer"
        }()
        why.append("at \(server) over \(t), \(r)")
      }
      return "No relayed candidate, so no relayed pair could be formed: "
        + why.joined(separator: "; ") + "."
    case "relay": return "No relayed pair could be formed from the candidates."
    case "no-nat":
      let who =
        p.word("who") == "both"
        ? "both hosts" : (p.word("who") == "peer" ? "the peer" : "this host")
      return
        "The STUN server saw \(who) at its own address (no NAT), so there was no separate public address to try: the direct path covers it."
    case "no-stun":
      return
        "Neither host offered a server-reflexive candidate (no STUN server was given with --stun, or none answered), so this path was not tried."
    case "same-address":
      return
        "Neither host learned a public address different from its own, so this path was not tried."
    case "reflexive": return "No pair through the NATs could be formed from the candidates."
    case "mdns":
      return "The peer's host candidates are mDNS names or TCP, which natscope cannot check."
    case "no-host-candidates":
      return p.word("who") == "peer"
        ? "The peer offered no host candidates, so no host↔host pair was formed."
        : "This host offered no host candidates, so no host↔host pair was formed."
    case "families":
      return "No host↔host pair could be formed (the addresses' families differ)."
    default: return nil
    }
  }

  /// The sentence of a prediction. `naming` is `hosts` (the demo: host A and host B) or absent
  /// (this host and the peer).
  static func prediction(_ p: FindingParameters) -> String? {
    let hosts = p.word("naming") == "hosts"
    // Names for `a` (this host / host A) and `b` (the peer / host B).
    func name(_ who: String?, capital: Bool) -> String {
      switch (who ?? "", hosts) {
      case ("both", _): return capital ? "Both hosts" : "both hosts"
      case ("b", false), ("peer", false): return capital ? "The peer" : "the peer"
      case ("b", true), ("peer", true): return capital ? "Host B" : "host B"
      case (_, true): return capital ? "Host A" : "host A"
      default: return capital ? "This host" : "this host"
      }
    }
    func possessive(_ who: String?, capital: Bool) -> String {
      who == "both" ? (capital ? "Both hosts'" : "both hosts'") : name(who, capital: capital) + "'s"
    }
    switch p.word("why") ?? "" {
    // Direct.
    case "loopback":
      return "Both ends are on this machine (loopback), so their host addresses reach each other."
    case "mdns":
      return
        "\(name("b", capital: true)) hides its host addresses behind mDNS names, so whether the hosts share a network is unknown."
    case "same-lan":
      return
        "Both hosts have addresses on \(p.word("subnet") ?? "?"), so they are probably on the same LAN."
    case "same-public":
      return
        "Both hosts are on \(p.word("subnet") ?? "?") behind the same public address, so their host addresses reach each other."
    case "private-range-reused":
      return
        "Both hosts use \(p.word("subnet") ?? "?") but reach the internet through different public addresses, so they are probably different networks reusing the same private range."
    case "direct-udp-blocked":
      let who = p.word("who")
      let net =
        who == "both"
        ? "both hosts' networks" : "\(possessive(who, capital: false)) network"
      return "UDP is blocked on \(net), so the hosts' addresses cannot reach each other."
    case "public-behind-nat":
      let who = p.word("who")
      let other = who == "a" ? "b" : "a"
      return
        "\(name(who, capital: true)) has a public address but \(name(other, capital: false)) is behind a NAT, so checks between them pass through that NAT: the path through the NATs, not a direct one."
    case "public-unknown":
      return
        "\(name(p.word("who"), capital: true)) has a public address, so a direct path works unless a firewall blocks it."
    case "public-open":
      let who = p.word("who")
      let checks = who == "a" ? (hosts ? "host B's" : "the peer's") : (hosts ? "host A's" : "your")
      return
        "\(name(who, capital: true)) has a public address and no firewall, so \(checks) checks reach it directly."
    case "no-host-address": return "One host has no usable host address."
    case "different-private":
      return
        "The hosts are on different private networks, so their host addresses cannot reach each other."
    // Through the NATs.
    case "no-profile":
      let who = p.word("who") == "both" ? "either host" : name(p.word("who"), capital: false)
      return "There is no NAT profile for \(who), so this path can only be tried."
    case "no-peer":
      return "No prediction: nothing is known of the peer, whose description never came."
    case "uncertain-from-loss":
      return "A probe's classification is uncertain because of loss, so there is no prediction."
    case "probe-unfinished":
      return "A probe did not finish, so there is no prediction."
    case "reflexive-udp-blocked":
      return
        prefix(p, hosts)
        + "UDP is blocked for \(name(p.word("who"), capital: false)), so no UDP path but a relay over TCP can work."
    case "behaviour-unknown":
      return prefix(p, hosts)
        + "A NAT's mapping or filtering behaviour is unknown, so this path can only be tried."
    case "both-public":
      return prefix(p, hosts)
        + "Both hosts have public addresses, so they reach each other directly."
    case "both-keep-one-address":
      return prefix(p, hosts)
        + "Each side keeps one public address per socket, so each side's checks open a hole the other's can use."
    case "lets-in":
      let who = p.word("who")
      let what =
        p.flag("natDetected") == true
        ? "\(possessive(who, capital: true)) NAT" : "\(name(who, capital: true)) has no NAT and"
      return prefix(p, hosts)
        + "\(what) lets the other side's checks in even though the other NAT changes its port per destination."
    case "filters-too-strictly":
      return prefix(p, hosts)
        + "Both NATs filter too strictly for either side's checks to get in."
    case "port-per-destination":
      let who = p.word("who")
      let subject =
        who == "both" ? "Both NATs pick" : "\(possessive(who, capital: true)) NAT picks"
      return prefix(p, hosts)
        + "\(subject) a new public port for each destination, and the other side's NAT only accepts packets from the exact address it sent to, so only a relay can work."
    // Relayed.
    case "no-relay":
      return "No relay was configured on either host (use --turn)."
    case "relay-udp-blocked":
      return
        "UDP is blocked on this host's network and its TURN server is reached over UDP; use a TURN server over TCP."
    case "relay-configured":
      let how = p.word("transports").map { " (\($0))" } ?? ""
      return
        "A TURN relay is configured on \(name(p.word("who"), capital: false))\(how), so traffic can be relayed as long as the TURN server is reachable."
    default:
      return nil
    }
  }

  /// The port mappings counted in a reflexive prediction, as its first words.
  static func prefix(_ p: FindingParameters, _ hosts: Bool) -> String {
    let mine = p.word("mappedHere")
    let peers = p.word("mappedPeer")
    switch (mine, peers) {
    case (let m?, let n?):
      return
        "With both routers' mappings (\(m), \(n)) counted as endpoint-independent NATs for the mapped ports: "
    case (let m?, nil):
      return hosts
        ? "With the router's \(m) mapping counted as an endpoint-independent NAT for host A's port: "
        : "With the router's \(m) mapping counted as an endpoint-independent NAT for this host's port: "
    case (nil, let n?):
      return hosts
        ? "With host B's router's \(n) mapping counted as an endpoint-independent NAT for host B's port: "
        : "With the peer's router's \(n) mapping counted as an endpoint-independent NAT for the peer's port: "
    case (nil, nil):
      return ""
    }
  }

  static func lossSentence(_ p: FindingParameters) -> String {
    let checks = p.int("checks") ?? 0
    let retransmitted = p.int("checksRetransmitted") ?? 0
    let proven = p.int("provenChecksRetransmitted") ?? 0
    let answersLost = p.int("answersLost") ?? 0
    var parts = ["\(retransmitted) of \(plural(checks, "check")) needed a retransmission"]
    if proven > 0 { parts.append("\(proven) of them on a pair that had already answered") }
    if answersLost > 0 {
      parts.append("the peer asked again for \(plural(answersLost, "answer")) this host had sent")
    }
    let list =
      parts.count == 1
      ? parts[0] : parts.dropLast().joined(separator: ", ") + ", and " + parts[parts.count - 1]
    return "Packets were lost on the way: \(list)."
  }
}

extension FindingParameters {
  /// A value as the sentence names it: text, or an address (a JSON round trip reads an
  /// `ip:port` string back as an address).
  fileprivate func word(_ key: String) -> String? {
    switch self[key] {
    case .text(let s)?: return s
    case .address(let a)?: return a.description
    case .ip(let ip)?: return ip.description
    default: return nil
    }
  }
}

extension SignaledCandidate {
  /// Why natscope cannot check this candidate, in words, or nil when it can.
  public var unusableReason: String? {
    guard let why = unusable else { return nil }
    return Finding(
      .connectCandidateUnusable, about: .peer, .measured,
      parameters: [
        "candidate": .text(address.description), "port": .int(Int(port)),
        "why": .text(why.rawValue),
      ]
    ).text
  }
}

extension ICEPairReason {
  /// Why a pair is where it is, as the check list shows it ("no response after 7 requests").
  public var phrase: String {
    switch self {
    case .unfrozen: return "unfrozen"
    case .foundationSucceeded: return "a pair with the same foundation succeeded"
    case .checkSent(let triggered): return triggered ? "triggered check sent" : "check sent"
    case .triggeredByIncomingCheck: return "the peer's check arrived; triggered check queued"
    case .succeeded: return "authenticated response received"
    case .timeout(let n): return "no response after \(ConnectFindings.plural(n, "request"))"
    case .errorCode(let c, let r): return "error response \(c) \(r)"
    case .unreachable: return "destination unreachable"
    case .roleConflict: return "role conflict (487); retrying with the other role"
    case .pruned(let why): return "pruned: \(why)"
    case .nonSymmetric: return "response addresses are not symmetric with the request"
    case .cancelled: return "checks stopped"
    case .recheck: return "checked again now that the peer holds our description"
    }
  }
}
