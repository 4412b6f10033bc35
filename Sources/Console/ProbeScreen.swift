import Foundation
import Report
import STUN
import Sessions
import Traversal

/// The probe screen: one row per RFC 5780 test, a verdict panel, the server line.
public struct ProbeScreen: ConsoleScreen {
  /// What the probe engine feeds the screen.
  public enum Event: Sendable, Equatable {
    case action(ProbeAction)
    /// Time since the probe started, in milliseconds.
    case clock(Double)
    /// The probe could not run (e.g. no socket).
    case failed(String)
    /// A new run starts (`r`): steps and verdict are cleared.
    case restarted
    /// What the router said about port mapping (the read-only questions).
    case portMapping(PortMappingReport)
  }

  public var chrome: Chrome
  public var server: String
  /// Tests expected to run, shown as pending until their first step starts.
  public var plan: [ProbeTest]
  public private(set) var steps: [ProbeStep] = []
  public private(set) var report: ProbeReport?
  public private(set) var failure: String?
  public private(set) var elapsedMs: Double = 0
  /// Whether the router is being asked about port mapping alongside the probe.
  public var asksRouter: Bool
  /// What the router said, once it did.
  public private(set) var portMapping: PortMappingReport?

  public var name: String { "probe" }
  public var panelTitles: [String] { ["tests", "verdict"] }

  /// The tests a default probe runs, in order.
  public static let defaultPlan: [ProbeTest] = [
    .reachability, .mappingAlternateIP, .mappingAlternateIPAndPort, .filteringChangeIPAndPort,
    .filteringChangePort, .filteringChangeIP, .hairpinning, .portAllocation,
  ]

  public init(
    server: String, plan: [ProbeTest] = ProbeScreen.defaultPlan, asksRouter: Bool = false,
    rows: Int = 24, cols: Int = 80
  ) {
    self.server = server
    self.plan = plan
    self.asksRouter = asksRouter
    self.chrome = Chrome(rows: rows, cols: cols, panels: 2)
  }

  public mutating func apply(_ event: Event) {
    switch event {
    case .action(.stepStarted(let step)):
      if let i = index(of: step) { steps[i] = step } else { steps.append(step) }
    case .action(.stepFinished(let step)):
      if let i = index(of: step) { steps[i] = step } else { steps.append(step) }
    case .action(.finished(let r)):
      report = r
      steps = r.steps
      elapsedMs = r.durationMs
    case .action: break
    case .clock(let ms): if report == nil { elapsedMs = ms }
    case .failed(let message): failure = message
    case .restarted:
      steps = []
      report = nil
      failure = nil
      elapsedMs = 0
      portMapping = nil
      chrome.detailOpen = false
    case .portMapping(let pm):
      portMapping = pm
    }
  }

  /// The report with what the router said attached (port mapping and the double-NAT verdict),
  /// as `natscope probe` prints it; nil until the probe is done.
  public var attachedReport: ProbeReport? {
    guard var r = report else { return nil }
    if let portMapping { r.attach(portMapping: portMapping) }
    return r
  }

  private func index(of step: ProbeStep) -> Int? {
    steps.firstIndex {
      $0.test == step.test && $0.index == step.index && $0.query.socket == step.query.socket
        && $0.query.destination == step.query.destination
    }
  }

  /// One row of the tests panel: a step, or a planned test that has not started.
  public enum Row: Equatable, Sendable {
    case step(ProbeStep)
    case pending(ProbeTest)
  }

  /// The rows of the tests panel.
  public var rows: [Row] {
    let started = Set(steps.map(\.test))
    var out = steps.map(Row.step)
    if report == nil {
      out += plan.filter { !started.contains($0) }.map(Row.pending)
    }
    return out
  }

  public func itemCount(panel: Int) -> Int {
    panel == 0 ? rows.count : verdictLines(width: max(20, chrome.cols - 18)).count
  }

  // MARK: View

