import Report
import STUN
import Sessions
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
    #expect(policy.works)
    var bad = ok
    bad.problems = [TURNCheckProblem(.quota, "q")]
    #expect(!bad.works)
    #expect(TURNCheckReport(servers: [ok, policy]).verdict == .works)
    #expect(TURNCheckReport(servers: [ok, bad]).verdict == .broken)
    #expect(TURNCheckReport(servers: []).verdict == .broken)
    #expect(TURNCheckProblem.Code.relayedAddressUnroutable.rawValue == "relayed-address-unroutable")
    #expect(TURNCheckProblem.Code.tlsCertificate.rawValue == "tls-certificate")
  }
}
