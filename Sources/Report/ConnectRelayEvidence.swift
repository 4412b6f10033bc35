import Runtime
import STUN
import Traversal

/// Why `connect` could not use a TURN server at all, before any message was sent to it.
public enum RelayUnavailable: Sendable, Hashable, Codable {
  /// The runtime has no way to open TCP (`tls`: TLS) connections, which this server needs.
  case noStreamTransport(tls: Bool)
  /// Opening the socket or the connection failed, in the operating system's words.
  case openFailed(String)

  /// In words (no capital, no full stop: it follows a colon).
  public var explanation: String {
    switch self {
    case .noStreamTransport(let tls):
      return "TURN over \(tls ? "TLS" : "TCP") is not available on this runtime"
    case .openFailed(let words):
      return "the socket or connection for it could not be opened: \(words)"
    }
  }
}

/// Why the quick NAT probe of `connect` left no profile.
public enum ConnectProbeGap: Sendable, Hashable, Codable {
  /// It did not finish within this many milliseconds.
  case timedOut(milliseconds: Int)
  /// It could not open its socket (the operating system's words).
  case socketFailed(String)

  /// In words (no capital, no full stop).
  public var explanation: String {
    switch self {
    case .timedOut(let ms): return "the quick NAT probe did not finish within \(ms) ms"
    case .socketFailed(let words): return "the probe could not open a socket: \(words)"
    }
  }
}

/// What one TURN server did for a `connect` session, recorded as it happened: the report
/// module derives the relay's row of the report (``ConnectReport/RelayServer``) from it.
public struct ConnectRelayEvidence: Sendable, Hashable {
  /// The server, as configured.
  public var server: TransportAddress
  /// How natscope reaches it.
  public var transport: ConnectReport.RelayTransport
  /// Whether the server answered at all (a 401 challenge counts): it was reached.
  public var answered = false
  /// The relayed address it allocated.
  public var relayed: TransportAddress?
  /// Its first failure before any allocation.
  public var failure: TURNFailure?
  /// It could not be used at all.
  public var unavailable: RelayUnavailable?
  /// The certificate a `turns:` server presented.
  public var certificate: TLSPeerCertificate?

  public init(server: TransportAddress, transport: ConnectReport.RelayTransport) {
    self.server = server
    self.transport = transport
  }

  /// Takes in one event of the server's allocation.
  public mutating func record(_ event: TURNClientEvent) {
    switch event {
    case .challenged:
      answered = true
    case .allocated(let r, _, _):
      answered = true
      relayed = r
      failure = nil
    case .failed(let f) where relayed == nil && failure == nil:
      failure = f
    default:
      break
    }
  }

  /// The report's row: the relayed address, or why there is none, with the code and sentence
  /// `natscope turn` gives the same failure; a relayed address no peer can reach (coturn's
  /// external-ip misconfiguration) is named rather than left to time out.
  public func row(gatheringTimeout: Duration) -> ConnectReport.RelayServer {
    var row = ConnectReport.RelayServer(
      server: server.description, transport: transport, allocated: relayed != nil)
    row.certificate = certificate
    if let relayed {
      row.relayedAddress = relayed.description
      if let unroutable = TURNCheckClassifier.unroutableRelay(relayed: relayed, server: server) {
        row.problem = unroutable.code.rawValue
        row.reason = unroutable.message
      }
    } else if let failure {
      let problem = TURNCheckClassifier.allocationProblem(failure, reachable: answered)
      row.code = failure.code
      row.problem = problem.code.rawValue
      row.reason = problem.message
    } else if let unavailable {
      row.problem = TURNCheckProblem.Code.unreachable.rawValue
      row.reason = unavailable.explanation
    } else {
      row.reason =
        "no relayed address before gathering ended (\(Int(gatheringTimeout.milliseconds)) ms)"
    }
    return row
  }
}
