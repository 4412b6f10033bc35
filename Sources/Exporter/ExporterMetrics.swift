import Prometheus
import Report
import STUN
import Traversal

/// What one check run by the exporter produced: the report of the session the module ran, or
/// that it did not finish in time.
public enum ExporterResult: Sendable {
  case probe(ProbeReport)
  case binding(BindingReport)
  case turn(TURNCheckReport)
  case portMapping(PortMappingReport)
  /// The check did not finish within the scrape's timeout (or could not start).
  case timedOut
}

/// One sample of a metric: its name, labels and value.
public struct MetricSample: Sendable, Hashable {
  public var name: String
  public var labels: [String: String]
  public var value: Double

  public init(_ name: String, _ value: Double, labels: [String: String] = [:]) {
    self.name = name
    self.labels = labels
    self.value = value
  }

  /// The labels in a stable order (sorted by name).
  public var sortedLabels: [(String, String)] {
    labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }
}

/// Reports to metrics: pure functions, so what a metric says is tested without a network.
/// What a check did not measure has no sample (never a zero): a probe that could not decide
/// the mapping behaviour emits no `natscope_nat_mapping_behavior`.
public enum ExporterMetrics {
  /// Every metric natscope exposes, with its HELP text (on the wire in the exposition).
  public static let help: [String: String] = [
    "natscope_probe_success":
      "1 when the check succeeded (the server answered; TURN: relays both ways), 0 otherwise.",
    "natscope_probe_duration_seconds": "How long the check took, in seconds.",
    "natscope_stun_rtt_seconds":
      "Round-trip time of the first answered STUN Binding request, in seconds.",
    "natscope_nat_mapping_behavior":
      "The NAT's mapping behaviour (RFC 4787) as the label; always 1. No sample when not decided.",
    "natscope_nat_filtering_behavior":
      "The NAT's filtering behaviour (RFC 4787) as the label; always 1. No sample when not decided.",
    "natscope_turn_allocate_duration_seconds":
      "Time from the first Allocate request to the server's first answer, in seconds.",
    "natscope_turn_relay_works":
      "1 when data went through the TURN relay both ways, 0 when it did not. No sample when not tried.",
    "natscope_port_mapping_available":
      "1 when the router answered the port-mapping protocol without an error, 0 otherwise.",
    "natscope_double_nat":
      "1 when the router's own address differs from the address the STUN server saw, 0 when it is the same. No sample when not compared.",
  ]

  /// The samples of one check's result, its duration first.
  public static func samples(_ result: ExporterResult, duration: Duration) -> [MetricSample] {
    var out = [MetricSample("natscope_probe_duration_seconds", seconds(duration))]
    func success(_ ok: Bool) { out.append(MetricSample("natscope_probe_success", ok ? 1 : 0)) }
    switch result {
    case .timedOut:
      success(false)
    case .binding(let r):
      success(r.answered && r.errorCode == nil)
      if let rtt = r.rttMs { out.append(MetricSample("natscope_stun_rtt_seconds", rtt / 1000)) }
    case .probe(let r):
      let answered = r.mappedAddress != nil
      success(answered)
      if let rtt = r.steps.lazy.compactMap({ $0.outcome?.answer?.rtt }).first {
        out.append(MetricSample("natscope_stun_rtt_seconds", seconds(rtt)))
      }
      if answered {
        let mapping = r.natDetected ? r.mapping.behavior?.rawValue : "no-nat"
        let filtering = r.natDetected ? r.filtering.behavior?.rawValue : "no-nat"
        if let mapping {
          out.append(
            MetricSample("natscope_nat_mapping_behavior", 1, labels: ["behavior": mapping]))
        }
        if let filtering {
          out.append(
            MetricSample("natscope_nat_filtering_behavior", 1, labels: ["behavior": filtering]))
        }
      }
      if let detected = r.doubleNAT?.detected {
        out.append(MetricSample("natscope_double_nat", detected ? 1 : 0))
      }
    case .turn(let r):
      success(r.verdict == .works)
      // One server per /probe: its allocation timing and whether it relayed.
      if let server = r.servers.first {
        if let rtt = server.rttMs {
          out.append(MetricSample("natscope_turn_allocate_duration_seconds", rtt / 1000))
        }
        if let relays = server.relays {
          out.append(MetricSample("natscope_turn_relay_works", relays ? 1 : 0))
        }
      }
    case .portMapping(let r):
      success(r.protocols.contains { $0.answered && $0.error == nil })
      for p in r.protocols {
        out.append(
          MetricSample(
            "natscope_port_mapping_available", p.answered && p.error == nil ? 1 : 0,
            labels: ["protocol": p.name.rawValue]))
      }
    }
    return out
  }

  /// A registry holding `samples` (a /probe response's own registry, as blackbox_exporter
  /// answers each probe with its own metrics).
  public static func registry(_ samples: [MetricSample], extraLabels: [String: String] = [:])
    -> PrometheusCollectorRegistry
  {
    let registry = PrometheusCollectorRegistry()
    record(samples, in: registry, extraLabels: extraLabels)
    return registry
  }

  /// Sets a gauge in `registry` for each sample, with `extraLabels` added to its labels;
  /// returns the gauges, so a later run can unregister those it no longer measures.
  @discardableResult
  public static func record(
    _ samples: [MetricSample], in registry: PrometheusCollectorRegistry,
    extraLabels: [String: String] = [:]
  ) -> [Gauge] {
    samples.map { sample in
      var labels = sample.labels
      labels.merge(extraLabels) { own, _ in own }
      let sorted = labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
      let help = Self.help[sample.name] ?? ""
      let descriptor = MetricNameDescriptor(metricName: sample.name, unitName: "", helpText: help)
      let gauge =
        sorted.isEmpty
        ? registry.makeGauge(descriptor: descriptor)
        : registry.makeGauge(descriptor: descriptor, labels: sorted)
      gauge.set(sample.value)
      return gauge
    }
  }

  static func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) / 1e18
  }
}
