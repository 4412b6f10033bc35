import Foundation
import Testing

@testable import Exporter

/// The files in examples/ agree with the exporter: the config parses, and every metric the
/// dashboard and the alert rules name is one the exporter exposes.
@Suite struct ExamplesTests {
  static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

  static let exposed: Set<String> = Set(ExporterMetrics.help.keys).union([
    "natscope_exporter_probes_running", "natscope_exporter_probes_waiting",
    "natscope_exporter_probes_started_total", "natscope_exporter_probes_refused_total",
  ])

  static func metricNames(_ text: String) -> Set<String> {
    let regex = try! NSRegularExpression(pattern: "natscope_[a-z_]+")
    let range = NSRange(text.startIndex..., in: text)
    return Set(
      regex.matches(in: text, range: range).compactMap { Range($0.range, in: text) }.map {
        String(text[$0])
      })
  }

  @Test func theExampleConfigParses() throws {
    let text = try String(
      contentsOf: Self.examples.appendingPathComponent("exporter.yml"), encoding: .utf8)
    let config = try ExporterConfig.parse(text, readFile: { _ in "example-secret" })
    #expect(config.modules["turn_udp"]?.credential != nil)
    #expect(config.checks.count == 2)
  }

  @Test func theDashboardAndRulesNameExposedMetrics() throws {
    let dashboard = try Data(
      contentsOf: Self.examples.appendingPathComponent("grafana-dashboard.json"))
    let object = try #require(try JSONSerialization.jsonObject(with: dashboard) as? [String: Any])
    let panels = try #require(object["panels"] as? [[String: Any]])
    #expect(!panels.isEmpty)
    var names = Set<String>()
    for panel in panels {
      for target in panel["targets"] as? [[String: Any]] ?? [] {
        names.formUnion(Self.metricNames(target["expr"] as? String ?? ""))
      }
    }
    let rules = try String(
      contentsOf: Self.examples.appendingPathComponent("prometheus-alerts.yml"), encoding: .utf8)
    names.formUnion(Self.metricNames(rules))
    #expect(names.contains("natscope_nat_mapping_behavior"))
    #expect(names.subtracting(Self.exposed).isEmpty, "unknown: \(names.subtracting(Self.exposed))")
  }
}
