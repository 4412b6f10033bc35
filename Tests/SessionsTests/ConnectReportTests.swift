import Foundation
import Report
import STUN
import Sessions
import TestSupport
import Testing
import Traversal

@Suite struct ConnectReportTests {
  typealias F = SignalingFixtures
  typealias E = ConnectReport.Endpoint
  typealias Pair = ConnectReport.PairOutcome

  static let peer = SessionDescription(
    ufrag: "peer", password: "PeerSecretPassword12345", role: .answer, tieBreaker: 7,
    candidates: [
      .init(
        foundation: "1", priority: 2_130_706_431, address: F.v4("10.0.0.8"), port: 40000,
        kind: .host),
      .init(
        foundation: "2", priority: 1_694_498_815, address: F.v4("198.51.100.2"), port: 50000,
        kind: .srflx, relatedAddress: F.v4("10.0.0.8"), relatedPort: 40000),
    ],
    natProfile: .symmetric)

  static let hostPairs = [
    Pair(
      local: E(type: .host, address: "192.168.1.23", port: 50000),
      remote: E(type: .host, address: "10.0.0.8", port: 40000), succeeded: false,
      failure: .timeout, requests: 7),
    Pair(
      local: E(type: .host, address: "10.8.0.5", port: 50001),
      remote: E(type: .host, address: "10.0.0.8", port: 40000), succeeded: false,
      failure: .timeout, requests: 7),
    Pair(
      local: E(type: .host, address: "172.17.0.1", port: 50002),
      remote: E(type: .host, address: "10.0.0.8", port: 40000), succeeded: false,
      failure: .timeout, requests: 6),
  ]
  static let srflxPair = Pair(
    local: E(type: .srflx, address: "203.0.113.7", port: 61665),
    remote: E(type: .srflx, address: "198.51.100.2", port: 50000), succeeded: false,
    failure: .timeout, requests: 7)
  static let relayPair = Pair(
    local: E(type: .relay, address: "198.51.100.20", port: 49170),
    remote: E(type: .srflx, address: "198.51.100.2", port: 50000), succeeded: true,
    requests: 2, rttMs: 48.4)

  /// Port-restricted cone with TURN here, symmetric peer: only the relay works.
  /// No reflexive candidate on either side: the reason says why from what the probes saw, not
  /// "no STUN server answered" when one did (and showed no NAT).
  @Test(arguments: [
    (
      NATProfile?.some(.openInternet), NATProfile?.some(.openInternet),
      "saw both hosts at its own address (no NAT)"
    ),
    (
      NATProfile?.some(.openInternet), NATProfile?.none, "saw this host at its own address (no NAT)"
    ),
    (NATProfile?.none, NATProfile?.none, "no STUN server was given with --stun, or none answered"),
  ])
  func reflexiveReasonWithoutReflexiveCandidates(
    _ mine: NATProfile?, _ theirs: NATProfile?, _ words: String
  ) {
    let host = SignaledCandidate(
      foundation: "1", priority: 2_130_706_431, address: .ip(.loopbackV4), port: 5000, kind: .host)
    let peerHost = SignaledCandidate(
      foundation: "2", priority: 2_130_706_431, address: .ip(.loopbackV4), port: 6000, kind: .host)
    let b = ConnectReportBuilder(
      local: .init(profile: mine, candidates: [host]),
      remote: .init(profile: theirs, candidates: [peerHost]))
    let r = b.build()
    #expect(r.paths.reflexive.reason.contains(words), Comment(rawValue: r.paths.reflexive.reason))
    #expect(!r.paths.reflexive.reason.contains("no STUN server answered)"))
  }

  static func relayedReport() -> ConnectReport {
    var b = ConnectReportBuilder(local: .init(F.typical, turn: [.udp]), remote: .init(peer))
    b.pairs = hostPairs + [srflxPair, relayPair]
    b.selectedPair = .init(local: relayPair.local, remote: relayPair.remote, rttMs: 48.4)
    b.timings = .init(gatheringMs: 120, firstCheckMs: 131.2, connectedMs: 412.6)
    return b.build()
  }

