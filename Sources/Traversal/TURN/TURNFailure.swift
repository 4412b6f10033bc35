import STUN

/// Why a TURN request or the whole allocation failed, typed: the STUN error code when the
/// server sent one, the server's reason phrase, and the ``Cause``. The report module words it
/// (`TURNFailure.explanation`). It never carries a password or key.
public struct TURNFailure: Error, Sendable, Hashable, Codable {
  /// What happened.
  public enum Cause: Sendable, Hashable, Codable {
    /// The server answered with the error ``TURNFailure/code`` to a request of this method
    /// (its raw STUN method number).
    case errorResponse(method: UInt16)
    /// The server sent 300 Try Alternate to `alternate`, which natscope does not follow (a
    /// second redirect, a redirect over a stream, or one back to the same server).
    case alternateNotFollowed(alternate: TransportAddress, twice: Bool)
    /// An ICMP error (or a send the local system refused) ended the request.
    case unreachable(Unreachable)
    /// No answer within this many milliseconds.
    case timedOut(milliseconds: Double)
    /// The allocation could not be refreshed before it expired.
    case allocationExpired
    /// The Allocate success response carried no XOR-RELAYED-ADDRESS.
    case noRelayedAddress
    /// The server offers only password algorithms natscope does not support.
    case noSupportedPasswordAlgorithm
    /// The credentials cannot be used (the codec's words for why: a disallowed character).
    case unusableCredentials(String)
    /// The stream to the server ended (TURN over TCP or TLS).
    case connectionClosed(StreamCloseReason)
  }

  /// The STUN error code, or nil when no error response was involved.
  public var code: Int?
  /// The reason phrase the server sent, if any.
  public var serverReason: String?
  /// What happened.
  public var cause: Cause

  public init(code: Int? = nil, cause: Cause, serverReason: String? = nil) {
    self.code = code
    self.cause = cause
    self.serverReason = serverReason
  }

  /// The ICMP error (or refused send) that ended the request, when that is what happened.
  public var unreachable: Unreachable? {
    if case .unreachable(let u) = cause { return u }
    return nil
  }

  /// How long natscope waited without an answer, when the request timed out (milliseconds).
  public var silentForMs: Double? {
    if case .timedOut(let ms) = cause { return ms }
    return nil
  }

  /// The failure an error response `code` to a request of `method` is.
  public static func explaining(
    _ code: ErrorCode, reason: String? = nil, method: Method = .allocate
  ) -> TURNFailure {
    TURNFailure(
      code: Int(code.rawValue), cause: .errorResponse(method: method.rawValue),
      serverReason: reason.map { WireText.display($0) })
  }

  /// The network said the server cannot be reached: ICMP port unreachable ("no TURN server at
  /// this address") or another ICMP error or refused send.
  public static func unreachable(_ u: Unreachable) -> TURNFailure {
    TURNFailure(cause: .unreachable(u))
  }

  /// No answer from the server within `window`.
  public static func timedOut(after window: Duration) -> TURNFailure {
    let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
    return TURNFailure(cause: .timedOut(milliseconds: seconds * 1000))
  }
}
