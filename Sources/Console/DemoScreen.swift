import Foundation
import Report
import STUN
import Traversal

/// The demo screen: one row per NAT preset with its live probe, a topology drawing that
/// highlights the paths of running probes, and the pair-prediction matrix.
public struct DemoScreen: ConsoleScreen {
  /// One simulated host and its probe.
  public struct Site: Equatable, Sendable, Codable {
    public var preset: String
    public var host: String
    public var steps: [ProbeStep] = []
    public var report: ProbeReport?

    public init(preset: String, host: String) {
      self.preset = preset
      self.host = host
    }

    /// Started but not finished.
    public var running: Bool { !steps.isEmpty && report == nil }
  }

  /// What the demo driver feeds the screen.
  public enum Event: Sendable, Equatable {
    case step(site: Int, ProbeAction)
    /// Simulated time, in milliseconds.
    case clock(Double)
    /// A new run: every site starts over.
    case restarted
  }

  public var chrome: Chrome
  public var sites: [Site]
  /// "seed 1, 10 ms per hop, 0% loss".
  public var setting: String
  public var server: String
  public private(set) var clockMs: Double = 0
  /// The matrix column the cursor is on (the row is the matrix panel's selection).
  public var matrixColumn = 0
  /// The first line of the details overlay shown (the overlay scrolls with Up/Down).
  public var detailOffset = 0

  public var name: String { "demo" }
  public var panelTitles: [String] { ["hosts", "pairs"] }

  public init(sites: [Site], server: String, setting: String, rows: Int = 24, cols: Int = 80) {
    self.sites = sites
    self.server = server
    self.setting = setting
    self.chrome = Chrome(rows: rows, cols: cols, panels: 2)
  }

  /// Whether every probe has reported.
  public var finished: Bool { !sites.isEmpty && sites.allSatisfy { $0.report != nil } }

  public mutating func apply(_ event: Event) {
    switch event {
    case .step(let i, let action):
      guard sites.indices.contains(i) else { return }
      switch action {
      case .stepStarted(let s), .stepFinished(let s):
        if let k = sites[i].steps.firstIndex(where: {
          $0.test == s.test && $0.index == s.index && $0.query.socket == s.query.socket
            && $0.query.destination == s.query.destination
        }) {
          sites[i].steps[k] = s
        } else {
          sites[i].steps.append(s)
        }
      case .finished(let r):
        sites[i].report = r
        sites[i].steps = r.steps
        if finished && chrome.status == Self.rerunStatus { chrome.status = "" }
      default: break
      }
    case .clock(let ms): clockMs = ms
    case .restarted:
      for i in sites.indices {
        sites[i].steps = []
        sites[i].report = nil
      }
      clockMs = 0
      chrome.detailOpen = false
      chrome.status = Self.rerunStatus
    }
  }

  /// The status line while a rerun's probes run (cleared when they have all finished).
  public static let rerunStatus = "running again"

  /// The selected cell of the matrix: (row, column) site indices.
  public var matrixCell: (row: Int, column: Int) {
    let row = chrome.selection.count > 1 ? chrome.selection[1] : 0
    return (row, min(max(matrixColumn, 0), max(0, sites.count - 1)))
  }

