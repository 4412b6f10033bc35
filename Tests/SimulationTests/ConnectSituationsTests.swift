import Foundation
import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import TestSupport
import Testing
import Traversal

/// The situation matrix of `connect` on the simulator: two sessions (or one) in the situations
/// users meet, each row asserting which findings the report must and must not make, that no
/// claim rests on what a finding marks as not measured, and that the report's old false
/// sentences (issue 18) are gone. Every report also goes through its JSON encoding.
@Suite struct ConnectSituationsTests {
  /// How the two sides meet in one row.
  struct Setup {
    var a = "port-restricted-cone"
    var b = "port-restricted-cone"
    var loss = 0.0
    /// The offer reaches the answerer after this long; nil: never.
    var offerDelay: Duration? = .milliseconds(50)
    /// The answer reaches the offerer after this long once ready; nil: never.
    var answerDelay: Duration? = .milliseconds(50)
    /// Whether the answerer is told the offerer holds its answer (what the CLI did for a FIFO
    /// before issue 18 #6; it now never does).
    var answererAssumesDelivered = false
    /// The offerer quits as soon as its offer is out.
    var offererQuits = false
    /// The answerer quits as soon as its answer is out.
    var answererQuits = false
    var offerWait: Duration = .seconds(300)
    var answerWait: Duration = .seconds(300)
    var duration: Duration = .seconds(30)
  }

  struct Run {
    var offer: ConnectSession
    var answer: ConnectSession
  }

