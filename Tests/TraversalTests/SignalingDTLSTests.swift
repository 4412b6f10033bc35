import STUN
import TestSupport
import Testing
import Traversal

/// The DTLS fingerprint and setup role in tokens and SDP (issue 22).
@Suite struct SignalingDTLSTests {
  static let fingerprint = DTLSFingerprint(bytes: (0..<32).map { UInt8($0 * 7 & 0xff) })!

  @Test(arguments: DTLSSetupRole.allCases)
  func tokenRoundTripsTheFingerprintAndRole(_ setup: DTLSSetupRole) throws {
    var d = SignalingFixtures.typical
    d.dtls = DTLSParameters(fingerprint: Self.fingerprint, setup: setup)
    let back = try SessionToken.decode(d.token)
    #expect(back == d)
    #expect(back.dtls?.fingerprint.text == Self.fingerprint.text)
  }

  @Test func aTokenWithoutDTLSStillReads() throws {
    let d = SignalingFixtures.everything
    #expect(d.dtls == nil)
    let back = try SessionToken.decode(d.token)
    #expect(back.dtls == nil)
    #expect(back == d)
  }

  @Test func aTruncatedFingerprintIsATokenError() throws {
    var d = SignalingFixtures.typical
    d.dtls = DTLSParameters(fingerprint: Self.fingerprint, setup: .actpass)
    // A token whose body claims DTLS but is cut short fails its checksum or reads as
    // malformed: never a trap.
    let token = d.token
    #expect(throws: SignalingError.self) { try SessionToken.decode(String(token.dropLast(20))) }
  }

  @Test func sdpRoundTripsTheFingerprintAndRole() throws {
    var offer = SignalingFixtures.typical
    offer.dtls = DTLSParameters(fingerprint: Self.fingerprint, setup: .actpass)
    #expect(offer.sdp.contains("a=fingerprint:sha-256 \(Self.fingerprint.text)\n"))
    #expect(offer.sdp.contains("a=setup:actpass\n"))
    #expect(try SessionDescription(sdp: offer.sdp, assumedRole: .offer) == offer)
    var answer = SignalingFixtures.everything
    answer.dtls = DTLSParameters(fingerprint: Self.fingerprint, setup: .passive)
    #expect(try SessionDescription(sdp: answer.sdp, assumedRole: .answer) == answer)
  }

  @Test func aBrowserOfferCarriesItsFingerprint() throws {
    let d = try SessionDescription(sdpLines: SignalingFixtures.browser, assumedRole: .offer)
    #expect(d.dtls?.setup == .actpass)
    #expect(d.dtls?.fingerprint.text.hasPrefix("0F:74:31:25") == true)
  }

  @Test func sdpWithoutAFingerprintOffersNoDTLS() throws {
    let lines = SignalingFixtures.browser.filter { !$0.hasPrefix("a=fingerprint") }
    let d = try SessionDescription(sdpLines: lines, assumedRole: .offer)
    #expect(d.dtls == nil)
  }

  @Test func aMissingSetupTakesRFC8842Defaults() throws {
    let base = [
      "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901",
      "a=fingerprint:sha-256 \(Self.fingerprint.text)",
    ]
    #expect(try SessionDescription(sdpLines: base, assumedRole: .offer).dtls?.setup == .actpass)
    #expect(try SessionDescription(sdpLines: base, assumedRole: .answer).dtls?.setup == .active)
  }

  @Test func otherHashesAreIgnoredAndBadOnesRefused() throws {
    let base = ["a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901"]
    let sha1 =
      base + ["a=fingerprint:sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"]
    #expect(try SessionDescription(sdpLines: sha1, assumedRole: .offer).dtls == nil)
    #expect(throws: SignalingError.self) {
      try SessionDescription(sdpLines: base + ["a=fingerprint:sha-256 AB:CD"], assumedRole: .offer)
    }
    #expect(throws: SignalingError.self) {
      try SessionDescription(sdpLines: base + ["a=setup:holdconn"], assumedRole: .offer)
    }
  }
}
