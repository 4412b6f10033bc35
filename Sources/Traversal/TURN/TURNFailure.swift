import STUN

/// Why a TURN request or the whole allocation failed, in words a user understands.
///
/// `code` is the STUN error code when the server sent one (nil for a timeout or a local
/// problem); `explanation` is one sentence; `serverReason` is the server's reason phrase, if any.
/// It never carries a password or key.
public struct TURNFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
  /// The STUN error code, or nil when no error response was involved.
  public var code: Int?
  /// One sentence for the user.
  public var explanation: String
  /// The reason phrase the server sent, if any.
  public var serverReason: String?
  /// The ICMP error (or refused send) that ended the request, when that is what happened.
  public var unreachable: Unreachable?
  /// How long natscope waited without an answer, when the request timed out (milliseconds).
  public var silentForMs: Double?

  /// A failure with an explanation.
  public init(code: Int?, explanation: String, serverReason: String? = nil) {
    self.code = code
    self.explanation = explanation
    self.serverReason = serverReason
  }

  /// "441: the TURN server rejected the username or password"
  public var description: String {
    if let code { return "\(code): \(explanation)" }
    return explanation
  }

  /// The explanation for an error response `code` to a request of `method`.
  public static func explaining(
    _ code: ErrorCode, reason: String? = nil, method: Method = .allocate
  ) -> TURNFailure {
    let text: String
    switch code.rawValue {
    case 300: text = "the TURN server asked us to use another server (300 Try Alternate)"
    case 400: text = "the TURN server could not understand our request (400 Bad Request)"
    case 401:
      text = "the TURN server rejected the username or password, or the realm does not match"
    case 403:
      text =
        method == .allocate
        ? "the TURN server refuses to give this user a relay (403 Forbidden)"
        : "the TURN server's policy forbids relaying to that peer address (403 Forbidden)"
    case 420: text = "the TURN server does not understand a required attribute (420)"
    case 437:
      text =
        "the TURN server no longer knows this allocation (437 Allocation Mismatch): it expired,"
        + " or another allocation uses the same address and port"
    case 438: text = "the TURN server kept saying our nonce was stale (438 Stale Nonce)"
    case 440: text = "the TURN server cannot relay this address family (440)"
    case 441: text = "the TURN server rejected the username or password"
    case 442: text = "the TURN server does not relay UDP (442 Unsupported Transport Protocol)"
    case 443: text = "the peer's address family differs from the relayed address's (443)"
    case 486:
      text =
        "this user has too many allocations on the TURN server (486 Allocation Quota Reached):"
        + " close other sessions or wait for them to expire"
    case 500: text = "the TURN server had an internal error (500 Server Error)"
    case 508:
      text = "the TURN server has no relay ports or capacity left (508 Insufficient Capacity)"
    default:
      text = "the TURN server answered with error \(code.rawValue)"
    }
    return TURNFailure(
      code: Int(code.rawValue), explanation: text, serverReason: reason.map { WireText.display($0) }
    )
  }

  /// The network said the server cannot be reached: ICMP port unreachable ("no TURN server at
  /// this address") or another ICMP error or refused send.
  public static func unreachable(_ u: Unreachable) -> TURNFailure {
    let text: String
    switch u.kind {
    case .portUnreachable:
      text =
        "no TURN server at \(u.destination) (\(u)): that host is up but nothing listens on that port"
    case .hostUnreachable, .networkUnreachable, .prohibited:
      text = "the TURN server at \(u.destination) cannot be reached (\(u))"
    }
    var failure = TURNFailure(code: nil, explanation: text)
    failure.unreachable = u
    return failure
  }

  /// No answer from the server within `window`.
  public static func timedOut(after window: Duration) -> TURNFailure {
    let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
    let rounded = (seconds * 10).rounded() / 10
    var failure = TURNFailure(
      code: nil,
      explanation:
        "the TURN server did not answer within \(rounded) s: it may be down, or traffic to it"
        + " is blocked")
    failure.silentForMs = seconds * 1000
    return failure
  }
}
