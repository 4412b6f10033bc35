import Foundation
import NIOCore
import NIOSSL
import Runtime
import STUN
import Traversal

// How natscope speaks TLS (``TLSClientSettings``, in Runtime, so that sessions can carry it)
// turned into NIOSSL's configuration, and a failed handshake explained.
extension TLSClientSettings {
  /// The NIOSSL context for these settings.
  /// - Throws: `RuntimeError` with one sentence when the CA file cannot be used.
  func makeContext() throws -> NIOSSLContext {
    let configuration = try tlsConfiguration()
    do {
      return try NIOSSLContext(configuration: configuration)
    } catch {
      throw RuntimeError.failed("cannot set up TLS: \(error)")
    }
  }

  /// The NIOSSL client configuration for these settings (also what the WHIP HTTP client uses).
  /// - Throws: `RuntimeError` with one sentence when the CA file cannot be used.
  func tlsConfiguration() throws -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    if insecure {
      configuration.certificateVerification = .none
    } else if let caFile {
      guard FileManager.default.isReadableFile(atPath: caFile) else {
        throw RuntimeError.failed("cannot read the CA file \(caFile)")
      }
      do {
        let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
        guard !certificates.isEmpty else {
          throw RuntimeError.failed("the CA file \(caFile) holds no PEM certificate")
        }
        configuration.trustRoots = .certificates(certificates)
      } catch let error as RuntimeError {
        throw error
      } catch {
        throw RuntimeError.failed("the CA file \(caFile) holds no readable PEM certificate")
      }
    }
    return configuration
  }
}

/// What one TLS handshake saw, to explain a failure in one sentence. Used on the loop only.
final class TLSDiagnostics {
  let settings: TLSClientSettings
  /// Certificates BoringSSL judged, in the order it judged them, with its verdict.
  var judged: [(certificate: NIOSSLCertificate, ok: Bool)] = []
  weak var handler: NIOSSLClientHandler?

  init(settings: TLSClientSettings) { self.settings = settings }

  func judge(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate)
    -> NIOSSLVerificationResult
  {
    judged.append((certificate, result == .certificateVerified))
    return result
  }

  /// What went wrong, typed, or nil when `error` is not TLS's.
  func explain(_ error: any Error, server: String) -> TLSProblem? {
    if let e = error as? NIOSSLExtraError, e == .failedToValidateHostname {
      let leaf = handler?.peerCertificate ?? judged.last?.certificate
      return .wrongName(
        expected: settings.serverName ?? server, names: leaf.map(Self.names) ?? [])
    }
    guard let e = error as? NIOSSLError else { return nil }
    switch e {
    case .handshakeFailed(let boring):
      let text = "\(boring)"
      if text.contains("CERTIFICATE_VERIFY_FAILED") { return certificateProblem() }
      if text.contains("EOF during handshake") { return .closedDuringHandshake }
      if text.contains("WRONG_VERSION_NUMBER") { return .notTLS(detail: text) }
      if text.contains("NO_SHARED_CIPHER") || text.contains("UNSUPPORTED_PROTOCOL")
        || text.contains("PROTOCOL_VERSION")
      {
        return .noCommonVersionOrCipher(detail: text)
      }
      return .handshake(detail: text)
    case .uncleanShutdown:
      // After the handshake (a certificate was received) this is an ordinary abrupt close.
      guard handler?.peerCertificate == nil else { return nil }
      return .closedDuringHandshake
    default:
      return .handshake(detail: "\(e)")
    }
  }

  private func certificateProblem() -> TLSProblem {
    let now = time(nil)
    let failed = judged.filter { !$0.ok }.map(\.certificate)
    let candidates = failed.isEmpty ? judged.map(\.certificate) : failed
    for c in candidates where c.notValidAfter < now {
      return .expired(subject: Self.commonName(c), date: Self.date(c.notValidAfter))
    }
    for c in candidates where c.notValidBefore > now {
      return .notYetValid(subject: Self.commonName(c), date: Self.date(c.notValidBefore))
    }
    if let c = candidates.first {
      return .untrustedIssuer(subject: Self.commonName(c), issuer: Self.issuer(c))
    }
    return .unverified
  }