  public func render(into grid: inout Grid, options: RenderOptions) {
    let g = options.glyphs
    let first = firstAnswer
    var left = "natscope probe  \(server)"
    let wideTitle = grid.columns >= 110
    if let rfc = rfc5780 {
      left += "  RFC 5780 " + (rfc ? "yes" : "no")
      if wideTitle, let other = otherAddress { left += " (alt \(other))" }
    }
    if let a = first { left += String(format: "  RTT %.1f ms", a.rtt.milliseconds) }
    let state = report != nil ? "done" : (failure != nil ? "failed" : "running")
    ConsoleView.drawTitle(
      into: &grid, left: left, right: String(format: "%@ %.2f s", state, elapsedMs / 1000))

    let available = grid.rows - 2
    let rowList = rows
    let stepsHeight = min(max(6, rowList.count + 3), max(6, available * 11 / 20))
    let verdictTop = 1 + stepsHeight
    let verdictHeight = available - stepsHeight
    let width = grid.columns

    // Tests panel.
    grid.box(
      row: 1, column: 0, height: stepsHeight, width: width, title: "RFC 5780 tests",
      focused: chrome.focus == 0, options: options)
    let wide = width >= 110
    let titleW = wide ? 42 : 34
    let destW = 22
    let localW = wide ? 26 : 0
    let resultW = width - 2 - 2 - titleW - destW - localW
    var header = pad("", 2) + pad("test", titleW)
    if wide { header += pad("from", localW) }
    header += pad("to", destW) + "result"
    grid.put(header, row: 2, column: 1, width: width - 2, style: CellStyle(dim: true))
    let visible = stepsHeight - 3
    let selected = chrome.selection.first ?? 0
    let offset = ConsoleView.scrollOffset(
      selected: selected, count: rowList.count, visible: visible)
    for (i, row) in rowList.dropFirst(offset).prefix(visible).enumerated() {
      let r = 3 + i
      var col = 1
      let (mark, markStyle, result, resultStyle) = describe(row, glyphs: g, wide: wide)
      grid.put(String(mark) + " ", row: r, column: col, style: markStyle)
      col += 2
      let test: ProbeTest
      var dest = ""
      var local = ""
      switch row {
      case .pending(let t): test = t
      case .step(let s):
        test = s.test
        dest = "\(g.arrowText) \(s.query.destination)"
        local = "socket \(s.query.socket.rawValue) \(s.localAddress.map(\.description) ?? "")"
      }
      var title = test.title
      if case .step(let s) = row, s.test == .portAllocation || s.test == .bindingLifetime {
        title += " #\(s.index + 1)"
      }
      grid.putClipped(title, row: r, column: col, width: titleW - 1, options: options)
      col += titleW
      if wide {
        grid.putClipped(
          local, row: r, column: col, width: localW - 1, style: CellStyle(dim: true),
          options: options)
        col += localW
      }
      grid.putClipped(dest, row: r, column: col, width: destW - 1, options: options)
      col += destW
      grid.putClipped(
        result, row: r, column: col, width: resultW, style: resultStyle, options: options)
      if chrome.focus == 0 && offset + i == selected {
        grid.restyle(row: r, column: 1, width: width - 2) { $0.reverse = true }
      }
    }
    if rowList.count > visible {
      grid.put(
        " \(offset + 1)-\(min(rowList.count, offset + visible))/\(rowList.count) ",
        row: stepsHeight, column: width - 14, style: CellStyle(dim: true))
    }

    // Verdict panel.
    grid.box(
      row: verdictTop, column: 0, height: verdictHeight, width: width, title: "verdict",
      focused: chrome.focus == 1, options: options)
    let keyW = 14
    let lines = verdictLines(width: width - 4 - keyW, arrow: g.arrowText)
    let vVisible = verdictHeight - 2
    let vSel = chrome.selection.count > 1 ? chrome.selection[1] : 0
    let vOffset =
      chrome.focus == 1
      ? ConsoleView.scrollOffset(selected: vSel, count: lines.count, visible: vVisible) : 0
    for (i, line) in lines.dropFirst(vOffset).prefix(vVisible).enumerated() {
      let r = verdictTop + 1 + i
      grid.put(pad(line.key, keyW), row: r, column: 2, style: CellStyle(bold: true))
      grid.putClipped(
        line.value, row: r, column: 2 + keyW, width: width - 4 - keyW, style: line.style,
        options: options)
      if chrome.focus == 1 && vOffset + i == vSel {
        grid.restyle(row: r, column: 1, width: width - 2) { $0.reverse = true }
      }
    }

    ConsoleView.drawStatus(
      into: &grid,
      hints:
        "q quit  Tab focus  \(g.arrowText == "→" ? "↑↓" : "up/dn") select  Enter details  r rerun  j json  ? help",
      status: chrome.status, options: options)
  }

