import Console
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Traversal

/// Two real `ConnectSession`s on `SimulatedLab` (two sites behind port-restricted cone NATs,
/// fixed seed), each feeding its own `ConnectScreen` through `ConnectFeed`, with the tokens
/// handed over the way a person would: `p`, a paste, Enter on the other screen; the screen's
/// accepted description goes to its session as `natscope connect` does.
final class ConnectLabRun {
  let lab: SimulatedLab
  let offerHost: SimulatedHost
  let answerHost: SimulatedHost
  let offer: ConnectSession
  let answer: ConnectSession
  var offerScreen: ConnectScreen
  var answerScreen: ConnectScreen
  private var offerEvents: [ConnectScreen.Event] = []
  private var answerEvents: [ConnectScreen.Event] = []
  /// Pasted into the answerer before the real offer token (nil: none).
  var badPaste: String?
  /// When set, no token is handed over (the screens wait for their peers).
  var holdTokens = false
  private(set) var offerPasted = false
  private(set) var answerPasted = false

  init(seed: UInt64 = 7, rows: Int = 24, cols: Int = 80) throws {
    lab = try SimulatedLab(seed: seed)
    offerHost = try lab.addSite("a", behavior: .portRestrictedCone)
    answerHost = try lab.addSite("b", behavior: .portRestrictedCone)
    offer = ConnectSession(
      runtime: offerHost,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress]),
      generator: SeededGenerator(seed: seed &* 2 &+ 1))
    answer = ConnectSession(
      runtime: answerHost,
      configuration: ConnectSessionConfiguration(
        role: .answer, stunServers: [lab.stunServerAddress]),
      generator: SeededGenerator(seed: seed &* 2 &+ 2))
    offerScreen = ConnectScreen(peerRole: .answer, rows: rows, cols: cols)
    offerScreen.model.role = "controlling"
    answerScreen = ConnectScreen(peerRole: .offer, rows: rows, cols: cols)
    answerScreen.model.role = "controlled"
    let offerFeed = ConnectFeed(start: offerHost.now)
    let answerFeed = ConnectFeed(start: answerHost.now)
    offer.onEvent = { [unowned self] entry in
      offerEvents += offerFeed.events(for: entry, session: offer)
    }
    answer.onEvent = { [unowned self] entry in
      answerEvents += answerFeed.events(for: entry, session: answer)
    }
    offer.start()
    answer.start()
  }

  /// Types `p` (unless the field is open), pastes `text` (bracketed paste), presses Enter.
  static func paste(_ text: String, into screen: inout ConnectScreen) {
    if !screen.editingRemote { ConsoleUpdate.update(&screen, key: .char("p")) }
    ConsoleUpdate.update(&screen, key: .paste(text))
    ConsoleUpdate.update(&screen, key: .enter)
  }

  /// Advances the simulation 10 ms at a time (at most `limitMs`) until `stop` holds, moving
  /// tokens between the screens and accepted descriptions to the sessions on the way.
  func run(limitMs: Int = 30_000, until stop: (ConnectLabRun) -> Bool = { _ in false }) {
    for _ in 0..<(limitMs / 10) {
      if stop(self) { return }
      lab.network.run(for: .milliseconds(10))
      for e in offerEvents { ConsoleUpdate.update(&offerScreen, engine: e) }
      for e in answerEvents { ConsoleUpdate.update(&answerScreen, engine: e) }
      offerEvents.removeAll()
      answerEvents.removeAll()
      if holdTokens { continue }
      if !answerPasted && !offerScreen.model.localToken.isEmpty {
        if let bad = badPaste {
          Self.paste(bad, into: &answerScreen)
          badPaste = nil
          continue
        }
        Self.paste(offerScreen.model.localToken, into: &answerScreen)
        answerPasted = true
      }
      if let d = answerScreen.pendingRemote {
        answerScreen.pendingRemote = nil
        let session = answer
        _ = answerHost.schedule(at: answerHost.now) { session.setRemoteDescription(d) }
      }
      if answerPasted && !offerPasted && !answerScreen.model.localToken.isEmpty {
        Self.paste(answerScreen.model.localToken, into: &offerScreen)
        offerPasted = true
      }
      if let d = offerScreen.pendingRemote {
        offerScreen.pendingRemote = nil
        let session = offer
        _ = offerHost.schedule(at: offerHost.now) { session.setRemoteDescription(d) }
      }
    }
  }
}
