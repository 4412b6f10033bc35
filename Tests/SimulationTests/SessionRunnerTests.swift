import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// `SessionRunner` on the simulated runtime: two `ConnectSession`s that the test reaches only
/// through their runners (events drained, commands sent), as the console and the CLI do.
@Suite struct SessionRunnerTests {
  typealias Runner = SessionRunner<ConnectLogEntry, ConnectSessionCommand>

  /// Keeps the sessions so the test can compare the runner's events with their own logs.
  final class Made {
    var session: ConnectSession?
  }

  static func runner(
    _ host: SimulatedHost, _ role: SignalingRole, stun: TransportAddress, seed: UInt64,
    made: Made
  ) -> Runner {
    .connect(hop: inlineHop) {
      let s = ConnectSession(
        runtime: host,
        configuration: ConnectSessionConfiguration(role: role, stunServers: [stun]),
        generator: SeededGenerator(seed: seed))
      made.session = s
      return s
    }
  }

  @Test func eventsInOrderAndCommandsDelivered() throws {
    let lab = try SimulatedLab(seed: 11)
    let a = try lab.addSite("a", behavior: .portRestrictedCone)
    let b = try lab.addSite("b", behavior: .portRestrictedCone)
    let madeA = Made()
    let madeB = Made()
    let offer = Self.runner(a, .offer, stun: lab.stunServerAddress, seed: 1, made: madeA)
    let answer = Self.runner(b, .answer, stun: lab.stunServerAddress, seed: 2, made: madeB)
    // Nothing runs before start.
    #expect(offer.drain().isEmpty)
    #expect(madeA.session == nil)
    try offer.start()
    try answer.start()
    var seenA: [ConnectLogEntry] = []
    var seenB: [ConnectLogEntry] = []
    var progressA = ConnectProgress()
    var progressB = ConnectProgress()
    var offerSent = false
    var answerSent = false
    for _ in 0..<3000 where !(offer.isFinished && answer.isFinished) {
      lab.network.run(for: .milliseconds(10))
      for e in offer.drain() {
        seenA.append(e)
        progressA.apply(e)
      }
      for e in answer.drain() {
        seenB.append(e)
        progressB.apply(e)
      }
      // The descriptions come from the events (with the password the peer needs).
      if !offerSent, let d = progressA.localDescription {
        try answer.send(.setRemoteDescription(d))
        offerSent = true
      }
      if offerSent, !answerSent, let d = progressB.localDescription {
        try offer.send(.setRemoteDescription(d))
        answerSent = true
      }
    }
    #expect(offer.isFinished && answer.isFinished)
    let sessionA = try #require(madeA.session)
    let sessionB = try #require(madeB.session)
    // Every event, once, in the session's own order.
    #expect(seenA == sessionA.log)
    #expect(seenB == sessionB.log)
    #expect(seenA.first?.event == .phaseChanged(.gathering))
    #expect(seenA.last?.event == .phaseChanged(.closed))
    // The commands arrived: each side set the other's description and connected.
    #expect(sessionA.remoteDescription?.ufrag == progressB.localDescription?.ufrag)
    #expect(sessionB.remoteDescription?.ufrag == progressA.localDescription?.ufrag)
    let report = try #require(progressA.report)
    #expect(report == sessionA.report)
    #expect(report.state == .connected)
    #expect(progressA.phase == .closed)
    // The reducer's selected pair is the report's, and its counts agree with the report's.
    let selected = try #require(progressA.pairs.first { $0.selected })
    #expect(progressA.pairs.filter(\.selected).count == 1)
    #expect(selected.nominated)
    #expect(selected.local.address.description.hasPrefix(report.selectedPair?.local.address ?? "?"))
    #expect(progressA.pairs.contains { $0.rttMs != nil && $0.checksAnswered > 0 })
    for p in progressA.pairs {
      #expect(p.checksAnswered <= p.checksSent)
    }
    // A valid pair learnt from an answer shows its generator's checks (producedBy), so only
    // the check-list pairs' checks are distinct ones.
    #expect(
      progressA.pairs.filter { $0.producedBy == nil }.reduce(0) { $0 + $1.checksSent }
        <= report.pairs.reduce(0) { $0 + $1.requests })
    #expect(progressA.checksToVerdictMs == sessionA.checksToVerdictMs)
  }

  @Test func closeCommandFinishesAndLaterEventsOfAnOldRunAreDropped() throws {
    let lab = try SimulatedLab(seed: 3)
    let a = try lab.addSite("a", behavior: .portRestrictedCone)
    let made = Made()
    let runner = Self.runner(a, .offer, stun: lab.stunServerAddress, seed: 1, made: made)
    try runner.start()
    lab.network.run(for: .milliseconds(50))
    #expect(!runner.drain().isEmpty)
    #expect(!runner.isFinished)
    try runner.send(.close)
    lab.network.run(for: .seconds(7))
    #expect(runner.isFinished)
    #expect(runner.drain().last?.event == .phaseChanged(.closed))
    #expect(runner.waitUntilFinished(timeout: .milliseconds(1)))
    // A new start is a new session: the old one's events are gone and it is not finished.
    let first = try #require(made.session)
    try runner.start()
    #expect(made.session !== first)
    #expect(!runner.isFinished)
    #expect(runner.drain().first?.event == .phaseChanged(.gathering))
  }

  @Test func pumpRunsBeforeDrainAndWait() throws {
    var pumped = 0
    var emitNext: ((Int) -> Void)?
    var done: (() -> Void)?
    let runner = SessionRunner<Int, String>(
      hop: inlineHop,
      pump: {
        pumped += 1
        emitNext?(pumped)
        if pumped == 5 { done?() }
      },
      start: { emit, finished in
        emitNext = emit
        done = finished
        return { command in emit(command.count) }
      })
    try runner.start()
    #expect(runner.drain() == [1])
    try runner.send("four")
    #expect(runner.drain() == [4, 2])
    #expect(runner.waitUntilFinished(timeout: .seconds(5)))
    #expect(pumped == 5)
    #expect(runner.drain() == [3, 4, 5, 6])
  }
}
