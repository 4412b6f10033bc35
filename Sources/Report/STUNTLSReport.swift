import Runtime
import STUN
import Traversal

/// What STUN over TLS (`stuns:`, RFC 7064) found: for each server, whether a Binding request
/// over TLS on TCP was answered, the address the server saw and the round trip, or the one
/// problem that stopped it (the same codes and sentences as `natscope turn`: `unreachable`,
/// `tls-certificate`, `tls-handshake`). This is the `--json` of `natscope binding stuns:…` and
/// of `natscope probe` given only stuns: servers (`schemaVersion` ``currentSchemaVersion``).
public struct STUNTLSReport: Codable, Sendable, Hashable {
  public static let currentSchemaVersion = 1

  public var schemaVersion = STUNTLSReport.currentSchemaVersion
  /// One entry per stuns: server, in the order given.
  public var servers: [STUNTLSServerCheck]
  /// Sentences about how the check was run that weaken what it proves (`--insecure`).
  public var warnings: [String]
  /// What this report cannot say (set by `probe`: RFC 5780's tests need UDP); nil otherwise.
  public var note: String?

  public init(servers: [STUNTLSServerCheck], warnings: [String] = [], note: String? = nil) {
    self.servers = servers
    self.warnings = warnings
    self.note = note
  }

  /// Every server answered.
  public var allReachable: Bool { !servers.isEmpty && servers.allSatisfy(\.reachable) }

  /// Sentence for `probe` when it was given only stuns: servers.
  public static let probeNote =
    "RFC 5780's NAT behaviour tests (mapping, filtering, hairpinning) need STUN over UDP;"
    + " stuns: reaches a server over TLS on TCP only, so they were not run. Give a stun: server"
    + " (UDP) to learn how this NAT treats UDP."

  /// The text report.
  public var text: String {
    var lines: [String] = []
    func row(_ key: String, _ value: String) {
      lines.append("  " + key.padding(toLength: 12, withPad: " ", startingAt: 0) + value)
    }
    for s in servers {
      lines.append("\(s.uri)  (\(s.server))")
      if s.reachable {
        let rtt = s.rttMs.map { " in " + String(format: "%.1f ms", $0) } ?? ""
        row("reachable", "✓ TLS handshake done and the Binding request answered\(rtt)")
        if let c = s.certificate { row("certificate", c.details) }
        if let r = s.reflexiveAddress {
          row("reflexive", "\(r)  (your address as the server saw the TLS connection)")
        }
      } else {
        row("reachable", "✗ no answer over TLS")
      }
      for p in s.problems { row("problem", "\(p.code.rawValue): \(p.message)") }
    }
    for w in warnings { lines.append("warning: \(w)") }
    if let note { lines.append(note) }
    return lines.joined(separator: "\n")
  }
}

/// One stuns: server: `{uri, server, reachable, reflexiveAddress, rttMs, certificate,
/// problems}`.
public struct STUNTLSServerCheck: Codable, Sendable, Hashable {
  /// What the user wrote, normalised (`stuns:host:port`).
  public var uri: String
  /// The address natscope connected to.
  public var server: TransportAddress
  /// The TLS handshake succeeded and the Binding request over it was answered.
  public var reachable: Bool
  /// XOR-MAPPED-ADDRESS: this host's address as the server saw the TCP connection.
  public var reflexiveAddress: TransportAddress?
  /// Milliseconds from opening the connection (TCP and TLS handshakes included) to the answer.
  public var rttMs: Double?
  /// The server's certificate, after a TLS handshake that succeeded.
  public var certificate: TLSPeerCertificate?
  /// Empty when reachable; otherwise one problem.
  public var problems: [TURNCheckProblem]

  public init(
    uri: String, server: TransportAddress, reachable: Bool,
    reflexiveAddress: TransportAddress? = nil, rttMs: Double? = nil,
    certificate: TLSPeerCertificate? = nil, problems: [TURNCheckProblem] = []
  ) {
    self.uri = uri
    self.server = server
    self.reachable = reachable
    self.reflexiveAddress = reflexiveAddress
    self.rttMs = rttMs
    self.certificate = certificate
    self.problems = problems
  }

  /// The entry for a finished check: the stream's close reason (a TLS handshake sentence, a
  /// refused connection) is sorted as `natscope turn` sorts it.
  public init(
    uri: String, result: TCPReachability, closeReason: StreamCloseReason?,
    certificate: TLSPeerCertificate? = nil
  ) {
    self.init(
      uri: uri, server: result.server, reachable: result.reachable,
      reflexiveAddress: result.mappedAddress, rttMs: result.rttMs.map { ($0 * 10).rounded() / 10 },
      certificate: result.reachable ? certificate : nil)
    guard !result.reachable else { return }
    if let closeReason {
      let p = TURNCheckClassifier.allocationProblem(
        TURNFailure(cause: .connectionClosed(closeReason)), reachable: false)
      problems = [p.code == .unreachable ? TURNCheckProblem(.unreachable, result.reason) : p]
    } else {
      problems = [TURNCheckProblem(.unreachable, result.reason)]
    }
  }
}
