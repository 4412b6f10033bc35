import Runtime
import Traversal

/// Plain-text rendering of a `ConnectReport`, about 80 columns, read like a doctor's summary:
/// the outcome first, then each path with ✓ (worked), ✗ (failed) or – (not tried) and its
/// reason, then the selected pair, then timings.
public enum ConnectReportText {
  /// Renders the report, wrapping reasons to `width` columns.
  public static func render(_ r: ConnectReport, width: Int = 80) -> String {
    var out: [String] = []
    out += wrap(headline(r), width: width, indent: "")
    if let nats = r.findings.with(.connectNATTypes).first {
      out.append(nats.text)
    } else {
      out.append(
        Finding(
          .connectNATTypes, about: .session, .measured,
          parameters: ["local": .text(r.local.legacyType), "peer": .text(r.remote.legacyType)]
        ).text)
    }
    out.append("")
    out.append("Paths")
    for kind in ConnectReport.PathKind.allCases {
      let p = r.paths[kind]
      // A path whose checks were cut short by a better path neither worked nor failed.
      let tried = p.attempted && !r.wasCutShort(kind)
      let mark = p.succeeded ? "✓" : (tried ? "✗" : "–")
      let name = kind.rawValue.padding(to: 10)
      let head = "  \(mark) \(name) "
      out += wrap(
        p.reason, width: width, indent: String(repeating: " ", count: head.count), first: head)
      let predicted = r.prediction[kind]
      if (tried || p.succeeded) && predicted.outcome != .unknown
        && (predicted.outcome == .works) != p.succeeded
      {
        let verb = predicted.outcome == .works ? "should have worked" : "was expected to fail"
        out += wrap(
          "(Predicted: \(verb). \(predicted.reason))", width: width,
          indent: String(repeating: " ", count: head.count))
      }
    }
    if r.state == .connected, let sentence = r.loss?.sentence {
      out += wrap(sentence, width: width, indent: "  ")
    }
    for relay in r.local.relays {
      guard let certificate = relay.certificate else { continue }
      let head = "  TURN over TLS \(relay.server): "
      out += wrap(certificate.summary, width: width, indent: "    ", first: head)
    }
    if let s = r.selectedPair {
      out.append("")
      out.append("Selected pair")
      out.append("  local   \(endpoint(s.local))")
      out.append("  remote  \(endpoint(s.remote))")
      if let rtt = s.rttMs { out.append("  rtt     \(ms(rtt))") }
      // What DTLS did on that pair (the verdict's own sentence is in the headline).
      for f in r.findings
      where DTLSFindings.codes.contains(f.code) && f.code != .dtlsFailedAfterICE {
        out += wrap(f.text, width: width, indent: "          ", first: "  dtls    ")
      }
      // The largest datagram the pair carried, each way, and what that means.
      for f in r.findings where PathMTUFindings.codes.contains(f.code) {
        out += wrap(f.text, width: width, indent: "          ", first: "  mtu     ")
      }
    }
    var t: [String] = []
    if let g = r.timings.gatheringMs { t.append("gathering \(ms(g))") }
    if let f = r.timings.firstCheckMs { t.append("first check \(ms(f))") }
    if let c = r.timings.connectedMs { t.append("connected \(ms(c))") }
    let waits =
      r.findings.contains(.connectWaitEnded) || r.findings.contains(.connectWaitUnanswered)
    if !t.isEmpty || waits {
      out.append("")
      out.append("Timings")
      if !t.isEmpty { out += wrap(t.joined(separator: ", "), width: width, indent: "  ") }
      for wait in r.findings
      where wait.code == .connectWaitEnded
        || wait.code == .connectWaitUnanswered
      {
        out += wrap(wait.text, width: width, indent: "  ")
      }
    }
    let unusable =
      r.candidates.local.map { ("local", $0) } + r.candidates.remote.map { ("remote", $0) }
    let skipped = unusable.compactMap { side, c in c.reason.map { (side, $0) } }
    if !skipped.isEmpty {
      out.append("")
      out.append("Candidates not checked")
      for (side, reason) in skipped {
        let head = "  \(side.padding(to: 7)) "
        out += wrap(
          reason, width: width, indent: String(repeating: " ", count: head.count), first: head)
      }
    }
    for warning in r.warnings {
      out.append("")
      out += wrap("Warning: " + warning, width: width, indent: "  ")
    }
    return out.joined(separator: "\n") + "\n"
  }

  static func headline(_ r: ConnectReport) -> String {
    guard r.state == .connected, let s = r.selectedPair else {
      let why =
        r.reason ?? ConnectReportBuilder.noPathWorked(checked: r.pairs.filter(\.checked).count)
      return "Not connected. \(why)"
    }
    if let connected = r.findings.with(.connectConnected).first { return connected.text }
    var p: FindingParameters = [
      "path": .text(ConnectReport.PathKind.of(s.local.type, s.remote.type).rawValue),
      "localType": .text(s.local.type.rawValue), "remoteType": .text(s.remote.type.rawValue),
    ]
    if let t = r.timeToConnectedMs { p["ms"] = .milliseconds(t) }
    return Finding(.connectConnected, about: .session, .measured, parameters: p).text
  }

  static func endpoint(_ e: ConnectReport.Endpoint) -> String {
    "\(e.type.rawValue.padding(to: 6)) \(e) \(e.protocol.rawValue)"
  }

  /// "62 s", "3.5 s", "412 ms": seconds from 1 s on, for waits a person makes.
  public static func duration(_ ms: Double) -> String {
    guard ms.isFinite, ms >= 1000, ms < 1e12 else { return Self.ms(ms) }
    if ms >= 10_000 {
      let s = Int((ms / 1000).rounded())
      return s >= 120 && s % 60 == 0 ? "\(s / 60) min" : "\(s) s"
    }
    let tenths = Int((ms / 100).rounded())
    return "\(tenths / 10).\(tenths % 10) s"
  }

  /// "412 ms", "3.5 ms".
  public static func ms(_ value: Double) -> String {
    guard value.isFinite, value >= 0, value < 1e9 else { return "? ms" }
    if value >= 10 { return "\(Int(value.rounded())) ms" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) ms"
  }

  /// Greedy word wrap; continuation lines start with `indent`, the first with `first`.
  static func wrap(_ text: String, width: Int, indent: String, first: String? = nil) -> [String] {
    let lines = TextWrap.lines(text, width: width, indent: indent, first: first, keepUnits: true)
    return lines.isEmpty ? [first ?? indent] : lines
  }
}

extension ConnectReport {
  /// The plain-text rendering (`ConnectReportText.render`).
  public var text: String { ConnectReportText.render(self) }

  /// Whether the checks of a path that did not work were all stopped because another path
  /// connected first: the path was not really tried, so it neither failed nor contradicts its
  /// prediction.
  public func wasCutShort(_ kind: PathKind) -> Bool {
    guard state == .connected, !paths[kind].succeeded else { return false }
    let checked = pairs.filter { $0.kind == kind && $0.checked }
    return !checked.isEmpty && checked.allSatisfy { $0.failure == .cancelled }
  }
}

extension String {
  fileprivate func padding(to n: Int) -> String {
    count >= n ? self : self + String(repeating: " ", count: n - count)
  }
}
