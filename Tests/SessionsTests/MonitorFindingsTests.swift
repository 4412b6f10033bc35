import Report
import STUN
import Testing

/// Monitor mode's change detection: a pure function over two runs' observations.
@Suite struct MonitorFindingsTests {
  let cone = MonitorObservation(
    answered: true, mapping: "endpoint-independent", filtering: "address-dependent")

  @Test func aDifferentVerdictIsAChange() {
    var symmetric = cone
    symmetric.mapping = "address-and-port-dependent"
    let changes = MonitorFindings.changes(from: cone, to: symmetric)
    #expect(changes.count == 1)
    #expect(changes.first?.code == .monitorChanged)
    #expect(
      changes.first?.text == "mapping changed: endpoint-independent → address-and-port-dependent")
  }

  @Test func theSameVerdictIsNoChange() {
    #expect(MonitorFindings.changes(from: cone, to: cone).isEmpty)
    #expect(MonitorFindings.changes(from: nil, to: cone).isEmpty)
  }

  /// A property this run did not measure is "not measured", never a change to "no".
  @Test func notMeasuredIsNotAChange() {
    var undecided = cone
    undecided.filtering = nil
    let changes = MonitorFindings.changes(from: cone, to: undecided)
    #expect(changes.map(\.code) == [.monitorNotMeasured])
    #expect(changes.first?.certainty == .notMeasured)
    #expect(changes.first?.text.contains("not measured") == true)
    #expect(changes.first?.text.contains("changed") == false)
    // Nor is a property measured now that was not before.
    #expect(MonitorFindings.changes(from: undecided, to: cone).isEmpty)
  }

  @Test func aFailingRelayIsCountedSinceItsFirstFailingRun() {
    var history = MonitorHistory()
    #expect(history.record(MonitorObservation(relayWorks: true), time: "14:00").isEmpty)
    _ = history.record(MonitorObservation(relayWorks: false), time: "14:02")
    _ = history.record(MonitorObservation(relayWorks: nil), time: "14:04")
    let third = history.record(MonitorObservation(relayWorks: false), time: "14:06")
    let failing = third.first { $0.code == .monitorFailing }
    #expect(failing?.text == "TURN relay failing since 14:02 (2 runs)")
    #expect(history.failingNow.count == 1)
    let back = history.record(MonitorObservation(relayWorks: true), time: "14:08")
    #expect(back.contains { $0.code == .monitorRecovered })
    #expect(back.contains { $0.code == .monitorChanged && $0.aspect == "relay" })
    #expect(history.failingNow.isEmpty)
    #expect(history.changeCount == 2)
  }

  @Test func theRunLineNamesWhatWasMeasured() {
    let line = MonitorFindings.runLine(run: 3, time: "14:02", cone, changes: [])
    #expect(
      line
        == "14:02 run 3: STUN server answering, mapping endpoint-independent, filtering address-dependent"
    )
  }
}
