import Crypto

/// Why a credential string could not be prepared.
public struct CredentialError: Error, Hashable, Sendable, CustomStringConvertible {
  /// What was being prepared (`password`, `realm`, `username`).
  public var field: String
  /// What is wrong with it.
  public var problem: String
  public var description: String { "The \(field) cannot be used: \(problem)." }
}

/// A password algorithm number (RFC 8489 §18.5): an open set.
public struct PasswordAlgorithm: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  /// MD5 (0x0001), the RFC 5389 long-term key.
  public static let md5 = PasswordAlgorithm(rawValue: 0x0001)
  /// SHA-256 (0x0002).
  public static let sha256 = PasswordAlgorithm(rawValue: 0x0002)
}

/// The PRECIS OpaqueString profile (RFC 8265 §4.2) that RFC 8489 applies to passwords and realms.
///
/// Steps: non-ASCII space characters (general category Zs) become U+0020; the string is put in
/// Unicode Normalization Form C; an empty result, or one containing a disallowed code point, is
/// rejected. Disallowed here: control characters (Cc), surrogates, unassigned code points,
/// noncharacters and default-ignorable code points (RFC 8264 FreeformClass).
///
/// Limitations (no Foundation, no full PRECIS tables): NFC uses the standard library's
/// `String._nfcCodeUnits`; the FreeformClass is approximated by the categories above (old Hangul
/// jamo are not rejected), and code points are judged by the Unicode version of the Swift runtime
/// rather than the version the RFC pins.
public enum OpaqueString {
  /// Prepares `text`, or throws naming `field`.
  public static func prepare(_ text: String, field: String = "password") throws(CredentialError)
    -> String
  {
    var mapped = String.UnicodeScalarView()
    for s in text.unicodeScalars {
      let p = s.properties
      if p.generalCategory == .spaceSeparator && s.value != 0x20 {
        mapped.append(" ")
        continue
      }
      switch p.generalCategory {
      case .control, .surrogate, .unassigned:
        throw CredentialError(
          field: field, problem: "it contains the disallowed character U+\(hex(s.value, digits: 4))"
        )
      default: break
      }
      if p.isNoncharacterCodePoint || p.isDefaultIgnorableCodePoint {
        throw CredentialError(
          field: field, problem: "it contains the disallowed character U+\(hex(s.value, digits: 4))"
        )
      }
      mapped.append(s)
    }
    guard !mapped.isEmpty else { throw CredentialError(field: field, problem: "it is empty") }
    return String(decoding: String(mapped)._nfcCodeUnits, as: UTF8.self)
  }
}

extension IntegrityKey {
  /// The short-term credential key (RFC 8489 §9.1.1): OpaqueString(password) as UTF-8.
  public static func shortTerm(password: String) throws(CredentialError) -> IntegrityKey {
    IntegrityKey(bytes: Array(try OpaqueString.prepare(password).utf8))
  }

  /// The long-term credential key (RFC 8489 §9.2.2):
  /// `H(username ":" OpaqueString(realm) ":" OpaqueString(password))` with H = MD5 (the default,
  /// and RFC 5389's) or SHA-256 for PASSWORD-ALGORITHM 0x0002. The username is used as given
  /// (RFC 8489 expects it already processed by the UsernameCasePreserved profile).
  public static func longTerm(
    username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5
  ) throws(CredentialError) -> IntegrityKey {
    let r = try OpaqueString.prepare(realm, field: "realm")
    let p = try OpaqueString.prepare(password)
    var input: [UInt8] = []
    input.reserveCapacity(username.utf8.count + r.utf8.count + p.utf8.count + 2)
    input.append(contentsOf: username.utf8)
    input.append(UInt8(ascii: ":"))
    input.append(contentsOf: r.utf8)
    input.append(UInt8(ascii: ":"))
    input.append(contentsOf: p.utf8)
    switch algorithm {
    case .sha256:
      return IntegrityKey(bytes: Array(SHA256.hash(data: input)))
    case .md5:
      return IntegrityKey(bytes: Array(Insecure.MD5.hash(data: input)))
    default:
      throw CredentialError(
        field: "password algorithm", problem: "0x\(hex(algorithm.rawValue, digits: 4)) is unknown")
    }
  }
}

extension Userhash {
  /// USERHASH for `username` in `realm` (RFC 8489 §14.4):
  /// `SHA-256(OpaqueString(username) ":" OpaqueString(realm))`.
  public static func compute(username: String, realm: String) throws(CredentialError) -> Userhash {
    let u = try OpaqueString.prepare(username, field: "username")
    let r = try OpaqueString.prepare(realm, field: "realm")
    return Userhash(hash: Array(SHA256.hash(data: Array((u + ":" + r).utf8))))
  }
}
