import Report
import STUN
import Testing
import Traversal

@testable import Exporter

/// Reports to metrics, as pure functions: what was not measured has no sample.
@Suite struct ExporterMetricsTests {
  static let server = TransportAddress(ip: .v4(0xC000_0201), port: 3478)

  static func probe(mapping: MappingBehavior?, filtering: FilteringBehavior?) -> ProbeReport {
    var p = BehaviorProbe(configuration: ProbeConfiguration(servers: [], localAddresses: []))
    var report: ProbeReport?
    for case .event(.finished(let r)) in p.start(at: .zero) { report = r }
    var r = report!
    r.server = server
    r.mappedAddress = TransportAddress(ip: .v4(0xC633_6405), port: 40000)
    r.natDetected = true
    r.udpBlocked = false
    r.mapping = BehaviorVerdict(mapping, "test")
    r.filtering = BehaviorVerdict(filtering, "test")
    return r
  }

  func names(_ samples: [MetricSample]) -> Set<String> { Set(samples.map(\.name)) }

  @Test func aDecidedProbeHasItsBehaviourAsALabel() {
    let r = Self.probe(mapping: .addressAndPortDependent, filtering: .endpointIndependent)
    let samples = ExporterMetrics.samples(.probe(r), duration: .milliseconds(1500))
    #expect(samples.contains(MetricSample("natscope_probe_success", 1)))
    #expect(samples.contains(MetricSample("natscope_probe_duration_seconds", 1.5)))
    #expect(
      samples.contains(
        MetricSample(
          "natscope_nat_mapping_behavior", 1, labels: ["behavior": "address-and-port-dependent"])))
    #expect(
      samples.contains(
        MetricSample(
          "natscope_nat_filtering_behavior", 1, labels: ["behavior": "endpoint-independent"])))
  }

  /// Undecided filtering: no sample at all, not a zero; double NAT not asked: no sample.
  @Test func whatWasNotMeasuredHasNoSample() {
    let r = Self.probe(mapping: .endpointIndependent, filtering: nil)
    let samples = ExporterMetrics.samples(.probe(r), duration: .seconds(1))
    #expect(!names(samples).contains("natscope_nat_filtering_behavior"))
    #expect(!names(samples).contains("natscope_double_nat"))
    #expect(names(samples).contains("natscope_nat_mapping_behavior"))
  }

  @Test func aTimeoutIsFailureAndNothingElse() {
    let samples = ExporterMetrics.samples(.timedOut, duration: .seconds(2))
    #expect(
      Set(samples) == [
        MetricSample("natscope_probe_success", 0),
        MetricSample("natscope_probe_duration_seconds", 2),
      ])
  }

  @Test func anAnsweredBindingHasItsRTT() {
    var report = BindingReport(
      server: Self.server, local: nil, outcome: .noAnswer(attempts: 3, window: .seconds(1)))
    #expect(
      !names(ExporterMetrics.samples(.binding(report), duration: .seconds(1))).contains(
        "natscope_stun_rtt_seconds"))
    report.answered = true
    report.rttMs = 12
    let samples = ExporterMetrics.samples(.binding(report), duration: .seconds(1))
    #expect(samples.contains(MetricSample("natscope_stun_rtt_seconds", 0.012)))
    #expect(samples.contains(MetricSample("natscope_probe_success", 1)))
  }

  @Test func aTURNCheckThatDidNotRelayIsZeroAndUntriedIsNoSample() {
    var check = TURNServerCheck(uri: "turn:192.0.2.1:3478", transport: "udp", server: Self.server)
    check.reachable = true
    check.rttMs = 20
    let untried = ExporterMetrics.samples(
      .turn(TURNCheckReport(servers: [check])), duration: .seconds(1))
    #expect(!names(untried).contains("natscope_turn_relay_works"))
    #expect(untried.contains(MetricSample("natscope_turn_allocate_duration_seconds", 0.02)))
    check.relays = false
    let failed = ExporterMetrics.samples(
      .turn(TURNCheckReport(servers: [check])), duration: .seconds(1))
    #expect(failed.contains(MetricSample("natscope_turn_relay_works", 0)))
    #expect(failed.contains(MetricSample("natscope_probe_success", 0)))
  }

  @Test func portMappingIsPerProtocol() {
    let report = PortMappingReport(
      gateway: .v4(0xC0A8_0001),
      protocols: [
        PortMappingResult(name: .pcp, answered: true),
        PortMappingResult(name: .upnpIGD, answered: false),
      ])
    let samples = ExporterMetrics.samples(.portMapping(report), duration: .seconds(1))
    #expect(
      samples.contains(
        MetricSample("natscope_port_mapping_available", 1, labels: ["protocol": "pcp"])))
    #expect(
      samples.contains(
        MetricSample("natscope_port_mapping_available", 0, labels: ["protocol": "upnp-igd"])))
  }

  /// The exposition comes from swift-prometheus: names and labels as given, no secret.
  @Test func theExpositionHoldsTheSamples() {
    let r = Self.probe(mapping: .endpointIndependent, filtering: .addressDependent)
    let text = ExporterMetrics.registry(ExporterMetrics.samples(.probe(r), duration: .seconds(1)))
      .emitToString()
    #expect(text.contains("# TYPE natscope_probe_success gauge"))
    #expect(text.contains(#"natscope_nat_mapping_behavior{behavior="endpoint-independent"} 1"#))
  }
}

