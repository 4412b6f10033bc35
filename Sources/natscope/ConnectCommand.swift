import ArgumentParser
import Dispatch
import Foundation
import Network
import Runtime
import STUN
import Scenarios
import Sessions
import Traversal

struct ConnectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "connect",
    abstract: "Try to connect two hosts directly, through their NATs, or through a TURN relay.",
    discussion: """
      Run `natscope connect` on one host and `natscope connect --answer` on the other. \
      The first prints an offer token; paste it into the second, which prints an answer \
      token; paste that back into the first. Both then run real ICE connectivity checks \
      (RFC 8445): host to host, through the NATs (server- and peer-reflexive), and through \
      TURN relays, and report which path worked and why the others did not.

      Tokens are one line starting with "natscope1.". With --sdp, descriptions are SDP \
      lines (a=ice-ufrag, a=ice-pwd, a=candidate:..., ended by an empty line), which other \
      ICE agents can read and write; input may be either form. With --json and no \
      --token-out, the token goes to standard error so standard output stays JSON.

      The TURN password comes from --turn-password or NATSCOPE_TURN_PASSWORD and is never \
      printed. With --turn-secret (or NATSCOPE_TURN_SECRET), a TURN REST API shared secret, \
      natscope makes time-limited credentials itself: user name EXPIRY[:USER] (a day from \
      now, USER from --turn-user), password base64(HMAC-SHA1(secret, user name)).

      On a terminal (and without --json, --no-tui, --token-in, --token-out or --sdp) the \
      exchange runs in a console: `c` copies your token (OSC 52), `p` or a paste takes the \
      peer's, Enter accepts it; candidates, checks and events show live; `q` quits and the \
      report is printed.

      Exit status: 0 connected, 1 usage error or unreadable token, 2 no path worked.
      """)

  @Flag(help: "Answer an offer (ICE controlled) instead of making one.")
  var answer = false

  @Option(
    name: .customLong("stun"),
    help: ArgumentHelp(
      "STUN server for server-reflexive candidates (stun:host[:port] or host[:port]); repeatable.",
      valueName: "uri"))
  var stun: [String] = []

  @Option(
    name: .customLong("turn"),
    help: ArgumentHelp(
      "TURN server for a relayed candidate (turn:host[:port][?transport=udp|tcp]); repeatable.",
      valueName: "uri"))
  var turn: [String] = []

  @Option(help: ArgumentHelp("TURN user name.", valueName: "user"))
  var turnUser: String?

  @Option(
    help: ArgumentHelp(
      "TURN password (prefer the NATSCOPE_TURN_PASSWORD environment variable).",
      valueName: "password"))
  var turnPassword: String?

  @Option(
    help: ArgumentHelp(
      "TURN REST API shared secret, instead of --turn-password (prefer the NATSCOPE_TURN_SECRET environment variable).",
      valueName: "secret"))
  var turnSecret: String?

  @Flag(help: "Also gather host candidates on loopback (127.0.0.1), for tests on one machine.")
  var includeLoopback = false

  @Option(
    help: ArgumentHelp(
      "Seconds the checks may take after the peer's token arrives.", valueName: "s"))
  var timeout: Int = 15

  @Flag(help: "Aggressive nomination: every check carries USE-CANDIDATE (offerer only).")
  var aggressive = false

  @Flag(help: "Skip the quick NAT probe (the token then carries no NAT profile).")
  var noProbe = false

  @Flag(help: "Print the local description as SDP lines instead of a token.")
  var sdp = false

  @Option(
    help: ArgumentHelp(
      "Read the peer's token or SDP from this file or FIFO (- for standard input) instead of asking.",
      valueName: "path"))
  var tokenIn: String?

  @Option(
    help: ArgumentHelp(
      "Write this host's token or SDP to this file or FIFO (- for standard output).",
      valueName: "path"))
  var tokenOut: String?

  @Flag(help: "Print the report as JSON (schema in the README and man page).")
  var json = false

  @Flag(
    name: .shortAndLong, help: "Print every event (candidates, checks, states) on standard error.")
  var verbose = false

  @OptionGroup var sockets: SocketArguments
  @OptionGroup var console: ConsoleArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    guard (1...600).contains(timeout) else {
      throw ValidationError("--timeout must be between 1 and 600 seconds.")
    }
    if answer && aggressive {
      throw ValidationError(
        "--aggressive applies to the offerer, which nominates; the answering side follows the offerer's choice, so drop --aggressive here."
      )
    }
    if turn.isEmpty && (turnUser != nil || turnPassword != nil || turnSecret != nil) {
      throw ValidationError(
        "--turn-user, --turn-password and --turn-secret go with --turn URI; add the TURN server or drop them."
      )
    }
    for text in turn {
      let uri: TURNServerURI
      do {
        uri = try TURNServerURI.parse(text)
      } catch {
        throw ValidationError(error.message)
      }
      if uri.secure {
        throw ValidationError(
          "\(text) asks for TURN over TLS (turns:), which connect does not use yet; use turn: here (natscope turn checks turns: servers)."
        )
      }
    }
    if let ip = sockets.bind?.ip {
      if ip.isLoopback && !includeLoopback {
        throw ValidationError(
          "--bind \(ip) is a loopback address, which gives candidates only with --include-loopback; add it (for tests on one machine) or bind to a LAN address."
        )
      }
      let own = Interfaces.list(includeLoopback: true, includeLinkLocal: true).map(\.address)
      if !ip.isUnspecified && !own.contains(ip) {
        let list = own.map(\.description).joined(separator: ", ")
        throw ValidationError(
          "--bind \(ip) is not an address of this host; its addresses are \(list).")
      }
    }
  }

  var role: SignalingRole { answer ? .answer : .offer }
  var peerRole: SignalingRole { answer ? .offer : .answer }

  func run() throws {
    global.bootstrapLogging()
    let stunServers = try stun.map(resolveServer)
    let turnServers = try turnConfiguration()
    let runtime = NIORuntime(includeLoopback: includeLoopback)
    defer { runtime.shutdown() }
    var agent = ICEConfiguration()
    if aggressive { agent.nomination = .aggressive }
    let configuration = ConnectSessionConfiguration(
      role: role, stunServers: stunServers, turnServers: turnServers,
      portRange: sockets.portRange?.range, includeLoopback: includeLoopback,
      localAddresses: sockets.bind.map { [$0.ip] },
      probeTimeout: noProbe ? nil : .milliseconds(1200),
      checkTimeout: .seconds(Int64(timeout)), agent: agent)
    // The console needs the terminal for itself: tokens go through it, not through files.
    let useConsole =
      console.wantsConsole(json: json) && tokenIn == nil && tokenOut == nil && !sdp
    let box = SessionBox(verbose: verbose && !useConsole)
    if useConsole {
      let report = try ConsoleRunner.runConnect(
        runtime: runtime, configuration: configuration, box: box, peerRole: peerRole,
        options: console.renderOptions)
      print(report.text)
      if report.state != .connected { throw ExitCode(NatscopeExit.unreachable.rawValue) }
      return
    }
    // Ctrl-C (or SIGTERM) while waiting for a paste or during the checks: release the TURN
    // allocations before exiting.
    let signalQueue = DispatchQueue(label: "natscope.connect.signals")
    var sources: [any DispatchSourceSignal] = []
    defer { sources.forEach { $0.cancel() } }
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler {
        Self.close(box, runtime)
        Foundation.exit(128 + sig)
      }
      source.resume()
      sources.append(source)
    }

    // 1. Start gathering (and probing) at once: the answerer gathers while the offer is pasted.
    try runtime.onLoop { rt in
      let session = ConnectSession(
        runtime: rt, configuration: configuration,
        streamConnector: rt.streamConnector())
      box.session = session
      session.onEvent = { entry in box.handle(entry, origin: session) }
      session.start()
    }
    var peer: SessionDescription?
    if answer {
      peer = try readPeer(box: box, runtime: runtime)
    }

    // 2. Our description, once gathered.
    let mine: SessionDescription
    do {
      mine = try runtime.run(timeout: configuration.gatheringTimeout + .seconds(10)) {
        _, done in
        box.whenLocalReady { done.succeed($0) }
      }
    } catch {
      close(box, runtime)
      throw fail("gathering candidates did not finish: \(error)")
    }
    try writeOwn(mine, box: box, runtime: runtime)

    // 3. The peer's description (the offerer reads the answer now).
    if peer == nil { peer = try readPeer(box: box, runtime: runtime) }
    guard let peer else { throw fail("no token was read") }

    // 4. Checks, verdict, hold, close.
    let report: ConnectReport?
    do {
      let limit =
        configuration.checkTimeout + configuration.holdTime + .seconds(10)
      report = try runtime.run(timeout: limit) { _, done in
        box.whenClosed { done.succeed($0) }
        box.session?.setRemoteDescription(peer)
      }
    } catch {
      close(box, runtime)
      throw fail("the checks did not finish: \(error)")
    }
    guard let report else { throw fail("the session closed without a verdict") }
    if verbose, let ms = box.checksToVerdictMs {
      let what = report.state == .connected ? "connected" : "failed"
      stderr(
        "verdict: \(what) \(String(format: "%.1f", ms)) ms after the peer's description was set")
    }
    if json {
      try JSONOutput.print(report)
    } else {
      print(report.text)
    }
    if report.state != .connected { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }

  // MARK: - Configuration

  func turnConfiguration() throws -> [ConnectTURNServer] {
    guard !turn.isEmpty else { return [] }
    let credentials = try TURNCredentialOptions.resolve(
      user: turnUser, password: turnPassword, secret: turnSecret, option: "--turn")
    return try turn.map { text in
      let uri: TURNServerURI
      do {
        uri = try TURNServerURI.parse(text)
      } catch let error as ServerAddressError {
        throw fail(error.message)
      }
      let address = try resolveServer(uri.server.description)
      return ConnectTURNServer(
        address: address, credentials: credentials,
        transport: uri.transport == .tcp ? .tcp : .udp)
    }
  }

  // MARK: - Tokens in and out

  func writeOwn(_ d: SessionDescription, box: SessionBox, runtime: NIORuntime) throws {
    let text = sdp ? d.sdp : d.token + "\n"
    let destination = tokenOut ?? (json ? "stderr" : "-")
    if tokenOut == nil {
      let what = sdp ? "SDP" : (answer ? "answer token" : "offer token")
      let whereTo =
        answer
        ? "paste it into the terminal that made the offer"
        : "paste it into `natscope connect --answer` on the other host"
      stderr("Your \(what) (\(whereTo)):")
    }
    switch destination {
    case "-":
      FileHandle.standardOutput.write(Data(text.utf8))
    case "stderr":
      FileHandle.standardError.write(Data(text.utf8))
    default:
      guard let f = fopen(destination, "w") else {
        close(box, runtime)
        throw fail("cannot write the token to \(destination): \(String(cString: strerror(errno))).")
      }
      fputs(text, f)
      fclose(f)
    }
  }

  func readPeer(box: SessionBox, runtime: NIORuntime) throws -> SessionDescription {
    let source = tokenIn ?? "-"
    if tokenIn == nil {
      stderr(answer ? "Paste the offer token:" : "Paste the answer token:")
    }
    let file: UnsafeMutablePointer<FILE>?
    if source == "-" {
      file = fdopen(dup(0), "r")
    } else {
      file = fopen(source, "r")
    }
    guard let file else {
      close(box, runtime)
      throw fail("cannot read the token from \(source): \(String(cString: strerror(errno))).")
    }
    defer { fclose(file) }
    var reader = DescriptionReader(expecting: peerRole)
    var step = DescriptionReader.Step.needMore
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    var lines = 0
    while step == .needMore, lines < 10_000, getline(&line, &capacity, file) >= 0, let line {
      lines += 1
      step = reader.feed(String(cString: line))
    }
    if step == .needMore { step = reader.finish() }
    switch step {
    case .complete(let d):
      return d
    case .error(let e):
      close(box, runtime)
      throw fail(e.message)
    case .needMore:
      close(box, runtime)
      throw fail(SignalingError.empty.message)
    }
  }

  /// Closes the session (releasing TURN allocations), bounded.
  func close(_ box: SessionBox, _ runtime: NIORuntime) { Self.close(box, runtime) }

  /// Closes the session (releasing TURN allocations), bounded; callable from any thread but
  /// the loop.
  static func close(_ box: SessionBox, _ runtime: NIORuntime) {
    _ = try? runtime.run(timeout: .seconds(8)) { _, done in
      box.whenClosed { _ in done.succeed() }
      box.session?.close()
    }
  }
}

