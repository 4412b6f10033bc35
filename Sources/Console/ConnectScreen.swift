import Foundation
import Sessions
import Traversal

/// The connect screen, fed from a ``ConnectSession``'s events through ``ConnectFeed``: candidates, the
/// check list with state colours and nominated/selected marks, agent state, event log, the
/// token area (`c` copies your token, `p` pastes the peer's) and, at the end, the report.
public struct ConnectScreen: ConsoleScreen {
  /// What the ICE driver feeds the screen.
  public enum Event: Sendable, Equatable {
    /// Replace everything (fixtures, or a resync).
    case snapshot(ConnectViewModel)
    case agentState(ConnectViewModel.AgentState)
    case candidate(ConnectViewModel.Candidate)
    /// Insert or update a pair (by `id`).
    case pair(ConnectViewModel.Pair)
    case log(String)
    case elapsed(Double)
    case failed(String)
    /// Replace the whole pair list (live states, RTTs, check counts).
    case pairs([ConnectViewModel.Pair])
    /// This side's token, once gathered.
    case localToken(String)
    /// The ICE role ("controlling", "controlled").
    case role(String)
    /// The verdict and the plain-text report.
    case report(lines: [String], connected: Bool)
  }

  public var chrome: Chrome
  public var model: ConnectViewModel
  /// Whether the remote-token field takes typed keys (after `p`).
  public var editingRemote = false
  /// The remote token being typed or pasted.
  public var remoteDraft = ""
  /// The remote token the user confirmed last (a record; the description decoded from it
  /// leaves `update` as ``ConsoleCommand/setRemoteDescription(_:)``).
  public var submittedRemoteToken: String?
  /// The role the peer's token must have; nil accepts any token without checking it (fixtures).
  public var peerRole: SignalingRole?
  /// Whether the bottom panel shows the event log instead of the report (`l`).
  public var showLog = false
  /// The log keeps at most this many lines.
  public static let logLimit = 500
  /// A pasted token longer than this is cut (a token is a few hundred bytes).
  public static let tokenLimit = 16_384

  public var name: String { "connect" }
  public var panelTitles: [String] { ["check list", "candidates", "log", "token"] }

  public init(
    model: ConnectViewModel = ConnectViewModel(), peerRole: SignalingRole? = nil, rows: Int = 24,
    cols: Int = 80
  ) {
    self.model = model
    self.peerRole = peerRole
    self.chrome = Chrome(rows: rows, cols: cols, panels: 4)
  }

  public mutating func apply(_ event: Event) {
    switch event {
    case .snapshot(let m): model = m
    case .agentState(let s): model.agentState = s
    case .candidate(let c): model.candidates.append(c)
    case .pair(let p):
      if let i = model.pairs.firstIndex(where: { $0.id == p.id }) {
        model.pairs[i] = p
      } else {
        model.pairs.append(p)
      }
    case .log(let line):
      model.log.append(line)
      if model.log.count > Self.logLimit { model.log.removeFirst(model.log.count - Self.logLimit) }
    case .elapsed(let ms): model.elapsedMs = ms
    case .failed(let reason):
      model.agentState = .failed
      model.failureReason = reason
    case .pairs(let pairs): model.pairs = pairs
    case .localToken(let token): model.localToken = token
    case .role(let role): model.role = role
    case .report(let lines, let connected):
      model.reportLines = lines
      model.connected = connected
      chrome.status =
        connected ? "connected: q quits and prints the report" : "no path worked: q quits"
    }
  }

  public func itemCount(panel: Int) -> Int {
    switch panel {
    case 0: model.pairs.count
    case 1: model.candidates.count
    case 2: model.log.count
    default: 1
    }
  }

  public mutating func handleScreenKey(_ key: KeyEvent) -> [ConsoleCommand]? {
    if editingRemote {
      switch key {
      case .escape:
        editingRemote = false
        chrome.status = "paste cancelled"
      case .enter:
        let token = remoteDraft.trimmingCharacters(in: .whitespacesAndNewlines)
        var commands: [ConsoleCommand] = []
        if let peerRole {
          do {
            commands = [
              .setRemoteDescription(try SessionDescription(token: token, expecting: peerRole))
            ]
          } catch {
            // Stay in the field: the next paste replaces the bad token.
            remoteDraft = ""
            chrome.status = error.message
            model.log.append("token refused: \(error.message)")
            return []
          }
        }
        editingRemote = false
        model.remoteToken = token
        submittedRemoteToken = token
        chrome.status =
          peerRole == nil
          ? "remote token set (\(token.count) characters)"
          : "peer's token accepted (\(token.count) characters); checking"
        return commands
      case .paste(let text): appendDraft(text)
      case .char(let c): appendDraft(String(c))
      case .backspace: if !remoteDraft.isEmpty { remoteDraft.removeLast() }
      case .clearField: remoteDraft = ""
      case .interrupt: return [.quit]
      default: break
      }
      return []
    }
    switch key {
    case .char("c"), .char("C"):
      guard !model.localToken.isEmpty else {
        chrome.status = "no token yet"
        return []
      }
      return [.copy(model.localToken)]
    case .char("p"), .char("P"), .paste:
      guard !remoteAccepted else {
        chrome.status = "the peer's token is already set"
        return []
      }
      if case .paste(let text) = key {
        editingRemote = true
        remoteDraft = ""
        chrome.focus = 3
        appendDraft(text)
        chrome.status = "pasted \(remoteDraft.count) characters; Enter accepts"
        return []
      }
      editingRemote = true
      remoteDraft = ""
      chrome.focus = 3
      chrome.status = "paste the peer's token, then Enter (Esc cancels)"
      return []
    case .char("l"), .char("L"):
      showLog.toggle()
      return []
    case .char("r"), .char("R"):
      chrome.status = "connect cannot run again here: quit and start natscope connect anew"
      return []
    default: return nil
    }
  }

