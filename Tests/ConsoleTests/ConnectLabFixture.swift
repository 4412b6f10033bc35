import Console
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

/// Two real `ConnectSession`s on `SimulatedLab` (two sites behind port-restricted cone NATs,
/// fixed seed), each behind a `SessionRunner` and feeding its own `ConnectScreen` through
/// `ConnectFeed`, with the tokens handed over the way a person would: `p`, a paste, Enter on
/// the other screen; the `setRemoteDescription` command `update` returns goes to the runner,
/// as `natscope connect` does.
final class ConnectLabRun {
  let lab: SimulatedLab
  let offerHost: SimulatedHost
  let answerHost: SimulatedHost
  let offer: SessionRunner<ConnectLogEntry, ConnectSessionCommand>
  let answer: SessionRunner<ConnectLogEntry, ConnectSessionCommand>
  var offerScreen: ConnectScreen
  var answerScreen: ConnectScreen
  private(set) var offerFeed = ConnectFeed()
  private(set) var answerFeed = ConnectFeed()
  /// Pasted into the answerer before the real offer token (nil: none).
  var badPaste: String?
  /// When set, no token is handed over (the screens wait for their peers).
  var holdTokens = false
  private(set) var offerPasted = false
  private(set) var answerPasted = false
  /// Every command `update` returned for each screen's token pastes.
  private(set) var offerCommands: [ConsoleCommand] = []
  private(set) var answerCommands: [ConsoleCommand] = []

  init(seed: UInt64 = 7, rows: Int = 24, cols: Int = 80) throws {
    lab = try SimulatedLab(seed: seed)
    let offerHost = try lab.addSite("a", behavior: .portRestrictedCone)
    let answerHost = try lab.addSite("b", behavior: .portRestrictedCone)
    self.offerHost = offerHost
    self.answerHost = answerHost
    let stun = lab.stunServerAddress
    offer = .connect(hop: inlineHop) {
      ConnectSession(
        runtime: offerHost,
        configuration: ConnectSessionConfiguration(role: .offer, stunServers: [stun]),
        generator: SeededGenerator(seed: seed &* 2 &+ 1))
    }
    answer = .connect(hop: inlineHop) {
      ConnectSession(
        runtime: answerHost,
        configuration: ConnectSessionConfiguration(role: .answer, stunServers: [stun]),
        generator: SeededGenerator(seed: seed &* 2 &+ 2))
    }
    offerScreen = ConnectScreen(peerRole: .answer, rows: rows, cols: cols)
    offerScreen.model.role = "controlling"
    answerScreen = ConnectScreen(peerRole: .offer, rows: rows, cols: cols)
    answerScreen.model.role = "controlled"
    try offer.start()
    try answer.start()
  }

  /// Types `p` (unless the field is open), pastes `text` (bracketed paste), presses Enter.
  /// Returns the commands `update` returned.
  @discardableResult
  static func paste(_ text: String, into screen: inout ConnectScreen) -> [ConsoleCommand] {
    var commands: [ConsoleCommand] = []
    if !screen.editingRemote { commands += ConsoleUpdate.update(&screen, key: .char("p")) }
    commands += ConsoleUpdate.update(&screen, key: .paste(text))
    commands += ConsoleUpdate.update(&screen, key: .enter)
    return commands
  }

  /// Hands the `setRemoteDescription` commands to a runner.
  private static func perform(
    _ commands: [ConsoleCommand], _ runner: SessionRunner<ConnectLogEntry, ConnectSessionCommand>
  ) throws {
    for case .setRemoteDescription(let d) in commands {
      try runner.send(.setRemoteDescription(d))
    }
  }

  /// Advances the simulation 10 ms at a time (at most `limitMs`) until `stop` holds, moving
  /// tokens between the screens and accepted descriptions to the sessions on the way.
  func run(limitMs: Int = 30_000, until stop: (ConnectLabRun) -> Bool = { _ in false }) throws {
    for _ in 0..<(limitMs / 10) {
      if stop(self) { return }
      lab.network.run(for: .milliseconds(10))
      for entry in offer.drain() {
        for e in offerFeed.events(for: entry) { ConsoleUpdate.update(&offerScreen, engine: e) }
      }
      for entry in answer.drain() {
        for e in answerFeed.events(for: entry) { ConsoleUpdate.update(&answerScreen, engine: e) }
      }
      if holdTokens { continue }
      if !answerPasted && !offerScreen.model.localToken.isEmpty {
        if let bad = badPaste {
          answerCommands += Self.paste(bad, into: &answerScreen)
          badPaste = nil
          continue
        }
        let commands = Self.paste(offerScreen.model.localToken, into: &answerScreen)
        answerCommands += commands
        try Self.perform(commands, answer)
        answerPasted = true
      }
      if answerPasted && !offerPasted && !answerScreen.model.localToken.isEmpty {
        let commands = Self.paste(answerScreen.model.localToken, into: &offerScreen)
        offerCommands += commands
        try Self.perform(commands, offer)
        offerPasted = true
      }
    }
  }
}
