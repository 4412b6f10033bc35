import Foundation
import Report
import Sessions
import Traversal

/// The connect screen, fed from a ``ConnectSession``'s events through ``ConnectFeed``: candidates, the
/// check list with state colours and nominated/selected marks, agent state, event log, the
/// token area (`t` shows your whole token, `c` sends it to the clipboard, `p` pastes the
/// peer's) and, at the end, the report, which then takes most of the screen.
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
    /// The DTLS handshake's state word (``ConnectViewModel/dtls``).
    case dtls(String)
    /// The report itself: the panel renders it to its width, `j` writes it as
    /// `natscope connect --json` prints it.
    case finalReport(ConnectReport)
  }

  public var chrome: Chrome
  public var model: ConnectViewModel
  /// Whether the remote-token field takes typed keys (after `p`).
  public var editingRemote = false
  /// The remote token being typed or pasted.
  public var remoteDraft = ""
  /// Whether the field's text came from a paste (not typed): a second paste replaces it.
  public var draftIsPaste = false
  /// The remote token the user confirmed last (a record; the description decoded from it
  /// leaves `update` as ``ConsoleCommand/setRemoteDescription(_:)``).
  public var submittedRemoteToken: String?
  /// The role the peer's token must have; nil accepts any token without checking it (fixtures).
  public var peerRole: SignalingRole?
  /// Whether the bottom panel shows the event log instead of the report (`l`).
  public var showLog = false
  /// Whether the whole-screen token view is open (`t`, or `c`).
  public var showToken = false
  /// Where `c`'s OSC 52 goes (what the token view says about it).
  public var clipboard: ClipboardPath = .terminal
  /// What the token view says after `c`; nil before.
  public var copyNote: String?
  /// The session's report, once the verdict is in (nil with fixtures that give lines only).
  public var finalReport: ConnectReport?
  /// Lines a front puts after the report's first line (the demo: what both probes predicted).
  public var reportPreface: [String] = []
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
        connected ? "connected: q prints the report" : "no path worked: q quits"
      // The report takes the bottom of the screen: it scrolls from its first line, and the
      // check list (now short) scrolls to the selected pair.
      if chrome.selection.count > 2 { chrome.selection[2] = 0 }
      // The token has done its work: the verdict shows.
      showToken = false
      if let i = model.pairs.firstIndex(where: { $0.selected }) { chrome.selection[0] = i }
    case .finalReport(let report): finalReport = report
    case .dtls(let word): model.dtls = word
    }
  }

  /// Once the verdict is in, the candidates and the tokens give way to the report: Tab moves
  /// between the check list and the report (or log) only.
  public func showsPanel(_ panel: Int) -> Bool {
    !(verdictIn && (panel == 1 || panel == 3))
  }

  public func itemCount(panel: Int) -> Int {
    switch panel {
    case 0: model.pairs.count
    case 1: model.candidates.count
    case 2: showsReport ? reportBody.count : model.log.count
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
            let description: SessionDescription
            if Self.isSDP(token) {
              description = try DescriptionReader.read(token, expecting: peerRole).get()
            } else {
              description = try SessionDescription(token: token, expecting: peerRole)
            }
            commands = [.setRemoteDescription(description)]
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
        let what = Self.isSDP(token) ? "description (SDP)" : "token"
        chrome.status =
          peerRole == nil
          ? "remote \(what) set (\(token.count) characters)"
          : "peer's \(what) accepted (\(token.count) characters); checking"
        return commands
      case .paste(let text):
        // A second paste before Enter replaces the first (two tokens joined would be refused
        // as damaged): the last paste is the one meant, and the status says so.
        let earlier = remoteDraft.count
        if earlier > 0 && draftIsPaste {
          remoteDraft = ""
          appendDraft(text)
          chrome.status =
            "this paste replaced the earlier \(earlier) characters (\(remoteDraft.count) now); Enter accepts"
        } else {
          appendDraft(text)
          chrome.status = "pasted \(remoteDraft.count) characters; Enter accepts"
        }
        draftIsPaste = true
      case .char(let c):
        appendDraft(String(c))
        draftIsPaste = false
      case .backspace:
        if !remoteDraft.isEmpty { remoteDraft.removeLast() }
        draftIsPaste = false
      case .clearField:
        remoteDraft = ""
        draftIsPaste = false
      case .interrupt: return [.quit]
      default: break
      }
      return []
    }
    switch key {
    case .escape where showToken:
      showToken = false
      return []
    case .char("t"), .char("T"):
      showToken.toggle()
      return []
    case .char("c"), .char("C"):
      guard !model.localToken.isEmpty else {
        chrome.status = "no token yet"
        return []
      }
      // OSC 52 is write-only: say what was sent, never that it arrived, and show the token
      // whole so it can be selected by hand.
      showToken = true
      copyNote = clipboard.note(characters: model.localToken.count)
      chrome.status = clipboard.status
      return clipboard.sends ? [.copy(model.localToken)] : []
    case .char("p"), .char("P"), .paste:
      showToken = false
      guard !remoteAccepted else {
        chrome.status = "the peer's token is already set"
        return []
      }
      if case .paste(let text) = key {
        editingRemote = true
        remoteDraft = ""
        chrome.focus = 3
        appendDraft(text)
        draftIsPaste = true
        chrome.status = "pasted \(remoteDraft.count) characters; Enter accepts"
        return []
      }
      editingRemote = true
      remoteDraft = ""
      draftIsPaste = false
      chrome.focus = 3
      chrome.status = "paste the peer's token, then Enter (Esc cancels)"
      return []
    case .char("l"), .char("L"):
      showLog.toggle()
      return []
    case .char("r"), .char("R"):
      chrome.status = "connect cannot run again here: quit and start natscope connect anew"
      return []
    case .tab, .backTab, .up, .down, .pageUp, .pageDown, .home, .end, .enter:
      // The token view has no panels to move between.
      return showToken ? [] : nil
    default: return nil
    }
  }

  /// Whether a checked peer token was accepted (it cannot be replaced then).
  public var remoteAccepted: Bool { peerRole != nil && !model.remoteToken.isEmpty }

  private mutating func appendDraft(_ text: String) {
    remoteDraft = String(Self.cleanDraft(remoteDraft + text).prefix(Self.tokenLimit))
  }

  /// The field's text: a token's line breaks and spaces are wrapping, not content, so they go;
  /// SDP (a first line like `a=…` or `candidate:…`) keeps its lines, without empty ones.
  /// Control characters (escape sequences) would corrupt the screen and go either way.
  static func cleanDraft(_ text: String) -> String {
    let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(
      omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" })
    func keep(_ line: Substring, spaces: Bool) -> String {
      let scalars = line.unicodeScalars.compactMap { s -> Unicode.Scalar? in
        if s == "\t" { return spaces ? " " : nil }
        if s.value < 0x20 || s.value == 0x7F { return nil }
        if !spaces && s.properties.isWhitespace { return nil }
        return s
      }
      return String(String.UnicodeScalarView(scalars))
    }
    let first = lines.first { !keep($0, spaces: false).isEmpty }.map { keep($0, spaces: false) }
    guard let first, DescriptionReader.looksLikeSDP(Substring(first)) else {
      return lines.map { keep($0, spaces: false) }.joined()
    }
    let kept = lines.map { keep($0, spaces: true) }
    // The line still being typed (the last) stays as it is, even empty.
    var out = kept.dropLast().map { $0.trimmingCharacters(in: .whitespaces) }.filter {
      !$0.isEmpty
    }
    out.append(kept.last ?? "")
    return out.joined(separator: "\n")
  }

  /// Whether the field holds SDP lines rather than a token.
  static func isSDP(_ text: String) -> Bool {
    text.split(separator: "\n").first.map { DescriptionReader.looksLikeSDP($0) } ?? false
  }

  public var helpLines: [String] {
    [
      "t               your whole token, to select by hand",
      "c               send your token to the clipboard (OSC 52)",
      "p               paste the peer's token or SDP, Enter accepts",
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

  /// Whether the verdict is in (the report then takes the bottom of the screen).
  public var verdictIn: Bool { model.connected != nil && !model.reportLines.isEmpty }

  /// Whether the bottom panel shows the report (not the event log).
  var showsReport: Bool { verdictIn && !showLog }

  /// The report's lines as the panel shows them (no blank lines): the report rendered to the
  /// panel's width when the screen has it, else the lines it was given, wrapped.
  var reportBody: [String] {
    let width = max(40, chrome.cols - 4)
    var lines =
      finalReport.map {
        ConnectReportText.render($0, width: width).split(separator: "\n").map(String.init)
      } ?? model.reportLines.flatMap { Self.wrapAligned($0, width: width) }
    lines.insert(
      contentsOf: reportPreface.flatMap { Self.wrapAligned($0, width: width) },
      at: min(1, lines.count))
    return lines.filter { !$0.isEmpty }
  }

  /// A pair's state as the screen says it. Once the verdict is in, the checks are over: a pair
  /// still frozen or waiting was never checked ("not tried"), one in progress was stopped
  /// ("cancelled") — RFC 8445 §8.1.2 removes such pairs when the check list completes.
  public func displayState(_ p: ConnectViewModel.Pair) -> (text: String, style: CellStyle) {
    if verdictIn {
      switch p.state {
      case .frozen: return ("not tried", CellStyle(dim: true))
      case .waiting where p.checksSent == 0: return ("not tried", CellStyle(dim: true))
      case .waiting, .inProgress: return ("cancelled", CellStyle(dim: true))
      case .succeeded, .failed: break
      }
    }
    return (p.state.rawValue, Self.stateStyle(p.state))
  }

  /// The title's state word: the agent's state while it works, the verdict once it is in
  /// (the agent may have been connected before consent or the hold failed).
  var titleState: (text: String, style: CellStyle) {
    switch model.connected {
    case true?: ("connected", CellStyle(color: .green, bold: true))
    case false?: ("not connected", CellStyle(color: .red, bold: true))
    case nil: ("agent \(model.agentState.rawValue)", Self.agentStyle(model.agentState))
    }
  }

  /// Whether this is the answerer and the offer has not been pasted yet: its first step.
  var awaitsOffer: Bool { peerRole == .offer && model.remoteToken.isEmpty }

  /// "offer", "answer", or nil (fixtures that take any token).
  var localRoleName: String? {
    switch peerRole {
    case .offer?: "answer"
    case .answer?: "offer"
    case nil: nil
    }
  }

  public func render(into grid: inout Grid, options: RenderOptions) {
    let m = model
    let state = titleState
    ConsoleView.drawTitle(
      into: &grid,
      left:
        "natscope connect  \(state.text) (\(m.role))  checks \(m.checksAnswered)/\(m.checksSent) answered"
        + (m.dtls.map { "  \($0)" } ?? ""),
      right: String(format: "%.2f s", m.elapsedMs / 1000))
    if m.agentState != .new || m.connected != nil {
      // Colour the state word in the title.
      grid.restyle(row: 0, column: 1 + "natscope connect  ".count, width: state.text.count) {
        $0 = state.style
        $0.reverse = true
      }
    }
    if showToken {
      renderTokenView(into: &grid, options: options)
      return
    }
    let width = grid.columns
    let available = grid.rows - 2
    var top = 1
    let checkHeight: Int
    let bottomHeight: Int
    if verdictIn {
      // The checks are over: the report (or the log) takes what the check list does not need.
      checkHeight = min(max(4, m.pairs.count + 3), max(6, available / 3))
      bottomHeight = available - checkHeight
    } else {
      let topHeight = max(6, min(available / 3, m.candidates.count + 3))
      bottomHeight = max(5, available / 4)
      checkHeight = available - topHeight - bottomHeight
      renderCandidatesAndTokens(into: &grid, height: topHeight, options: options)
      top += topHeight
    }
    renderCheckList(into: &grid, top: top, height: checkHeight, options: options)
    let logTop = top + checkHeight
    if showsReport {
      renderReport(into: &grid, top: logTop, height: bottomHeight, options: options)
    } else {
      renderLog(into: &grid, top: logTop, height: bottomHeight, options: options)
    }
    let hints =
      verdictIn
      ? "q quit  Tab \(options.glyphs.arrowText == "→" ? "↑↓" : "up/dn") scroll  l \(showLog ? "report" : "log")  j json  ? help"
      : "q quit  Tab focus  Enter details  t token  c copy  p paste  j json  ? help"
    ConsoleView.drawStatus(into: &grid, hints: hints, status: chrome.status, options: options)
  }

  private func renderCandidatesAndTokens(
    into grid: inout Grid, height topHeight: Int, options: RenderOptions
  ) {
    let g = options.glyphs
    let m = model
    let width = grid.columns
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

    // Token area: as much of your token as fits (t shows it whole), then the peer's.
    grid.box(
      row: 1, column: candWidth, height: topHeight, width: tokenWidth, title: "tokens",
      focused: chrome.focus == 3, options: options)
    let inner = tokenWidth - 4
    let bottom = topHeight - 1  // the last inner row (the box ends on row topHeight)
    var r = 2
    grid.put(
      "yours (t: whole, c: copy):", row: r, column: candWidth + 2, style: CellStyle(dim: true))
    r += 1
    // The peer's part needs two rows; before it is pasted, yours may take the rest.
    let peerRows = editingRemote || !m.remoteToken.isEmpty ? max(2, (topHeight - 3) / 2) : 2
    let tokenLines = max(1, bottom - r + 1 - peerRows)
    let mine = chunks(m.localToken.isEmpty ? "(gathering\(g.ellipsis))" : m.localToken, inner)
    for (i, line) in mine.prefix(tokenLines).enumerated() {
      var text = line
      if i == tokenLines - 1 && mine.count > tokenLines {
        text = String(line.prefix(inner - 1)) + String(g.ellipsis)
      }
      grid.put(text, row: r, column: candWidth + 2, style: CellStyle(color: .cyan))
      r += 1
    }
    grid.put(
      editingRemote
        ? "peer's (Enter accepts):"
        : (awaitsOffer ? "paste the offer here (p):" : "peer's (p pastes):"), row: r,
      column: candWidth + 2,
      style: CellStyle(bold: editingRemote || awaitsOffer, dim: !editingRemote && !awaitsOffer))
    r += 1
    let remote =
      editingRemote ? remoteDraft + "_" : (m.remoteToken.isEmpty ? "(none yet)" : m.remoteToken)
    // SDP keeps its lines; a token wraps.
    let remoteLines = remote.split(separator: "\n", omittingEmptySubsequences: false).flatMap {
      chunks(String($0), inner)
    }
    let room = max(1, bottom - r + 1)
    for line in remoteLines.suffix(room) where r <= bottom {
      grid.put(line, row: r, column: candWidth + 2, style: CellStyle(color: .magenta))
      r += 1
    }
  }

  private func renderCheckList(
    into grid: inout Grid, top: Int, height checkHeight: Int, options: RenderOptions
  ) {
    let g = options.glyphs
    let m = model
    let width = grid.columns
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
      // Both marks: a selected pair is (almost always) nominated too.
      let mark =
        (p.selected ? String(g.selectedMark) : " ") + (p.nominated ? String(g.nominatedMark) : " ")
      c = grid.put(mark + " ", row: row, column: c, style: CellStyle(color: .green, bold: true))
      c = grid.putClipped(
        "\(kind(p.localKind)) \(p.local)", row: row, column: c, width: addrW - 1,
        options: options)
      c = 4 + addrW
      grid.putClipped(
        "\(kind(p.remoteKind)) \(p.remote)", row: row, column: c, width: addrW - 1,
        options: options)
      c += addrW
      let state = displayState(p)
      grid.put(state.text, row: row, column: c, style: state.style)
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
  }

  /// The report, scrolled by the arrows when the panel has the focus.
  private func renderReport(
    into grid: inout Grid, top logTop: Int, height logHeight: Int, options: RenderOptions
  ) {
    let m = model
    let width = grid.columns
    grid.box(
      row: logTop, column: 0, height: logHeight, width: width,
      title: "report (l shows events)", focused: chrome.focus == 2, options: options)
    // Long lines wrap (continuations indented), so nothing is cut at the right edge.
    // The report's sentences use ✓, ✗, ↔ and dashes; a terminal without UTF-8 gets them spelled.
    let body = options.ascii ? reportBody.map(ASCIIText.fold) : reportBody
    let rows = body.enumerated().map { (text: $0.element, first: $0.offset == 0) }
    let visible = logHeight - 2
    let sel = chrome.selection[safe: 2] ?? 0
    // The selection is the first line shown.
    let offset = min(sel, max(0, rows.count - visible))
    for (i, row) in rows.enumerated().dropFirst(offset).prefix(visible) {
      grid.putClipped(
        row.text, row: logTop + 1 + i - offset, column: 2, width: width - 4,
        style: row.first
          ? CellStyle(color: m.connected == true ? .green : .red, bold: true) : CellStyle(),
        options: options)
    }
    if rows.count > visible {
      let label = " \(offset + 1)-\(min(rows.count, offset + visible))/\(rows.count) "
      grid.put(
        label, row: logTop + logHeight - 1, column: width - label.count - 2,
        style: CellStyle(dim: true))
    }
  }

  /// A report line cut at spaces to `width`, keeping its own spacing (the columns of "✓ direct
  /// Worked: …"); continuations start under the line's text column.
  static func wrapAligned(_ line: String, width: Int) -> [String] {
    guard width > 8, line.count > width else { return [line] }
    let chars = Array(line)
    // The text column: after the first gap of two spaces that follows text, else the indent.
    var column = chars.prefix { $0 == " " }.count
    var i = column
    while i + 1 < min(chars.count, width / 2) {
      if chars[i] == " " && chars[i + 1] == " " {
        var j = i
        while j < chars.count && chars[j] == " " { j += 1 }
        if j < width / 2 { column = j }
        break
      }
      i += 1
    }
    let indent = String(repeating: " ", count: column)
    var out: [String] = []
    var rest = chars[...]
    var prefix = ""
    while !rest.isEmpty {
      let room = width - prefix.count
      if rest.count <= room {
        out.append(prefix + String(rest))
        break
      }
      let window = rest.prefix(room + 1)
      let cut = window.lastIndex(of: " ").flatMap { $0 > rest.startIndex ? $0 : nil }
      let end = cut ?? (rest.startIndex + room)
      out.append(prefix + String(rest[rest.startIndex..<end]))
      rest = rest[end...].drop { $0 == " " }
      prefix = indent
    }
    return out
  }

  private func renderLog(
    into grid: inout Grid, top logTop: Int, height logHeight: Int, options: RenderOptions
  ) {
    let m = model
    let width = grid.columns
    grid.box(
      row: logTop, column: 0, height: logHeight, width: width,
      title: verdictIn ? "events (l shows the report)" : "events", focused: chrome.focus == 2,
      options: options)
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
  }

  /// The whole token on its own screen, unboxed and at full width, so that a person can
  /// select it with the mouse (the line breaks are wrapping; a paste ignores them).
  private func renderTokenView(into grid: inout Grid, options: RenderOptions) {
    let m = model
    let width = grid.columns
    let last = grid.rows - 2  // the last row above the status line
    var r = 1
    func say(_ text: String, _ style: CellStyle = CellStyle()) {
      for line in wrapText(text, width: width - 2) where r <= last {
        grid.putClipped(line, row: r, column: 1, width: width - 2, style: style, options: options)
        r += 1
      }
    }
    let name = localRoleName.map { "Your \($0) token" } ?? "Your token"
    r += 1
    if m.localToken.isEmpty {
      say("\(name) comes once the candidates are gathered.", CellStyle(bold: true))
    } else {
      say(
        "\(name), \(m.localToken.count) characters: give it to the other side. The line breaks are only wrapping; natscope ignores them in a paste.",
        CellStyle(bold: true))
      r += 1
      // From the first column, without a border: a mouse selection holds the token alone.
      for line in chunks(m.localToken, width) where r <= last {
        grid.put(line, row: r, column: 0, style: CellStyle(color: .cyan))
        r += 1
      }
    }
    r += 1
    say(copyNote ?? "c sends it to the clipboard by OSC 52 (if the terminal takes it).")
    r += 1
    if !m.remoteToken.isEmpty {
      say("The peer's token is set (\(m.remoteToken.count) characters).", CellStyle(dim: true))
    } else if localRoleName == "offer" {
      say(
        "Then paste the answer the other side prints here (p, or just paste).", CellStyle(dim: true)
      )
    } else if localRoleName == "answer" {
      say(
        "First paste the offer the other side printed here (p, or just paste); then give it this answer.",
        CellStyle(bold: true))
    }
    ConsoleView.drawStatus(
      into: &grid, hints: "t or Esc back  c copy  p paste  q quit", status: chrome.status,
      options: options)
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
        "state       \(displayState(p).text)\(p.nominated ? ", nominated" : "")\(p.selected ? ", selected" : "")",
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
    case 2 where showsReport:
      var lines =
        finalReport.map {
          ConnectReportText.render($0, width: width).split(
            separator: "\n", omittingEmptySubsequences: false
          ).map(String.init)
        } ?? model.reportLines.flatMap { wrapText($0, width: width) }
      lines.insert(
        contentsOf: reportPreface.flatMap { wrapText($0, width: width) }, at: min(1, lines.count))
      return options.ascii ? lines.map(ASCIIText.fold) : lines
    case 2:
      let sel = chrome.selection[safe: 2] ?? 0
      guard model.log.indices.contains(sel) else { return ["No events yet."] }
      return wrapText(model.log[sel], width: width)
    default:
      return ["your token:"] + chunks(model.localToken, width) + ["", "peer's token:"]
        + chunks(model.remoteToken, width)
    }
  }

  /// The `j` file: the report exactly as `natscope connect --json` prints it (the same
  /// encoder, the same `schema` key), once the verdict is in. It holds no token and no password.
  public func jsonData() throws -> Data {
    guard let finalReport else {
      throw ConsoleFileUnavailable(
        "no report yet: j writes it once the verdict is in")
    }
    return try ReportJSON.encode(SchemaTaggedDocument(finalReport, schema: .connect))
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
