import STUN
import Traversal

extension FindingCode {
  /// The server answered with this host's reflexive address.
  public static let bindingAnswered: FindingCode = "binding.answered"
  /// MAPPED-ADDRESS differs from XOR-MAPPED-ADDRESS: something rewrote it.
  public static let bindingMappedDiffers: FindingCode = "binding.mapped-address.differs"
  /// The server answered with an error response.
  public static let bindingErrorResponse: FindingCode = "binding.error-response"
  /// No answer within the whole retransmission window.
  public static let bindingNoAnswer: FindingCode = "binding.no-answer"
  /// An ICMP error ended the wait.
  public static let bindingUnreachable: FindingCode = "binding.unreachable"
  /// The server's name did not resolve: nothing was sent.
  public static let bindingNotResolved: FindingCode = "binding.not-resolved"
}

/// The `--json` document of `natscope binding` (schemaVersion 1): one Binding request and what
/// came of it, with its findings.
public struct BindingReport: Codable, Sendable {
  public var schemaVersion = 1
  /// The server asked; nil when its name did not resolve.
  public var server: TransportAddress?
  /// The server as given, when its name did not resolve.
  public var serverName: String?
  public var local: TransportAddress?
  public var answered: Bool
  public var reflexive: TransportAddress?
  public var mappedAddress: TransportAddress?
  public var responseOrigin: TransportAddress?
  public var rttMs: Double?
  public var attempts: Int
  public var software: String?
  public var errorCode: Int?
  public var errorReason: String?
  public var rfc5780: ServerSupport?
  /// Set when no answer came: how long natscope waited.
  public var waitedMs: Double?
  /// Set when an ICMP error ended the wait: which, and who sent it.
  public var unreachable: Unreachable?
  /// Set when the name did not resolve: the resolver's sentence.
  public var error: String?
  /// What this report claims, with its evidence (``BindingFindings``).
  public var findings = FindingSet()

  /// The report of one Binding request to `server` from the socket `local`.
  public init(server: TransportAddress, local: TransportAddress?, outcome: BindingOutcome) {
    self.server = server
    self.local = local
    switch outcome {
    case .answered(let a):
      answered = true
      reflexive = a.xorMappedAddress ?? a.mappedAddress
      mappedAddress = a.mappedAddress
      responseOrigin = a.responseOrigin
      rttMs = a.rtt.milliseconds
      attempts = a.attempts
      software = a.software
      errorCode = a.errorCode
      errorReason = a.errorReason
      rfc5780 = BehaviorProbe.serverSupport(server: server, answer: a)
    case .noAnswer(let n, let window):
      answered = false
      attempts = n
      waitedMs = window.milliseconds
    case .unreachable(let u, let n):
      answered = false
      attempts = n
      unreachable = u
    }
    findings = BindingFindings.derive(self)
    if let f = findings.first(where: {
      $0.code.rawValue.hasPrefix("server.") && $0.code != .serverOnThisHost
    }) {
      rfc5780?.reason = f.text
    }
  }

  /// The report for a server name that did not resolve: nothing was sent.
  public init(unresolved name: String, error: String) {
    serverName = name
    answered = false
    attempts = 0
    self.error = error
    findings = BindingFindings.derive(self)
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, server, serverName, local, answered, reflexive, mappedAddress
    case responseOrigin, rttMs, attempts, software, errorCode, errorReason, rfc5780, waitedMs
    case unreachable, error, findings
  }

  /// The plain-text form: the server and socket, then what the findings say.
  public var text: String {
    var lines: [String] = []
    func row(_ key: String, _ value: String) {
      lines.append(key.padding(toLength: 12, withPad: " ", startingAt: 0) + value)
    }
    row("server", server?.description ?? serverName ?? "?")
    if let local { row("local", BindingFindings.localText(local)) }
    for f in findings {
      switch f.code {
      case .bindingNotResolved, .bindingNoAnswer, .bindingUnreachable, .bindingErrorResponse:
        row("result", f.text)
      case .bindingAnswered: row("reflexive", f.text)
      case .bindingMappedDiffers: row("mapped", f.text)
      case .serverOnThisHost: row("note", f.text)
      default: break
      }
    }
    if answered {
      if let rttMs {
        row("rtt", Self.milliseconds(rttMs) + " (\(counted(attempts, "request")))")
      }
      row("software", software ?? "(not sent)")
      if let rfc5780,
        let f = findings.first(where: {
          $0.code.rawValue.hasPrefix("server.") && $0.code != .serverOnThisHost
        })
      {
        row("RFC 5780", (rfc5780.rfc5780 ? "yes. " : "no. ") + f.text)
      }
    }
    return lines.joined(separator: "\n")
  }

