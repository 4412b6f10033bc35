import DTLS
import Report
import Runtime
import STUN
import Traversal

/// How `connect` runs DTLS after ICE: this run's certificate and the handshake's limits.
public struct ConnectDTLSSettings: Sendable {
  /// This run's certificate (its fingerprint goes in the description).
  public var certificate: DTLSCertificate
  /// The handshake gives up after this long.
  public var handshakeTimeout: Duration
  /// The largest datagram the handshake writes (flights are fragmented to fit).
  public var linkMTU: Int
  /// The first retransmission timeout (doubled after each).
  public var initialRetransmission: Duration

  public init(
    certificate: DTLSCertificate, handshakeTimeout: Duration = .seconds(10),
    linkMTU: Int = 1200, initialRetransmission: Duration = .seconds(1)
  ) {
    self.certificate = certificate
    self.handshakeTimeout = handshakeTimeout
    self.linkMTU = linkMTU
    self.initialRetransmission = initialRetransmission
  }

  /// Settings with a fresh certificate, of about `certificateBytes` bytes when given (to test a
  /// path with a certificate as large as a media server's chain).
  /// - Throws: `DTLSError` when OpenSSL cannot make one.
  public static func fresh(certificateBytes: Int? = nil) throws(DTLSError) -> ConnectDTLSSettings {
    let certificate: DTLSCertificate
    if let n = certificateBytes {
      certificate = try DTLSCertificate.sized(about: n)
    } else {
      certificate = try DTLSCertificate()
    }
    return ConnectDTLSSettings(certificate: certificate)
  }
}

/// One DTLS handshake on the selected pair's socket: the endpoint, its driver and where its
/// datagrams go (the pair's local base, host socket or relay, to the pair's remote address).
final class ConnectDTLSRun {
  let endpoint: DTLSEndpoint
  let base: TransportAddress
  let expected: DTLSFingerprint
  let linkMTU: Int
  /// The size of this side's certificate (DER).
  let certificateBytes: Int
  private let driver: MachineDriver<DTLSEvent>

  init(
    endpoint: DTLSEndpoint, base: TransportAddress, expected: DTLSFingerprint, linkMTU: Int,
    certificateBytes: Int, runtime: any NetworkRuntime, send: @escaping (Transmit) -> Void,
    timeout: @escaping (Instant) -> Void
  ) {
    self.endpoint = endpoint
    self.base = base
    self.expected = expected
    self.linkMTU = linkMTU
    self.certificateBytes = certificateBytes
    self.driver = MachineDriver(runtime: runtime, transmit: send, timeout: timeout)
  }

  /// Carries out the endpoint's outputs and returns its events.
  func carryOut(_ outputs: [MachineOutput<DTLSEvent>]) -> [DTLSEvent] {
    driver.carryOut(outputs)
  }

  func stop() { driver.stop() }

  /// What the handshake did, for the report.
  func report(now: Instant) -> ConnectReport.DTLS {
    let e = endpoint
    let c = e.counters
    var r = ConnectReport.DTLS(
      state: e.result != nil ? .connected : e.state == .failed ? .failed : .handshaking,
      role: e.role.rawValue, expectedFingerprint: expected.text,
      datagramsSent: c.datagramsSent, datagramsReceived: c.datagramsReceived,
      retransmissions: c.retransmissions, largestDatagramSent: c.largestDatagramSent,
      linkMTU: linkMTU, certificateBytes: certificateBytes)
    if let start = e.startedAt {
      let end = e.connectedAt ?? now
      r.handshakeMs = (max(0, (end - start).milliseconds) * 10).rounded() / 10
    }
    if let result = e.result {
      r.cipher = result.cipher
      r.srtpProfile = result.srtpProfile
      r.receivedFingerprint = result.peerFingerprint?.text
      r.fingerprintMatched = result.peerFingerprint == expected
    }
    switch e.failure {
    case nil: break
    case .fingerprintMismatch(_, let received)?:
      r.failure = .fingerprintMismatch
      r.fingerprintMatched = false
      r.receivedFingerprint = received?.text
    case .alertReceived(let alert)?:
      r.failure = .alertReceived
      r.detail = alert.name
      r.alertCode = alert.code
    case .alertSent(let alert, let reason)?:
      r.failure = .alertSent
      r.detail = "\(alert.name) (\(reason))"
      r.alertCode = alert.code
    case .noAnswer?: r.failure = .noAnswer
    case .stalled?: r.failure = .stalled
    case .error(let text)?:
      r.failure = .error
      r.detail = text
    }
    return r
  }
}
