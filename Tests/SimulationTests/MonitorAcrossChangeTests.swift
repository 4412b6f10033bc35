import Foundation
import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// Monitor mode's loop on the simulated network: a NAT whose mapping behaviour changes between
/// two runs (a firmware update) is reported as changed, in the text line and the JSON line.
@Suite struct MonitorAcrossChangeTests {
  @Test func aMappingChangeBetweenRunsIsReported() throws {
    let lab = try SimulatedLab(seed: 7)
    let cone = NATBehavior(
      mapping: .endpointIndependent, filtering: .endpointIndependent, hairpinning: false)
    let host = try lab.addSite("office", behavior: cone)
    let router = try #require(lab.router(of: host))
    var minute = 0
    let loop = MonitorLoop<ProbeDocument>(
      command: "probe", runtime: host, every: .seconds(60), count: 3,
      wallClock: {
        minute += 1
        return ("2026-12-07T14:0\(minute):00Z", "14:0\(minute)")
      },
      check: { done in
        // The firmware update: from the second run on, the NAT maps per destination.
        if minute == 2 {
          router.behavior.mapping = .addressAndPortDependent
        }
        let session = ProbeSession(
          runtime: host,
          configuration: ProbeConfiguration(
            servers: [lab.stunServerAddress], localAddresses: host.localAddresses()))
        session.start { result in
          _ = session
          guard case .success(let r) = result else { return done(nil) }
          done((ProbeDocument(r), MonitorObservation(probe: r)))
        }
      })
    var lines: [MonitorLine<ProbeDocument>] = []
    var summary: String?
    loop.onLine = { lines.append($0) }
    loop.start { summary = $0 }
    lab.network.run(for: .seconds(300))

    try #require(lines.count == 3)
    #expect(lines[0].observation.mapping == "endpoint-independent")
    #expect(lines[0].changes.isEmpty)
    #expect(lines[1].observation.mapping == "address-and-port-dependent")
    let change = try #require(lines[1].changes.first { $0.code == .monitorChanged })
    #expect(change.aspect == "mapping")
    #expect(
      lines[1].text.contains(
        "mapping changed: endpoint-independent → address-and-port-dependent"),
      Comment(rawValue: lines[1].text))
    // No further change on the third run.
    #expect(!lines[2].changes.contains { $0.code == .monitorChanged && $0.aspect == "mapping" })
    #expect(summary?.contains("after 3 runs") == true, Comment(rawValue: summary ?? "none"))

    // The JSON line: one line, naming its schema, with the change as a finding.
    let data = try ReportJSON.encode(
      SchemaTaggedDocument(
        MonitorLine(
          command: "probe", run: lines[1].run, timestamp: lines[1].timestamp,
          observation: lines[1].observation, changes: lines[1].changes,
          report: SchemaTaggedDocument(lines[1].report, schema: .probe), text: lines[1].text),
        schema: .monitor, addsVersion: true), pretty: false)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.filter { $0 == "\n" }.count == 1 && text.hasSuffix("\n"))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["schema"] as? String == "urn:natscope:schema:monitor-1")
    #expect(object["timestamp"] as? String == "2026-12-07T14:02:00Z")
    let changes = try #require(object["changes"] as? [[String: Any]])
    let mapping = try #require(changes.first { $0["code"] as? String == "monitor.changed" })
    let parameters = try #require(mapping["parameters"] as? [String: Any])
    #expect(parameters["from"] as? String == "endpoint-independent")
    #expect(parameters["to"] as? String == "address-and-port-dependent")
    let report = try #require(object["report"] as? [String: Any])
    #expect(report["schema"] as? String == "urn:natscope:schema:probe-1")
  }
}