  static func run(_ s: Setup, seed: UInt64 = 11) throws -> Run {
    let lab = try SimulatedLab(seed: seed)
    let hostA = try lab.addSite("a", behavior: NATBehavior.preset(named: s.a), loss: s.loss)
    let hostB = try lab.addSite("b", behavior: NATBehavior.preset(named: s.b), loss: s.loss)
    let offer = ConnectSession(
      runtime: hostA,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress], peerWaitTimeout: s.offerWait),
      generator: SeededGenerator(seed: seed &* 2 &+ 1))
    let answer = ConnectSession(
      runtime: hostB,
      configuration: ConnectSessionConfiguration(
        role: .answer, stunServers: [lab.stunServerAddress], peerWaitTimeout: s.answerWait),
      generator: SeededGenerator(seed: seed &* 2 &+ 2))
    offer.onEvent = { entry in
      guard case .localDescriptionReady(let d) = entry.event else { return }
      if s.offererQuits { hostA.schedule(at: hostA.now) { offer.close() } }
      guard let delay = s.offerDelay else { return }
      let token = d.token
      hostB.schedule(at: hostB.now + delay) {
        guard let peer = try? SessionDescription(token: token, expecting: .offer) else { return }
        answer.onEvent = { entry in
          guard case .localDescriptionReady(let mine) = entry.event else { return }
          let back = mine.token
          hostB.schedule(at: hostB.now) {
            if s.answererQuits {
              answer.close()
            } else {
              answer.setRemoteDescription(peer, peerHoldsOurs: s.answererAssumesDelivered)
            }
          }
          guard let late = s.answerDelay else { return }
          hostA.schedule(at: hostA.now + late) {
            guard let d = try? SessionDescription(token: back, expecting: .answer) else { return }
            offer.setRemoteDescription(d)
          }
        }
        answer.start()
      }
    }
    offer.start()
    lab.network.run(for: s.duration)
    return Run(offer: offer, answer: answer)
  }

  /// What is wrong with `report` for `situation`: the findings' problems, a sentence the
  /// situation forbids, and a JSON document that does not round-trip its findings.
  static func problems(
    _ situation: Situation, _ report: ConnectReport?, mustNotSay: [String] = []
  ) throws -> [String] {
    guard let report else { return ["\(situation.name): no report"] }
    var out = situation.check(report.findings)
    let text = report.text
    for phrase in mustNotSay where text.contains(phrase) {
      out.append("\(situation.name): says \"\(phrase)\":\n\(text)")
    }
    // Every string field is a finding's text.
    let texts = Set(report.findings.map(\.text))
    for kind in ConnectReport.PathKind.allCases {
      let reason = report.paths[kind].reason
      if !texts.contains(where: { reason.hasPrefix($0) }) {
        out.append("\(situation.name): paths.\(kind).reason is no finding's text: \(reason)")
      }
      if !texts.contains(report.prediction[kind].reason) {
        out.append("\(situation.name): prediction.\(kind) is no finding's text")
      }
    }
    if let reason = report.reason, !texts.contains(where: { reason.hasPrefix($0) }) {
      out.append("\(situation.name): reason is no finding's text: \(reason)")
    }
    let data = try JSONEncoder().encode(report)
    let back = try JSONDecoder().decode(ConnectReport.self, from: data)
    if back.findings.map(\.text) != report.findings.map(\.text) {
      out.append("\(situation.name): the findings do not survive JSON")
    }
    return out
  }

  /// #3: no answer is ever pasted into the offerer.
  @Test func noAnswerPasted() throws {
    let run = try Self.run(
      Setup(offerDelay: nil, offerWait: .seconds(3), duration: .seconds(10)))
    let row = Situation(
      "no answer pasted (offerer)",
      mustFind: [.connectWaitExpired, .connectPathNotMeasured, .connectNoPeerDescription],
      mustNotFind: [.connectPathNotFormed, .connectPathNotChecked, .connectPathTimedOut])
    let p = try Self.problems(
      row, run.offer.report,
      mustNotSay: ["offered no host candidates", "formed but never checked"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    #expect(run.offer.report?.state == .failed)
  }

  /// #6: the answer reaches the offerer 40 s late; the answerer, which holds the offer, waits
  /// for the offerer's first check (not 15 s of checks), and both connect.
  @Test func answerDeliveredLate() throws {
    let run = try Self.run(Setup(answerDelay: .seconds(40), duration: .seconds(70)))
    let answerRow = Situation(
      "answer delivered 40 s late (answerer)",
      mustFind: [.connectConnected, .connectWaitEnded],
      mustNotFind: [.connectPathTimedOut, .connectPeerSilent, .connectWaitUnanswered])
    let offerRow = Situation(
      "answer delivered 40 s late (offerer)", mustFind: [.connectConnected, .connectWaitEnded],
      mustNotFind: [.connectPathTimedOut, .connectPathUnreachable])
    var p = try Self.problems(answerRow, run.answer.report, mustNotSay: ["firewall"])
    p += try Self.problems(offerRow, run.offer.report, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
  }

  /// #6: an answerer that takes its answer as delivered (as the CLI did for a FIFO) while the
  /// offerer never gets it: no check ever came, so the report blames no firewall.
  @Test func answerNeverArrivesThoughTakenAsDelivered() throws {
    let run = try Self.run(
      Setup(answerDelay: nil, answererAssumesDelivered: true, duration: .seconds(40)))
    let row = Situation(
      "answer taken as delivered, never arrived (answerer)",
      mustFind: [.connectPeerSilent],
      mustNotFind: [.connectPathTimedOut, .connectConnected, .connectNoPathWorked])
    let p = try Self.problems(row, run.answer.report, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
  }

  /// A symmetric NAT against a port-restricted cone, no TURN: every pair fails and both
  /// measured profiles rule out every path, so the answerer does not wait out its 5 minutes
  /// for a check that could not arrive; it says why, and blames no firewall.
  @Test func noPathPossibleEndsTheAnswerersWait() throws {
    let run = try Self.run(
      Setup(a: "symmetric", b: "port-restricted-cone", duration: .seconds(40)))
    let row = Situation(
      "no path possible (answerer)",
      mustFind: [.connectNoPathPossible],
      mustNotFind: [
        .connectWaitExpired, .connectPeerSilent, .connectConnected, .connectWaitEnded,
      ])
    let p = try Self.problems(row, run.answer.report, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    #expect(run.answer.report?.state == .failed)
    for kind in ConnectReport.PathKind.allCases {
      #expect(run.answer.report?.prediction[kind].outcome == .fails)
    }
  }

  /// The answerer waits for a check that never comes, within its limit: it says what it
  /// waited for, and no firewall.
  @Test func answerNeverArrives() throws {
    let run = try Self.run(
      Setup(answerDelay: nil, answerWait: .seconds(5), duration: .seconds(20)))
    let row = Situation(
      "answer never arrived (answerer)",
      mustFind: [.connectWaitExpired, .connectWaitUnanswered],
      mustNotFind: [.connectPathTimedOut, .connectConnected, .connectWaitEnded])
    let p = try Self.problems(row, run.answer.report, mustNotSay: ["firewall"])
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
  }

  /// Loss on both uplinks: the hosts still connect, and the report's claims are consistent.
  @Test(arguments: [0.1, 0.3])
  func loss(_ loss: Double) throws {
    let run = try Self.run(Setup(loss: loss, duration: .seconds(40)), seed: 5)
    for (role, report) in [("offerer", run.offer.report), ("answerer", run.answer.report)] {
      let connected = report?.state == .connected
      let row = Situation(
        "\(Int(loss * 100)) % loss (\(role))",
        mustFind: connected ? [.connectConnected, .connectPathWorked] : [],
        mustNotFind: connected ? [.connectNoPathWorked, .connectWaitExpired] : [])
      let p = try Self.problems(row, report)
      #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    }
  }

  /// #7: the check list (``ConnectProgress``, from the events) and the report agree on the
  /// selected pair, its kinds, and that its checks were answered — also when the selected
  /// pair is a valid pair learnt from a check, which has no checks of its own.
  @Test(arguments: [
    ("port-restricted-cone", "port-restricted-cone"), ("full-cone", "symmetric"),
    ("symmetric", "restricted-cone"),
  ])
  func checkListAndReportAgreeOnTheSelectedPair(_ a: String, _ b: String) throws {
    let run = try Self.run(Setup(a: a, b: b, duration: .seconds(20)))
    for session in [run.offer, run.answer] {
      var progress = ConnectProgress()
      for entry in session.log { progress.apply(entry) }
      let report = try #require(session.report)
      guard let s = report.selectedPair else { continue }
      let shown = try #require(progress.pairs.first { $0.selected })
      #expect(shown.local.type.rawValue == s.local.type.rawValue)
      #expect(shown.remote.type.rawValue == s.remote.type.rawValue)
      #expect(shown.local.address.port == s.local.port)
      #expect(shown.remote.address.port == s.remote.port)
      // Checks that were answered made it selected: never 0/0.
      #expect(
        shown.checksSent > 0 && shown.checksAnswered > 0,
        "\(a)/\(b): the check list shows the selected pair \(shown.checksAnswered)/\(shown.checksSent)"
      )
      if let rtt = s.rttMs { #expect(shown.rttMs != nil, "rtt \(rtt) in the report, none listed") }
    }
  }

  /// The two-host demo's report is derived the same way: its findings hold no contradiction
  /// and every one is worded.
  @Test(arguments: ["port-restricted-cone", "symmetric"])
  func twoHostDemo(_ b: String) throws {
    let demo = try TwoHostDemo(
      TwoHostDemoConfiguration(
        a: try SitePreset.parse("port-restricted-cone").get(), b: try SitePreset.parse(b).get(),
        turn: true, seed: 3))
    let result = demo.runToEnd()
    let row = Situation(
      "demo two-host port-restricted-cone/\(b)", mustFind: [.connectConnected],
      mustNotFind: [.connectWaitUnanswered, .connectPathNotMeasured])
    let p = try Self.problems(row, result.connect)
    #expect(p.isEmpty, Comment(rawValue: p.joined(separator: "\n")))
    // The prediction is worded by the report module, naming the hosts A and B.
    #expect(!result.prediction.reason.contains("This host"))
    #expect(!result.prediction.reason.contains("NATs picks"))
  }
}
