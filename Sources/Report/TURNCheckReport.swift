import Runtime
import STUN
import Traversal

/// What `natscope turn` found for each TURN server: whether it answered, authenticated,
/// allocated, relayed both ways and released, with one problem (code and sentence) for each
/// thing that is wrong, and a verdict. This is the `--json` schema of `natscope turn`
/// (`schemaVersion` ``currentSchemaVersion``); the key names are documented. It never contains
/// a password or a shared secret.
public struct TURNCheckReport: Codable, Sendable, Hashable {
  public static let currentSchemaVersion = 1

  /// `works` when every server authenticates, allocates and relays both ways; `unverified`
  /// when no server failed a check but relaying was not tested on at least one (its policy
  /// forbade the peer address); `broken` when any server failed a check.
  public enum Verdict: String, Codable, Sendable, Hashable {
    case works, unverified, broken
  }

  public var schemaVersion = TURNCheckReport.currentSchemaVersion
  public var verdict: Verdict
  /// One entry per server, in the order they were given.
  public var servers: [TURNServerCheck]
  /// Sentences about how the check was run that weaken what it proves (e.g. `--insecure`).
  public var warnings: [String]
  /// What the check claims, as findings (``TURNFindings``): each server's rows, problems,
  /// notes and verdict, then the verdict of the whole check. Every sentence of the text
  /// report is one of these.
  public var findings: FindingSet

  public init(servers: [TURNServerCheck], warnings: [String] = []) {
    self.servers = servers
    self.warnings = warnings
    let findings = TURNFindings.derive(servers)
    self.findings = findings
    self.verdict =
      findings.contains(.turnVerdictWorks)
      ? .works : findings.contains(.turnVerdictUnverified) ? .unverified : .broken
  }
}

/// One problem found with a TURN server: a stable `code` for scripts and one sentence.
public struct TURNCheckProblem: Codable, Sendable, Hashable, CustomStringConvertible {
  /// Stable codes (documented in the README and man page).
  public enum Code: String, Codable, Sendable, Hashable, CaseIterable {
    /// No answer (UDP), or the connection failed (TCP).
    case unreachable
    /// The server's TLS certificate could not be verified.
    case tlsCertificate = "tls-certificate"
    /// The TLS handshake failed for another reason.
    case tlsHandshake = "tls-handshake"
    /// The credentials were rejected (401 after authenticating, 441).
    case unauthorized
    /// The server refuses this user a relay (403 to Allocate).
    case forbidden
    /// Allocation quota reached (486) or no capacity left (508).
    case quota
    /// The relayed address is one no peer can reach (the `external-ip` misconfiguration).
    case relayedAddressUnroutable = "relayed-address-unroutable"
    /// Data sent through the relay did not come back.
    case relayDoesNotRelay = "relay-does-not-relay"
    /// The allocation was lost (437) or a Refresh failed.
    case allocationLost = "allocation-lost"
    /// Allocate failed for another reason the server gave (its code is in the sentence).
    case allocateFailed = "allocate-failed"
    /// The check was interrupted (Ctrl-C, SIGTERM) before it finished.
    case interrupted
  }

  public var code: Code
  /// The finding this problem is; its sentence is ``message``.
  public var finding: Finding

  /// The problem's sentence (the finding's).
  public var message: String { finding.text }

  /// A problem that is `finding` (its code `turn.` and `code`).
  public init(_ code: Code, _ finding: Finding) {
    self.code = code
    self.finding = finding
  }

  /// A problem about `subject` with these parameters (worded by ``TURNFindings``).
  public init(
    _ code: Code, about subject: FindingSubject, parameters: FindingParameters,
    evidence: [EvidenceItem] = []
  ) {
    self.init(
      code,
      Finding(
        .turnProblem(code), about: subject, .measured, parameters: parameters, evidence: evidence))
  }

  /// A problem whose sentence another report made (a `stuns:` connection that failed).
  public init(_ code: Code, _ message: String, about subject: FindingSubject = .network) {
    self.init(code, about: subject, parameters: ["message": .text(message)])
  }

  private enum CodingKeys: String, CodingKey { case code, message }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let code = try c.decode(Code.self, forKey: .code)
    self.init(code, try c.decode(String.self, forKey: .message))
  }

  /// JSON: `code` and `message`.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(code, forKey: .code)
    try c.encode(message, forKey: .message)
  }

  public var description: String { "\(code.rawValue): \(message)" }
}