  @Test func pathsFromPairOutcomes() {
    let r = Self.relayedReport()
    #expect(r.state == .connected)
    #expect(r.timeToConnectedMs == 412.6)
    #expect(r.paths.direct.attempted && !r.paths.direct.succeeded)
    #expect(
      r.paths.direct.reason
        == "All 3 host↔host pairs timed out after 7 requests, no ICMP error: the hosts share no subnet, so probably different networks."
    )
    #expect(r.paths.reflexive.attempted && !r.paths.reflexive.succeeded)
    #expect(
      r.paths.reflexive.reason
        == "Checks to 198.51.100.2:50000 got no answer: your NAT filters by address and port and the peer's changes ports (symmetric)."
    )
    #expect(r.paths.relay.succeeded)
    #expect(r.paths.relay.rttMs == 48.4)
    #expect(
      r.paths.relay.reason
        == "Worked: 198.51.100.20:49170 ↔ 198.51.100.2:50000 answered in 48 ms; selected.")
  }

  /// When several pairs of one path work, the path names the selected one (not merely the
  /// fastest), with its own RTT.
  @Test func aPathNamesItsSelectedPair() {
    var faster = Self.relayPair
    faster.local.port = 49171
    faster.rttMs = 20
    var b = ConnectReportBuilder(local: .init(F.typical, turn: [.udp]), remote: .init(Self.peer))
    b.pairs = [Self.relayPair, faster]
    b.selectedPair = .init(local: Self.relayPair.local, remote: Self.relayPair.remote, rttMs: 48.4)
    let r = b.build()
    #expect(
      r.paths.relay.reason
        == "Worked: 198.51.100.20:49170 ↔ 198.51.100.2:50000 answered in 48 ms; selected."
    )
    #expect(r.paths.relay.rttMs == 48.4)
    // Without a selection the fastest is named.
    b.selectedPair = nil
    #expect(
      b.build().paths.relay.reason
        == "Worked: 198.51.100.20:49171 ↔ 198.51.100.2:50000 answered in 20 ms.")
  }

  @Test func natReasonsUseBothProfiles() {
    typealias B = ConnectReportBuilder
    let symmetricHere = B.Side(profile: .symmetric, candidates: [])
    let prcPeer = B.Side(profile: .portRestrictedCone, candidates: [])
    let pairs = [Self.srflxPair]
    let p = B.paths(pairs, local: symmetricHere, remote: prcPeer, selected: nil)
    #expect(
      p.reflexive.reason
        == "Checks to 198.51.100.2:50000 got no answer: the peer's NAT filters by address and port and yours changes ports (symmetric)."
    )
    let q = B.paths(pairs, local: prcPeer, remote: symmetricHere, selected: nil)
    #expect(
      q.reflexive.reason.hasSuffix(
        "your NAT filters by address and port and the peer's changes ports (symmetric)."))
    let both = B.paths(pairs, local: symmetricHere, remote: symmetricHere, selected: nil)
    #expect(both.reflexive.reason.contains("both NATs change ports"))
    let unknown = B.paths(
      pairs, local: .init(profile: nil, candidates: []), remote: prcPeer, selected: nil)
    #expect(unknown.reflexive.reason.contains("does not know"))
  }

  @Test func noRelayConfigured() {
    let here = ConnectReportBuilder.Side(
      profile: .portRestrictedCone, candidates: F.typical.candidates.filter { $0.kind != .relay })
    var b = ConnectReportBuilder(local: here, remote: .init(Self.peer))
    b.pairs = Array(Self.hostPairs.prefix(1))
    let r = b.build()
    #expect(r.state == .failed)
    #expect(r.selectedPair == nil)
    #expect(r.timeToConnectedMs == nil)
    #expect(!r.paths.relay.attempted)
    #expect(r.paths.relay.reason == "No relay was configured (use --turn).")
    #expect(r.prediction.relay.outcome == .fails)
    #expect(
      r.paths.direct.reason
        == "The host↔host pair timed out after 7 requests, no ICMP error: the hosts share no subnet, so probably different networks."
    )
    #expect(!r.paths.reflexive.attempted)
    #expect(
      r.paths.reflexive.reason == "No pair through the NATs could be formed from the candidates.")
  }

  @Test func otherFailureKinds() {
    var refused = Self.srflxPair
    refused.failure = .unreachable
    let p = ConnectReportBuilder.paths(
      [refused], local: .init(profile: nil, candidates: []),
      remote: .init(profile: nil, candidates: []), selected: nil)
    #expect(
      p.reflexive.reason
        == "Checks to 198.51.100.2:50000 were refused (ICMP unreachable): nothing listens at that address."
    )
    var sameLAN = Self.hostPairs[0]
    sameLAN.remote.address = "192.168.1.40"
    let here = ConnectReportBuilder.Side(profile: nil, candidates: [F.typical.candidates[0]])
    let there = ConnectReportBuilder.Side(
      profile: nil,
      candidates: [
        .init(foundation: "1", priority: 1, address: F.v4("192.168.1.40"), port: 1, kind: .host)
      ])
    let q = ConnectReportBuilder.paths([sameLAN], local: here, remote: there, selected: nil)
    #expect(q.direct.reason.contains("although both hosts are on 192.168.1.0/24"))
    #expect(!q.direct.reason.contains("different networks"))
    #expect(q.direct.reason.contains("a firewall probably drops the checks"))
    #expect(ConnectReportBuilder.predict(local: here, remote: there).direct.outcome == .works)
  }

  @Test func aPeerThatAnsweredPortUnreachableIsNotListening() {
    var quit = Self.hostPairs[0]
    quit.failure = .unreachable
    quit.detail = "ICMP port unreachable from 192.168.1.40"
    quit.icmp = .portUnreachable
    let p = ConnectReportBuilder.paths(
      [quit], local: .init(profile: nil, candidates: []),
      remote: .init(profile: nil, candidates: []), selected: nil)
    #expect(
      p.direct.reason
        == "The peer is not listening on \(quit.remote) (ICMP port unreachable from 192.168.1.40): it may have quit, or the token is old."
    )
    var unroutable = quit
    unroutable.detail = "ICMP host unreachable from 10.0.0.1"
    unroutable.icmp = .hostUnreachable
    let h = ConnectReportBuilder.paths(
      [unroutable], local: .init(profile: nil, candidates: []),
      remote: .init(profile: nil, candidates: []), selected: nil)
    #expect(
      h.direct.reason
        == "Checks to \(quit.remote) could not be delivered (ICMP host unreachable from 10.0.0.1): that address cannot be reached from here."
    )
  }

  @Test func loopbackHostsAreNeverDifferentNetworks() {
    var pair = Self.hostPairs[0]
    pair.local.address = "127.0.0.1"
    pair.remote.address = "127.0.0.1"
    let side = ConnectReportBuilder.Side(
      profile: nil,
      candidates: [
        .init(foundation: "1", priority: 1, address: F.v4("127.0.0.1"), port: 1, kind: .host)
      ])
    let q = ConnectReportBuilder.paths([pair], local: side, remote: side, selected: nil)
    #expect(!q.direct.reason.contains("different networks"))
    #expect(ConnectReportBuilder.predict(local: side, remote: side).direct.outcome == .works)
    #expect(
      q.direct.reason.hasSuffix(
        ", no ICMP error, although both ends are on this machine (loopback): a firewall probably drops the checks."
      ))
  }

  @Test func predictions() {
    let r = Self.relayedReport()
    #expect(
      r.prediction.reflexive.outcome
        == PathPrediction.reflexive(.portRestrictedCone, .symmetric).outcome)
    #expect(r.prediction.reflexive.outcome == .fails)
    #expect(r.prediction.reflexive.reason.hasPrefix("The peer's NAT picks a new public port"))
    #expect(!r.prediction.reflexive.reason.contains("Host B"))
    #expect(r.prediction.direct.outcome == .fails)
    #expect(r.prediction.relay.outcome == .works)
    #expect(r.prediction.relay.reason.contains("this host (UDP)"))
    // mDNS-only peers: direct is unknown.
    let browser = try? SessionDescription(
      sdpLines: SignalingFixtures.browser, assumedRole: .answer)
    let mdns = ConnectReportBuilder.Side(
      profile: nil,
      candidates: (browser?.candidates ?? []).filter {
        $0.kind == .host && $0.transport == .udp && $0.address.isMDNS
      })
    #expect(
      ConnectReportBuilder.predict(local: .init(F.typical), remote: mdns).direct.outcome == .unknown
    )
    // A public peer with no NAT and no firewall.
    let open = ConnectReportBuilder.Side(
      profile: .openInternet,
      candidates: [
        .init(foundation: "1", priority: 1, address: F.v4("198.51.100.9"), port: 1, kind: .host)
      ])
    // Two public hosts with no NAT reach each other directly.
    let openToo = ConnectReportBuilder.Side(
      profile: .openInternet,
      candidates: [
        .init(foundation: "1", priority: 1, address: F.v4("203.0.113.7"), port: 1, kind: .host)
      ])
    #expect(ConnectReportBuilder.predict(local: openToo, remote: open).direct.outcome == .works)
    // A host behind a NAT reaches the public peer only through its NAT: the pair that answers
    // is host ↔ peer-reflexive, the path through the NATs, so no direct one is predicted.
    let behindNAT = ConnectReportBuilder.predict(local: .init(F.typical), remote: open).direct
    #expect(behindNAT.outcome == .fails)
    #expect(behindNAT.reason.contains("this host is behind a NAT"))
  }

  func json(_ r: ConnectReport) throws -> [String: Any] {
    let data = try JSONEncoder().encode(r)
    return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  @Test func jsonKeysAreExactlyTheDocumentedOnes() throws {
    let o = try json(Self.relayedReport())
    #expect(
      Set(o.keys)
        == [
          "schemaVersion", "state", "reason", "selectedPair", "timeToConnectedMs", "timings",
          "paths", "prediction", "local", "remote", "candidates", "pairs", "loss", "warnings",
          "findings",
        ])
    #expect((o["warnings"] as? [String]) == [])
    #expect(o["schemaVersion"] as? Int == 1)
    #expect(o["state"] as? String == "connected")
    #expect(o["reason"] is NSNull)
    let sel = try #require(o["selectedPair"] as? [String: Any])
    #expect(Set(sel.keys) == ["local", "remote", "rttMs"])
    let local = try #require(sel["local"] as? [String: Any])
    #expect(Set(local.keys) == ["type", "address", "port", "protocol"])
    #expect(local["type"] as? String == "relay")
    #expect(local["protocol"] as? String == "udp")
    let timings = try #require(o["timings"] as? [String: Any])
    #expect(
      Set(timings.keys) == [
        "gatheringMs", "firstCheckMs", "connectedMs", "checksStartedMs", "waitedForPeerMs",
        "waitedFor",
      ])
    let paths = try #require(o["paths"] as? [String: Any])
    #expect(Set(paths.keys) == ["direct", "reflexive", "relay"])
    let relay = try #require(paths["relay"] as? [String: Any])
    #expect(Set(relay.keys) == ["attempted", "succeeded", "reason", "rttMs"])
    let direct = try #require(paths["direct"] as? [String: Any])
    #expect(Set(direct.keys) == ["attempted", "succeeded", "reason"])
    let prediction = try #require(o["prediction"] as? [String: Any])
    #expect(Set(prediction.keys) == ["direct", "reflexive", "relay"])
    #expect((prediction["reflexive"] as? [String: Any])?["outcome"] as? String == "fails")
    let host = try #require(o["local"] as? [String: Any])
    #expect(Set(host.keys) == ["profile", "legacyType", "turn", "relays"])
    let candidates = try #require(o["candidates"] as? [String: Any])
    #expect(Set(candidates.keys) == ["local", "remote"])
    let entries = try #require(candidates["local"] as? [[String: Any]])
    #expect(
      Set(entries[0].keys)
        == ["type", "address", "port", "protocol", "priority", "usable", "reason"])
    let pairs = try #require(o["pairs"] as? [[String: Any]])
    #expect(pairs.count == 5)
    #expect(
      Set(pairs[0].keys)
        == ["local", "remote", "checked", "succeeded", "failure", "detail", "requests", "rttMs"])
    // Failed: nulls are explicit.
    var b = ConnectReportBuilder(local: .init(Self.peer), remote: .init(Self.peer))
    b.pairs = []
    let failed = try json(b.build())
    #expect(failed["selectedPair"] is NSNull)
    #expect(failed["timeToConnectedMs"] is NSNull)
    #expect(failed["state"] as? String == "failed")
    #expect(
      failed["reason"] as? String
        == "No pair could be formed from the candidates.")
  }

  /// Pairs that worked without a selection mean nomination never happened: the report says
  /// who should have nominated instead of "no path worked".
  @Test func workingPairsWithoutNominationAreExplained() {
    var won = Self.relayPair
    won.succeeded = true
    var b = ConnectReportBuilder(local: .init(F.typical, turn: [.udp]), remote: .init(Self.peer))
    b.pairs = [Self.srflxPair, won]
    b.role = .controlled
    let r = b.build()
    #expect(r.state == .failed)
    #expect(r.paths.relay.succeeded)
    #expect(
      r.reason?.hasPrefix(
        "Checks worked, but the peer (the controlling side) never nominated a pair") == true)
    #expect(r.text.hasPrefix("Not connected. Checks worked, but the peer"))
    b.role = .controlling
    #expect(b.build().reason?.contains("no nominating check was answered") == true)
    b.pairs = [Self.srflxPair]
    #expect(b.build().reason == "No path worked (1 pair checked).")
  }

  @Test func jsonRoundTripsAndNeverContainsThePassword() throws {
    let r = Self.relayedReport()
    let data = try JSONEncoder().encode(r)
    let text = String(decoding: data, as: UTF8.self)
    #expect(!text.contains(F.password))
    #expect(!text.contains(Self.peer.password))
    #expect(!r.text.contains(F.password))
    var decoded = try JSONDecoder().decode(ConnectReport.self, from: data)
    // A finding's typed values come back as JSON can tell them (3.0 ms as an integer, an
    // address string as an address): its code, subject and sentence stay.
    #expect(decoded.findings.map(\.code) == r.findings.map(\.code))
    #expect(decoded.findings.map(\.subject) == r.findings.map(\.subject))
    #expect(decoded.findings.map(\.text) == r.findings.map(\.text))
    decoded.findings = r.findings
    #expect(decoded == r)
  }

  @Test func textRendering() {
    let text = Self.relayedReport().text
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines[0] == "Connected in 413 ms, through a TURN relay (relay ↔ srflx).")
    #expect(lines[1] == "NATs: this host Port Restricted Cone, peer Symmetric.")
    #expect(lines.contains("Paths"))
    #expect(
      lines.contains(
        "  ✗ direct     All 3 host↔host pairs timed out after 7 requests, no ICMP error:"))
    #expect(
      lines.contains("               the hosts share no subnet, so probably different networks."))
    #expect(
      lines.contains { $0.hasPrefix("  ✗ reflexive  Checks to 198.51.100.2:50000 got no answer:") })
    // "48 ms" is never split over two lines.
    #expect(
      lines.contains("  ✓ relay      Worked: 198.51.100.20:49170 ↔ 198.51.100.2:50000 answered in"))
    #expect(lines.contains("               48 ms; selected."))
    #expect(lines.contains("  local   relay  198.51.100.20:49170 udp"))
    #expect(lines.contains("  remote  srflx  198.51.100.2:50000 udp"))
    #expect(lines.contains("  rtt     48 ms"))
    #expect(lines.contains("  gathering 120 ms, first check 131 ms, connected 413 ms"))
    for l in lines { #expect(l.count <= 80, "\(l)") }
    // Order: outcome, paths, selected pair, timings.
    let order = ["Paths", "Selected pair", "Timings"].compactMap { lines.firstIndex(of: $0) }
    #expect(order == order.sorted() && order.count == 3)

    var b = ConnectReportBuilder(local: .init(Self.peer), remote: .init(Self.peer))
    b.pairs = Array(Self.hostPairs.prefix(1))
    let failed = b.build().text
    #expect(failed.hasPrefix("Not connected. No path worked (1 pair checked).\n"))
    #expect(failed.contains("  – relay      No relay was configured (use --turn)."))
    #expect(!failed.contains("Selected pair"))
  }

  @Test func textListsCandidatesThatCouldNotBeChecked() throws {
    let browser = try SessionDescription(sdpLines: SignalingFixtures.browser, assumedRole: .answer)
    var b = ConnectReportBuilder(local: .init(F.typical), remote: .init(browser))
    b.pairs = [Self.srflxPair]
    let r = b.build()
    #expect(r.candidates.remote.filter { !$0.usable }.count == 2)
    let text = r.text
    #expect(text.contains("Candidates not checked\n  remote  Candidate f3b0c7a2"))
    #expect(text.contains("  remote  TCP candidate 192.168.1.23 port 9 is not supported"))
    #expect(text.hasPrefix("Not connected. No path worked (1 pair checked).\n"))
  }

  @Test func milliseconds() {
    #expect(ConnectReportText.ms(3.46) == "3.5 ms")
    #expect(ConnectReportText.ms(412.6) == "413 ms")
    #expect(ConnectReportText.ms(.nan) == "? ms")
  }
}
