import Foundation
import Report
import STUN
import Sessions
import TestSupport
import Testing
import Traversal

/// The prediction, the paths and the selected pair tell one story.
@Suite struct ConnectReportConsistencyTests {
  typealias F = SignalingFixtures
  typealias E = ConnectReport.Endpoint
  typealias Pair = ConnectReport.PairOutcome

  static func side(_ address: String, _ profile: NATProfile?) -> ConnectReportBuilder.Side {
    .init(
      profile: profile,
      candidates: [
        .init(foundation: "1", priority: 1, address: F.v4(address), port: 5000, kind: .host)
      ], turn: [.udp])
  }

  /// Relayed pairs still being checked when the direct path connected were cut short: the
  /// relay is neither marked failed nor held against its prediction.
  @Test func pathsCutShortAreNotFailures() {
    var b = ConnectReportBuilder(
      local: Self.side("203.0.113.7", .openInternet),
      remote: Self.side("198.51.100.9", .openInternet))
    let direct = Pair(
      local: E(type: .host, address: "203.0.113.7", port: 5000),
      remote: E(type: .host, address: "198.51.100.9", port: 5000), succeeded: true, requests: 1,
      rttMs: 40)
    let relay = Pair(
      local: E(type: .relay, address: "203.0.113.20", port: 49152),
      remote: E(type: .host, address: "198.51.100.9", port: 5000), succeeded: false,
      failure: .cancelled, detail: "no answer yet when another pair was selected", requests: 2)
    b.pairs = [direct, relay]
    b.selectedPair = .init(local: direct.local, remote: direct.remote, rttMs: 40)
    let r = b.build()
    #expect(r.wasCutShort(.relay))
    #expect(!r.wasCutShort(.direct))
    #expect(r.paths.relay.reason.hasPrefix("Not tried to the end: the direct path connected first"))
    #expect(r.text.contains("– relay"), Comment(rawValue: r.text))
    #expect(!r.text.contains("should have worked"), Comment(rawValue: r.text))
  }

  /// A host ↔ host check answered through this host's NAT proves the path through the NATs:
  /// the direct path is not marked as worked, nor as failed.
  @Test func aHostPairAnsweredThroughTheNATIsTheReflexivePath() {
    var b = ConnectReportBuilder(
      local: Self.side("192.168.1.10", .symmetric),
      remote: Self.side("198.51.100.9", .openInternet))
    let mapped = E(type: .prflx, address: "203.0.113.7", port: 61000)
    let remote = E(type: .host, address: "198.51.100.9", port: 5000)
    let checked = Pair(
      local: E(type: .host, address: "192.168.1.10", port: 5000), remote: remote,
      succeeded: true, requests: 1, rttMs: 30, peerReflexive: mapped)
    let valid = Pair(local: mapped, remote: remote, succeeded: true, requests: 0, rttMs: nil)
    b.pairs = [checked, valid]
    b.selectedPair = .init(local: mapped, remote: remote, rttMs: 30)
    let r = b.build()
    #expect(checked.kind == .reflexive)
    #expect(r.paths.reflexive.succeeded)
    #expect(r.paths.reflexive.reason.contains("203.0.113.7:61000"))
    #expect(!r.paths.direct.succeeded && !r.paths.direct.attempted)
    #expect(r.paths.direct.reason.contains("through this host's NAT"))
    #expect(r.prediction.direct.outcome == .fails)
    #expect(!r.text.contains("should have worked"), Comment(rawValue: r.text))
    #expect(r.text.contains("– direct"))
    // The pair's JSON names the address the peer saw.
    let json = String(decoding: (try? JSONEncoder().encode(checked)) ?? Data(), as: UTF8.self)
    #expect(json.contains("\"peerReflexive\""))
    let plain = String(
      decoding: (try? JSONEncoder().encode(valid)) ?? Data(), as: UTF8.self)
    #expect(!plain.contains("peerReflexive"))
  }

  /// UDP blocked on one host: no UDP path is predicted to work, whatever the other host is.
  @Test func udpBlockedPredictsNoDirectPath() {
    let p = ConnectReportBuilder.predict(
      local: Self.side("192.168.1.10", .udpBlocked),
      remote: Self.side("198.51.100.9", .openInternet))
    #expect(p.direct.outcome == .fails)
    #expect(p.direct.reason.contains("UDP is blocked on this host's network"))
    #expect(p.reflexive.outcome == .fails)
  }

  /// Loss seen by the checks: the sentence says how much, in the text and in a failed
  /// verdict; a report without such evidence says nothing about loss.
  @Test func lossIsReportedFromEvidence() throws {
    let loss = ConnectReport.Loss(
      checks: 40, checksRetransmitted: 12, answersLost: 3, provenChecks: 2,
      provenChecksRetransmitted: 1)
    #expect(loss.seen)
    #expect(
      loss.sentence
        == "Packets were lost on the way: 12 of 40 checks needed a retransmission, 1 of them on a pair that had already answered, and the peer asked again for 3 answers this host had sent."
    )
    var b = ConnectReportBuilder(
      local: Self.side("192.168.1.10", .portRestrictedCone),
      remote: Self.side("10.0.0.9", .portRestrictedCone))
    b.pairs = [
      Pair(
        local: E(type: .host, address: "192.168.1.10", port: 5000),
        remote: E(type: .host, address: "10.0.0.9", port: 5000), succeeded: false,
        failure: .timeout, requests: 7)
    ]
    b.loss = loss
    let failed = b.build()
    #expect(failed.reason?.hasSuffix(loss.sentence ?? "?") == true)
    let o = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(failed)) as? [String: Any])
    let l = try #require(o["loss"] as? [String: Any])
    #expect(l["seen"] as? Bool == true && l["checksRetransmitted"] as? Int == 12)
    // Retransmissions alone (hole punching) are not evidence of loss.
    let punching = ConnectReport.Loss(
      checks: 10, checksRetransmitted: 6, answersLost: 0, provenChecks: 1,
      provenChecksRetransmitted: 0)
    #expect(!punching.seen && punching.sentence == nil)
    b.loss = punching
    #expect(!(b.build().reason ?? "").contains("lost"))
  }
}
