import STUN
import Traversal

extension ConnectReport {
  /// What the DTLS handshake over the selected pair did (`dtls` in connect's JSON): the
  /// evidence the ``DTLSFindings`` are derived from.
  public struct DTLS: Codable, Sendable, Hashable {
    /// How it ended.
    public enum State: String, Codable, Sendable, Hashable {
      /// The handshake finished (and the peer's certificate had the fingerprint it signalled).
      case connected
      /// The handshake failed (see `failure`).
      case failed
      /// `--no-dtls`: not tried.
      case off
      /// The peer's description carries no fingerprint: it offers no DTLS, so none was tried.
      case peerOfferedNone = "peer-offered-none"
      /// ICE selected no pair, so there was nothing to run it on.
      case notRun = "not-run"
      /// Under way (only in the events while it runs, never in a report).
      case handshaking
    }

    /// Why a handshake failed.
    public enum Failure: String, Codable, Sendable, Hashable {
      /// Nothing came back (as the client: no answer to the ClientHello; as the server: no
      /// ClientHello came).
      case noAnswer = "no-answer"
      /// The peer answered, then the handshake stopped (a later flight was lost).
      case stalled
      /// The peer's certificate does not have the fingerprint it signalled.
      case fingerprintMismatch = "fingerprint-mismatch"
      /// The peer sent a fatal alert.
      case alertReceived = "alert-received"
      /// This side sent a fatal alert.
      case alertSent = "alert-sent"
      /// Both sides claimed the same setup role.
      case roleConflict = "role-conflict"
      /// Another error (see `detail`).
      case error
    }

    public var state: State
    /// `client` (sent the ClientHello) or `server`; nil when not tried.
    public var role: String?
    /// Milliseconds from the start of the handshake to its end (finished, or given up).
    public var handshakeMs: Double?
    /// The agreed cipher suite (OpenSSL's name).
    public var cipher: String?
    /// The SRTP profile use_srtp agreed; nil when none was.
    public var srtpProfile: String?
    /// Whether the peer's certificate had the fingerprint it signalled; nil when no
    /// certificate was seen.
    public var fingerprintMatched: Bool?
    /// The fingerprint the peer signalled and the one its certificate has (`AB:CD:…`).
    public var expectedFingerprint: String?
    public var receivedFingerprint: String?
    public var failure: Failure?
    /// The alert (its name, e.g. "bad certificate") for alert failures; OpenSSL's error text
    /// for `error`.
    public var detail: String?
    /// The alert's description code.
    public var alertCode: Int?
    /// Datagrams sent and received, flights retransmitted, the largest datagram sent.
    public var datagramsSent: Int
    public var datagramsReceived: Int
    public var retransmissions: Int
    public var largestDatagramSent: Int
    /// The largest datagram the handshake may write (flights are fragmented to fit).
    public var linkMTU: Int?
    /// The size of this side's certificate (DER), which the largest flight carries.
    public var certificateBytes: Int?

    public init(
      state: State, role: String? = nil, handshakeMs: Double? = nil, cipher: String? = nil,
      srtpProfile: String? = nil, fingerprintMatched: Bool? = nil,
      expectedFingerprint: String? = nil, receivedFingerprint: String? = nil,
      failure: Failure? = nil, detail: String? = nil, alertCode: Int? = nil,
      datagramsSent: Int = 0, datagramsReceived: Int = 0, retransmissions: Int = 0,
      largestDatagramSent: Int = 0, linkMTU: Int? = nil, certificateBytes: Int? = nil
    ) {
      self.state = state
      self.role = role
      self.handshakeMs = handshakeMs
      self.cipher = cipher
      self.srtpProfile = srtpProfile
      self.fingerprintMatched = fingerprintMatched
      self.expectedFingerprint = expectedFingerprint
      self.receivedFingerprint = receivedFingerprint
      self.failure = failure
      self.detail = detail
      self.alertCode = alertCode
      self.datagramsSent = datagramsSent
      self.datagramsReceived = datagramsReceived
      self.retransmissions = retransmissions
      self.largestDatagramSent = largestDatagramSent
      self.linkMTU = linkMTU
      self.certificateBytes = certificateBytes
    }

    private enum CodingKeys: String, CodingKey {
      case state, role, handshakeMs, cipher, srtpProfile, fingerprintMatched
      case expectedFingerprint, receivedFingerprint, failure, detail, alertCode
      case datagramsSent, datagramsReceived, retransmissions, largestDatagramSent, linkMTU
      case certificateBytes
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(state, forKey: .state)
      // Always present: null means "not known" or "does not apply".
      try c.encode(role, forKey: .role)
      try c.encode(handshakeMs, forKey: .handshakeMs)
      try c.encode(cipher, forKey: .cipher)
      try c.encode(srtpProfile, forKey: .srtpProfile)
      try c.encode(fingerprintMatched, forKey: .fingerprintMatched)
      try c.encode(expectedFingerprint, forKey: .expectedFingerprint)
      try c.encode(receivedFingerprint, forKey: .receivedFingerprint)
      try c.encode(failure, forKey: .failure)
      try c.encode(detail, forKey: .detail)
      try c.encode(alertCode, forKey: .alertCode)
      try c.encode(datagramsSent, forKey: .datagramsSent)
      try c.encode(datagramsReceived, forKey: .datagramsReceived)
      try c.encode(retransmissions, forKey: .retransmissions)
      try c.encode(largestDatagramSent, forKey: .largestDatagramSent)
      try c.encode(linkMTU, forKey: .linkMTU)
      try c.encode(certificateBytes, forKey: .certificateBytes)
    }
  }
}

