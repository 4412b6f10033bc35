/// Time-limited TURN credentials from a shared secret (the "TURN REST API" convention that
/// coturn's `--use-auth-secret --static-auth-secret` implements): the username is
/// `EXPIRY[:USER]` with EXPIRY in unix seconds, and the password is
/// `base64(HMAC-SHA1(secret, username))`.
///
/// Pure: the caller supplies the expiry. The secret and the password are never printed.
public enum TURNRESTCredential {
  /// How long credentials made from a secret last by default (one day).
  public static let defaultValidity: Int64 = 86_400

  /// `EXPIRY` or `EXPIRY:USER` (an empty user is left out).
  public static func username(expiry: Int64, user: String?) -> String {
    guard let user, !user.isEmpty else { return String(expiry) }
    return "\(expiry):\(user)"
  }

  /// `base64(HMAC-SHA1(secret, username))` over the UTF-8 bytes of both.
  public static func password(secret: String, username: String) -> String {
    let mac = IntegrityKey(bytes: Array(secret.utf8)).hmacSHA1(Array(username.utf8))
    return Base64.encode(mac)
  }
}

/// Standard base64 (RFC 4648 §4) with padding.
enum Base64 {
  private static let alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  static func encode(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i < bytes.count {
      let b0 = UInt32(bytes[i])
      let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
      let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
      let n = b0 << 16 | b1 << 8 | b2
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
      out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
      out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
      i += 3
    }
    return String(decoding: out, as: UTF8.self)
  }
}
