import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// Every two-host demo report agrees with itself: the prediction, the paths and the selected
/// pair come from one explanation source and must not contradict one another.
enum TwoHostConsistency {
  /// The contradictions in one run's report (empty when it is consistent).
  static func contradictions(_ r: TwoHostDemoResult) -> [String] {
    var found: [String] = []
    let c = r.connect
    let text = c.text
    // The selected pair's path worked.
    if let s = c.selectedPair {
      let kind = ConnectReport.PathKind.of(s.local.type, s.remote.type)
      if !c.paths[kind].succeeded {
        found.append("selected \(s.local.type) ↔ \(s.remote.type) but \(kind) did not work")
      }
    }
    for kind in ConnectReport.PathKind.allCases {
      let p = c.paths[kind]
      let checked = c.pairs.filter { $0.kind == kind && $0.checked }
      // A path shown as failed had a pair that really failed, not only checks cut short.
      if p.attempted && !p.succeeded && !c.wasCutShort(kind)
        && !checked.contains(where: { !$0.succeeded && $0.failure != .cancelled })
      {
        found.append("\(kind) marked failed with no failed pair")
      }
      // A path that was not really tried never carries "should have worked".
      if c.wasCutShort(kind) && text.contains("✗ \(kind.rawValue)") {
        found.append("\(kind) cut short but marked ✗")
      }
    }
    // A UDP path that worked through a host proves that host's UDP gets out.
    let udpWorked = c.paths.direct.succeeded || c.paths.reflexive.succeeded
    for (label, host, legacy) in [
      ("A", r.a, c.local.legacyType), ("B", r.b, c.remote.legacyType),
    ] {
      let blocked = host.probe?.udpBlocked == true && host.probeUncertain == nil
      if udpWorked && (blocked || legacy == LegacyNATType.udpBlocked.rawValue) {
        found.append("host \(label) classified UDP Blocked next to a UDP path that worked")
      }
    }
    // The demo's prediction and the report's are one.
    if r.prediction.outcome != c.prediction.reflexive.outcome {
      found.append(
        "prediction section says \(r.prediction.outcome), report says \(c.prediction.reflexive.outcome)"
      )
    }
    // UDP blocked on a host: no UDP path is predicted to work.
    if r.a.probe?.udpBlocked == true || r.b.probe?.udpBlocked == true {
      for kind in [ConnectReport.PathKind.direct, .reflexive]
      where c.prediction[kind].outcome == .works {
        found.append("UDP blocked but \(kind) predicted to work")
      }
    }
    return found
  }

  static func run(
    _ a: String, _ b: String, seed: UInt64, loss: Double, portMapping: Bool = true
  ) throws -> TwoHostDemoResult {
    try TwoHostDemo(
      TwoHostDemoConfiguration(
        a: try TwoHostCases.preset(a), b: try TwoHostCases.preset(b), seed: seed, loss: loss,
        portMapping: portMapping)
    ).runToEnd()
  }

  /// Every ordered pair of presets (A offers, B answers).
  static var orderedPairs: [(String, String)] {
    TwoHostCases.names.flatMap { a in TwoHostCases.names.map { (a, $0) } }
  }
}

@Suite struct TwoHostDemoConsistencyTests {
  /// The whole matrix without loss: no contradiction, and no path that worked or failed
  /// against its prediction (the presets are what the probes measure).
  @Test(arguments: TwoHostConsistency.orderedPairs)
  func everyOrderedPairIsConsistentWithoutLoss(a: String, b: String) throws {
    let r = try TwoHostConsistency.run(a, b, seed: 1, loss: 0)
    let issues = TwoHostConsistency.contradictions(r)
    #expect(issues.isEmpty, Comment(rawValue: "\(a) ↔ \(b): \(issues)\n\(r.connect.text)"))
    #expect(
      !r.connect.text.contains("(Predicted:"),
      Comment(rawValue: "\(a) ↔ \(b) without loss:\n\(r.connect.text)"))
  }

  /// Several seeds with 10, 20 and 30% loss on every ordered pair: loss may change the
  /// outcome, never the consistency of the report.
  @Test(arguments: [10.0, 20.0, 30.0])
  func everyOrderedPairIsConsistentUnderLoss(percent: Double) throws {
    var issues: [String] = []
    for (a, b) in TwoHostConsistency.orderedPairs {
      for seed: UInt64 in [1, 2] {
        let r = try TwoHostConsistency.run(a, b, seed: seed, loss: percent / 100)
        let found = TwoHostConsistency.contradictions(r)
        if !found.isEmpty {
          issues.append("\(a) ↔ \(b) seed \(seed): \(found)\n\(r.connect.text)")
        }
      }
    }
    #expect(issues.isEmpty, Comment(rawValue: issues.joined(separator: "\n\n")))
  }

  /// Presets whose routers offer port mapping (one side, both sides, and behind a CGNAT), with
  /// and without TURN: no contradiction, and nothing worked or failed against its prediction.
  @Test(arguments: [
    ("symmetric+pcp", "symmetric"), ("symmetric", "symmetric+pcp"),
    ("symmetric+nat-pmp", "symmetric+pcp"), ("cgnat", "symmetric+pcp"), ("cgnat", "symmetric"),
    ("port-restricted+upnp", "symmetric"), ("eim/apdf+pcp", "port-restricted"),
  ])
  func portMappingPairsAreConsistent(a: String, b: String) throws {
    for turn in [false, true] {
      let r = try TwoHostDemo(
        TwoHostDemoConfiguration(
          a: try TwoHostCases.preset(a), b: try TwoHostCases.preset(b), turn: turn)
      ).runToEnd()
      let issues = TwoHostConsistency.contradictions(r)
      #expect(issues.isEmpty, Comment(rawValue: "\(a) ↔ \(b): \(issues)\n\(r.connect.text)"))
      #expect(
        !r.connect.text.contains("(Predicted:"),
        Comment(rawValue: "\(a) ↔ \(b) turn \(turn):\n\(r.connect.text)"))
    }
  }

  /// `--a open --b open`: the relayed pairs were cut short when the direct path connected;
  /// the relay is not blamed.
  @Test func openToOpenDoesNotBlameTheRelay() throws {
    let c = try TwoHostConsistency.run("open", "open", seed: 1, loss: 0).connect
    #expect(c.paths.direct.succeeded)
    #expect(!c.text.contains("did not pass the checks"), Comment(rawValue: c.text))
    #expect(!c.text.contains("should have worked"), Comment(rawValue: c.text))
  }

  /// `open` ↔ `symmetric`: the pair that connects is host ↔ peer-reflexive, the path through
  /// the symmetric NAT; the direct path is predicted to fail and is not marked as failing
  /// against its prediction.
  @Test(arguments: [("open", "symmetric"), ("symmetric", "open")])
  func publicHostToANATIsThePathThroughTheNAT(a: String, b: String) throws {
    let c = try TwoHostConsistency.run(a, b, seed: 1, loss: 0).connect
    let s = try #require(c.selectedPair, Comment(rawValue: c.text))
    #expect(ConnectReport.PathKind.of(s.local.type, s.remote.type) == .reflexive)
    #expect(c.paths.reflexive.succeeded)
    #expect(!c.paths.direct.succeeded)
    #expect(c.prediction.direct.outcome == .fails, Comment(rawValue: c.prediction.direct.reason))
    #expect(c.prediction.direct.reason.contains("behind a NAT"))
    #expect(!c.text.contains("should have worked"), Comment(rawValue: c.text))
  }

  /// `udp-blocked` ↔ `open`: the direct path is predicted to fail as the prediction section
  /// says, for the same reason.
  @Test func udpBlockedToOpenAgreesWithItsPrediction() throws {
    let r = try TwoHostConsistency.run("udp-blocked", "open", seed: 1, loss: 0)
    let c = r.connect
    #expect(r.prediction.outcome == .fails)
    #expect(c.prediction.direct.outcome == .fails)
    #expect(c.prediction.direct.reason.contains("UDP is blocked"))
    #expect(TwoHostConsistency.contradictions(r).isEmpty)
  }
}