extension FindingCode {
  /// The DTLS handshake over the selected pair finished.
  public static let dtlsConnected: FindingCode = "dtls.connected"
  /// No answer to the ClientHello (client), or no ClientHello (server).
  public static let dtlsNoAnswer: FindingCode = "dtls.no-answer"
  /// The peer answered the first flight, then the handshake stopped.
  public static let dtlsStalled: FindingCode = "dtls.stalled"
  /// The peer's certificate does not match the fingerprint it signalled.
  public static let dtlsFingerprintMismatch: FindingCode = "dtls.fingerprint-mismatch"
  /// The peer sent a fatal alert.
  public static let dtlsAlertReceived: FindingCode = "dtls.alert-received"
  /// This side sent a fatal alert.
  public static let dtlsAlertSent: FindingCode = "dtls.alert-sent"
  /// Both sides claimed the same DTLS role.
  public static let dtlsRoleConflict: FindingCode = "dtls.role-conflict"
  /// Another DTLS error.
  public static let dtlsError: FindingCode = "dtls.error"
  /// The verdict when ICE connected but DTLS did not: not usable for media.
  public static let dtlsFailedAfterICE: FindingCode = "dtls.failed-after-ice"
  /// `--no-dtls`.
  public static let dtlsOff: FindingCode = "dtls.off"
  /// The peer's description offers no DTLS.
  public static let dtlsPeerOfferedNone: FindingCode = "dtls.peer-offered-none"
  /// The session ended while the handshake ran.
  public static let dtlsUnfinished: FindingCode = "dtls.unfinished"
  /// No pair was selected, so DTLS was not tried.
  public static let dtlsNotRun: FindingCode = "dtls.not-run"
}

extension FindingAspect {
  /// Whether DTLS completes over the selected pair.
  public static let dtls: FindingAspect = "dtls"
}

/// What natscope says about the DTLS handshake after ICE: codes, the pure ``derive(_:)`` and
/// the vocabulary, as every domain keeps them.
public enum DTLSFindings {
  /// Every code of this domain.
  public static let codes: Set<FindingCode> = [
    .dtlsConnected, .dtlsNoAnswer, .dtlsStalled, .dtlsFingerprintMismatch, .dtlsAlertReceived,
    .dtlsAlertSent, .dtlsRoleConflict, .dtlsError, .dtlsFailedAfterICE, .dtlsOff,
    .dtlsPeerOfferedNone, .dtlsNotRun, .dtlsUnfinished,
  ]

  /// The findings of one handshake (or of why none ran).
  public static func derive(_ d: ConnectReport.DTLS) -> FindingSet {
    var p: FindingParameters = [:]
    if let role = d.role { p["role"] = .text(role) }
    if let ms = d.handshakeMs { p["ms"] = .milliseconds(ms) }
    p["sent"] = .int(d.datagramsSent)
    p["received"] = .int(d.datagramsReceived)
    p["retransmissions"] = .int(d.retransmissions)
    p["largest"] = .int(d.largestDatagramSent)
    var evidence = [
      EvidenceItem(.traffic, step: "dtls sent", count: d.datagramsSent),
      EvidenceItem(.traffic, step: "dtls received", count: d.datagramsReceived),
    ]
    if let ms = d.handshakeMs { evidence.append(EvidenceItem(.timing, step: "dtls", value: ms)) }
    switch d.state {
    case .off:
      return FindingSet([Finding(.dtlsOff, about: .session, .notMeasured, aspect: .dtls)])
    case .peerOfferedNone:
      return FindingSet([
        Finding(
          .dtlsPeerOfferedNone, about: .session, .notMeasured, aspect: .dtls,
          evidence: [EvidenceItem(.signalling, step: "a=fingerprint")])
      ])
    case .notRun:
      return FindingSet([Finding(.dtlsNotRun, about: .session, .notMeasured, aspect: .dtls)])
    case .handshaking:
      return FindingSet([
        Finding(
          .dtlsUnfinished, about: .session, .notMeasured, aspect: .dtls, parameters: p,
          evidence: evidence)
      ])
    case .connected:
      if let c = d.cipher { p["cipher"] = .text(c) }
      if let s = d.srtpProfile { p["srtp"] = .text(s) }
      p["fingerprintMatched"] = .flag(d.fingerprintMatched == true)
      evidence.append(EvidenceItem(.tls, step: "dtls handshake"))
      return FindingSet([
        Finding(
          .dtlsConnected, about: .session, .measured, aspect: .dtls, parameters: p,
          evidence: evidence)
      ])
    case .failed:
      let code: FindingCode
      var subject: FindingSubject = .session
      switch d.failure ?? .error {
      case .noAnswer:
        code = .dtlsNoAnswer
        evidence.append(EvidenceItem(.noAnswer, step: "dtls", count: d.retransmissions + 1))
      case .stalled: code = .dtlsStalled
      case .fingerprintMismatch:
        code = .dtlsFingerprintMismatch
        subject = .peer
        if let e = d.expectedFingerprint { p["expected"] = .text(e) }
        if let r = d.receivedFingerprint { p["received.fingerprint"] = .text(r) }
      case .alertReceived:
        code = .dtlsAlertReceived
        subject = .peer
      case .alertSent: code = .dtlsAlertSent
      case .roleConflict: code = .dtlsRoleConflict
      case .error: code = .dtlsError
      }
      if let detail = d.detail { p["detail"] = .text(detail) }
      if let a = d.alertCode { p["alert"] = .int(a) }
      if let mtu = d.linkMTU { p["mtu"] = .int(mtu) }
      if let n = d.certificateBytes { p["certificate"] = .int(n) }
      let why = Finding(code, about: subject, .measured, parameters: p, evidence: evidence)
      return FindingSet([
        why,
        Finding(
          .dtlsFailedAfterICE, about: .session, .measured, aspect: .dtls, covers: [.dtls],
          parameters: ["cause": .text(code.rawValue)], evidence: evidence),
      ])
    }
  }

