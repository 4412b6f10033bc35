import STUN
import Traversal

/// A reliable byte-stream connection to a STUN or TURN server (TCP), as a TURN allocation or a
/// STUN-over-TCP check uses it. The real runtime backs it with `NIORuntime.openTCP`, the
/// simulator with a simulated stream; it must cut the stream into whole STUN messages and
/// ChannelData frames (RFC 8656 §12.5) itself.
///
/// All calls and callbacks happen on the owning runtime's serial context.
public protocol StreamTransport: AnyObject {
  /// Writes one whole frame (queued until the connection is up).
  func send(_ bytes: [UInt8])
  /// Closes the connection; no callbacks after this returns.
  func close()
  /// Set by the session: called with each whole frame that arrives.
  var onFrame: (([UInt8]) -> Void)? { get set }
  /// Set by the session: called once when the connection ends other than by ``close()``, with
  /// why (typed: the report module words it).
  var onClose: ((StreamCloseReason) -> Void)? { get set }
  /// The server's certificate once a TLS handshake on this stream succeeded; nil for plain
  /// streams, before the handshake, and when it failed. Kept after ``close()``.
  var peerCertificate: TLSPeerCertificate? { get }
}

/// Opens a stream connection (TCP) to a server: returns at once, frames queue until the
/// connection is up, and a failure to connect arrives through ``StreamTransport/onClose``.
/// Called on the runtime's serial context.
public typealias StreamConnector = (_ server: TransportAddress) throws -> any StreamTransport

/// The certificate a TLS server presented (its leaf), as a report shows it after a handshake
/// that succeeded: `{subject, issuer, notValidAfter, subjectAlternativeNames}`.
public struct TLSPeerCertificate: Codable, Sendable, Hashable {
  /// The subject's common name, or its whole distinguished name (RFC 4514) when it has none.
  public var subject: String
  /// The issuer's common name, or its whole distinguished name (RFC 4514) when it has none.
  public var issuer: String
  /// When the certificate stops being valid, in ISO 8601 UTC (`2027-01-31T12:00:00Z`).
  public var notValidAfter: String
  /// The DNS names and IP addresses the certificate is for.
  public var subjectAlternativeNames: [String]

  public init(
    subject: String, issuer: String, notValidAfter: String, subjectAlternativeNames: [String]
  ) {
    self.subject = subject
    self.issuer = issuer
    self.notValidAfter = notValidAfter
    self.subjectAlternativeNames = subjectAlternativeNames
  }
}

extension StreamTransport {
  /// Plain streams have no certificate.
  public var peerCertificate: TLSPeerCertificate? { nil }
}
