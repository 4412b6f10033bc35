import Traversal

/// The side of the DTLS handshake an endpoint takes: the client sends the ClientHello.
public enum DTLSRole: String, Sendable, Hashable, Codable {
  case client
  case server

  /// The role a side takes from its own `a=setup:` value and the peer's (RFC 8842): `active`
  /// is the client; an answerer that saw `actpass` chooses. nil when both claim the same role.
  public static func from(local: DTLSSetupRole, remote: DTLSSetupRole) -> DTLSRole? {
    switch (local, remote) {
    case (.active, .passive), (.active, .actpass): return .client
    case (.passive, .active), (.passive, .actpass): return .server
    case (.actpass, .active): return .server
    case (.actpass, .passive): return .client
    default: return nil
    }
  }
}

/// A TLS alert (RFC 5246 §7.2), by its description code, with OpenSSL's name for it.
public struct DTLSAlert: Sendable, Hashable, Codable {
  /// The alert description (e.g. 42 bad_certificate, 40 handshake_failure).
  public var code: Int
  /// True for a fatal alert, false for a warning (close_notify is a warning).
  public var fatal: Bool
  /// OpenSSL's long description, e.g. "bad certificate".
  public var name: String

  public init(code: Int, fatal: Bool, name: String) {
    self.code = code
    self.fatal = fatal
    self.name = name
  }
}

/// What a finished handshake agreed.
public struct DTLSHandshakeResult: Sendable, Hashable {
  /// The cipher suite, as OpenSSL names it (e.g. ECDHE-ECDSA-AES128-GCM-SHA256).
  public var cipher: String
  /// The SRTP protection profile use_srtp agreed, e.g. SRTP_AEAD_AES_128_GCM; nil when the peer
  /// did not negotiate use_srtp.
  public var srtpProfile: String?
  /// The SHA-256 fingerprint of the certificate the peer presented.
  public var peerFingerprint: DTLSFingerprint?

  public init(cipher: String, srtpProfile: String?, peerFingerprint: DTLSFingerprint?) {
    self.cipher = cipher
    self.srtpProfile = srtpProfile
    self.peerFingerprint = peerFingerprint
  }
}

/// Why a handshake ended without connecting.
public enum DTLSFailure: Sendable, Hashable {
  /// The peer's certificate does not have the fingerprint its description signalled.
  case fingerprintMismatch(expected: DTLSFingerprint, received: DTLSFingerprint?)
  /// The peer sent a fatal alert.
  case alertReceived(DTLSAlert)
  /// This side sent a fatal alert (OpenSSL's reason for it).
  case alertSent(DTLSAlert, reason: String)
  /// Nothing came back within the handshake's time limit: as the client, no answer to the
  /// ClientHello; as the server, no ClientHello.
  case noAnswer
  /// The peer answered, then the handshake stopped before it finished (a later flight was
  /// lost, e.g. one too large for the path).
  case stalled(datagramsReceived: Int)
  /// OpenSSL ended the handshake for another reason (its error text).
  case error(String)
}

/// What a DTLS endpoint reports.
public enum DTLSEvent: Sendable, Hashable {
  /// The handshake finished.
  case connected(DTLSHandshakeResult)
  /// The handshake failed, with why.
  case failed(DTLSFailure)
  /// The last flight was sent again after its timer ran out (the count so far).
  case retransmitted(count: Int)
  /// The peer closed the association (close_notify).
  case closedByPeer
}

/// The endpoint's state.
public enum DTLSState: String, Sendable, Hashable, Codable {
  /// Made, not yet started.
  case idle
  /// The handshake is under way.
  case handshaking
  /// The handshake finished.
  case connected
  /// The handshake failed.
  case failed
  /// Closed (by either side) after connecting.
  case closed
}

/// What an endpoint counted, for the report.
public struct DTLSCounters: Sendable, Hashable {
  /// Datagrams handed to the endpoint that looked like DTLS (first byte 20–63).
  public var datagramsReceived = 0
  /// Datagrams dropped before OpenSSL saw them: not DTLS by their first byte (RFC 7983), empty,
  /// or larger than a datagram can be.
  public var datagramsDropped = 0
  /// Datagrams the endpoint sent.
  public var datagramsSent = 0
  /// The largest datagram it sent, in bytes.
  public var largestDatagramSent = 0
  /// Flights sent again after a timer ran out.
  public var retransmissions = 0

  public init() {}
}