  /// Whether a checked peer token was accepted (it cannot be replaced then).
  public var remoteAccepted: Bool { peerRole != nil && !model.remoteToken.isEmpty }

  private mutating func appendDraft(_ text: String) {
    // Line breaks inside a pasted token are wrapping, not content; control characters
    // (escape sequences) would corrupt the screen.
    let scalars = text.unicodeScalars.filter {
      $0.value >= 0x20 && $0.value != 0x7F && !$0.properties.isWhitespace
    }
    let clean = String(String.UnicodeScalarView(scalars))
    remoteDraft = String((remoteDraft + clean).prefix(Self.tokenLimit))
  }

  public var helpLines: [String] {
    [
      "c               copy your token (OSC 52 clipboard)",
      "p               paste the peer's token, Enter accepts",
      "Backspace, ^U   in the token field: delete a character, clear it",
      "l               event log / report (once the verdict is in)",
    ]
  }

  // MARK: View

  static func stateStyle(_ s: ConnectViewModel.Pair.State) -> CellStyle {
    switch s {
    case .frozen: CellStyle(dim: true)
    case .waiting: CellStyle(color: .blue)
    case .inProgress: CellStyle(color: .yellow, bold: true)
    case .succeeded: CellStyle(color: .green, bold: true)
    case .failed: CellStyle(color: .red)
    }
  }

  static func agentStyle(_ s: ConnectViewModel.AgentState) -> CellStyle {
    switch s {
    case .connected, .completed: CellStyle(color: .green, bold: true)
    case .failed: CellStyle(color: .red, bold: true)
    case .checking, .gathering: CellStyle(color: .yellow, bold: true)
    default: CellStyle(bold: true)
    }
  }

