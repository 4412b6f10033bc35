import Foundation
import Runtime

extension TLSPeerCertificate {
  /// How near the end of its validity a certificate earns a warning.
  public static let expiryWarningDays = 14

  /// `certificate for turn.example.org (names …), issued by Example CA, valid until
  /// 2027-01-31 12:00 UTC`, for the row that says the handshake was done.
  public var summary: String { "certificate " + details }

  /// ``summary`` without its first word, for a row already labelled `certificate`.
  public var details: String {
    var s = "for \(subject)"
    if !subjectAlternativeNames.isEmpty && subjectAlternativeNames != [subject] {
      s += " (names \(subjectAlternativeNames.joined(separator: ", ")))"
    }
    return s + ", issued by \(issuer), valid until \(Self.readable(notValidAfter))"
  }

  /// When ``notValidAfter`` is, or nil when it is not ISO 8601.
  public var expiry: Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.date(from: notValidAfter)
  }

  /// One sentence when the certificate of `uri` has expired or expires within
  /// ``expiryWarningDays`` days of `now`; nil otherwise. A warning, not a failure: the
  /// handshake worked.
  public func expiryWarning(uri: String, now: Date) -> String? {
    guard let expiry else { return nil }
    let left = expiry.timeIntervalSince(now)
    let when = Self.readable(notValidAfter)
    if left <= 0 {
      return "the certificate of \(uri) (for \(subject)) expired on \(when)"
    }
    guard left < TimeInterval(Self.expiryWarningDays) * 86_400 else { return nil }
    let inWords: String
    if left < 3_600 {
      inWords = "in less than an hour"
    } else if left < 86_400 {
      let hours = Int((left / 3_600).rounded())
      inWords = hours == 1 ? "in 1 hour" : "in \(hours) hours"
    } else {
      let days = Int((left / 86_400).rounded())
      inWords = days == 1 ? "in 1 day" : "in \(days) days"
    }
    return
      "the certificate of \(uri) (for \(subject)) expires on \(when), \(inWords); renew it before then or clients will refuse the server"
  }

  /// `2027-01-31T12:00:00Z` as `2027-01-31 12:00 UTC`.
  static func readable(_ iso: String) -> String {
    let c = Array(iso)
    guard c.count == 20, c[10] == "T", c[19] == "Z" else { return iso }
    return String(c[0..<10]) + " " + String(c[11..<16]) + " UTC"
  }
}
