import STUN
import Traversal

extension FindingCode {
  /// Monitor mode: a property measured in this run and the last run it was measured differs.
  public static let monitorChanged: FindingCode = "monitor.changed"
  /// Monitor mode: a property measured before was not measured in this run (not a change).
  public static let monitorNotMeasured: FindingCode = "monitor.not-measured"
  /// Monitor mode: a check fails in this run, and has since the run named.
  public static let monitorFailing: FindingCode = "monitor.failing"
  /// Monitor mode: a check that failed works again.
  public static let monitorRecovered: FindingCode = "monitor.recovered"
}

/// One run of a monitored check (`probe`, `binding`, `turn` with `--every`), reduced to the
/// properties the monitor compares from run to run. nil is "not measured in this run", which
/// is never a change to "no".
public struct MonitorObservation: Codable, Sendable, Hashable {
  /// The STUN server answered (probe: some server answered over UDP; binding: the request).
  public var answered: Bool?
  /// The NAT's mapping behaviour (RFC 4787), or `no-nat`.
  public var mapping: String?
  /// The NAT's filtering behaviour (RFC 4787), or `no-nat`.
  public var filtering: String?
  /// The address the server saw (the server-reflexive address).
  public var reflexive: TransportAddress?
  /// The TURN check's verdict: true when every server relayed both ways.
  public var relayWorks: Bool?
  /// The round-trip time to the server, in milliseconds (reported, not compared).
  public var rttMs: Double?
  /// The server, when it is on this host (loopback, or it saw this host's own address): the
  /// runs then say nothing about a NAT or the path outside (reported, not compared).
  public var serverOnThisHost: TransportAddress?

  public init(
    answered: Bool? = nil, mapping: String? = nil, filtering: String? = nil,
    reflexive: TransportAddress? = nil, relayWorks: Bool? = nil, rttMs: Double? = nil
  ) {
    self.answered = answered
    self.mapping = mapping
    self.filtering = filtering
    self.reflexive = reflexive
    self.relayWorks = relayWorks
    self.rttMs = rttMs
  }

  /// What a probe measured: its mapping and filtering verdicts (none when undecided).
  public init(probe r: ProbeReport) {
    let answered = r.mappedAddress != nil
    self.init(
      answered: answered,
      mapping: answered ? (r.natDetected ? r.mapping.behavior?.rawValue : "no-nat") : nil,
      filtering: answered ? (r.natDetected ? r.filtering.behavior?.rawValue : "no-nat") : nil,
      reflexive: r.mappedAddress,
      rttMs: r.steps.lazy.compactMap { $0.outcome?.answer?.rtt.milliseconds }.first)
    serverOnThisHost = Self.onThisHost(ProbeFindings.derive(r))
  }

  /// The server a `server.on-this-host` finding names.
  static func onThisHost(_ findings: FindingSet) -> TransportAddress? {
    findings.with(.serverOnThisHost).first?.parameters.address("server")
  }

  /// What one Binding request measured. A name that did not resolve measured nothing.
  public init(binding r: BindingReport) {
    self.init(
      answered: r.server == nil ? nil : r.answered, reflexive: r.reflexive, rttMs: r.rttMs)
    serverOnThisHost = Self.onThisHost(BindingFindings.derive(r))
  }

  /// What a TURN check measured: relaying works, fails, or (unverified) was not measured.
  public init(turn r: TURNCheckReport) {
    let works: Bool? =
      switch r.verdict {
      case .works: true
      case .broken: false
      case .unverified: nil
      }
    self.init(relayWorks: works, rttMs: r.servers.lazy.compactMap(\.rttMs).first)
  }

  /// The compared properties, in the order lines name them.
  static let aspects: [FindingAspect] = ["answered", "mapping", "filtering", "reflexive", "relay"]