  /// Whether the server supports RFC 5780, once known.
  private var rfc5780: Bool? {
    if let s = report?.serverSupport { return s.rfc5780 }
    guard let a = firstAnswer else { return nil }
    return a.otherAddress != nil
  }

  private var otherAddress: TransportAddress? {
    report?.serverSupport?.otherAddress ?? firstAnswer?.otherAddress
  }

  /// The server line of the verdict panel.
  private var serverLine: String? {
    guard let a = firstAnswer else { return nil }
    var line = "\(server)"
    if let rfc = rfc5780 { line += rfc ? ", RFC 5780" : ", no RFC 5780" }
    if let other = otherAddress { line += ", alternate \(other)" }
    line += String(format: ", RTT %.1f ms", a.rtt.milliseconds)
    if let sw = report?.serverSupport?.software ?? a.software { line += ", \(sw)" }
    return line
  }

  private var firstAnswer: BindingAnswer? {
    steps.first { $0.test == .reachability && $0.outcome?.answer != nil }?.outcome?.answer
  }

  private func describe(_ row: Row, glyphs g: Glyphs, wide: Bool) -> (
    Character, CellStyle, String, CellStyle
  ) {
    switch row {
    case .pending:
      return (g.dot, CellStyle(dim: true), "pending", CellStyle(dim: true))
    case .step(let s):
      switch s.outcome {
      case nil:
        return (
          g.running, CellStyle(color: .yellow, bold: true), "running", CellStyle(color: .yellow)
        )
      case .answered(let a)?:
        var text = String(format: "%@%.1f ms", wide ? "answered " : "", a.rtt.milliseconds)
        if a.attempts > 1 { text += ", \(counted(a.attempts, "try"))" }
        return (g.check, CellStyle(color: .green, bold: true), text, CellStyle(color: .green))
      case .noAnswer(let n, let window)?:
        let bad = s.test == .reachability
        let text =
          wide
          ? String(format: "no answer, %d tries in %.1f s", n, window.milliseconds / 1000)
          : "no answer, \(counted(n, "try"))"
        return (
          g.cross, CellStyle(color: bad ? .red : .yellow, bold: true), text,
          CellStyle(color: bad ? .red : .yellow)
        )
      case .unreachable(let u, _)?:
        let text = wide ? u.kind.phrase : "ICMP unreachable"
        return (g.cross, CellStyle(color: .red, bold: true), text, CellStyle(color: .red))
      }
    }
  }

  /// One line of the verdict panel.
  public struct VerdictLine: Equatable, Sendable {
    public var key: String
    public var value: String
    public var style: CellStyle
  }

