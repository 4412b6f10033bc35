/// The `update` half of model/update/view: keys and engine events change a screen's value and
/// may ask the run loop for side effects. Pure: no terminal, no clock, no files.
public enum ConsoleUpdate {
  /// Applies an engine event.
  public static func update<S: ConsoleScreen>(_ model: inout S, engine event: S.EngineEvent) {
    model.apply(event)
    clampSelections(&model)
  }

  /// Applies a key and returns the side effects it asks for.
  @discardableResult
  public static func update<S: ConsoleScreen>(_ model: inout S, key: KeyEvent) -> [ConsoleCommand] {
    if case .resize(let rows, let cols) = key {
      model.chrome.rows = max(0, rows)
      model.chrome.cols = max(0, cols)
      return []
    }
    if key == .interrupt { return [.quit] }
    if model.chrome.helpOpen {
      // Any key closes the help; q still quits.
      model.chrome.helpOpen = false
      return key == .char("q") ? [.quit] : []
    }
    if let commands = model.handleScreenKey(key) {
      clampSelections(&model)
      return commands
    }
    let panels = max(1, model.panelTitles.count)
    var chrome = model.chrome
    if chrome.selection.count < panels {
      chrome.selection += Array(repeating: 0, count: panels - chrome.selection.count)
    }
    let focus = min(max(chrome.focus, 0), panels - 1)
    let count = model.itemCount(panel: focus)
    let page = max(1, chrome.rows / 3)
    var commands: [ConsoleCommand] = []
    switch key {
    case .char("q"), .char("Q"): commands.append(.quit)
    case .char("?"): chrome.helpOpen = true
    case .char("r"), .char("R"): commands.append(.rerun)
    case .char("j"), .char("J"): commands.append(.writeJSON)
    case .tab:
      chrome.focus = nextShownPanel(model, from: focus, step: 1, panels: panels)
      chrome.detailOpen = false
    case .backTab:
      chrome.focus = nextShownPanel(model, from: focus, step: panels - 1, panels: panels)
      chrome.detailOpen = false
    case .up: chrome.selection[focus] -= 1
    case .down: chrome.selection[focus] += 1
    case .pageUp: chrome.selection[focus] -= page
    case .pageDown: chrome.selection[focus] += page
    case .home: chrome.selection[focus] = 0
    case .end: chrome.selection[focus] = count - 1
    case .enter: chrome.detailOpen.toggle()
    case .escape: chrome.detailOpen = false
    default: break
    }
    chrome.selection[focus] = min(max(chrome.selection[focus], 0), max(0, count - 1))
    model.chrome = chrome
    return commands
  }

  /// The next panel in Tab order (`step` 1) or backwards (`step` panels − 1) that the screen
  /// shows; `from` itself when no other is shown.
  static func nextShownPanel<S: ConsoleScreen>(_ model: S, from focus: Int, step: Int, panels: Int)
    -> Int
  {
    var next = focus
    for _ in 0..<panels {
      next = (next + step) % panels
      if model.showsPanel(next) { return next }
    }
    return focus
  }

  static func clampSelections<S: ConsoleScreen>(_ model: inout S) {
    for panel in model.chrome.selection.indices {
      let count = model.itemCount(panel: panel)
      model.chrome.selection[panel] = min(max(model.chrome.selection[panel], 0), max(0, count - 1))
    }
  }
}
