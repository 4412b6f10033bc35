import Report
import Testing

/// The DTLS domain's findings (issue 22): every state and failure derives worded findings
/// without contradictions, a failure after ICE makes the connect verdict failed, and a peer
/// that offered no DTLS does not.
@Suite struct DTLSFindingsTests {
  static let outcomes: [ConnectReport.DTLS] =
    [
      .init(
        state: .connected, role: "client", handshakeMs: 12, cipher: "ECDHE-ECDSA-AES128-GCM-SHA256",
        srtpProfile: "SRTP_AEAD_AES_128_GCM", fingerprintMatched: true),
      .init(state: .off), .init(state: .peerOfferedNone), .init(state: .notRun),
      .init(state: .handshaking, role: "server"),
    ]
    + [
      ConnectReport.DTLS.Failure.noAnswer, .stalled, .fingerprintMismatch, .alertReceived,
      .alertSent, .roleConflict, .error,
    ].map {
      .init(
        state: .failed, role: "client", handshakeMs: 10_000, expectedFingerprint: "AB:CD",
        receivedFingerprint: "EF:01", failure: $0, detail: "bad certificate", alertCode: 42,
        datagramsSent: 4, datagramsReceived: 1, retransmissions: 3, largestDatagramSent: 1150)
    }

  @Test(arguments: outcomes)
  func everyOutcomeIsWordedAndConsistent(_ d: ConnectReport.DTLS) {
    let set = DTLSFindings.derive(d)
    #expect(!set.findings.isEmpty)
    for f in set {
      #expect(FindingText.isWorded(f), "\(f.code) has no sentence")
      #expect(DTLSFindings.codes.contains(f.code))
    }
    #expect(set.contradictions().isEmpty)
    // A verdict about DTLS only when it was measured.
    #expect(set.contains(.dtlsFailedAfterICE) == (d.state == .failed))
  }

  @Test func noAnswerAsClientNamesTheClientHello() {
    let d = ConnectReport.DTLS(
      state: .failed, role: "client", handshakeMs: 10_000, failure: .noAnswer, datagramsSent: 5,
      retransmissions: 4)
    let text = DTLSFindings.derive(d).with(.dtlsNoAnswer).first?.text ?? ""
    #expect(text.contains("No answer to the DTLS ClientHello (sent 5 times"))
  }

  @Test func stalledNamesTheFirstFlight() {
    let d = ConnectReport.DTLS(
      state: .failed, role: "client", failure: .stalled, datagramsReceived: 1,
      largestDatagramSent: 1200)
    let text = DTLSFindings.derive(d).with(.dtlsStalled).first?.text ?? ""
    #expect(text.hasPrefix("The DTLS handshake stalled after the first flight"))
  }
}
