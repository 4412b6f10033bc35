import Foundation
import Report
import STUN
import Sessions
import Testing
import Traversal

/// `ConnectProgress` rebuilds candidates, pairs (state, RTT, check counts, nominated and
/// selected flags, failure reason), agent state, phase and the local description from events.
@Suite struct ConnectProgressTests {
  /// `a.b.c.d:port` from four octets.
  static func address(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ port: UInt16)
    -> TransportAddress
  {
    TransportAddress(ip: .v4(a << 24 | b << 16 | c << 8 | d), port: port)
  }

  static let localHost = Candidate(
    foundation: "1", priority: 2_130_706_431, address: address(192, 168, 1, 10, 5000),
    type: .host, base: address(192, 168, 1, 10, 5000))
  static let remoteHost = Candidate(
    foundation: "1", priority: 2_130_706_431, address: address(192, 168, 2, 10, 6000),
    type: .host)
  static let remoteSrflx = Candidate(
    foundation: "2", priority: 1_694_498_815, address: address(198, 51, 100, 2, 6000),
    type: .srflx, relatedAddress: address(192, 168, 2, 10, 6000))

  /// A pair summary as the agent's events carry it (built through its Codable form).
  static func summary(
    _ id: Int, _ local: Candidate, _ remote: Candidate, priority: UInt64,
    state: CandidatePairState = .frozen
  ) throws -> ICEPairSummary {
    let object: [String: Any] = [
      "id": id, "priority": priority, "state": state.rawValue,
      "local": try JSONSerialization.jsonObject(with: JSONEncoder().encode(local)),
      "remote": try JSONSerialization.jsonObject(with: JSONEncoder().encode(remote)),
    ]
    return try JSONDecoder().decode(
      ICEPairSummary.self, from: JSONSerialization.data(withJSONObject: object))
  }

  static func entry(_ ms: Int64, _ event: ConnectEvent) -> ConnectLogEntry {
    ConnectLogEntry(at: Instant(nanoseconds: ms * 1_000_000), event: event)
  }

  static func ice(_ ms: Int64, _ event: ICEEvent) -> ConnectLogEntry { entry(ms, .ice(event)) }

  @Test func pairsFollowTheirEvents() throws {
    let a = Self.localHost
    let p1 = try Self.summary(1, a, Self.remoteHost, priority: 9)
    let p2 = try Self.summary(2, a, Self.remoteSrflx, priority: 7)
    var p = ConnectProgress()
    let events: [ConnectLogEntry] = [
      Self.entry(0, .phaseChanged(.gathering)),
      Self.ice(1, .candidateGathered(a)),
      Self.ice(400, .remoteCandidateAdded(Self.remoteHost)),
      Self.ice(400, .pairAdded(p2, inCheckList: true)),
      Self.ice(400, .pairAdded(p1, inCheckList: true)),
      Self.entry(400, .remoteDescriptionSet(candidates: 2, usable: 2)),
      Self.ice(400, .agentStateChanged(from: .new, to: .checking, reason: nil)),
      Self.ice(
        401,
        .pairStateChanged(
          pairID: 1, from: .frozen, to: .inProgress, reason: .checkSent(triggered: false))),
      Self.ice(
        401,
        .checkSent(
          pairID: 1, from: a.address, to: Self.remoteHost.address, attempt: 1, useCandidate: false,
          triggered: false)),
      // A retransmission is not a new check.
      Self.ice(
        501,
        .checkSent(
          pairID: 1, from: a.address, to: Self.remoteHost.address, attempt: 2, useCandidate: false,
          triggered: false)),
      Self.ice(
        402,
        .pairStateChanged(
          pairID: 2, from: .frozen, to: .inProgress, reason: .checkSent(triggered: false))),
      Self.ice(
        402,
        .checkSent(
          pairID: 2, from: a.address, to: Self.remoteSrflx.address, attempt: 1, useCandidate: false,
          triggered: false)),
      Self.ice(
        432,
        .pairStateChanged(
          pairID: 2, from: .inProgress, to: .succeeded, reason: .succeeded, rttMs: 30.4)),
      Self.ice(432, .pairValid(pairID: 2)),
      Self.ice(432, .agentStateChanged(from: .checking, to: .connected, reason: nil)),
      Self.ice(
        440,
        .pairStateChanged(
          pairID: 1, from: .inProgress, to: .failed,
          reason: .errorCode(code: 401, reason: "Unauthorized"))),
      Self.ice(450, .pairNominated(pairID: 2)),
      Self.ice(
        450,
        .selectedPairChanged(
          try Self.summary(2, a, Self.remoteSrflx, priority: 7, state: .succeeded))),
      Self.ice(450, .agentStateChanged(from: .connected, to: .completed, reason: nil)),
    ]
    for e in events { p.apply(e) }
    #expect(p.phase == .gathering)
    #expect(p.agentState == .completed)
    #expect(p.localCandidates == [a])
    #expect(p.remoteCandidates == [Self.remoteHost])
    // Highest priority first, whatever the order they were added in.
    #expect(p.pairs.map(\.id) == [1, 2])
    let one = p.pairs[0]
    #expect(one.state == .failed)
    #expect(one.checksSent == 1 && one.checksAnswered == 1)
    #expect(one.failureReason == .errorCode(code: 401, reason: "Unauthorized"))
    #expect(one.rttMs == nil && !one.nominated && !one.selected)
    let two = p.pairs[1]
    #expect(two.state == .succeeded && two.failureReason == nil)
    #expect(two.rttMs == 30.4)
    #expect(two.checksSent == 1 && two.checksAnswered == 1)
    #expect(two.nominated && two.selected)
    #expect(p.selectedPairID == 2)
    #expect(p.remoteSetAt == Instant(nanoseconds: 400_000_000))
  }