/// The result for one server and transport.
public struct TURNServerCheck: Codable, Sendable, Hashable {
  /// What the user wrote (normalised).
  public var uri: String
  /// `udp`, `tcp` or `tls`.
  public var transport: String
  /// The address natscope talked to.
  public var server: TransportAddress
  /// The server answered (UDP) or accepted the connection and answered (TCP).
  public var reachable = false
  /// Milliseconds from the first Allocate to the server's first answer (its 401 challenge).
  public var rttMs: Double?
  /// The server's certificate after a TLS handshake that succeeded (turns: only).
  public var certificate: TLSPeerCertificate?
  /// The REALM of the 401 challenge.
  public var realm: String?
  /// The server's SOFTWARE, when it sent one.
  public var software: String?
  /// The credentials were accepted (an allocation was granted).
  public var authenticated = false
  /// XOR-RELAYED-ADDRESS of the first allocation.
  public var relayedAddress: TransportAddress?
  /// XOR-MAPPED-ADDRESS: this host's address as the server saw it.
  public var reflexiveAddress: TransportAddress?
  /// Seconds the server granted.
  public var lifetime: Int?
  /// A Refresh of the allocation succeeded.
  public var refreshed: Bool?
  /// Data went through the relay both ways (Send/Data indications and ChannelData); nil when
  /// it was not tried, or the server's policy forbade the peer address.
  public var relays: Bool?
  /// Relay measurements, when data was sent.
  public var relay: RelayMeasurement?
  /// The server's policy refused the peer address (403 to CreatePermission/ChannelBind).
  public var peerForbidden = false
  /// Release (Refresh with LIFETIME 0) was sent for every allocation made.
  public var released = false
  /// Everything wrong, in the order found.
  public var problems: [TURNCheckProblem] = []

  public init(uri: String, transport: String, server: TransportAddress) {
    self.uri = uri
    self.transport = transport
    self.server = server
  }

  /// Reachable, authenticated, allocated and relayed both ways, with no problem.
  public var works: Bool {
    problems.isEmpty && authenticated && relayedAddress != nil && relays == true
  }
}

/// Packets sent between two allocations on the same server, each echoed back.
public struct RelayMeasurement: Codable, Sendable, Hashable {
  /// Probes sent as Send indications, and echoes that came back as Data indications.
  public var indicationsSent = 0
  public var indicationsReceived = 0
  /// Probes sent as ChannelData after ChannelBind, and echoes received.
  public var channelSent = 0
  public var channelReceived = 0
  /// Median round trip through the relay (both ways relayed), in milliseconds.
  public var rttMs: Double?

  /// Probes whose echo did not come back (yet).
  public var lost = 0

  public init() {}

  /// Recounts ``lost`` from the counters.
  public mutating func count() {
    lost = max(0, indicationsSent - indicationsReceived) + max(0, channelSent - channelReceived)
  }
}

/// Sorts what happened to a TURN check into problems (findings worded by ``TURNFindings``).
public enum TURNCheckClassifier {
  /// The problem for an allocation that failed. `reachable` says whether the server had
  /// answered anything before; `server`, which server it is about (nil: the network).
  public static func allocationProblem(
    _ failure: TURNFailure, reachable: Bool, server: TransportAddress? = nil
  ) -> TURNCheckProblem {
    let (code, finding) = TURNFindings.allocationFinding(
      failure, reachable: reachable, about: server.map(FindingSubject.server) ?? .network)
    return TURNCheckProblem(code, finding)
  }

  /// The `external-ip` misconfiguration: a relayed address that peers cannot reach, judged
  /// against the address the server answered on. Nil when the relayed address looks usable.
  ///
  /// Flagged: a relayed address that is unspecified; loopback or link-local when the server is
  /// not in that same class; private (RFC 1918, 100.64/10, fc00::/7) when the server's
  /// address is public or loopback; and a public relayed address that differs from the
  /// server's public address.
  public static func unroutableRelay(
    relayed: TransportAddress, server: TransportAddress, about subject: FindingSubject? = nil
  ) -> TURNCheckProblem? {
    let r = relayed.ip
    let s = server.ip
    func problem(_ kind: String) -> TURNCheckProblem {
      TURNCheckProblem(
        .relayedAddressUnroutable, about: subject ?? .server(server),
        parameters: ["relayed": .ip(r), "server": .ip(s), "class": .text(kind)],
        evidence: [EvidenceItem(.answered, step: "allocate", address: server)])
    }
    if r.isUnspecified { return problem("unspecified") }
    if r.isLoopback {
      return s.isLoopback ? nil : problem("loopback")
    }
    if r.isLinkLocal {
      return s.isLinkLocal ? nil : problem("link-local")
    }
    if r.isPrivate {
      if s.isPrivate { return nil }
      return problem("private")
    }
    if isPublic(s) && r != s {
      return problem("public")
    }
    return nil
  }

  /// Neither loopback, link-local, private nor unspecified.
  static func isPublic(_ ip: IPAddress) -> Bool {
    !(ip.isLoopback || ip.isLinkLocal || ip.isPrivate || ip.isUnspecified)
  }

  /// The problem when probes sent through the relay did not come back.
  public static func relayProblem(
    how: String, sent: Int, received: Int, about subject: FindingSubject = .network
  ) -> TURNCheckProblem? {
    guard sent > 0, received == 0 else { return nil }
    return TURNCheckProblem(
      .relayDoesNotRelay, about: subject,
      parameters: [
        "stage": .text("probes"), "how": .text(how), "sent": .int(sent),
        "received": .int(received),
      ],
      evidence: [
        EvidenceItem(.traffic, step: how, count: sent),
        EvidenceItem(.noAnswer, step: how, count: sent - received),
      ])
  }
}