  /// The value of `aspect` in words (nil: not measured).
  func value(_ aspect: FindingAspect) -> FindingValue? {
    switch aspect {
    case "answered": answered.map { .flag($0) }
    case "mapping": mapping.map { .text($0) }
    case "filtering": filtering.map { .text($0) }
    // The IP only: each run asks from a fresh socket, whose new port a NAT maps to a new
    // port too, so a port that differs from the last run's is no change.
    case "reflexive": reflexive.map { .ip($0.ip) }
    case "relay": relayWorks.map { .flag($0) }
    default: nil
    }
  }
}

/// Monitor mode's findings: what changed between two runs, and since when a check fails.
/// Pure functions over observations; the sentences live here.
public enum MonitorFindings {
  /// What differs between `previous` and `current`: a `monitor.changed` finding for each
  /// property measured in both with different values, a `monitor.not-measured` finding for
  /// each measured before and not now. A property not measured before is no change.
  public static func changes(from previous: MonitorObservation?, to current: MonitorObservation)
    -> [Finding]
  {
    guard let previous else { return [] }
    var out: [Finding] = []
    for aspect in MonitorObservation.aspects {
      let before = previous.value(aspect)
      let now = current.value(aspect)
      switch (before, now) {
      case (let b?, let n?) where b != n:
        out.append(
          Finding(
            .monitorChanged, about: .thisHost, .measured, aspect: aspect,
            parameters: ["from": b, "to": n]))
      case (let b?, nil):
        out.append(
          Finding(
            .monitorNotMeasured, about: .thisHost, .notMeasured, aspect: aspect,
            parameters: ["was": b]))
      default: break
      }
    }
    return out
  }

  /// Words a property's value as the run line and change sentences do.
  static func word(_ aspect: FindingAspect, _ value: FindingValue?) -> String {
    switch (aspect, value) {
    case (_, nil): return "not measured"
    case ("answered", .flag(let b)?): return b ? "answering" : "not answering"
    case ("relay", .flag(let b)?): return b ? "relaying" : "failing"
    case (_, .text(let t)?): return t
    case (_, .address(let a)?): return a.description
    case (_, .ip(let a)?): return a.description
    case (_, let v?): return "\(v)"
    }
  }

  /// The property's name in sentences.
  static func name(_ aspect: FindingAspect) -> String {
    switch aspect {
    case "answered": "STUN server"
    case "reflexive": "address seen by the server"
    case "relay": "TURN relay"
    default: aspect.rawValue
    }
  }

  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let aspect = f.aspect ?? "?"
    switch f.code {
    case .monitorChanged:
      return "\(name(aspect)) changed: \(word(aspect, p["from"])) → \(word(aspect, p["to"]))"
    case .monitorNotMeasured:
      return
        "\(name(aspect)) not measured in this run (was \(word(aspect, p["was"]))); not counted as a change"
    case .monitorFailing:
      let runs = p.int("runs") ?? 1
      return
        "\(name(aspect)) failing since \(p.text("since") ?? "?") (\(runs) run\(runs == 1 ? "" : "s"))"
    case .monitorRecovered:
      let runs = p.int("runs") ?? 1
      return
        "\(name(aspect)) works again after failing since \(p.text("since") ?? "?") (\(runs) run\(runs == 1 ? "" : "s"))"
    default:
      return nil
    }
  }

  /// The text line of one run: its time, number, and the value of each measured property.
  public static func runLine(
    run: Int, time: String, _ o: MonitorObservation, changes: [Finding]
  ) -> String {
    var parts: [String] = []
    for aspect in MonitorObservation.aspects {
      if aspect == "reflexive", let r = o.reflexive {
        // Compared by IP, shown whole.
        parts.append("\(name(aspect)) \(r)")
      } else if let v = o.value(aspect) {
        parts.append("\(name(aspect)) \(word(aspect, v))")
      }
    }
    if let rtt = o.rttMs { parts.append("RTT \(formatMs(rtt)) ms") }
    if parts.isEmpty { parts.append("nothing measured") }
    var line = "\(time) run \(run): " + parts.joined(separator: ", ")
    for change in changes { line += "\n  " + change.text }
    return line
  }

  /// The closing summary: runs, changes seen, and each check failing at the end.
  public static func summary(runs: Int, changes: Int, ended: MonitorEnd, failing: [Finding])
    -> String
  {
    let how =
      switch ended {
      case .done: "done"
      case .stopped: "stopped"
      case .checkFailed: "ended (the check could not run)"
      }
    var s =
      "monitor \(how) after \(runs) run\(runs == 1 ? "" : "s"): \(changes) change\(changes == 1 ? "" : "s") seen"
    for f in failing { s += "\n  " + f.text }
    return s
  }

  static func formatMs(_ v: Double) -> String {
    let tenths = (v * 10).rounded() / 10
    return tenths == tenths.rounded() ? "\(Int(tenths))" : "\(tenths)"
  }
}

