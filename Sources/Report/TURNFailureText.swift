import STUN
import Traversal

extension TURNFailure {
  /// One sentence for the person: what the server's answer (or silence) means.
  public var explanation: String {
    switch cause {
    case .errorResponse(let method):
      return Self.errorSentence(code ?? 0, allocate: method == Method.allocate.rawValue)
    case .alternateNotFollowed(let alternate, let twice):
      return
        "the TURN server asked us to use another server (300 Try Alternate)\(twice ? " twice" : "") at \(alternate)"
    case .unreachable(let u):
      switch u.kind {
      case .portUnreachable:
        return
          "no TURN server at \(u.destination) (\(u)): that host is up but nothing listens on that port"
      case .hostUnreachable, .networkUnreachable, .prohibited:
        return "the TURN server at \(u.destination) cannot be reached (\(u))"
      }
    case .timedOut(let ms):
      let rounded = (ms / 100).rounded() / 10
      return
        "the TURN server did not answer within \(rounded) s: it may be down, or traffic to it is blocked"
    case .allocationExpired:
      return "the TURN allocation expired: it could not be refreshed in time"
    case .noRelayedAddress:
      return "the TURN server's Allocate answer had no relayed address"
    case .noSupportedPasswordAlgorithm:
      return "the TURN server offers no password algorithm natscope supports"
    case .unusableCredentials(let problem):
      return "the credentials cannot be used: \(problem)"
    case .connectionClosed(let reason):
      switch reason {
      case .closedByPeer, .framing:
        return "the connection to the TURN server closed: \(reason.explanation)"
      case .refused, .timedOut, .tls, .failed:
        // It may never have opened: "closed" would claim it had.
        return "the connection to the TURN server failed: \(reason.explanation)"
      }
    }
  }

  /// "441: the TURN server rejected the username or password"
  public var line: String {
    if let code { return "\(code): \(explanation)" }
    return explanation
  }

  static func errorSentence(_ code: Int, allocate: Bool) -> String {
    switch code {
    case 300: return "the TURN server asked us to use another server (300 Try Alternate)"
    case 400: return "the TURN server could not understand our request (400 Bad Request)"
    case 401:
      return "the TURN server rejected the username or password, or the realm does not match"
    case 403:
      return allocate
        ? "the TURN server refuses to give this user a relay (403 Forbidden)"
        : "the TURN server's policy forbids relaying to that peer address (403 Forbidden)"
    case 420: return "the TURN server does not understand a required attribute (420)"
    case 437:
      return
        "the TURN server no longer knows this allocation (437 Allocation Mismatch): it expired, or another allocation uses the same address and port"
    case 438: return "the TURN server kept saying our nonce was stale (438 Stale Nonce)"
    case 440: return "the TURN server cannot relay this address family (440)"
    case 441: return "the TURN server rejected the username or password"
    case 442: return "the TURN server does not relay UDP (442 Unsupported Transport Protocol)"
    case 443: return "the peer's address family differs from the relayed address's (443)"
    case 486:
      return
        "this user has too many allocations on the TURN server (486 Allocation Quota Reached): close other sessions or wait for them to expire"
    case 500: return "the TURN server had an internal error (500 Server Error)"
    case 508:
      return "the TURN server has no relay ports or capacity left (508 Insufficient Capacity)"
    default: return "the TURN server answered with error \(code)"
    }
  }
}

extension StreamCloseReason {
  /// Why the connection ended, in words (no capital, no full stop: it follows a colon).
  public var explanation: String {
    switch self {
    case .closedByPeer: return "closed by the other side"
    case .refused:
      return
        "refused: a TCP reset came back, so the host was reached but nothing accepts connections on that port (or a firewall rejects them)"
    case .timedOut(let ms): return "no answer to the connection within \(ms) ms"
    case .framing(let detail): return "the server sent bytes that are not STUN (\(detail))"
    case .tls(let problem): return problem.explanation
    case .failed(let words): return words
    }
  }
}

extension TLSProblem {
  /// The problem in words, headed "TLS certificate problem:" or "TLS handshake failed:".
  public var explanation: String {
    func named(_ subject: String?) -> String { subject.map { " (\($0))" } ?? "" }
    switch self {
    case .wrongName(let expected, let names):
      return
        "TLS certificate problem: the server's certificate is not for \(expected); it names \(names.isEmpty ? "no host" : names.joined(separator: ", "))"
    case .expired(let subject, let date):
      return
        "TLS certificate problem: the server's certificate\(named(subject)) expired on \(date)"
    case .notYetValid(let subject, let date):
      return
        "TLS certificate problem: the server's certificate\(named(subject)) is not valid before \(date)"
    case .untrustedIssuer(let subject, let issuer):
      return
        "TLS certificate problem: the server's certificate\(named(subject)) is issued by \(issuer), which this host does not trust; give that CA with --ca FILE"
    case .unverified:
      return "TLS certificate problem: the server's certificate could not be verified"
    case .closedDuringHandshake:
      return
        "TLS handshake failed: the server closed the connection during the TLS handshake (is this its TLS port?)"
    case .notTLS(let detail):
      return
        "TLS handshake failed: the server did not answer in TLS (is this its TLS port?) (\(detail))"
    case .noCommonVersionOrCipher(let detail):
      return
        "TLS handshake failed: the server and natscope share no TLS version or cipher (\(detail))"
    case .handshake(let detail):
      return "TLS handshake failed: \(detail)"
    }
  }
}