@Suite struct ExporterConfigTests {
  @Test func modulesChecksAndLimits() throws {
    let config = try ExporterConfig.parse(
      """
      modules:
        coturn:
          kind: turn
          transport: tcp
          username: alice
          password_file: /run/pw
          timeout: 3s
      checks:
        - name: office
          module: probe
          target: 127.0.0.1:3478
          every: 30s
      limits:
        concurrency: 2
        queue: 5
      """, readFile: { path in path == "/run/pw" ? "s3cret\n" : "" })
    let coturn = try #require(config.modules["coturn"])
    #expect(coturn.kind == .turn && coturn.transport == .tcp && coturn.timeout == .seconds(3))
    guard case .password(let user, let password)? = coturn.credential else {
      Issue.record("no password")
      return
    }
    #expect(user == "alice" && password == "s3cret")
    #expect(!coturn.description.contains("s3cret"))
    #expect(config.checks.first?.every == .seconds(30))
    #expect(config.concurrency == 2 && config.queueLength == 5)
    #expect(config.modules["binding"] != nil)
  }

  @Test(arguments: [
    ("modules: [", "YAML"),
    ("modules:\n  x:\n    kind: ftp\n", "kind"),
    ("checks:\n  - name: a\n    module: nope\n    target: h\n", "no module"),
    ("limits:\n  concurrency: 0\n", "concurrency"),
    ("modules:\n  t:\n    kind: turn\n    password: p\n", "username"),
  ])
  func badConfigsAreOneSentence(text: String, word: String) {
    #expect {
      _ = try ExporterConfig.parse(text)
    } throws: { error in
      guard let e = error as? ExporterConfigError else { return false }
      return e.message.contains(word) && e.message.hasSuffix(".")
    }
  }
}

@Suite struct ProbeQueryTests {
  let modules = ExporterConfig.builtIn

  @Test func aQueryWithTheScrapeTimeout() throws {
    let q = try ProbeQuery.parse(
      query: "target=127.0.0.1%3A3478&module=binding", scrapeTimeout: "4", modules: modules)
    #expect(q.target.port == 3478 && q.target.host == "127.0.0.1")
    #expect(q.timeout == .milliseconds(3500))
  }

  @Test(arguments: [
    ("module=binding", "no target"),
    ("target=a:1", "no module"),
    ("target=a:1&module=ftp", "no module named ftp"),
    ("target=a:1&module=turn_udp", "credentials"),
    ("target=a:1&module=binding&password=x", "never taken from the URL"),
    ("target=user:pw@a:1&module=binding", "user information"),
    ("target=a:1&target=b:2&module=binding", "twice"),
    ("target=%zz&module=binding", "percent"),
    ("target=a:99999&module=binding", "HOST:PORT"),
  ])
  func malformedQueriesAreOneSentence(query: String, word: String) {
    #expect {
      _ = try ProbeQuery.parse(query: query, scrapeTimeout: nil, modules: modules)
    } throws: { error in
      guard let e = error as? ProbeQueryError else { return false }
      return e.message.contains(word) && !e.message.contains("\n")
    }
  }

  @Test func aBadScrapeTimeoutHeaderIsRefused() {
    #expect(throws: ProbeQueryError.self) {
      _ = try ProbeQuery.parse(
        query: "target=a:1&module=binding", scrapeTimeout: "soon", modules: modules)
    }
  }
}
