import COpenSSL
import Traversal

/// A self-signed ECDSA P-256 certificate and its private key, made fresh for one run, as a
/// WebRTC peer makes one per connection. Built with OpenSSL's EVP and X509 APIs.
///
/// Immutable once made; OpenSSL's key and certificate objects are reference-counted and safe to
/// read from several threads, which is why this class is `@unchecked Sendable`.
public final class DTLSCertificate: @unchecked Sendable {
  let key: OpaquePointer
  let certificate: OpaquePointer
  /// The SHA-256 fingerprint of the certificate's DER encoding.
  public let fingerprint: DTLSFingerprint
  /// The size of the certificate's DER encoding in bytes.
  public let derLength: Int

  /// Makes a fresh key pair and a self-signed certificate for it (valid from a day ago for 30
  /// days, subject `CN=natscope`, a random serial number).
  ///
  /// - Parameter paddingBytes: adds a comment extension of this many bytes, to make a
  ///   certificate as large as a long chain would be (for testing paths that drop large
  ///   datagrams); 0 for a normal one of about 300 bytes.
  /// - Throws: `DTLSError.certificate` when OpenSSL refuses a step.
  public init(paddingBytes: Int = 0) throws(DTLSError) {
    guard let key = natscope_generate_p256_key() else {
      throw DTLSError.certificate("OpenSSL could not make a P-256 key: \(OpenSSLErrors.drain())")
    }
    guard let cert = X509_new() else {
      EVP_PKEY_free(key)
      throw DTLSError.certificate("OpenSSL could not allocate a certificate")
    }
    var serial: UInt32 = 0
    _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress, 4) }
    var ok = X509_set_version(cert, 2) == 1
    ok = ok && ASN1_INTEGER_set(X509_get_serialNumber(cert), Int(serial & 0x7fff_ffff) | 1) == 1
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -86_400) != nil
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert), 30 * 86_400) != nil
    ok = ok && X509_set_pubkey(cert, key) == 1
    if ok, let name = X509_get_subject_name(cert) {
      ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, "natscope", -1, -1, 0) == 1
      ok = ok && X509_set_issuer_name(cert, name) == 1
    } else {
      ok = false
    }
    if ok, paddingBytes > 0 {
      ok =
        natscope_x509_add_comment(cert, String(repeating: "natscope ", count: paddingBytes / 9 + 1))
        == 1
    }
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0
    guard ok, let fingerprint = DTLSCertificate.fingerprint(of: cert) else {
      let reason = OpenSSLErrors.drain()
      X509_free(cert)
      EVP_PKEY_free(key)
      throw DTLSError.certificate("OpenSSL could not make the certificate: \(reason)")
    }
    self.key = key
    self.certificate = cert
    self.fingerprint = fingerprint
    self.derLength = Int(i2d_X509(cert, nil))
  }

  /// A fresh certificate of about `bytes` bytes (DER), padded as ``init(paddingBytes:)`` pads,
  /// as large as the certificate chain a media server sends; a normal one when `bytes` is no
  /// larger than that.
  public static func sized(about bytes: Int) throws(DTLSError) -> DTLSCertificate {
    let plain = try DTLSCertificate()
    // The comment extension's own headers (OID, octet and IA5 string) take about 20 bytes.
    guard bytes > plain.derLength + 40 else { return plain }
    return try DTLSCertificate(paddingBytes: bytes - plain.derLength - 20)
  }

  deinit {
    X509_free(certificate)
    EVP_PKEY_free(key)
  }

  /// The SHA-256 fingerprint of a certificate's DER encoding; nil when OpenSSL cannot digest it.
  static func fingerprint(of cert: OpaquePointer) -> DTLSFingerprint? {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard X509_digest(cert, EVP_sha256(), &digest, &length) == 1 else { return nil }
    return DTLSFingerprint(bytes: Array(digest.prefix(Int(length))))
  }
}

/// What can go wrong setting up a DTLS endpoint (not during the handshake: those are events).
public enum DTLSError: Error, Sendable, Hashable {
  /// The certificate could not be made (OpenSSL's reason).
  case certificate(String)
  /// The OpenSSL context or connection could not be set up (OpenSSL's reason).
  case setup(String)

  /// One sentence for the user.
  public var message: String {
    switch self {
    case .certificate(let reason): return "The DTLS certificate could not be made: \(reason)."
    case .setup(let reason): return "DTLS could not be set up: \(reason)."
    }
  }
}

/// OpenSSL's thread-local error queue, read as text.
enum OpenSSLErrors {
  /// Empties the queue and returns its entries joined by "; " ("no detail" when empty).
  static func drain() -> String {
    var parts: [String] = []
    while true {
      let code = ERR_get_error()
      if code == 0 { break }
      var buffer = [CChar](repeating: 0, count: 256)
      ERR_error_string_n(code, &buffer, buffer.count)
      let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
      parts.append(String(decoding: bytes, as: UTF8.self))
      if parts.count >= 8 { ERR_clear_error(); break }
    }
    return parts.isEmpty ? "no detail" : parts.joined(separator: "; ")
  }
}