/// The session and the waiters of the current step. Touched only on the runtime's loop
/// (`@unchecked Sendable` so the `@Sendable` bodies of `run`/`onLoop` may carry it there).
final class SessionBox: @unchecked Sendable {
  var session: ConnectSession?
  let verbose: Bool
  private var localWaiter: ((SessionDescription) -> Void)?
  private var closedWaiter: ((ConnectReport?) -> Void)?
  private(set) var checksToVerdictMs: Double?
  /// Sees every event too (the console's feed); set before the session starts.
  var observer: ((ConnectLogEntry, ConnectSession) -> Void)?

  init(verbose: Bool) { self.verbose = verbose }

  func handle(_ entry: ConnectLogEntry, origin: ConnectSession) {
    if verbose { EventLine.print(entry, start: origin) }
    observer?(entry, origin)
    switch entry.event {
    case .localDescriptionReady(let d):
      // The event's description is the session's; it carries the password for the peer.
      if let local = origin.localDescription {
        localWaiter?(local)
      } else {
        localWaiter?(d)
      }
      localWaiter = nil
    case .finished:
      checksToVerdictMs = origin.checksToVerdictMs
    case .phaseChanged(.closed):
      closedWaiter?(origin.report)
      closedWaiter = nil
    default:
      break
    }
  }