  public mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]? {
    if chrome.detailOpen {
      // Up/Down scroll the details; the keys that close or move on start them over.
      let page = max(1, chrome.rows / 3)
      switch key {
      case .up: detailOffset -= 1
      case .down: detailOffset += 1
      case .pageUp: detailOffset -= page
      case .pageDown: detailOffset += page
      case .home: detailOffset = 0
      case .end: detailOffset = Int.max / 2
      default:
        detailOffset = 0
        return nil
      }
      detailOffset = min(max(0, detailOffset), maxDetailOffset)
      return []
    }
    if chrome.focus == 1 {
      switch key {
      case .left: matrixColumn = max(0, min(matrixColumn, sites.count - 1) - 1)
      case .right: matrixColumn = min(max(0, sites.count - 1), matrixColumn + 1)
      default: return nil
      }
      return []
    }
    return nil
  }

  public func itemCount(panel: Int) -> Int { sites.count }

  /// The predicted reflexive path between sites `a` and `b`, when both have reported.
  public func prediction(_ a: Int, _ b: Int) -> PathPrediction? {
    guard sites.indices.contains(a), sites.indices.contains(b),
      let ra = sites[a].report, let rb = sites[b].report
    else { return nil }
    return .reflexive(ra.profile, rb.profile)
  }

  // MARK: View

  public func render(into grid: inout Grid, options: RenderOptions) {
    let g = options.glyphs
    let done = sites.filter { $0.report != nil }.count
    ConsoleView.drawTitle(
      into: &grid,
      left: "natscope demo  " + (grid.columns >= 110 ? "simulated internet, " : "") + setting,
      right: String(format: "%d/%d probes  t=%.2f s", done, sites.count, clockMs / 1000))
    let width = grid.columns
    let available = grid.rows - 2
    let hostsHeight = min(sites.count + 3, available / 2)
    hostsPanel(into: &grid, top: 1, height: hostsHeight, options: options)
    let bottomTop = 1 + hostsHeight
    let bottomHeight = available - hostsHeight
    let matrixWidth = min(width / 2, 13 + sites.count * (width >= 110 ? 5 : 3) + 2)
    let topoWidth = width - matrixWidth
    topology(into: &grid, top: bottomTop, height: bottomHeight, width: topoWidth, options: options)
    matrix(
      into: &grid, top: bottomTop, left: topoWidth, height: bottomHeight, width: matrixWidth,
      options: options)
    let hint =
      !finished
      ? "probing\(g.ellipsis)" : (chrome.focus == 1 ? "arrows, Enter pick  w watch" : "Enter why")
    ConsoleView.drawStatus(
      into: &grid, hints: "q quit  Tab focus  \(hint)  r rerun  j json  ? help",
      status: chrome.status, options: options)
  }

  private func state(_ site: Site, glyphs g: Glyphs) -> (String, CellStyle) {
    if let r = site.report {
      return r.udpBlocked
        ? ("\(g.cross) blocked", CellStyle(color: .red, bold: true))
        : ("\(g.check) done", CellStyle(color: .green, bold: true))
    }
    if site.steps.isEmpty { return ("\(g.dot) waiting", CellStyle(dim: true)) }
    let finishedSteps = site.steps.filter { $0.outcome != nil }.count
    return (
      "\(g.running) \(finishedSteps)/\(site.steps.count)", CellStyle(color: .yellow, bold: true)
    )
  }

  private func hostsPanel(into grid: inout Grid, top: Int, height: Int, options: RenderOptions) {
    let width = grid.columns
    grid.box(
      row: top, column: 0, height: height, width: width, title: "hosts, one behind each NAT",
      focused: chrome.focus == 0, options: options)
    let wide = width >= 110
    // Below 95 columns the host address is left to the topology, so the legacy name fits.
    let hostW = width >= 95 ? 15 : 0
    let cols: [(String, Int)] = [
      ("NAT", wide ? 22 : 16), ("host", hostW), ("public address", wide ? 22 : 21),
      ("probe", wide ? 12 : 10), ("map", 5), ("filt", 5), ("hp", 4),
    ]
    let used = cols.reduce(0) { $0 + $1.1 }
    let legacyW = width - 3 - used
    var header = cols.map { pad($0.0, $0.1) }.joined()
    header += "legacy name"
    grid.put(header, row: top + 1, column: 2, width: width - 3, style: CellStyle(dim: true))
    let visible = height - 3
    let selected = chrome.selection.first ?? 0
    let offset = ConsoleView.scrollOffset(selected: selected, count: sites.count, visible: visible)
    for (i, site) in sites.enumerated().dropFirst(offset).prefix(visible) {
      let r = top + 2 + (i - offset)
      var c = 2
      func cell(_ text: String, _ w: Int, _ style: CellStyle = .plain) {
        grid.putClipped(text, row: r, column: c, width: w - 1, style: style, options: options)
        c += w
      }
      let (st, stStyle) = state(site, glyphs: options.glyphs)
      let rep = site.report
      let publicAddr =
        rep.map { $0.udpBlocked ? "(no answer)" : $0.mappedAddress?.description ?? "?" }
        ?? site.steps.first { $0.outcome?.answer?.reflexive != nil }?.outcome?.answer?.reflexive?
        .description ?? ""
      cell(Self.shortName(site.preset, width: cols[0].1 - 1), cols[0].1, CellStyle(bold: true))
      cell(site.host, cols[1].1)
      cell(publicAddr, cols[2].1)
      cell(st, cols[3].1, stStyle)
      if let rep {
        cell(
          rep.udpBlocked ? "-" : (rep.natDetected ? rep.mapping.behavior.abbreviation : "none"),
          cols[4].1)
        cell(rep.udpBlocked ? "-" : rep.filtering.behavior.abbreviation, cols[5].1)
        cell(rep.hairpinning.map { $0 ? "yes" : "no" } ?? "-", cols[6].1)
        grid.putClipped(
          Self.shortLegacyName(rep.legacyType, width: legacyW), row: r, column: c,
          width: legacyW, options: options)
      }
      if chrome.focus == 0 && i == selected {
        grid.restyle(row: r, column: 1, width: width - 2) { $0.reverse = true }
      }
    }
  }

  private func topology(
    into grid: inout Grid, top: Int, height: Int, width: Int, options: RenderOptions
  ) {
    let g = options.glyphs
    grid.box(
      row: top, column: 0, height: height, width: width, title: "topology", focused: false,
      options: options)
    let anyRunning = sites.contains { $0.running }
    let hot = CellStyle(color: .cyan, bold: true)
    let line = CellStyle(dim: !anyRunning)
    let serverLabel = "[STUN \(server) +alt]"
    grid.putClipped(
      serverLabel, row: top + 1, column: 2, width: width - 4,
      style: anyRunning ? hot : CellStyle(bold: true), options: options)
    let busCol = 4
    grid[top + 2, busCol] = Cell(g.vertical, style: anyRunning ? hot : line)
    grid.put("internet", row: top + 2, column: busCol + 2, style: CellStyle(dim: true))
    let visible = min(sites.count, height - 4)
    for (i, site) in sites.prefix(visible).enumerated() {
      let r = top + 3 + i
      let last = i == visible - 1
      let style = site.running ? hot : line
      grid[r, busCol] = Cell(last ? g.bottomLeft : g.teeRight, style: style)
      var c = grid.put(
        String(repeating: String(g.horizontal), count: 2), row: r, column: busCol + 1, style: style)
      let nat: String
      if site.preset == "open" {
        nat = "(no NAT)"
      } else if site.preset == "cgnat" {
        nat = "[CGN]\(g.horizontal)[NAT]"
      } else if site.preset == "udp-blocked" {
        nat = "[firewall]"
      } else {
        nat = "[NAT]"
      }
      c = grid.put(
        nat, row: r, column: c, style: site.running ? hot : CellStyle(bold: site.report != nil))
      c = grid.put(String(g.horizontal) + String(g.horizontal), row: r, column: c, style: style)
      let (st, stStyle) = state(site, glyphs: g)
      let label = "\(site.host) \(site.preset)"
      c = grid.putClipped(
        label, row: r, column: c + 1, width: max(0, width - c - 14), options: options)
      grid.putClipped(
        st, row: r, column: max(c + 1, width - 12), width: 11, style: stStyle, options: options)
    }
    if anyRunning && visible + 4 < height {
      let names = sites.filter(\.running).map(\.preset).joined(separator: ", ")
      grid.putClipped(
        "probing: \(names)", row: top + height - 2, column: 2, width: width - 4, style: hot,
        options: options)
    }
  }

  private func matrix(
    into grid: inout Grid, top: Int, left: Int, height: Int, width: Int, options: RenderOptions
  ) {
    let g = options.glyphs
    grid.box(
      row: top, column: left, height: height, width: width, title: "direct path? (no relay)",
      focused: chrome.focus == 1, options: options)
    guard finished else {
      grid.putClipped(
        "waiting for every probe\(g.ellipsis)", row: top + 1, column: left + 2, width: width - 4,
        style: CellStyle(dim: true), options: options)
      return
    }
    let cellW = width >= 50 ? 5 : 3
    let labelW = 13
    var c = left + 2 + labelW
    for site in sites {
      grid.put(
        String(site.preset.prefix(cellW - 1)), row: top + 1, column: c, style: CellStyle(dim: true))
      c += cellW
    }
    let selected = chrome.selection.count > 1 ? chrome.selection[1] : 0
    for (i, a) in sites.enumerated() where top + 2 + i < top + height - 1 {
      let r = top + 2 + i
      grid.putClipped(
        Self.shortName(a.preset, width: labelW - 1), row: r, column: left + 2, width: labelW - 1,
        options: options)
      var c = left + 2 + labelW
      for j in sites.indices {
        let mark: String
        let style: CellStyle
        switch prediction(i, j)?.outcome {
        case .works?:
          mark = cellW >= 5 ? "yes" : String(g.check)
          style = CellStyle(color: .green, bold: true)
        case .fails?:
          mark = cellW >= 5 ? "no" : String(g.cross)
          style = CellStyle(color: .red, bold: true)
        default:
          mark = "?"
          style = CellStyle(color: .yellow)
        }
        let end = grid.put(mark, row: r, column: c, style: style)
        if chrome.focus == 1 && i == selected && j == matrixCell.column {
          // The cursor: the cell in brackets, reversed (brackets show in plain captures too).
          grid.put("[", row: r, column: c - 1, style: CellStyle(bold: true, reverse: true))
          grid.restyle(row: r, column: c, width: end - c) { $0.reverse = true }
          grid.put("]", row: r, column: end, style: CellStyle(bold: true, reverse: true))
        }
        c += cellW
      }
      if chrome.focus == 1 && i == selected {
        grid.restyle(row: r, column: left + 1, width: labelW) { $0.reverse = true }
      }
    }
    let legendRow = top + 2 + sites.count
    if legendRow < top + height - 1 {
      grid.putClipped(
        "no: only a TURN relay connects them", row: legendRow, column: left + 2,
        width: width - 4, style: CellStyle(dim: true), options: options)
    }
  }

  /// A preset's name cut to `width` the readable way ("port-restricted-cone" becomes
  /// "port-restricted", then "port-restr").
  public static func shortName(_ preset: String, width: Int) -> String {
    var name = preset
    if name.count > width, name.hasSuffix("-cone"), name != "full-cone" {
      name = String(name.dropLast("-cone".count))
    }
    if name.count > width, let short = ["port-restricted": "port-restr"][name] { name = short }
    return name
  }

  /// A legacy (RFC 3489) NAT name shortened to fit `width` where it has a known short form.
  public static func shortLegacyName(_ name: String, width: Int) -> String {
    guard name.count > width else { return name }
    let short = [
      "Port Restricted Cone": "Port Restr. Cone", "Symmetric UDP Firewall": "Sym UDP Firewall",
      "no legacy equivalent": "no legacy name",
    ]
    return short[name] ?? name
  }

  /// The overlay's width for this screen's size, as ``ConsoleView`` draws it, less its frame.
  var detailWidth: Int {
    min(chrome.cols - 2, min(chrome.cols - 8, max(60, chrome.cols * 3 / 4))) - 4
  }
  /// Lines the details overlay shows at once (``ConsoleView`` leaves a row above and below).
  var detailRoom: Int { max(1, chrome.rows - 4) }

  var maxDetailOffset: Int {
    let count = allDetailLines(width: detailWidth).count
    return count > detailRoom ? count - (detailRoom - 1) : 0
  }

  /// The details of the focused panel's selection, scrolled to `detailOffset` when they are
  /// longer than the overlay: the last line then says where the view is and how to scroll.
  public func detailLines(width: Int, options: RenderOptions) -> [String] {
    let all = allDetailLines(width: width)
    guard all.count > detailRoom else { return all }
    let room = detailRoom - 1
    let offset = min(max(0, detailOffset), all.count - room)
    let arrows = options.ascii ? "Up/Down" : "\u{2191}/\u{2193}"
    return Array(all[offset..<(offset + room)]) + [
      "(lines \(offset + 1)-\(offset + room) of \(all.count); \(arrows) scroll)"
    ]
  }

  func allDetailLines(width: Int) -> [String] {
    let selected =
      chrome.selection.indices.contains(chrome.focus) ? chrome.selection[chrome.focus] : 0
    guard sites.indices.contains(selected) else { return ["Nothing selected."] }
    let site = sites[selected]
    if chrome.focus == 1 {
      guard finished else { return ["The predictions appear when every probe has finished."] }
      let other = sites[matrixCell.column]
      var out = [
        "host A: \(site.preset) (\(site.host))",
        "host B: \(other.preset) (\(other.host))",
      ]
      if let p = prediction(selected, matrixCell.column) {
        out.append("the path through the NATs (no relay): \(p.outcome.rawValue)")
        out += wrapText(p.reason, width: width - 2).map { "  " + $0 }
      }
      out += wrapText(
        "Enter again (or w) watches A and B connect live: candidates, checks, nomination.",
        width: width)
      out.append("")
      out.append("\(site.preset) with each other host:")
      out.append("(in each reason host A is \(site.preset), host B the other)")
      for j in sites.indices {
        guard let p = prediction(selected, j) else { continue }
        let wrapped = wrapText(p.reason, width: width - 6)
        out.append(pad(sites[j].preset, 22) + p.outcome.rawValue)
        out += wrapped.map { String(repeating: " ", count: 4) + $0 }
      }
      return out
    }
    var out = ["\(site.preset): host \(site.host)", ""]
    guard let r = site.report else {
      out.append(
        "probing: \(site.steps.filter { $0.outcome != nil }.count) of \(site.steps.count) tests answered or timed out"
      )
      return out
    }
    out.append("legacy name: \(r.legacyType)")
    out.append("mapping: \(r.mapping.behavior?.rawValue ?? "unknown")")
    out += wrapText(r.mapping.reason, width: width - 2).map { "  " + $0 }
    out.append("filtering: \(r.filtering.behavior?.rawValue ?? "unknown")")
    out += wrapText(r.filtering.reason, width: width - 2).map { "  " + $0 }
    out.append("hairpinning: \(r.hairpinning.map { $0 ? "yes" : "no" } ?? "not tested")")
    out += wrapText(r.summary, width: width)
    return out
  }

  public func jsonData() throws -> Data {
    struct Snapshot: Encodable {
      var screen = "demo"
      var setting: String
      var server: String
      var clockMs: Double
      var finished: Bool
      var sites: [Site]
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(
      Snapshot(setting: setting, server: server, clockMs: clockMs, finished: finished, sites: sites)
    )
  }
}