  @Test func timeoutIsNoAnswerAndPruneRemoves() throws {
    let a = Self.localHost
    var p = ConnectProgress()
    p.apply(
      Self.ice(
        0, .pairAdded(try Self.summary(1, a, Self.remoteHost, priority: 9), inCheckList: true)))
    p.apply(
      Self.ice(
        0, .pairAdded(try Self.summary(2, a, Self.remoteSrflx, priority: 7), inCheckList: true)))
    p.apply(Self.ice(1, .pairStateChanged(pairID: 1, from: .frozen, to: .inProgress, reason: nil)))
    p.apply(
      Self.ice(
        1,
        .checkSent(
          pairID: 1, from: a.address, to: Self.remoteHost.address, attempt: 1, useCandidate: false,
          triggered: false)))
    p.apply(
      Self.ice(
        9,
        .pairStateChanged(pairID: 1, from: .inProgress, to: .failed, reason: .timeout(attempts: 7)))
    )
    #expect(p.pairs[0].checksSent == 1 && p.pairs[0].checksAnswered == 0)
    #expect(p.pairs[0].failureReason == .timeout(attempts: 7))
    // Back to waiting (a triggered check): the failure reason goes.
    p.apply(
      Self.ice(
        10,
        .pairStateChanged(pairID: 1, from: .failed, to: .waiting, reason: .triggeredByIncomingCheck)
      ))
    #expect(p.pairs[0].failureReason == nil)
    p.apply(Self.ice(11, .pairPruned(pairID: 2, reason: .pruned("limit"))))
    #expect(p.pairs.map(\.id) == [1])
  }

  @Test func roleChangeReordersByTheNewPairPriority() throws {
    // As controlling, pair 1 (local 100, remote 300) ranks above pair 2 (local 200, remote 50);
    // as controlled, the remote priorities lead and pair 1 still wins, but with new values.
    let l1 = Candidate(
      foundation: "1", priority: 100, address: Self.address(10, 0, 0, 1, 1), type: .host)
    let l2 = Candidate(
      foundation: "2", priority: 400, address: Self.address(10, 0, 0, 2, 1), type: .host)
    let r1 = Candidate(
      foundation: "3", priority: 300, address: Self.address(10, 0, 1, 1, 1), type: .host)
    let r2 = Candidate(
      foundation: "4", priority: 50, address: Self.address(10, 0, 1, 2, 1), type: .host)
    var p = ConnectProgress()
    let c1 = ICEPriority.pair(controlling: 100, controlled: 300)
    let c2 = ICEPriority.pair(controlling: 400, controlled: 50)
    p.apply(Self.ice(0, .pairAdded(try Self.summary(1, l1, r1, priority: c1), inCheckList: true)))
    p.apply(Self.ice(0, .pairAdded(try Self.summary(2, l2, r2, priority: c2), inCheckList: true)))
    #expect(p.pairs.map(\.id) == (c1 > c2 ? [1, 2] : [2, 1]))
    // The agent's event carries the pairs' priorities for the new role; the progress takes
    // them (it does not work them out again) and orders the pairs by the agent's rule.
    let n1 = ICEPriority.pair(controlling: 300, controlled: 100)
    let n2 = ICEPriority.pair(controlling: 50, controlled: 400)
    p.apply(
      Self.ice(
        1,
        .roleChanged(
          from: .controlling, to: .controlled, reason: "487", priorities: [1: n1, 2: n2])))
    #expect(p.role == .controlled)
    #expect(p.pairs.first { $0.id == 1 }?.priority == n1)
    #expect(p.pairs.map(\.id) == (n1 > n2 ? [1, 2] : [2, 1]))
  }

  @Test func localDescriptionAndVerdictTimes() throws {
    let d = SessionDescription(
      ufrag: "abcd", password: "0123456789abcdefghijkl", role: .offer, tieBreaker: 1,
      candidates: [SignaledCandidate(Self.localHost)])
    var p = ConnectProgress()
    p.apply(Self.entry(5, .localDescriptionReady(d)))
    // In process the description keeps the password the peer needs.
    #expect(p.localDescription?.password == d.password)
    #expect(p.startedAt == Instant(nanoseconds: 5_000_000))
    // Decoded from JSON it has none: the password was never encoded.
    let json = try JSONEncoder().encode(Self.entry(5, .localDescriptionReady(d)))
    #expect(!String(decoding: json, as: UTF8.self).contains(d.password))
    var q = ConnectProgress()
    q.apply(try JSONDecoder().decode(ConnectLogEntry.self, from: json))
    #expect(q.localDescription?.password == "")
    #expect(q.localDescription?.ufrag == "abcd")
    #expect(p.checksToVerdictMs == nil)
  }

  @Test func logLinesCarryTheTimeAndNoPassword() throws {
    let d = SessionDescription(
      ufrag: "abcd", password: "0123456789abcdefghijkl", role: .offer, tieBreaker: 1,
      candidates: [SignaledCandidate(Self.localHost)])
    let e = Self.entry(420, .localDescriptionReady(d))
    #expect(e.logLine(since: .zero) == "   420.0 ms  local description ready: 1 candidate")
    #expect(e.logLine(since: .zero, width: 9).hasPrefix("    420.0 ms  "))
    #expect(!e.logLine(since: .zero).contains(d.password))
    #expect(Self.entry(0, .phaseChanged(.checking)).event.logLine == "phase: checking")
  }
}