/// Checks and nomination hold through heavy loss, and the report says when loss was seen.
@Suite struct TwoHostDemoLossTests {
  /// Port-restricted ↔ port-restricted with TURN at 20% loss each way on both uplinks: these
  /// seeds all connect (they failed before nomination was retried and checks on a path the
  /// peer's checks had proven were sent again). Run as they were found, without port mapping
  /// (`connect --no-port-mapping`): asking the routers moves every later random draw and the
  /// gathering's timeline, so the same seeds would be other runs.
  @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
  func portRestrictedPairConnectsAtTwentyPercentLoss(seed: UInt64) throws {
    let r = try TwoHostConsistency.run(
      "port-restricted", "port-restricted", seed: seed, loss: 0.2, portMapping: false)
    let c = r.connect
    #expect(c.state == .connected, Comment(rawValue: c.text))
    #expect(TwoHostConsistency.contradictions(r).isEmpty, Comment(rawValue: c.text))
    // Whenever the evidence shows loss, the report says so in words.
    let loss = try #require(c.loss)
    #expect(loss.checks > 0)
    if loss.seen {
      #expect(c.text.contains("Packets were lost on the way"), Comment(rawValue: c.text))
    } else {
      #expect(!c.text.contains("Packets were lost"), Comment(rawValue: c.text))
    }
  }

  /// At 40% loss the open host's probe lost every request (seeds 11 and 27), yet UDP got
  /// through later (a check answered; the TURN server's answers over UDP): the demo does not
  /// keep "UDP Blocked", says the classification is uncertain because of loss, and predicts
  /// nothing from it. (Without port mapping, as the seeds were found: see above.)
  @Test(arguments: [UInt64(11), 27])
  func aProbeThatLossAteIsUncertainNotUDPBlocked(seed: UInt64) throws {
    let r = try TwoHostConsistency.run("open", "cgnat", seed: seed, loss: 0.4, portMapping: false)
    #expect(r.a.probe?.udpBlocked == true)
    let why = try #require(r.a.probeUncertain)
    #expect(why.contains("uncertain because of loss"))
    #expect(r.connect.local.legacyType != LegacyNATType.udpBlocked.rawValue)
    #expect(!r.connect.text.contains("UDP is blocked"), Comment(rawValue: r.connect.text))
    #expect(r.prediction.outcome == .unknown)
    #expect(TwoHostConsistency.contradictions(r).isEmpty)
  }

  /// Across seeds at 30% loss some run sees lost answers, and its report says so; without
  /// loss no report claims any.
  @Test func theLossSentenceFollowsTheEvidence() throws {
    var seen = 0
    for seed: UInt64 in 1...6 {
      let c = try TwoHostConsistency.run(
        "port-restricted", "port-restricted", seed: seed, loss: 0.3
      ).connect
      if c.loss?.seen == true {
        seen += 1
        let sentence = try #require(c.loss?.sentence)
        #expect(
          c.text.contains("Packets were lost") || (c.reason ?? "").contains(sentence),
          Comment(rawValue: c.text))
      }
    }
    #expect(seen > 0)
    for seed: UInt64 in 1...3 {
      let c = try TwoHostConsistency.run(
        "port-restricted", "port-restricted", seed: seed, loss: 0
      ).connect
      #expect(c.loss?.seen == false, Comment(rawValue: c.text))
      #expect(!c.text.contains("Packets were lost"))
    }
  }
}