  public func render(into grid: inout Grid, options: RenderOptions) {
    let g = options.glyphs
    let m = model
    ConsoleView.drawTitle(
      into: &grid,
      left:
        "natscope connect  agent \(m.agentState.rawValue) (\(m.role))  checks \(m.checksAnswered)/\(m.checksSent) answered",
      right: String(format: "%.2f s", m.elapsedMs / 1000))
    if m.agentState != .new {
      // Colour the state word in the title.
      let word = "agent \(m.agentState.rawValue)"
      let start = 1 + "natscope connect  ".count + "agent ".count
      grid.restyle(row: 0, column: start, width: word.count - 6) {
        $0 = Self.agentStyle(m.agentState)
        $0.reverse = true
      }
    }
    let width = grid.columns
    let available = grid.rows - 2
    let topHeight = max(6, min(available / 3, m.candidates.count + 3))
    let logHeight = max(5, available / 4)
    let checkHeight = available - topHeight - logHeight
    let tokenWidth = max(30, width * 2 / 5)
    let candWidth = width - tokenWidth

    // Candidates.
    grid.box(
      row: 1, column: 0, height: topHeight, width: candWidth, title: "candidates",
      focused: chrome.focus == 1, options: options)
    let candVisible = topHeight - 2
    let candSel = chrome.selection[safe: 1] ?? 0
    let candOffset = ConsoleView.scrollOffset(
      selected: candSel, count: m.candidates.count, visible: candVisible)
    for (i, c) in m.candidates.enumerated().dropFirst(candOffset).prefix(candVisible) {
      let r = 2 + i - candOffset
      var text = pad(c.side.rawValue, 7) + pad(c.kind, 6) + pad(c.address, 22)
      if let rel = c.related, candWidth >= 60 { text += "raddr \(rel)" }
      grid.putClipped(
        text, row: r, column: 2, width: candWidth - 4,
        style: CellStyle(color: c.side == .local ? .normal : .magenta), options: options)
      if chrome.focus == 1 && i == candSel {
        grid.restyle(row: r, column: 1, width: candWidth - 2) { $0.reverse = true }
      }
    }

    // Token area.
    grid.box(
      row: 1, column: candWidth, height: topHeight, width: tokenWidth, title: "tokens",
      focused: chrome.focus == 3, options: options)
    let inner = tokenWidth - 4
    var r = 2
    grid.put("yours (c copies):", row: r, column: candWidth + 2, style: CellStyle(dim: true))
    r += 1
    let tokenLines = max(1, (topHeight - 4) / 2)
    for line in chunks(m.localToken.isEmpty ? "(gathering\(g.ellipsis))" : m.localToken, inner)
      .prefix(tokenLines)
    {
      grid.put(line, row: r, column: candWidth + 2, style: CellStyle(color: .cyan))
      r += 1
    }
    grid.put(
      editingRemote ? "peer's (Enter accepts):" : "peer's (p pastes):", row: r,
      column: candWidth + 2, style: CellStyle(bold: editingRemote, dim: !editingRemote))
    r += 1
    let remote =
      editingRemote ? remoteDraft + "_" : (m.remoteToken.isEmpty ? "(none yet)" : m.remoteToken)
    let remoteLines = chunks(remote, inner)
    let room = max(1, topHeight - (r - 1) - 1)
    for line in remoteLines.suffix(room) where r < 1 + topHeight - 1 {
      grid.put(line, row: r, column: candWidth + 2, style: CellStyle(color: .magenta))
      r += 1
    }

    // Check list.
    let top = 1 + topHeight
    grid.box(
      row: top, column: 0, height: checkHeight, width: width,
      title: "check list (\(counted(m.pairs.count, "pair")))"
        + (width >= 110 ? "" : "  h host s srflx p prflx r relay"),
      focused: chrome.focus == 0, options: options)
    let wide = width >= 110
    let addrW = wide ? 28 : 21
    /// One letter per candidate type where the columns are narrow.
    func kind(_ k: String) -> String { wide ? k : String(k.prefix(1)) }
    let header =
      "   " + pad("local", addrW) + pad("remote", addrW) + pad("state", 12) + pad("RTT", 9)
      + pad("checks", 8) + (wide ? "reason" : "")
    grid.put(header, row: top + 1, column: 1, width: width - 2, style: CellStyle(dim: true))
    let visible = checkHeight - 3
    let sel = chrome.selection[safe: 0] ?? 0
    let offset = ConsoleView.scrollOffset(selected: sel, count: m.pairs.count, visible: visible)
    for (i, p) in m.pairs.enumerated().dropFirst(offset).prefix(visible) {
      let row = top + 2 + i - offset
      var c = 1
      let mark: String =
        p.selected ? String(g.selectedMark) : (p.nominated ? String(g.nominatedMark) : " ")
      c = grid.put(mark + "  ", row: row, column: c, style: CellStyle(color: .green, bold: true))
      c = grid.putClipped(
        "\(kind(p.localKind)) \(p.local)", row: row, column: c, width: addrW - 1,
        options: options)
      c = 4 + addrW
      grid.putClipped(
        "\(kind(p.remoteKind)) \(p.remote)", row: row, column: c, width: addrW - 1,
        options: options)
      c += addrW
      grid.put(p.state.rawValue, row: row, column: c, style: Self.stateStyle(p.state))
      c += 12
      grid.put(p.rttMs.map { String(format: "%.1f ms", $0) } ?? "-", row: row, column: c)
      c += 9
      grid.put("\(p.checksAnswered)/\(p.checksSent)", row: row, column: c)
      c += 8
      if wide, let reason = p.failureReason {
        grid.putClipped(
          reason, row: row, column: c, width: width - 1 - c, style: CellStyle(dim: true),
          options: options)
      }
      if chrome.focus == 0 && i == sel {
        grid.restyle(row: row, column: 1, width: width - 2) { $0.reverse = true }
      }
    }

    grid.put(
      " \(g.selectedMark) selected  \(g.nominatedMark) nominated ", row: top + checkHeight - 1,
      column: 2, style: CellStyle(dim: true))
    if m.pairs.count > visible {
      let label = " \(offset + 1)-\(min(m.pairs.count, offset + visible))/\(m.pairs.count) "
      grid.put(
        label, row: top + checkHeight - 1, column: width - label.count - 2,
        style: CellStyle(dim: true))
    }

    // Log, or the report once the verdict is in.
    let logTop = top + checkHeight
    if !m.reportLines.isEmpty && !showLog {
      grid.box(
        row: logTop, column: 0, height: logHeight, width: width,
        title: "report (l shows events, Tab+Enter the rest)", focused: chrome.focus == 2,
        options: options)
      let lines = m.reportLines.filter { !$0.isEmpty }
      for (i, line) in lines.prefix(logHeight - 2).enumerated() {
        grid.putClipped(
          line, row: logTop + 1 + i, column: 2, width: width - 4,
          style: i == 0
            ? CellStyle(color: m.connected == true ? .green : .red, bold: true) : CellStyle(),
          options: options)
      }
      ConsoleView.drawStatus(
        into: &grid, hints: "q quit  Tab focus  Enter details  c copy  l log  j json  ? help",
        status: chrome.status, options: options)
      return
    }
    grid.box(
      row: logTop, column: 0, height: logHeight, width: width, title: "events",
      focused: chrome.focus == 2, options: options)
    let logVisible = logHeight - 2
    let logSel = chrome.selection[safe: 2] ?? 0
    // The log follows its tail unless focused and scrolled.
    let logOffset =
      chrome.focus == 2
      ? ConsoleView.scrollOffset(selected: logSel, count: m.log.count, visible: logVisible)
      : max(0, m.log.count - logVisible)
    for (i, line) in m.log.enumerated().dropFirst(logOffset).prefix(logVisible) {
      let row = logTop + 1 + i - logOffset
      grid.putClipped(line, row: row, column: 2, width: width - 4, options: options)
      if chrome.focus == 2 && i == logSel {
        grid.restyle(row: row, column: 1, width: width - 2) { $0.reverse = true }
      }
    }
    if let reason = m.failureReason {
      grid.putClipped(
        "failed: \(reason)", row: logTop + logHeight - 1, column: 2, width: width - 4,
        style: CellStyle(color: .red, bold: true), options: options)
    }

    ConsoleView.drawStatus(
      into: &grid, hints: "q quit  Tab focus  Enter details  c copy  p paste  j json  ? help",
      status: chrome.status, options: options)
  }

