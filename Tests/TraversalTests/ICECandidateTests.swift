import Report
import STUN
import Testing
import Traversal

@Suite struct ICECandidateTests {
  /// A line as the agent receives it: parsed by the one SDP parser, then made an agent
  /// candidate (nil when the agent cannot use it).
  static func agentCandidate(_ line: String) throws -> Candidate? {
    Candidate(try SignaledCandidate(sdpAttribute: line))
  }

  @Test func parsesTheSeedLogLine() throws {
    let line = "a=candidate:7 1 udp 2013266431 10.200.20.84 40006 typ host generation 0"
    let c = try #require(try Self.agentCandidate(line))
    #expect(c.foundation == "7")
    #expect(c.component == 1)
    #expect(c.transport == "udp")
    #expect(c.priority == 2_013_266_431)
    #expect(c.address == TransportAddress("10.200.20.84:40006"))
    #expect(c.type == .host)
    #expect(c.relatedAddress == nil)
    let signaled = try SignaledCandidate(sdpAttribute: line)
    #expect(signaled.generation == 0)
    #expect(
      signaled.sdpAttribute
        == "candidate:7 1 udp 2013266431 10.200.20.84 40006 typ host generation 0")
  }

  /// Found by `scripts/fuzz candidate`: a NUL and a line feed inside a field were kept, and the
  /// line written out again did not read back the same. A control character in an extension
  /// is refused.
  @Test func aControlCharacterInsideALineIsRefused() {
    let line =
      "candidate:1 5 UDP 8265471 198.51.100.20 49170 typ relay raddr x.local 54400 typ host g203.0.113.7\u{0}\u{0}\u{0}\n rport 61665"
    #expect(
      throws: SignalingError.badCandidate(
        line: 0, reason: "an extension contains a control character")
    ) {
      try SignaledCandidate(sdpAttribute: line)
    }
    // Line ends and tabs between fields are still fine.
    #expect(
      (try? SignaledCandidate(sdpAttribute: "a=candidate:1 1 udp 1 192.0.2.1 9\ttyp host\r\n"))
        != nil)
  }

  @Test func serverReflexiveAndIPv6RoundTrip() throws {
    let lines = [
      "candidate:2 1 udp 1694498815 198.51.100.1 40006 typ srflx raddr 192.168.1.10 rport 40006",
      "candidate:3 1 udp 16777215 203.0.113.10 50000 typ relay raddr 198.51.100.1 rport 40006",
      "candidate:4 1 udp 2130706431 2001:db8::1 5000 typ host",
      "candidate:p1 1 udp 1845501695 198.51.100.9 7000 typ prflx raddr 0.0.0.0 rport 0",
    ]
    for line in lines {
      let c = try #require(try Self.agentCandidate(line))
      #expect(SignaledCandidate(c).sdpAttribute == line)
      #expect(Candidate(SignaledCandidate(c)) == c)
    }
    let srflx = try #require(try Self.agentCandidate(lines[0]))
    #expect(srflx.type == .srflx)
    #expect(srflx.relatedAddress == TransportAddress("192.168.1.10:40006"))
  }

  @Test func mDNSHostnamesAreReportedAsUnresolvable() throws {
    let line = "candidate:1 1 udp 2122260223 1f4712db-ea17-4bcf.local 54400 typ host"
    #expect(try Self.agentCandidate(line) == nil)
    let reason = try #require(try SignaledCandidate(sdpAttribute: line).unusableReason)
    #expect(reason.contains("mDNS"))
  }

  @Test(arguments: [
    "candidate:1 1 udp 2122260223 10.0.0.1 typ host",
    "candidate:1 1 udp abc 10.0.0.1 5000 typ host",
    "candidate:1 1 udp 1 10.0.0.1 5000 type host",
    "candidate:1 1 udp 1 10.0.0.1 5000 typ bogus",
    "candidate:1 1 udp 1 10.0.0.1 99999 typ host",
    "candidate:f!o 1 udp 1 10.0.0.1 5000 typ host",
  ])
  func malformedLinesThrow(line: String) {
    #expect(throws: SignalingError.self) { try Self.agentCandidate(line) }
  }

  /// RFC 8839's grammar makes `raddr` and `rport` separately optional, so a line with one and
  /// not the other parses; the agent's candidate then has no related address (it only ever
  /// uses one as a whole transport address).
  @Test func relatedAddressWithoutPortIsKeptButNotUsed() throws {
    let line = "candidate:1 1 udp 1 10.0.0.1 5000 typ srflx raddr 10.0.0.2"
    let s = try SignaledCandidate(sdpAttribute: line)
    #expect(s.relatedAddress == .ip(IPAddress("10.0.0.2") ?? .anyV4))
    #expect(s.relatedPort == nil)
    let c = try #require(Candidate(s))
    #expect(c.relatedAddress == nil)
    #expect(c.type == .srflx)
  }

  /// A DNS name or a TCP candidate parses (it is listed), but the agent cannot check it.
  @Test(arguments: [
    "candidate:1 1 udp 1 example.com 5000 typ host",
    "candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype active",
  ])
  func unusableLinesAreKeptButNotChecked(line: String) throws {
    let s = try SignaledCandidate(sdpAttribute: line)
    #expect(s.unusableReason != nil)
    #expect(Candidate(s) == nil)
  }

  @Test func credentialsHaveTheRFCLengthsAndCharset() {
    var g = SeededGenerator(seed: 7)
    var seen: Set<String> = []
    for _ in 0..<50 {
      let c = ICECredentials.random(using: &g)
      #expect(c.ufrag.count * 6 >= 24)
      #expect(c.password.count * 6 >= 128)
      #expect(c.isValid)
      seen.insert(c.password)
    }
    #expect(seen.count == 50)
    let system = ICECredentials.random()
    #expect(system.isValid)
    #expect(!ICECredentials(ufrag: "ab", password: String(repeating: "x", count: 22)).isValid)
    #expect(!ICECredentials(ufrag: "abcd", password: String(repeating: "x", count: 21)).isValid)
    #expect(!ICECredentials(ufrag: "ab:d", password: String(repeating: "x", count: 22)).isValid)
  }

  @Test func credentialsNeverPrintThePassword() {
    let c = ICECredentials(ufrag: "KDyD", password: "smTIKg0CrCALj6qGKfGvXZS9")
    #expect(!"\(c)".contains(c.password))
    #expect(!String(reflecting: c).contains(c.password))
    var dumped = ""
    dump(c, to: &dumped)
    #expect(!dumped.contains(c.password))
    #expect("\(c)".contains("KDyD"))
  }
}