  /// The verdict panel's lines, reasons wrapped to `width`.
  public func verdictLines(width: Int, arrow: String = "->") -> [VerdictLine] {
    var out: [VerdictLine] = []
    func add(_ key: String, _ value: String, _ style: CellStyle = .plain, reason: String? = nil) {
      out.append(VerdictLine(key: key, value: value, style: style))
      if let reason, !reason.isEmpty {
        for line in wrapText(reason, width: max(10, width)) {
          out.append(VerdictLine(key: "", value: line, style: CellStyle(dim: true)))
        }
      }
    }
    if let failure {
      add("error", failure, CellStyle(color: .red, bold: true))
      return out
    }
    guard let r = attachedReport else {
      let done = steps.filter { $0.outcome != nil }.count
      add("status", "probing: \(done) of \(max(rows.count, steps.count)) tests done")
      if let line = serverLine { add("server", line) }
      if let a = firstAnswer, let mapped = a.reflexive {
        add("public addr", mapped.description, CellStyle(bold: true))
      }
      addPortMapping(nil, into: &out, width: width)
      return out
    }
    let good = CellStyle(color: .green, bold: true)
    let warn = CellStyle(color: .yellow, bold: true)
    let bad = CellStyle(color: .red, bold: true)
    let findings = ProbeFindings.derive(r)
    if r.mappedAddress == nil, let refusals = r.unreachable, !refusals.isEmpty {
      // ICMP came back: UDP got out, but no STUN server listens where it was sent.
      add("STUN server", "none answers", bad, reason: r.mapping.reason)
    } else if r.udpBlocked && !findings.contains(.probeUDPNotMeasured) {
      add("UDP", "blocked", bad, reason: r.mapping.reason)
    } else if r.mappedAddress == nil {
      // Silence that proves nothing about the network (one server, or servers on one host):
      // the findings say no answer came, not that UDP is blocked.
      add("UDP", "no answer", warn, reason: r.mapping.reason)
    } else {
      // A socket bound to every address shows as *:port, as the printed report has it.
      let local =
        r.localAddress.map { $0.ip.isUnspecified ? "*:\($0.port)" : $0.description } ?? "?"
      let mapped = r.mappedAddress.map(\.description) ?? "?"
      add(
        "NAT", r.natDetected ? "yes: \(local) \(arrow) \(mapped)" : "no: the server saw \(mapped)")
      add(
        "mapping", r.mapping.behavior?.rawValue ?? "unknown",
        r.mapping.behavior == .endpointIndependent ? good : warn, reason: r.mapping.reason)
      add(
        "filtering", r.filtering.behavior?.rawValue ?? "unknown",
        r.filtering.behavior == .endpointIndependent ? good : warn, reason: r.filtering.reason)
      add(
        "hairpinning", r.hairpinning.map { $0 ? "yes" : "no" } ?? "not tested",
        r.hairpinning == true ? good : warn)
      if let p = r.portAllocation {
        let what: String
        switch p.pattern {
        case .preserved: what = "preserved (public port = local port)"
        case .sequential: what = "sequential, step \(p.delta ?? 0)"
        case .random: what = "random: ports cannot be predicted"
        }
        add("port alloc.", what, p.predictable ? good : warn)
      }
    }
    add(
      "legacy name", findings.contains(.probeUDPNotMeasured) ? "unknown" : r.legacyType,
      CellStyle(bold: true))
    addPortMapping(r, into: &out, width: width)
    if let line = serverLine { add("server", line) }
    add("for peers", "", reason: r.summary)
    return out
  }

  /// The router's rows: which port-mapping protocols answered, the router's own address, and
  /// (once the probe is done) the double-NAT verdict; a waiting line while it is being asked.
  private func addPortMapping(_ r: ProbeReport?, into out: inout [VerdictLine], width: Int) {
    guard asksRouter || portMapping != nil else { return }
    guard let pm = portMapping else {
      out.append(
        VerdictLine(
          key: "port mapping", value: "asking the router (PCP, NAT-PMP, UPnP IGD)",
          style: CellStyle(dim: true)))
      return
    }
    let answered = pm.protocols.filter(\.answered).map(\.name.displayName)
    var value = answered.isEmpty ? "no protocol answered" : answered.joined(separator: ", ")
    if let gateway = pm.gateway { value += " (gateway \(gateway))" }
    out.append(
      VerdictLine(
        key: "port mapping", value: value,
        style: answered.isEmpty ? .plain : CellStyle(color: .green, bold: true)))
    if let address = pm.externalAddress {
      out.append(VerdictLine(key: "router addr", value: address.description, style: .plain))
    }
    guard let d = r?.doubleNAT else { return }
    let value2 = d.detected.map { $0 ? "yes" : "none seen" } ?? "unknown"
    out.append(
      VerdictLine(
        key: "double NAT", value: value2,
        style: d.detected == true ? CellStyle(color: .yellow, bold: true) : .plain))
    // A detected double NAT is explained in "for peers"; the other verdicts say why here.
    if d.detected != true {
      for line in wrapText(d.reason, width: max(10, width)) {
        out.append(VerdictLine(key: "", value: line, style: CellStyle(dim: true)))
      }
    }
  }

