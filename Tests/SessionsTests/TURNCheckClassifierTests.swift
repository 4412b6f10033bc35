import Foundation
import Report
import STUN
import Sessions
import TestSupport
import Testing
import Traversal

@Suite struct TURNCheckClassifierTests {
  func addr(_ text: String, _ port: UInt16 = 3478) -> TransportAddress {
    TransportAddress(ip: IPAddress(text)!, port: port)
  }

  @Test func allocationFailuresByCode() {
    let c = TURNCheckClassifier.self
    #expect(c.allocationProblem(.explaining(ErrorCode(401)), reachable: true).code == .unauthorized)
    #expect(c.allocationProblem(.explaining(ErrorCode(441)), reachable: true).code == .unauthorized)
    #expect(c.allocationProblem(.explaining(ErrorCode(403)), reachable: true).code == .forbidden)
    #expect(c.allocationProblem(.explaining(ErrorCode(486)), reachable: true).code == .quota)
    #expect(c.allocationProblem(.explaining(ErrorCode(508)), reachable: true).code == .quota)
    #expect(
      c.allocationProblem(.explaining(ErrorCode(437)), reachable: true).code == .allocationLost)
    #expect(
      c.allocationProblem(.explaining(ErrorCode(500)), reachable: true).code == .allocateFailed)
    #expect(
      c.allocationProblem(.timedOut(after: .seconds(3)), reachable: false).code == .unreachable)
    #expect(
      c.allocationProblem(.timedOut(after: .seconds(3)), reachable: true).code == .allocateFailed)
    let m = c.allocationProblem(.explaining(ErrorCode(486), reason: "quota"), reachable: true)
    #expect(m.message.contains("486") && m.message.contains("server said: quota"))
  }

  @Test func unroutableRelayedAddresses() {
    let c = TURNCheckClassifier.self
    // The classic: coturn behind a NAT without --external-ip hands out its private address.
    let p = c.unroutableRelay(relayed: addr("10.0.0.5", 50000), server: addr("203.0.113.7"))
    #expect(p?.code == .relayedAddressUnroutable)
    #expect(p?.message.contains("10.0.0.5") == true && p?.message.contains("203.0.113.7") == true)
    #expect(c.unroutableRelay(relayed: addr("100.64.1.2"), server: addr("203.0.113.7")) != nil)
    #expect(c.unroutableRelay(relayed: addr("127.0.0.1"), server: addr("203.0.113.7")) != nil)
    #expect(c.unroutableRelay(relayed: addr("169.254.3.3"), server: addr("203.0.113.7")) != nil)
    #expect(c.unroutableRelay(relayed: addr("0.0.0.0"), server: addr("203.0.113.7")) != nil)
    #expect(c.unroutableRelay(relayed: addr("10.99.99.99"), server: addr("127.0.0.1")) != nil)
    #expect(c.unroutableRelay(relayed: addr("198.51.100.9"), server: addr("203.0.113.7")) != nil)
    // Consistent: same public IP, a LAN server relaying on the LAN, loopback on loopback.
    #expect(
      c.unroutableRelay(relayed: addr("203.0.113.7", 50000), server: addr("203.0.113.7")) == nil)
    #expect(c.unroutableRelay(relayed: addr("192.168.1.4"), server: addr("192.168.1.4")) == nil)
    #expect(c.unroutableRelay(relayed: addr("127.0.0.1"), server: addr("127.0.0.1")) == nil)
    #expect(c.unroutableRelay(relayed: addr("203.0.113.7"), server: addr("10.0.0.1")) == nil)
    #expect(c.unroutableRelay(relayed: addr("2001:db8::1"), server: addr("2001:db8::1")) == nil)
    #expect(c.unroutableRelay(relayed: addr("fd00::1"), server: addr("2001:db8::1")) != nil)
  }

  @Test func relayProblemOnlyWhenNothingCameBack() {
    #expect(
      TURNCheckClassifier.relayProblem(how: "x", sent: 5, received: 0)?.code == .relayDoesNotRelay)
    #expect(TURNCheckClassifier.relayProblem(how: "x", sent: 5, received: 1) == nil)
    #expect(TURNCheckClassifier.relayProblem(how: "x", sent: 0, received: 0) == nil)
  }

  @Test func verdictAndJSONKeys() throws {
    var ok = TURNServerCheck(uri: "turn:a", transport: "udp", server: addr("203.0.113.7"))
    ok.reachable = true
    ok.authenticated = true
    ok.relayedAddress = addr("203.0.113.7", 50000)
    ok.relays = true
    #expect(ok.works)
    var policy = ok
    policy.relays = nil
    policy.peerForbidden = true
    // Relaying was not tested: allocating is all this server showed (issue 18 #1).
    #expect(!policy.works)
    var bad = ok
    bad.problems = [TURNCheckProblem(.quota, "q")]
    #expect(!bad.works)
    #expect(TURNCheckReport(servers: [ok]).verdict == .works)
    #expect(TURNCheckReport(servers: [ok, policy]).verdict == .unverified)
    #expect(TURNCheckReport(servers: [policy, bad]).verdict == .broken)
    #expect(TURNCheckReport(servers: [ok, bad]).verdict == .broken)
    #expect(TURNCheckReport(servers: []).verdict == .broken)
    #expect(TURNCheckProblem.Code.relayedAddressUnroutable.rawValue == "relayed-address-unroutable")
    #expect(TURNCheckProblem.Code.tlsCertificate.rawValue == "tls-certificate")
  }

  /// A server whose policy forbids the peer: the relay is a not-measured finding, the server's
  /// verdict does not cover it, and the check's verdict says "unverified", not "works".
  @Test func peerForbiddenVerdictCoversOnlyWhatWasShown() throws {
    var s = TURNServerCheck(uri: "turn:a", transport: "udp", server: addr("203.0.113.7"))
    s.reachable = true
    s.rttMs = 4
    s.authenticated = true
    s.relayedAddress = addr("203.0.113.7", 50000)
    s.refreshed = true
    s.peerForbidden = true
    s.released = true
    let report = TURNCheckReport(servers: [s])
    let situation = Situation(
      "peer forbidden (model)",
      mustFind: [
        .turnRelayNotMeasured, .turnPeerForbidden, .turnServerAllocates, .turnVerdictUnverified,
      ],
      mustNotFind: [.turnServerWorks, .turnVerdictWorks, .turnRelays])
    #expect(situation.check(report.findings) == [])
    #expect(report.findings.filter { $0.covers.contains(.turnRelay) }.isEmpty)
    #expect(report.text.contains("verdict: unverified"))
    #expect(!report.text.contains("relays both ways"))
    #expect(report.text.contains("– relays"))
  }

  /// Problems are findings: the message is the finding's sentence; long lines are wrapped at
  /// the width given, never inside a word.
  @Test func problemsAreFindingsAndWrap() throws {
    var s = TURNServerCheck(uri: "turn:a", transport: "udp", server: addr("203.0.113.7"))
    s.reachable = true
    s.problems = [
      TURNCheckClassifier.allocationProblem(
        .explaining(ErrorCode(401), reason: "Unauthorized"), reachable: true,
        server: addr("203.0.113.7"))
    ]
    let report = TURNCheckReport(servers: [s])
    let problem = try #require(report.findings.with(.turnProblem(.unauthorized)).first)
    #expect(s.problems[0].message == problem.text)
    #expect(problem.evidence.contains { $0.kind == .errorCode && $0.value == 401 })
    let data = try ReportJSON.encode(report)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect((object["findings"] as? [Any])?.isEmpty == false)
    let wide = report.text(width: nil)
    #expect(wide.split(separator: "\n").contains { $0.count > 60 })
    let narrow = report.text(width: 60)
    for line in narrow.split(separator: "\n") { #expect(line.count <= 60, "\(line)") }
    let words = { (t: String) in t.split(whereSeparator: { $0 == " " || $0 == "\n" }) }
    #expect(words(narrow) == words(wide))
    for f in report.findings { #expect(FindingText.isWorded(f), "\(f.code) has no sentence") }
  }
}
