/// Why a stream connection ended other than by closing it, as evidence: the
/// report module words it (a refused connection proves the host was reached; a certificate
/// problem is not a handshake problem), so nothing matches the words again.
public enum StreamCloseReason: Sendable, Hashable, Codable {
  /// The other end closed the connection.
  case closedByPeer
  /// The host answered the connection attempt with a reset (ECONNREFUSED): it is up and was
  /// reached, but nothing listens on that port.
  case refused
  /// No answer to the connection attempt within this many milliseconds.
  case timedOut(milliseconds: Int)
  /// The other end sent bytes that are neither STUN nor ChannelData (the framer's own words).
  case framing(String)
  /// TLS failed.
  case tls(TLSProblem)
  /// Any other failure, in the operating system's or the library's own words ("Network is
  /// unreachable").
  case failed(String)
}

/// What went wrong in a TLS handshake, typed.
public enum TLSProblem: Sendable, Hashable, Codable {
  /// The certificate is not for the name natscope asked for; `names` are those it lists.
  case wrongName(expected: String, names: [String])
  /// The certificate (its common name, if any) expired on `date` (ISO 8601 day).
  case expired(subject: String?, date: String)
  /// The certificate (its common name, if any) is not valid before `date`.
  case notYetValid(subject: String?, date: String)
  /// The certificate's issuer is not trusted by this host.
  case untrustedIssuer(subject: String?, issuer: String)
  /// The certificate could not be verified, for no reason natscope can name.
  case unverified
  /// The server closed the connection during the handshake.
  case closedDuringHandshake
  /// The server did not answer in TLS (`detail`: the library's words).
  case notTLS(detail: String)
  /// No TLS version or cipher in common (`detail`: the library's words).
  case noCommonVersionOrCipher(detail: String)
  /// Another handshake failure, in the library's words.
  case handshake(detail: String)

  /// Whether the problem is with the server's certificate (not with the handshake itself).
  public var isCertificate: Bool {
    switch self {
    case .wrongName, .expired, .notYetValid, .untrustedIssuer, .unverified: true
    case .closedDuringHandshake, .notTLS, .noCommonVersionOrCipher, .handshake: false
    }
  }
}
