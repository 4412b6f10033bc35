/// The `--json` document of `natscope explain` (schemaVersion 1): each input read, and each ICE
/// session found in them with its evidence and its findings.
public struct ExplainReport: Codable, Sendable {
  public var schemaVersion = 1
  /// The inputs, in the order given.
  public var inputs: [ExplainInput]
  /// Every session explained, in input order.
  public var sessions: [ExplainSession]
  /// Findings about the inputs as a whole (credentials that were in them).
  public var findings: FindingSet

  public init(inputs: [ExplainInput], sessions: [ExplainSession]) {
    self.inputs = inputs
    self.sessions = sessions
    let secrets = sessions.map(\.evidence.credentialsSeen).reduce(0, +)
    var f = FindingSet()
    if secrets > 0 {
      f.append(
        Finding(
          .explainCredentialsRedacted, about: .session, .measured,
          parameters: ["count": .int(secrets)]))
    }
    findings = f
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, inputs, sessions, findings
  }

  /// The plain-text report: per session its candidates, check list, timeline, paths and
  /// cause, every line a finding's sentence.
  public var text: String {
    var lines: [String] = []
    for (i, s) in sessions.enumerated() {
      if i > 0 { lines.append("") }
      lines += s.textLines
    }
    if sessions.isEmpty { lines.append("No ICE session found in the input.") }
    return lines.joined(separator: "\n")
  }
}

/// One input as given on the command line.
public struct ExplainInput: Codable, Sendable {
  /// The file name as given (`-` for standard input).
  public var name: String
  /// The format recognised from the content.
  public var format: ExplainEvidence.Format
  /// Whether it was gzip-compressed.
  public var gzip: Bool
  /// Bytes read (after inflating).
  public var bytes: Int

  public init(name: String, format: ExplainEvidence.Format, gzip: Bool, bytes: Int) {
    self.name = name
    self.format = format
    self.gzip = gzip
    self.bytes = bytes
  }
}

/// One ICE session explained.
public struct ExplainSession: Codable, Sendable {
  /// The input it came from (its name as given).
  public var input: String
  /// What the input showed.
  public var evidence: ExplainEvidence
  /// The explanation (``ExplainFindings``).
  public var findings: FindingSet

  public init(input: String, evidence: ExplainEvidence) {
    self.input = input
    self.evidence = evidence
    findings = ExplainFindings.derive(evidence)
  }

  private enum CodingKeys: String, CodingKey {
    case input, label, format, local, remote, pairs, timeline, selected, servers, portRange
    case findings
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    input = try c.decode(String.self, forKey: .input)
    var e = ExplainEvidence(
      format: try c.decode(ExplainEvidence.Format.self, forKey: .format),
      label: try c.decodeIfPresent(String.self, forKey: .label))
    e.local = try c.decode([ObservedCandidate].self, forKey: .local)
    e.remote = try c.decode([ObservedCandidate].self, forKey: .remote)
    e.pairs = try c.decode([ObservedPair].self, forKey: .pairs)
    e.timeline = try c.decode([TimelineEvent].self, forKey: .timeline)
    e.selected = try c.decodeIfPresent(SelectedPair.self, forKey: .selected)
    e.servers = try c.decode([ConfiguredServer].self, forKey: .servers)
    e.portRange = try c.decodeIfPresent(PortRange.self, forKey: .portRange)
    evidence = e
    findings = try c.decode(FindingSet.self, forKey: .findings)
  }

  /// JSON: the evidence's lists and the findings.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(input, forKey: .input)
    try c.encode(evidence.label, forKey: .label)
    try c.encode(evidence.format, forKey: .format)
    try c.encode(evidence.local, forKey: .local)
    try c.encode(evidence.remote, forKey: .remote)
    try c.encode(evidence.pairs, forKey: .pairs)
    try c.encode(evidence.timeline, forKey: .timeline)
    try c.encode(evidence.selected, forKey: .selected)
    try c.encode(evidence.servers, forKey: .servers)
    try c.encode(evidence.portRange, forKey: .portRange)
    try c.encode(findings, forKey: .findings)
  }

  /// The session's part of the text report.
  var textLines: [String] {
    var lines: [String] = []
    let title = evidence.label.map { "\(input), session \($0)" } ?? input
    lines.append(title)
    func section(_ name: String, _ found: [Finding], bullet: String = "  ") {
      guard !found.isEmpty else { return }
      lines.append(name)
      for f in found {
        lines += TextWrap.lines(f.text, width: 100, indent: bullet + "  ", first: bullet)
      }
    }
    let all = findings.findings
    section("input", all.filter { [.explainInput, .explainCredentialsRedacted].contains($0.code) })
    section("outcome", all.filter { Self.outcomeCodes.contains($0.code) })
    section(
      "candidates (this host)",
      all.filter { $0.subject == .thisHost && Self.candidateCodes.contains($0.code) })
    section(
      "candidates (peer)",
      all.filter {
        $0.subject == .peer
          && (Self.candidateCodes.contains($0.code) || $0.code == .explainMissingPeer)
      })
    section(
      "servers", all.filter { $0.code == .explainServers || $0.code == .explainServerError })
    section(
      "check list",
      all.filter {
        [.explainPair, .explainMissingChecks, .explainCheckError].contains($0.code)
      })
    section("timeline", all.filter { $0.code == .explainEvent })
    section(
      "paths",
      all.filter {
        if case .path = $0.subject { return $0.code != .explainPair }
        return false
      })
    section("cause", all.filter { $0.code.rawValue.hasPrefix("explain.cause.") })
    return lines
  }

  static let outcomeCodes: Set<FindingCode> = [
    .explainConnected, .explainFailed, .explainLost, .explainUnfinished, .explainMissingOutcome,
    .explainTimeToConnect, .explainGatheringTime, .explainDTLSTime, .explainDTLSNotFinished,
    .explainDTLSFailed,
  ]
  static let candidateCodes: Set<FindingCode> = [
    .explainCandidate, .explainTCPIgnored, .explainHostOnly, .explainMDNSOnly,
    .explainNeverUsable, .explainPortRewritten, .explainPortKept, .explainMappingVaries,
  ]
}