/// Why monitor mode ended.
public enum MonitorEnd: Sendable {
  /// `--count` runs were made.
  case done
  /// SIGINT or SIGTERM (or the caller) stopped it.
  case stopped
  /// The check could not run (no socket).
  case checkFailed
}

/// The state monitor mode keeps between runs: the last measured value of each property and
/// each failing streak. ``record(_:time:)`` returns the findings of a run.
public struct MonitorHistory: Sendable {
  public private(set) var runs = 0
  public private(set) var changeCount = 0
  /// The last value each property was measured with (a run that did not measure it keeps it).
  public private(set) var lastMeasured = MonitorObservation()
  /// Failing streaks: property → (time of the first failing run, failing runs).
  private var failing: [FindingAspect: (since: String, runs: Int)] = [:]

  public init() {}

  /// Records one run made at `time` (a wall-clock time as lines show it, e.g. `14:02`) and
  /// returns its findings: what changed since the last measured value of each property, and
  /// failing streaks.
  public mutating func record(_ o: MonitorObservation, time: String) -> [Finding] {
    let previous = runs == 0 ? nil : lastMeasured
    runs += 1
    var findings = MonitorFindings.changes(from: previous, to: o)
    if runs == 1, let server = o.serverOnThisHost {
      // Once, on the first line: what every run then shows is this host's own loopback.
      findings.append(
        Finding(
          .serverOnThisHost, about: .server(server), .measured,
          parameters: ["server": .address(server)]))
    }
    changeCount += findings.filter { $0.code == .monitorChanged }.count
    for (aspect, failed) in [("answered", o.answered), ("relay", o.relayWorks)]
      as [(FindingAspect, Bool?)]
    {
      switch failed {
      case false?:
        var streak = failing[aspect] ?? (time, 0)
        streak.runs += 1
        failing[aspect] = streak
        findings.append(Self.streakFinding(.monitorFailing, aspect, streak))
      case true?:
        if let streak = failing.removeValue(forKey: aspect) {
          findings.append(Self.streakFinding(.monitorRecovered, aspect, streak))
        }
      case nil: break
      }
    }
    // Keep each property's last measured value.
    if let v = o.answered { lastMeasured.answered = v }
    if let v = o.mapping { lastMeasured.mapping = v }
    if let v = o.filtering { lastMeasured.filtering = v }
    if let v = o.reflexive { lastMeasured.reflexive = v }
    if let v = o.relayWorks { lastMeasured.relayWorks = v }
    return findings
  }

  /// The checks failing now, as findings (for the closing summary).
  public var failingNow: [Finding] {
    failing.sorted { $0.key.rawValue < $1.key.rawValue }.map {
      MonitorHistory.streakFinding(.monitorFailing, $0.key, $0.value)
    }
  }

  static func streakFinding(
    _ code: FindingCode, _ aspect: FindingAspect, _ streak: (since: String, runs: Int)
  ) -> Finding {
    Finding(
      code, about: .thisHost, .measured, aspect: aspect,
      parameters: ["since": .text(streak.since), "runs": .int(streak.runs)])
  }
}
