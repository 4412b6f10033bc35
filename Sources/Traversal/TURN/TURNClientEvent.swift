import STUN

/// Long-term credentials for a TURN server. The password is never printed, logged or encoded:
/// `description` shows only the username.
public struct TURNCredentials: Sendable, Hashable, CustomStringConvertible,
  CustomDebugStringConvertible
{
  /// The username sent in USERNAME.
  public var username: String
  /// The password, used only to derive the long-term key.
  public var password: String

  /// Credentials for a server that uses the long-term mechanism.
  public init(username: String, password: String) {
    self.username = username
    self.password = password
  }

  /// `username (password hidden)`.
  public var description: String { "\(username) (password hidden)" }
  /// The same as `description`: the password stays hidden.
  public var debugDescription: String { description }
}

extension TURNCredentials: CustomReflectable {
  /// Only the username: `dump` never shows the password.
  public var customMirror: Mirror { Mirror(self, children: ["username": username]) }
}

/// A change in a TURN allocation's state, for live views and `--json`. Contains no secrets.
public enum TURNClientEvent: Sendable, Hashable, Codable {
  /// An Allocate request went to `server`.
  case allocating(server: TransportAddress)
  /// The server asked for credentials (401 with REALM and NONCE); `algorithm` is the password
  /// algorithm chosen (`MD5` or `SHA-256`).
  case challenged(realm: String, algorithm: String)
  /// The server said our nonce was stale (438); the request is repeated with the new nonce.
  case staleNonce(method: String)
  /// The server redirected us (300 Try Alternate) to `alternate`.
  case redirected(alternate: TransportAddress)
  /// The allocation exists: peers reach us at `relayed`; `mapped` is our server-reflexive
  /// address as the server saw it; it lasts `lifetime` seconds unless refreshed.
  case allocated(relayed: TransportAddress, mapped: TransportAddress?, lifetime: Int)
  /// A Refresh succeeded; the allocation now lasts `lifetime` more seconds.
  case refreshed(lifetime: Int)
  /// A permission for `peer` was installed or refreshed (it lasts 300 s).
  case permissionCreated(peer: IPAddress)
  /// `channel` is bound to `peer` (installed or refreshed; lasts 600 s).
  case channelBound(peer: TransportAddress, channel: UInt16)
  /// A CreatePermission, ChannelBind or Refresh failed; the allocation may still be usable.
  case requestFailed(method: String, failure: TURNFailure)
  /// The allocation failed or was lost.
  case failed(TURNFailure)
  /// The allocation was released (Refresh with LIFETIME 0), or given up on close.
  case released
  /// Data arrived from `peer` through the relay. A session hands it to its receiver rather
  /// than to its event log.
  case data([UInt8], from: TransportAddress)
}

/// How a ``TURNClient`` reaches its server.
public enum TURNTransport: String, Sendable, Hashable, Codable {
  /// UDP: requests are retransmitted (RFC 8489 §6.2.1).
  case udp
  /// TCP (or TLS): no retransmission; one 39.5 s timeout per request (RFC 8489 §6.2.2), and
  /// ChannelData is padded to 4 bytes (RFC 8656 §12.5).
  case stream
}

extension TURNCredentials {
  /// Time-limited credentials from a TURN REST API shared secret: username `EXPIRY[:USER]`
  /// (unix seconds), password base64(HMAC-SHA1(secret, username)). `now` is the current unix
  /// time in seconds; the credentials expire `validity` seconds later (one day by default).
  public static func restAPI(
    secret: String, user: String?, now: Int64,
    validity: Int64 = TURNRESTCredential.defaultValidity
  ) -> TURNCredentials {
    let username = TURNRESTCredential.username(expiry: now + validity, user: user)
    return TURNCredentials(
      username: username, password: TURNRESTCredential.password(secret: secret, username: username))
  }
}