  static func names(_ c: NIOSSLCertificate) -> [String] {
    var out: [String] = []
    for san in c._subjectAlternativeNames() {
      let bytes = san.contents.withUnsafeBufferPointer { Array($0) }
      if san.nameType == .dnsName {
        out.append(String(decoding: bytes, as: UTF8.self))
      } else if san.nameType == .ipAddress, let ip = IPAddress(bytes: bytes) {
        out.append(ip.description)
      }
    }
    return out
  }

  static func commonName(_ c: NIOSSLCertificate) -> String? {
    c.subjectName.first { $0.type == .commonName }.map { "\($0.value)" }
  }

  static func issuer(_ c: NIOSSLCertificate) -> String {
    c.issuerName.first { $0.type == .commonName }.map { "\($0.value)" } ?? "an unknown issuer"
  }

  /// The leaf certificate the server presented, for a report; nil before a handshake.
  func peerCertificate() -> TLSPeerCertificate? {
    guard let c = handler?.peerCertificate else { return nil }
    return TLSPeerCertificate(
      subject: Self.name(c.subjectName), issuer: Self.name(c.issuerName),
      notValidAfter: Self.isoDate(c.notValidAfter), subjectAlternativeNames: Self.names(c))
  }

  /// The common name, or else the whole name in RFC 4514 form (last attribute first).
  static func name(_ attributes: [SSLCertificateName]) -> String {
    if let cn = attributes.first(where: { $0.type == .commonName }) { return cn.value }
    let labels: [(SSLCertificateNameType, String)] = [
      (.commonName, "CN"), (.organization, "O"), (.organizationalUnit, "OU"), (.city, "L"),
      (.state, "ST"), (.country, "C"), (.userId, "UID"), (.emailAddress, "emailAddress"),
    ]
    let parts = attributes.reversed().compactMap { a -> String? in
      guard let label = labels.first(where: { $0.0 == a.type })?.1 else { return nil }
      return label + "=" + escapeRFC4514(a.value)
    }
    return parts.isEmpty ? "(no name)" : parts.joined(separator: ",")
  }

  /// Escapes an attribute value as RFC 4514 §2.4 asks.
  static func escapeRFC4514(_ value: String) -> String {
    var out = ""
    let chars = Array(value)
    for (i, ch) in chars.enumerated() {
      if ",+\\\"<>;=".contains(ch) || (i == 0 && (ch == " " || ch == "#"))
        || (i == chars.count - 1 && ch == " ")
      {
        out.append("\\")
      }
      out.append(ch)
    }
    return out
  }

  static func isoDate(_ t: time_t) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
  }

  static func date(_ t: time_t) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
  }

  /// A client handler whose per-certificate verification results are recorded here (the
  /// verdicts are BoringSSL's, returned unchanged). NIOSSL marks this initializer deprecated in
  /// favour of callbacks that replace verification, which natscope must not do.
  @available(*, deprecated, message: "uses NIOSSL's per-certificate verification callback")
  func makeHandler(context: NIOSSLContext) throws -> NIOSSLClientHandler {
    let handler = try NIOSSLClientHandler(
      context: context, serverHostname: settings.serverName,
      verificationCallback: { [weak self] result, certificate in
        self?.judge(result, certificate) ?? result
      })
    self.handler = handler
    return handler
  }
}

/// Reaches ``TLSDiagnostics/makeHandler(context:)`` through a protocol, so its one deprecated
/// NIOSSL call is declared (and warned about) in one place only.
protocol TLSHandlerMaking {
  func makeHandler(context: NIOSSLContext) throws -> NIOSSLClientHandler
}

extension TLSDiagnostics: TLSHandlerMaking {}

enum TLSHandlerFactory {
  static func make(_ diagnostics: TLSDiagnostics, _ context: NIOSSLContext) throws
    -> NIOSSLClientHandler
  {
    try (diagnostics as any TLSHandlerMaking).makeHandler(context: context)
  }
}