  private func chunks(_ text: String, _ width: Int) -> [String] {
    guard width > 0 else { return [] }
    var out: [String] = []
    var rest = Substring(text)
    while !rest.isEmpty {
      out.append(String(rest.prefix(width)))
      rest = rest.dropFirst(width)
    }
    return out.isEmpty ? [""] : out
  }

  public func detailLines(width: Int, options: RenderOptions) -> [String] {
    switch chrome.focus {
    case 0:
      let sel = chrome.selection[safe: 0] ?? 0
      guard model.pairs.indices.contains(sel) else { return ["No pairs yet."] }
      let p = model.pairs[sel]
      var out = [
        "pair \(p.id)", "",
        "local       \(p.localKind) \(p.local)",
        "remote      \(p.remoteKind) \(p.remote)",
        "state       \(p.state.rawValue)\(p.nominated ? ", nominated" : "")\(p.selected ? ", selected" : "")",
        "priority    \(p.priority)",
        "checks      \(p.checksSent) sent, \(p.checksAnswered) answered",
        "RTT         \(p.rttMs.map { String(format: "%.1f ms", $0) } ?? "-")",
      ]
      if let reason = p.failureReason {
        out.append("failed because:")
        out += wrapText(reason, width: width - 2).map { "  " + $0 }
      }
      return out
    case 1:
      let sel = chrome.selection[safe: 1] ?? 0
      guard model.candidates.indices.contains(sel) else { return ["No candidates yet."] }
      let c = model.candidates[sel]
      return [
        "\(c.side.rawValue) \(c.kind) candidate", "", "address     \(c.address)",
        "related     \(c.related ?? "-")", "priority    \(c.priority)",
        "foundation  \(c.foundation)",
      ]
    case 2 where !model.reportLines.isEmpty && !showLog:
      return model.reportLines.flatMap { wrapText($0, width: width) }
    case 2:
      let sel = chrome.selection[safe: 2] ?? 0
      guard model.log.indices.contains(sel) else { return ["No events yet."] }
      return wrapText(model.log[sel], width: width)
    default:
      return ["your token:"] + chunks(model.localToken, width) + ["", "peer's token:"]
        + chunks(model.remoteToken, width)
    }
  }

  /// The screen's state for `j`: candidates, pairs, states, the event log and the report, with
  /// a `schemaVersion`. Never the tokens: they carry the ICE passwords.
  public func jsonData() throws -> Data {
    struct Snapshot: Encodable {
      var schemaVersion = 1
      var screen = "connect"
      var role: String
      var agentState: ConnectViewModel.AgentState
      var elapsedMs: Double
      var connected: Bool?
      var failureReason: String?
      var candidates: [ConnectViewModel.Candidate]
      var pairs: [ConnectViewModel.Pair]
      var log: [String]
      var report: [String]
    }
    let m = model
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(
      Snapshot(
        role: m.role, agentState: m.agentState, elapsedMs: m.elapsedMs, connected: m.connected,
        failureReason: m.failureReason, candidates: m.candidates, pairs: m.pairs, log: m.log,
        report: m.reportLines))
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