  /// The sentences of this domain (registered in ``FindingText``).
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let ms = p.milliseconds("ms").map { ConnectReportText.ms($0) }
    let role = p.text("role")
    switch f.code {
    case .dtlsConnected:
      // Short enough for two lines under the selected pair at 80 columns; the cipher is in
      // the JSON (dtls.cipher).
      var how: [String] = []
      if let role { how.append("as the \(role)") }
      how.append(p.text("srtp") ?? "no SRTP profile agreed")
      let check =
        p.flag("fingerprintMatched") == true
        ? "the peer's certificate matches its fingerprint"
        : "the peer's certificate was not checked against a fingerprint"
      return
        "DTLS connected\(ms.map { " in \($0)" } ?? "") (\(how.joined(separator: ", "))); \(check)."
    case .dtlsNoAnswer:
      let tries = (p.int("retransmissions") ?? 0) + 1
      let time = ms.map { " in \($0)" } ?? ""
      if role == "server" {
        return
          "No DTLS ClientHello came from the peer\(time), though ICE connected: something on the path passes STUN but not DTLS, or the peer did not start DTLS."
      }
      return
        "No answer to the DTLS ClientHello (sent \(ConnectFindings.plural(tries, "time"))\(time)), though ICE connected: something on the path passes STUN but drops DTLS, or the peer does not speak it."
    case .dtlsStalled:
      let largest = p.int("largest") ?? 0
      let received = ConnectFindings.plural(p.int("received") ?? 0, "datagram")
      let tries = ConnectFindings.plural(p.int("retransmissions") ?? 0, "retransmission")
      let certificate = p.int("certificate").map { ", with its \($0)-byte certificate" } ?? ""
      return
        "The DTLS handshake stalled after the first flight: the peer answered (\(received) came), then the rest never arrived (\(tries)). Heavy loss does this, and so does a path that drops large datagrams (the largest this side sent was \(largest) bytes\(certificate); certificate flights are the largest)."
    case .dtlsFingerprintMismatch:
      // The first 8 bytes keep the sentence within a line; JSON has the whole fingerprints.
      func short(_ f: String?) -> String? { f.map { $0.count > 23 ? $0.prefix(23) + "..." : $0 } }
      let expected = short(p.text("expected")) ?? "?"
      let received = short(p.text("received.fingerprint")) ?? "none"
      return
        "The peer's DTLS certificate does not match the fingerprint in its description (signalled \(expected), presented \(received)): someone else answered, or the description was altered."
    case .dtlsAlertReceived:
      return
        "The peer ended the DTLS handshake with a fatal alert: \(p.text("detail") ?? "alert \(p.int("alert") ?? 0)")."
    case .dtlsAlertSent:
      return
        "natscope ended the DTLS handshake with a fatal alert: \(p.text("detail") ?? "alert \(p.int("alert") ?? 0)")."
    case .dtlsRoleConflict:
      return
        "Both sides claimed the same DTLS role (a=setup), so no handshake could start."
    case .dtlsError:
      return "The DTLS handshake failed: \(p.text("detail") ?? "no detail")."
    case .dtlsFailedAfterICE:
      return
        "ICE connected, but DTLS did not: media and data channels could not flow over this pair."
    case .dtlsOff:
      return "DTLS was not tried (--no-dtls)."
    case .dtlsPeerOfferedNone:
      return
        "The peer's description offers no DTLS (no a=fingerprint), so no DTLS handshake was tried; that is not a failure."
    case .dtlsNotRun:
      return "DTLS was not tried: ICE selected no pair."
    case .dtlsUnfinished:
      return "The session ended while the DTLS handshake was still under way."
    default:
      return nil
    }
  }
}
