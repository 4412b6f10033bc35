import Foundation
import Report
import Scenarios
import Sessions
import Simulation
import TestSupport
import Testing
import Traversal

/// The path MTU search after ICE (issue 22), between two connect sessions on the simulated
/// network, through NATs, with and without a black hole on host A's uplink.
@Suite(.timeLimit(.minutes(2)))
struct PathMTUSimulationTests {
  static func run(
    _ a: String, _ b: String, largestDatagramA: Int? = nil, turn: Bool = true
  ) throws -> ConnectReport {
    let demo = try TwoHostDemo(
      TwoHostDemoConfiguration(
        a: try TwoHostCases.preset(a), b: try TwoHostCases.preset(b), turn: turn, seed: 3,
        pathMTU: true, largestDatagramA: largestDatagramA))
    return try demo.runToEnd().connect
  }

  static let everySize = Situation(
    "a path that carries full-size datagrams", mustFind: [.connectConnected, .mtuMeasured],
    mustNotFind: [.mtuTooSmall, .mtuBaselineUnanswered, .mtuPeerDoesNotPad, .mtuUnfinished])

  @Test func aFullSizePathIsMeasuredBothWaysInOneSentence() throws {
    let r = try Self.run("port-restricted", "full-cone")
    let problems = Self.everySize.check(r.findings)
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
    let m = try #require(r.pathMTU)
    #expect(m.forward.largestAnswered == 1500)
    #expect(m.reverse?.largestAnswered == 1500)
    #expect(r.findings.with(.mtuMeasured).count == 1)
    #expect(r.findings.with(.mtuMeasured).first?.text.contains("both ways") == true)
  }

  static let blackHole = Situation(
    "host A's uplink drops datagrams above 1100 bytes", mustFind: [.mtuMeasured, .mtuTooSmall],
    mustNotFind: [.mtuBaselineUnanswered, .mtuPeerDoesNotPad, .mtuUnfinished])

  @Test func aBlackHoleIsMeasuredBothWaysAndItsConsequenceSaid() throws {
    let r = try Self.run("port-restricted", "port-restricted", largestDatagramA: 1100)
    #expect(r.state == .connected)
    let problems = Self.blackHole.check(r.findings)
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
    let m = try #require(r.pathMTU)
    #expect(m.forward.largestAnswered == 1100)
    #expect(m.forward.smallestLost == 1104)
    #expect(m.forward.icmpMTU == nil)
    #expect(m.reverse?.largestAnswered == 1100)
    #expect(m.reverse?.smallestLost == 1104)
    let text = r.findings.with(.mtuMeasured).map(\.text).joined(separator: " ")
    #expect(text.contains("no ICMP error came back"))
    #expect(r.findings.with(.mtuTooSmall).first?.text.contains("will not cross this path") == true)
  }

  @Test func aBlackHoleAtWebRTCSizeIsNotCalledTooSmall() throws {
    let r = try Self.run("port-restricted", "full-cone", largestDatagramA: 1300)
    let m = try #require(r.pathMTU)
    #expect(m.forward.largestAnswered == 1300)
    #expect(r.findings.with(.mtuTooSmall).isEmpty)
  }

  @Test func theSearchRunsThroughTheRelayToo() throws {
    let r = try Self.run("symmetric", "port-restricted")
    #expect(TwoHostCases.usesRelay(r))
    let m = try #require(r.pathMTU)
    #expect(m.forward.outcome == .measured)
    #expect(m.forward.largestAnswered == 1500)
  }
}