  public func detailLines(width: Int, options: RenderOptions) -> [String] {
    let g = options.glyphs
    if chrome.focus == 1 {
      guard let r = attachedReport else {
        return ["The verdict appears when every test has finished."]
      }
      var out: [String] = []
      var reasons = [
        ("mapping", r.mapping.reason), ("filtering", r.filtering.reason),
        ("hairpinning", r.hairpinningReason), ("ALG", r.alg.reason),
        ("server", r.serverSupport?.reason ?? ""),
      ]
      for p in r.portMapping?.protocols ?? [] {
        reasons.append((p.name.displayName, p.description))
      }
      if let d = r.doubleNAT { reasons.append(("double NAT", d.reason)) }
      reasons.append(("for peers", r.summary))
      for (key, reason) in reasons where !reason.isEmpty {
        out.append(key + ":")
        out += wrapText(reason, width: width - 2).map { "  " + $0 }
      }
      return out
    }
    let list = rows
    let selected = chrome.selection.first ?? 0
    guard list.indices.contains(selected) else { return ["No test selected."] }
    switch list[selected] {
    case .pending(let t):
      return ["\(t.title) [\(t.rawValue)]", "", "Not started yet."]
    case .step(let s):
      var out = ["\(s.test.title) [\(s.test.rawValue) #\(s.index)]", ""]
      out.append(
        "sent from   socket \(s.query.socket.rawValue) \(s.localAddress.map(\.description) ?? "(address not known yet)")"
      )
      out.append("to          \(s.query.destination)")
      var change: [String] = []
      if s.query.changeIP { change.append("IP") }
      if s.query.changePort { change.append("port") }
      out.append(
        "CHANGE-REQ  \(change.isEmpty ? "none" : "change " + change.joined(separator: "+"))")
      if let p = s.query.responsePort { out.append("RESP-PORT   \(p)") }
      if let idle = s.idleMs {
        out.append(String(format: "idle        %.1f s before the check", idle / 1000))
      }
      out.append(String(format: "started     %.1f ms", s.startedAtMs))
      switch s.outcome {
      case nil: out.append("outcome     waiting for an answer \(g.ellipsis)")
      case .noAnswer(let n, let w)?:
        out.append(
          String(
            format: "outcome     no answer after %d tries over %.2f s", n, w.milliseconds / 1000))
      case .unreachable(let u, let n)?:
        out.append("outcome     \(u) after \(n) tr\(n == 1 ? "y" : "ies")")
      case .answered(let a)?:
        out.append("answer from \(a.source) (arrived on socket \(a.arrivedOn.rawValue))")
        out.append("XOR-MAPPED  \(a.xorMappedAddress.map(\.description) ?? "-")")
        if let m = a.mappedAddress { out.append("MAPPED      \(m)") }
        if let o = a.responseOrigin { out.append("RESP-ORIGIN \(o)") }
        if let o = a.otherAddress { out.append("OTHER-ADDR  \(o)") }
        if let sw = a.software { out.append("SOFTWARE    \(sw)") }
        if let code = a.errorCode { out.append("error       \(code) \(a.errorReason ?? "")") }
        out.append(
          String(
            format: "RTT         %.1f ms, %d %@", a.rtt.milliseconds, a.attempts,
            a.attempts == 1 ? "try" : "tries"))
      }
      return out
    }
  }

  /// The `j` file: the report exactly as `natscope probe --json` prints it (the same encoder,
  /// the same schema), once the probe is done; `portMapping` is in it once the router
  /// answered (or gave up).
  public func jsonData() throws -> Data {
    guard let report = attachedReport else {
      throw ConsoleFileUnavailable(
        "no report yet: j writes it once the probe is done")
    }
    return try ReportJSON.encode(SchemaTaggedDocument(ProbeDocument(report), schema: .probe))
  }

}
