import Foundation
import Report
import Sessions
import Traversal

/// Turns a two-host demo's events into ``DemoLiveScreen/Event``s on the front's thread: host
/// A's session goes through a ``ConnectFeed`` (as `natscope connect` feeds its screen), host
/// B's token and both probes become lines of the event log, and the end becomes the report
/// with the prediction against the outcome. It never sees the sessions.
public struct DemoLiveFeed: Sendable {
  /// Host A's events, as the connect console folds them.
  public private(set) var feedA = ConnectFeed()
  /// Host A's and host B's NAT names.
  public let natA: String
  public let natB: String

  public init(natA: String, natB: String) {
    self.natA = natA
    self.natB = natB
  }

  /// Host A's session did or saw something.
  public mutating func hostA(_ entry: ConnectLogEntry) -> [DemoLiveScreen.Event] {
    feedA.events(for: entry).map { .connect($0) }
  }

  /// Host B's session did or saw something: its token is what host A is handed.
  public func hostB(_ entry: ConnectLogEntry) -> [DemoLiveScreen.Event] {
    guard case .localDescriptionReady(let d) = entry.event else { return [] }
    return [
      .peerToken(d.token),
      .connect(
        .log(
          "host B (\(natB)) answers with \(counted(d.candidates.count, "candidate")); its token goes to host A"
        )),
    ]
  }

  /// A host's RFC 5780 probe finished (before the sessions start).
  public func probed(hostA isA: Bool, _ report: ProbeReport) -> [DemoLiveScreen.Event] {
    let who = isA ? "host A (\(natA))" : "host B (\(natB))"
    let found =
      report.udpBlocked
      // All the probe knows yet: the report says later whether UDP answers came after all.
      ? ProbeFindings.udpSilentSoFar.text
      : "\(report.legacyType), public address \(report.mappedAddress?.description ?? "?")"
    var lines = ["\(who) probed its NAT: \(found)"]
    if let pm = report.portMapping, pm.gateway != nil {
      let answered = pm.protocols.filter { $0.answered && $0.error == nil }.map(\.name.displayName)
      let own = pm.externalAddress.map { ", router's own address \($0)" } ?? ""
      lines.append(
        answered.isEmpty
          ? "\(who) asked its router: no port mapping"
          : "\(who) asked its router: \(answered.joined(separator: ", "))\(own)")
    }
    if let d = report.doubleNAT, d.detected == true {
      lines.append("\(who): double NAT: \(d.reason)")
    }
    return lines.map { .connect(.log($0)) }
  }

  /// A host's probe could not run.
  public func probeFailed(hostA isA: Bool, _ reason: String) -> [DemoLiveScreen.Event] {
    [.connect(.log("host \(isA ? "A" : "B")'s probe could not run: \(reason)"))]
  }

  /// The run is over: host A's report with both probes' profiles, headed by the prediction
  /// for the path through the NATs and the outcome.
  public func outcome(prediction: PathPrediction, report: ConnectReport) -> DemoLiveScreen.Event {
    let predicted: String
    switch prediction.outcome {
    case .works: predicted = "should work"
    case .fails: predicted = "should fail"
    case .unknown: predicted = "could not be predicted"
    }
    let preface = [
      "Predicted from both probes: the path through the NATs \(predicted).",
      "  A \(natA), B \(natB): \(prediction.reason)",
    ]
    return .outcome(report: report, preface: preface)
  }
}