  static func milliseconds(_ ms: Double) -> String {
    let tenths = Int((ms * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) ms"
  }
}

/// The findings of `natscope binding`, from the one request's outcome, and their sentences.
public enum BindingFindings {
  /// Every finding `report` supports.
  public static func derive(_ report: BindingReport) -> FindingSet {
    var out = FindingSet()
    guard let server = report.server else {
      out.append(
        Finding(
          .bindingNotResolved, about: .session, .measured,
          parameters: [
            "name": .text(report.serverName ?? ""), "error": .text(report.error ?? ""),
          ], evidence: [EvidenceItem(.notRun, step: "resolve")]))
      return out
    }
    let subject = FindingSubject.server(server)
    let n = report.attempts
    if let u = report.unreachable {
      var p = FindingParameters(ProbeFindingsParameters.icmp(u))
      p["attempts"] = .int(n)
      out.append(
        Finding(
          .bindingUnreachable, about: subject, .measured, parameters: p,
          evidence: [EvidenceItem(.icmp, step: "binding", address: server, count: n)]))
    } else if !report.answered {
      out.append(
        Finding(
          .bindingNoAnswer, about: subject, .measured,
          parameters: ["attempts": .int(n), "windowMs": .milliseconds(report.waitedMs ?? 0)],
          evidence: [EvidenceItem(.noAnswer, step: "binding", address: server, count: n)]))
      // One silent server says nothing about the network.
      out.append(
        Finding(
          .probeUDPNotMeasured, about: .network, .notMeasured, aspect: .udpReachability,
          parameters: ["count": .int(1)]))
    } else {
      if let code = report.errorCode {
        out.append(
          Finding(
            .bindingErrorResponse, about: subject, .measured,
            parameters: ["code": .int(code), "reason": .text(report.errorReason ?? "")],
            evidence: [
              EvidenceItem(.errorCode, step: "binding", address: server, value: Double(code))
            ]))
      }
      if let r = report.reflexive {
        out.append(
          Finding(
            .bindingAnswered, about: subject, .measured, aspect: .nat,
            parameters: ["reflexive": .address(r)],
            evidence: [
              EvidenceItem(
                .answered, step: "binding", address: server, count: n, value: report.rttMs)
            ]))
      }
      if let m = report.mappedAddress, let r = report.reflexive, m != r {
        out.append(
          Finding(
            .bindingMappedDiffers, about: subject, .measured, aspect: .alg,
            parameters: ["mapped": .address(m)]))
      }
      if let s = report.rfc5780 {
        let p: FindingParameters = s.otherAddress.map { ["other": .address($0)] } ?? [:]
        let code: FindingCode
        if let other = s.otherAddress {
          code =
            other.ip == server.ip
            ? .serverOtherSameIP
            : (other.port == server.port ? .serverOtherSamePort : .serverRFC5780)
        } else {
          code = .serverNoOtherAddress
        }
        out.append(Finding(code, about: subject, .measured, parameters: p))
      }
    }
    if server.ip.isLoopback || report.reflexive?.ip == server.ip {
      out.append(
        Finding(
          .serverOnThisHost, about: subject, .measured, parameters: ["server": .address(server)]))
    }
    return out
  }

  /// `*:PORT` for a socket bound to every interface, else the address.
  public static func localText(_ local: TransportAddress) -> String {
    local.ip.isUnspecified ? "*:\(local.port)" : local.description
  }

  /// The sentences of binding's findings.
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let server: String = {
      if case .server(let a) = f.subject { return a.description }
      return "the server"
    }()
    let n = p.int("attempts") ?? 0
    switch f.code {
    case .bindingNotResolved:
      return "\(p.text("error") ?? "cannot resolve \(p.text("name") ?? "")"): nothing was sent"
    case .bindingUnreachable:
      let u = ProbeFindings.unreachable(p)
      let what =
        u?.kind == .portUnreachable
        ? "no STUN server answers at \(server) (\(u.map(\.description) ?? "")): that host is up but nothing listens on that port"
        : "\(server) cannot be reached (\(u.map(\.description) ?? ""))"
      return "\(what), after \(counted(n, "request"))"
    case .bindingNoAnswer:
      return
        "no answer after \(counted(n, "request")) over \(ProbeFindings.seconds(p.milliseconds("windowMs") ?? 0)): the server is down, the port is wrong, or UDP is blocked on the way"
    case .bindingErrorResponse:
      let reason = p.text("reason").flatMap { $0.isEmpty ? nil : " \($0)" } ?? ""
      return "error \(p.int("code") ?? 0)\(reason)"
    case .bindingAnswered:
      return
        "\(p.address("reflexive").map(\.description) ?? "?")  (your address as the server sees it)"
    case .bindingMappedDiffers:
      return
        "\(p.address("mapped").map(\.description) ?? "?")  (MAPPED-ADDRESS differs: something rewrote it)"
    default:
      return nil
    }
  }
}

/// Shared parameter builders of the probe and binding findings.
enum ProbeFindingsParameters {
  /// An ICMP error as parameters: `destination`, `icmp` (its kind), `reporter`.
  static func icmp(_ u: Unreachable) -> [String: FindingValue] {
    var p: [String: FindingValue] = [
      "destination": .address(u.destination), "icmp": .text(u.kind.rawValue),
    ]
    if let r = u.reporter { p["reporter"] = .ip(r) }
    return p
  }
}
