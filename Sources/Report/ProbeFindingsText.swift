import STUN
import Traversal

extension ProbeFindings {
  /// The sentences of the probe's findings (and of `binding`'s server-support line).
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let server = serverName(f)
    switch f.code {
    case .serverRFC5780:
      return
        "The server answers from a second IP and port (\(p.address("other").map(\.description) ?? "?"))."
    case .serverNoOtherAddress:
      return "The server sent no OTHER-ADDRESS, so it cannot answer from a second address."
    case .serverOtherSameIP:
      return
        "The server's OTHER-ADDRESS \(p.address("other").map(\.description) ?? "?") has the same IP as the server, so tests that need a second IP cannot run."
    case .serverOtherSamePort:
      return
        "The server's OTHER-ADDRESS \(p.address("other").map(\.description) ?? "?") uses the same port as the server, so tests that need a second port cannot run."
    case .serverOnThisHost:
      return
        "\(server) is on this host, so this result says nothing about the path from this host to the internet."
    case .probeUDPSilentSoFar:
      return "no answer over UDP (UDP blocked, or every request lost)"
    case .probeUDPBlockedContradicted:
      let what =
        p.text("later") == "candidate"
        ? "the servers' answers over UDP came later (a server-reflexive or relayed candidate)"
        : "a UDP check through its network was answered later"
      return
        "The probe got no answer over UDP, but \(what): packets were lost, UDP is not blocked, and the NAT classification is uncertain because of loss."
    case .internetPathNotMeasured:
      return
        "The path to the internet was not measured: probe a server on another host to learn what peers will meet."
    case .probeUDPNoAnswer:
      let n = p.int("attempts") ?? 0
      return
        "No answer from \(server) over UDP (\(counted(n, "request")) over \(seconds(p.milliseconds("windowMs") ?? 0))): the server is down, the port is wrong, or UDP is dropped on the way."
    case .probeUDPUnreachable:
      let u = unreachable(p)
      let where_ = u.map { $0.destination.description } ?? server
      switch u?.kind {
      case .portUnreachable?:
        return
          "No STUN server answers at \(where_) (\(u.map(\.description) ?? "")): that host is up but nothing listens on that port."
      case .prohibited?:
        return "A firewall refused the requests to \(where_) (\(u.map(\.description) ?? ""))."
      default:
        return "\(where_) cannot be reached (\(u.map(\.description) ?? ""))."
      }
    case .probeUDPErrorResponse:
      let reason = p.text("reason").flatMap { $0.isEmpty ? nil : " \($0)" } ?? ""
      return
        "\(server) answered over UDP with error \(p.int("code") ?? 0)\(reason) instead of this host's address."
    case .probeUDPBlocked:
      let n = p.int("count") ?? 0
      return
        "No STUN server answered over UDP (\(counted(n, "server")) tried, every request retransmitted)."
    case .probeUDPNotMeasured:
      if p.flag("refused") == true {
        return
          "Whether UDP gets out of this network was not measured: the server's host is up (it refused TCP), so its silence over UDP is that server's, not proof that the network drops UDP."
      }
      return (p.int("count") ?? 0) > 1
        ? "Whether UDP gets out of this network was not measured: servers on one host were silent, which proves nothing about the network. Try a server on another host."
        : "Whether UDP gets out of this network was not measured: one silent server proves nothing about the network. Try another server."
    case .probeNoServer:
      return "No STUN server was given."
    case .probeNotResolved:
      return
        "\(p.text("error") ?? "cannot resolve \(p.text("name") ?? "")"): that server was not asked."
    case .probeTCPAnswered:
      if let t = p.text("transport") {
        return "A Binding request over \(t) to \(server) was answered."
      }
      return
        "A Binding request over TCP to \(server) was answered, so a TURN relay over TCP (or TLS) can carry traffic."
    case .probeTCPRefused:
      return
        "\(server) refused the TCP connection: that host is up and was reached, but nothing listens on that port over TCP."
    case .probeTCPNoAnswer:
      return
        "STUN over \(p.text("transport") ?? "TCP") to \(server) got no answer within \(Int(p.milliseconds("timeoutMs") ?? 0)) ms."
    case .probeTCPFailed:
      let e = p.text("error").flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
      // Over TCP the check runs because UDP failed ("too"); over TLS it is the only try.
      let t = p.text("transport")
      return "STUN over \(t ?? "TCP") to \(server) failed\(t == nil ? " too" : "")\(e)."
    case .natNone:
      return "The server saw this host's own address \(addr(p, "mapped")): no NAT translates it."
    case .natDetected:
      return
        "The server saw \(addr(p, "mapped")) for this host's socket \(local(p)): a NAT translates it."
    case .mappingNoNAT:
      return "No NAT translates this host's address, so it stays the same for every destination."
    case .mappingEndpointIndependent:
      return
        "The public address stayed \(addr(p, "m1")) when the destination IP changed (tests I and II)."
    case .mappingEndpointIndependentTest3:
      return
        "The public address stayed \(addr(p, "m1")) when both the destination IP and port changed (tests I and III; test II \(silence(p)))."
    case .mappingEndpointIndependentServers:
      return
        "\(p.int("count") ?? 0) servers on different IPs all saw the same public address \(addr(p, "m1"))."
    case .mappingAddressDependent:
      return
        "The public address changed with the destination IP (\(addr(p, "m1")) → \(addr(p, "m2"))) but not with the port (test III: \(addr(p, "m3")))."
    case .mappingAddressAndPortDependent:
      return
        "The public address changed with the destination IP (\(addr(p, "m1")) → \(addr(p, "m2"))) and again with the port (\(addr(p, "m3")))."
    case .mappingDependsOnDestination:
      let pairs = zip(p.list("servers"), p.list("seen")).map { "\(value($0)) saw \(value($1))" }
      return
        "The public address depends on the destination (\(pairs.joined(separator: ", "))); without an RFC 5780 server natscope cannot tell address-dependent from address-and-port-dependent mapping."
    case .mappingTest2Silent:
      return
        "Test II (to the server's alternate IP) \(silence(p)), so mapping was not measured."
    case .mappingTest3Silent:
      return
        "The public address changed from \(addr(p, "m1")) to \(addr(p, "m2")) with the destination IP, but test III \(silence(p)), so mapping was not measured."
    case .mappingNotMeasured:
      return
        "Mapping was not measured: the server does not support RFC 5780 and no second server on another IP answered."
    case .filteringEndpointIndependent:
      return
        "An answer from another IP and port (\(addr(p, "source"))) got through a mapping opened towards \(addr(p, "server")) (test II)."
    case .filteringEndpointIndependentTests34:
      return
        "Answers from another port (\(addr(p, "source3")), test III) and from another IP (\(addr(p, "source4")), test IV) both got through; test II got no answer."
    case .filteringAddressDependent:
      return
        "Answers from another IP were dropped (test II), but one from the same IP on another port (\(addr(p, "source"))) got through (test III)."
    case .filteringAddressAndPortDependent:
      return
        "Only answers from the exact address the socket sent to got through: none from another IP (test II) or another port (tests III, IV), after \(counted(p.int("requests") ?? 0, "request"))."
    case .filteringPortOnly:
      return
        "Answers from the same IP on another port were dropped (test III) while one from another IP on the same port (\(addr(p, "source"))) got through (test IV): a port-only filter that RFC 4787 does not name."
    case .filteringChangeRefused:
      let reason = p.text("reason").flatMap { $0.isEmpty ? nil : " \($0)" } ?? ""
      return
        "The server refused CHANGE-REQUEST in filtering test \(p.text("test") ?? "?") (error \(p.int("code") ?? 0)\(reason)), so filtering was not measured."
    case .filteringChangeIgnored:
      if p.text("test") == "II" {
        return
          "Asked to answer from \(addr(p, "asked")), the server answered from \(addr(p, "source")): it ignores CHANGE-REQUEST, so filtering was not measured."
      }
      return
        "Asked to answer from another port, the server answered from \(addr(p, "source")): it ignores CHANGE-REQUEST, so filtering was not measured."
    case .filteringNotRun:
      return "Filtering tests did not run."
    case .filteringNotMeasured:
      return
        "Filtering was not measured: it needs a server that can answer from another address (RFC 5780)."
    case .hairpinNoNAT:
      return "No NAT, so there is nothing to hairpin."
    case .hairpinNotMeasured:
      return p.text("why") == "disabled"
        ? "Not tested (disabled)."
        : "The second socket got no public address from the server, so hairpinning was not tested."
    case .hairpinWorks:
      return
        "Two sockets behind the NAT reached each other through their public addresses \(addr(p, "m1")) and \(addr(p, "mh")) (answered from \(addr(p, "source")))."
    case .hairpinICMP:
      return
        "Two sockets behind the NAT sent to each other's public address (\(addr(p, "m1")), \(addr(p, "mh"))); instead of passing the requests back inside, the NAT answered with \(unreachable(p).map(\.description) ?? "an ICMP error")."
    case .hairpinFails:
      return
        "Two sockets behind the NAT sent to each other's public address (\(addr(p, "m1")), \(addr(p, "mh"))); nothing came back inside the NAT."
    case .algNone:
      return "MAPPED-ADDRESS and XOR-MAPPED-ADDRESS agree (\(addr(p, "xor")))."
    case .algRewrites:
      return
        "MAPPED-ADDRESS arrived as \(addr(p, "plain")) but XOR-MAPPED-ADDRESS as \(addr(p, "xor")): something on the path rewrites addresses inside packets."
    case .algNotMeasured:
      return p.text("why") == "no-xor"
        ? "No XOR-MAPPED-ADDRESS to compare."
        : "The server sent no MAPPED-ADDRESS next to XOR-MAPPED-ADDRESS, so rewriting cannot be seen."
    case .portAllocation:
      return
        "\(p.int("preserved") ?? 0) of \(p.int("samples") ?? 0) fresh sockets kept their port, \(p.int("parity") ?? 0) kept their parity."
    case .lifetimeMeasured:
      switch (p.int("alive"), p.int("expired")) {
      case (let a?, let d?):
        return "An idle mapping still worked after \(a) s and was gone after \(d) s."
      case (let a?, nil):
        return "An idle mapping still worked after \(a) s, the longest wait tried."
      case (nil, let d?):
        return "An idle mapping was already gone after \(d) s, the shortest wait tried."
      case (nil, nil): return "No lifetime check got a conclusive result."
      }
    case .lifetimeNoNAT:
      return "No NAT, so there is no mapping to expire."
    case .lifetimeNotMeasured:
      return p.text("why") == "no-rfc5780"
        ? "The lifetime test needs RESPONSE-PORT, an RFC 5780 server feature."
        : "No lifetime check got a conclusive result."
    case .peersUDPBlocked:
      return
        "UDP does not get out of this network, so no direct UDP connection can work with any peer; only a TURN relay reached over TCP (or TLS) can carry traffic."
    case .peersNothingLearned:
      return
        "natscope learned nothing about the NAT: no STUN server answered. Check the server address and port."
    case .peersServerOnThisHost:
      return
        "The server is on this host, so this says nothing about NATs or firewalls between this host and the internet, nor which peers can connect directly; probe a server on another host for that."
    case .peersUnknown:
      return
        "natscope could not tell how this NAT maps or filters, so which peers can connect directly is unknown; ICE will have to try every path, with a TURN relay as the fallback."
    case .peersFilteringUnknown:
      let what =
        p.flag("nat") == true
        ? (p.text("mapping") == MappingBehavior.endpointIndependent.rawValue
          ? "This NAT keeps one public address per socket"
          : "This NAT gives each destination its own public port")
        : "No NAT translates this host's address"
      return
        "\(what), but how inbound UDP is filtered was not measured, so which peers can reach it directly is unknown; peers this host contacts first can answer, and a TURN relay is the fallback."
    case .peersPrediction:
      return predictionSentence(p)
    default:
      return nil
    }
  }

  static func predictionSentence(_ p: FindingParameters) -> String {
    let filtering = p.text("filtering")
    let mapping = p.text("mapping")
    let ei = MappingBehavior.endpointIndependent.rawValue
    let what: String
    if p.flag("nat") != true {
      what =
        filtering == FilteringBehavior.endpointIndependent.rawValue
        ? "No NAT translates this host's address, and nothing filters inbound UDP."
        : "No NAT translates this host's address, but a firewall only lets in answers from addresses it has sent to."
    } else if mapping == ei && filtering == FilteringBehavior.endpointIndependent.rawValue {
      what =
        "This NAT keeps one public address per socket and lets anyone reach it once the socket has sent a packet."
    } else if mapping == ei {
      what =
        "This NAT keeps one public address per socket but only lets in packets from addresses the socket has sent to."
    } else {
      what =
        "This NAT gives each destination its own public port, so the address a STUN server reports is not the one a peer will see."
    }
    let works = p.list("works").map(value)
    let fails = p.list("fails").map(value)
    var text = what + " "
    if fails.isEmpty {
      text += "Direct connections should work with peers of every kind."
    } else if works.isEmpty {
      text += "Direct connections will fail with every kind of peer; plan on a TURN relay."
    } else {
      let behind = fails.map { $0.hasPrefix("symmetric") ? "a " + $0 : $0 }
      text +=
        "Direct connections should work with peers on \(list(works)); with peers behind \(list(behind)) only a TURN relay will work."
    }
    return text
  }

  private static func serverName(_ f: Finding) -> String {
    if let a = f.parameters.address("server") { return a.description }
    if case .server(let a) = f.subject { return a.description }
    return "the server"
  }

  private static func addr(_ p: FindingParameters, _ key: String) -> String {
    p.address(key).map(\.description) ?? "?"
  }

  private static func local(_ p: FindingParameters) -> String {
    guard let l = p.address("local") else { return "?" }
    return l.ip.isUnspecified ? "*:\(l.port)" : l.description
  }

  private static func value(_ v: FindingValue) -> String {
    switch v {
    case .address(let a): a.description
    case .ip(let ip): ip.description
    case .int(let i): "\(i)"
    case .milliseconds(let d): "\(d)"
    case .text(let s): s
    case .flag(let b): b ? "yes" : "no"
    case .list(let l): l.map(value).joined(separator: ", ")
    }
  }

  private static func silence(_ p: FindingParameters) -> String {
    guard let kind = p.text("silence").flatMap(Unreachable.Kind.init(rawValue:)) else {
      return "got no answer"
    }
    let u = Unreachable(
      kind: kind, destination: TransportAddress(ip: .anyV4, port: 0), reporter: p.ip("silenceFrom"),
      at: .zero)
    return "got \(u) instead of an answer"
  }

  static func unreachable(_ p: FindingParameters) -> Unreachable? {
    guard let kind = p.text("icmp").flatMap(Unreachable.Kind.init(rawValue:)),
      let destination = p.address("destination")
    else { return nil }
    return Unreachable(kind: kind, destination: destination, reporter: p.ip("reporter"), at: .zero)
  }

  static func seconds(_ ms: Double) -> String {
    let tenths = Int((ms / 100).rounded())
    return "\(tenths / 10).\(tenths % 10) s"
  }

  private static func list(_ items: [String]) -> String {
    switch items.count {
    case 0: return ""
    case 1: return items[0]
    default: return items.dropLast().joined(separator: ", ") + " and " + (items.last ?? "")
    }
  }
}