  func whenLocalReady(_ f: @escaping (SessionDescription) -> Void) {
    if let d = session?.localDescription { f(d) } else { localWaiter = f }
  }

  func whenClosed(_ f: @escaping (ConnectReport?) -> Void) {
    if let s = session, s.phase == .closed { f(s.report) } else { closedWaiter = f }
  }
}

/// `-v` output: one line per event on standard error, with milliseconds since the start.
enum EventLine {
  static func print(_ entry: ConnectLogEntry, start session: ConnectSession) {
    let ms = entry.at.milliseconds
    let text: String
    switch entry.event {
    case .phaseChanged(let p): text = "phase \(p.rawValue)"
    case .probeStarted(let s):
      text = "probe started: \(s.map(\.description).joined(separator: ", "))"
    case .probeFinished(let p, let r):
      text = "probe finished: " + (p.map { $0.summary } ?? (r ?? "no profile"))
    case .ice(let e): text = "ice \(e)"
    case .relay(let s, let e): text = "turn \(s): \(e)"
    case .relayUnavailable(let s, let r): text = "turn \(s) unavailable: \(r)"
    case .localDescriptionReady(let d): text = "local description ready: \(d)"
    case .remoteDescriptionSet(let n, let u):
      text = "remote description set: \(n) candidates, \(u) usable"
    case .finished(let r): text = "finished: \(r.state.rawValue)"
    }
    stderr(String(format: "%9.1f ms  ", ms) + text)
  }
}

func stderr(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}
