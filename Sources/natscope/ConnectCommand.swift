import ArgumentParser
import DTLS
import Dispatch
import Foundation
import Logging
import Network
import Report
import Runtime
import STUN
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

      A person may take minutes to copy a token across, so each side waits for the other \
      (--timeout, default 300 s): the offerer for the pasted answer, and the answerer, once \
      its answer is printed, for the offerer's first check (which comes when the answer is \
      pasted there); with -v it says how long it has waited. Meanwhile it keeps its NAT \
      mappings (STUN keepalives every 15 s) and TURN allocations alive. The connectivity \
      checks themselves get 15 s, counted from when this side holds both tokens (for the \
      answerer, from the offerer's first check); "Connected in" and timeToConnectedMs count \
      from there too, and the wait for the person is reported apart ("Waited 62 s for the \
      peer's answer", timings.waitedForPeerMs). The answerer waits so however its answer \
      left (the prompt, a file, or a FIFO or pipe whose reader may be a slow relay): only the \
      offerer's check shows the offerer has it. It stops waiting early when the offerer's \
      sockets answer ICMP port unreachable (it quit), or when every pair failed and both \
      NATs' measured behaviour rules out every path (no check could arrive).

      The TURN password comes from --turn-password or NATSCOPE_TURN_PASSWORD and is never \
      printed. With --turn-secret (or NATSCOPE_TURN_SECRET), a TURN REST API shared secret, \
      natscope makes time-limited credentials itself: user name EXPIRY[:USER] (a day from \
      now, USER from --turn-user), password base64(HMAC-SHA1(secret, user name)).

      turns:host[:port] (port 5349) reaches the TURN server over TLS on TCP, e.g. through a \
      network that lets out only TCP to port 443 (turns:host:443). Its certificate is \
      verified against the system's trust store and the host name (sent as SNI); --ca FILE \
      trusts a private CA instead, and --insecure skips verification with a warning in the \
      report. A relay that fails carries the same problem code and sentence as `natscope \
      turn` (paths.relay.problem, local.relays[].problem), and a relayed address no peer \
      can reach (coturn's external-ip misconfiguration) is named as the reason.

      On a terminal (and without --json, --no-tui, --token-in, --token-out or --sdp) the \
      exchange runs in a console: `t` shows your whole token to select by hand, `c` sends it \
      to the terminal's clipboard (OSC 52, which tmux and many terminals drop), `p` or a \
      paste takes the peer's token or SDP, Enter accepts it; candidates, checks and events \
      show live; `j` writes the --json report once the verdict is in; `q` quits and the \
      report is printed (before a verdict: that the session ended, and that its token is no \
      longer usable).

      Port mapping (unless --no-port-mapping): while gathering, natscope asks the default \
      gateway for a mapping of the host candidate's UDP port: a PCP MAP request (RFC 6887) \
      to port 5351, or a NAT-PMP mapping request (RFC 6886) when the router answers PCP with \
      "unsupported version"; lifetime 120 s, the same external port suggested. At the same \
      time an SSDP search for a UPnP IGD device goes to 239.255.255.250:1900 and to the \
      gateway's port 1900; when PCP and NAT-PMP grant nothing, that device is asked over \
      HTTP (AddPortMapping, lease 120 s, or a permanent lease when it takes only those). It \
      waits at most 1 s in all (ICMP port unreachable from both ports ends the attempt at \
      once). A granted mapping is offered as a server-reflexive candidate with the router's \
      external address, renewed at half its lifetime while the session lives (also while \
      waiting for the person), and deleted (lifetime 0, or DeletePortMapping) when natscope \
      exits, on Ctrl-C and SIGTERM too. JSON: local.portMapping.

      DTLS (unless --no-dtls): a fresh ECDSA P-256 certificate per run; its fingerprint and \
      DTLS role go in the token (--sdp: a=fingerprint:sha-256 and a=setup). Once ICE selects \
      a pair, a DTLS 1.2 handshake runs on it (use_srtp offered, flights of at most 1200 \
      bytes, 10 s at most); the peer's certificate must match its fingerprint. JSON: dtls. A \
      peer whose description has no fingerprint offers no DTLS: none is tried, no failure. \
      --dtls-certificate-size makes the certificate as large as a media server's chain, to \
      see whether a path that drops large datagrams stalls such a handshake.

      Path MTU (unless --no-path-mtu): after DTLS, the largest datagram the selected pair \
      carries is searched, both ways, from 576 to 1500 bytes (IP and UDP headers included): \
      Binding checks padded with PADDING (RFC 5780) and sent with the don't-fragment bit, \
      largest size first, then halving, two tries per size, 8 s at most. An ICMP \
      "fragmentation needed" names the router's MTU; silence is a black hole. The reverse \
      direction is measured by asking the peer to pad its answers (a natscope peer does; \
      other agents answer unpadded, and the report says so). JSON: pathMTU.

      Exit status: 0 connected, 1 usage error or no readable token (a pasted token that \
      cannot be read is asked for again, up to 5 times), 2 no path worked (or ICE connected \
      and DTLS failed), 3 ended before a \
      verdict (the console quit with q or Ctrl-C before it; the token it made is then no \
      longer usable); 130, 143 or 129 when interrupted by SIGINT (Ctrl-C), SIGTERM or SIGHUP \
      outside the console; in the console, SIGTERM and SIGHUP print what q prints, then exit \
      143 or 129. \
      The port mapping and TURN allocations are released first, on every way out.
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
      "TURN server for a relayed candidate (turn:host[:port][?transport=udp|tcp] or turns:host[:port]); repeatable.",
      valueName: "uri"),
    completion: Completions.turnURI)
  var turn: [String] = []

  @OptionGroup var turnCredentials: TURNCredentialArguments

  @Option(
    help: ArgumentHelp(
      "PEM file of CA certificates to trust for turns: servers instead of the system's.",
      valueName: "file"))
  var ca: String?

  @Flag(help: "Do not verify turns: servers' TLS certificates (the report then says so).")
  var insecure = false

  @Flag(help: "Also gather host candidates on loopback (127.0.0.1), for tests on one machine.")
  var includeLoopback = false

  @Option(
    help: ArgumentHelp(
      "Seconds to wait for the person at the other end: the offerer for the pasted answer, the answerer for the offerer's first check.",
      valueName: "s"))
  var timeout: Int = 300

  @Flag(help: "Aggressive nomination: every check carries USE-CANDIDATE (offerer only).")
  var aggressive = false

  @Flag(help: "Skip the quick NAT probe (the token then carries no NAT profile).")
  var noProbe = false

  @Flag(
    help:
      "Do not ask the router for a port mapping (by default a PCP, else NAT-PMP, else UPnP IGD, mapping of the host candidate's UDP port, deleted on exit)."
  )
  var noPortMapping = false

  @Flag(
    name: .customLong("no-dtls"),
    help:
      "Do not run DTLS after ICE (by default a DTLS 1.2 handshake runs on the selected pair when the peer's description carries a fingerprint)."
  )
  var noDTLS = false

  @Option(
    name: .customLong("dtls-certificate-size"),
    help: ArgumentHelp(
      "Make this run's DTLS certificate about this many bytes (600 to 16000; normally about 300), as large as the chain a media server sends, to see whether this path carries its handshake.",
      valueName: "bytes"))
  var dtlsCertificateSize: Int?

  @Flag(
    name: .customLong("no-path-mtu"),
    help:
      "Do not search for the largest datagram the selected pair carries (by default searched both ways, 576 to 1500 bytes, after DTLS)."
  )
  var noPathMTU = false

  @Flag(help: "Print the local description as SDP lines instead of a token.")
  var sdp = false

  @Option(
    help: ArgumentHelp(
      "Read the peer's token or SDP from this file or FIFO (- for standard input) instead of asking.",
      valueName: "path"),
    completion: .file())
  var tokenIn: String?

  @Option(
    help: ArgumentHelp(
      "Write this host's token or SDP to this file or FIFO (- for standard output).",
      valueName: "path"),
    completion: .file())
  var tokenOut: String?

  @Option(
    help: ArgumentHelp(
      "Connect to a media server's WHIP endpoint (RFC 9725, ingest): POST an offer, run ICE and DTLS against its answer, DELETE the session at the end.",
      valueName: "url"))
  var whip: String?

  @Option(
    help: ArgumentHelp(
      "Connect to a media server's WHEP endpoint (egress, a recvonly offer), as --whip does.",
      valueName: "url"))
  var whep: String?

  @Option(
    help: ArgumentHelp(
      "Bearer token for --whip/--whep (or NATSCOPE_WHIP_TOKEN); never printed.",
      valueName: "token"))
  var bearer: String?

  @Flag(help: "Print the report as JSON (schema in the README and man page).")
  var json = false

  @Flag(
    name: .shortAndLong, help: "Print every event (candidates, checks, states) on standard error.")
  var verbose = false

  @OptionGroup var sockets: SocketArguments
  @OptionGroup var console: ConsoleArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    guard (1...3600).contains(timeout) else {
      throw ValidationError("--timeout must be between 1 and 3600 seconds.")
    }
    if answer && aggressive {
      throw ValidationError(
        "--aggressive applies to the offerer, which nominates; the answering side follows the offerer's choice, so drop --aggressive here."
      )
    }
    if let n = dtlsCertificateSize {
      if noDTLS {
        throw ValidationError(
          "--dtls-certificate-size sets the certificate of the DTLS handshake, which --no-dtls turns off; drop one of them."
        )
      }
      guard (600...16_000).contains(n) else {
        throw ValidationError(
          "--dtls-certificate-size must be between 600 and 16000 bytes (a normal certificate is about 300), not \(n)."
        )
      }
    }
    if turn.isEmpty && turnCredentials.isGiven {
      throw ValidationError(
        "--turn-user, --turn-password and --turn-secret go with --turn URI; add the TURN server or drop them."
      )
    }
    var anyTLS = false
    for text in turn {
      do {
        anyTLS = try TURNServerURI.parse(text).secure || anyTLS
      } catch {
        throw ValidationError(error.message)
      }
    }
    try validateWHIP()
    if (ca != nil || insecure) && !anyTLS && whipEndpoint?.url.scheme != "https" {
      throw ValidationError(
        "--ca and --insecure apply to turns: servers and https: WHIP/WHEP URLs; none is given.")
    }
    if ca != nil && insecure {
      throw ValidationError(
        "--insecure skips certificate verification, so --ca would not be used; give one of them.")
    }
    if let ca, !FileManager.default.isReadableFile(atPath: ca) {
      throw ValidationError("cannot read the CA file \(ca).")
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
    if let (kind, url) = whipEndpoint {
      return try runWHIP(kind: kind, url: url)
    }
    let runtime = NIORuntime(includeLoopback: includeLoopback)
    defer { runtime.shutdown() }
    let configuration = try sessionConfiguration()
    // The console needs the terminal for itself: tokens go through it, not through files.
    let useConsole =
      console.wantsConsole(json: json) && tokenIn == nil && tokenOut == nil && !sdp
    if useConsole {
      let end = try ConsoleRunner.runConnect(
        runtime: runtime, configuration: configuration, peerRole: peerRole,
        options: console.renderOptions, finish: withWarnings)
      switch end {
      case .verdict(let report):
        print(TerminalText.fit(report.text, ascii: console.renderOptions.ascii))
        if report.state != .connected { throw ExitCode(NatscopeExit.unreachable.rawValue) }
      case .endedEarly(let findings):
        for finding in findings { print(finding.text) }
        throw ExitCode(NatscopeExit.endedEarly.rawValue)
      }
      return
    }
    let runner = Self.runner(runtime, configuration) { global.logged($0, "natscope.connect") }
    // Events are handled in order on their own queue (so `-v` lines keep coming while this
    // thread waits for a paste); this thread waits for what it needs.
    let events = HeadlessConnectEvents(
      verbose: verbose,
      logger: global.logLevel.level <= .debug ? Logger(label: "natscope.connect") : nil)
    let delivery = DispatchQueue(label: "natscope.connect.events")
    runner.onAvailable = { delivery.async { events.handle(runner.drain()) } }
    // However this command ends (a verdict, or an error that closed the session first), the
    // `-v` lines of every event the session gave are printed before it returns.
    defer { delivery.sync {} }
    // Ctrl-C, SIGTERM or SIGHUP (the terminal or ssh session closed) while waiting for a paste
    // or during the checks: release the TURN allocations and the port mapping before exiting
    // with 128 + the signal.
    let sources = InterruptExit.onSignals { Self.close(runner) }
    defer { sources.forEach { $0.cancel() } }

    // 1. Start gathering (and probing) at once: the answerer gathers while the offer is pasted.
    try runner.start()
    var peer: SessionDescription?
    if answer {
      peer = try readPeer(runner)
    }

    // 2. Our description, once gathered.
    let gatherLimit = configuration.gatheringTimeout + .seconds(10)
    guard events.waitForLocalDescription(timeout: gatherLimit), let mine = events.localDescription
    else {
      Self.close(runner)
      throw fail(
        "gathering candidates did not finish within \(gatherLimit.components.seconds) s")
    }
    let toProgram = try writeOwn(mine, runner)
    let limitText = ConnectReportText.duration(configuration.peerWaitTimeout.milliseconds)
    // However the answer left (to a person, a file, or a FIFO or pipe whose reader may be a
    // slow relay), the answerer waits for the offerer's first check before the checks'
    // timeout starts: only that check shows the offerer has the answer.
    if answer {
      stderr(
        toProgram
          ? "Waiting up to \(limitText) for the offerer's first check (the answer went to \(tokenOut ?? "standard output"); the checks start when the offerer has it)."
          : "Waiting up to \(limitText) for the offerer's first check: paste your answer there.")
    }

    // 3. The peer's description (the offerer reads the answer now, bounded by --timeout: the
    // session gives its verdict when no answer came in time).
    if peer == nil {
      peer = try readPeerWhileOpen(runner, limitText: limitText)
    }

    // 4. Checks, verdict, hold, close. The answerer first waits for the offerer's first check.
    var limit = configuration.checkTimeout + configuration.holdTime + .seconds(10)
    if answer { limit += configuration.peerWaitTimeout }
    do {
      if let peer {
        try runner.send(.setRemoteDescription(peer, peerHoldsOurs: !answer))
      }
    } catch {
      Self.close(runner)
      throw fail("the checks could not start: \(error)")
    }
    guard runner.waitUntilFinished(timeout: limit) else {
      Self.close(runner)
      throw fail("the checks did not finish within \(limit.components.seconds) s")
    }
    delivery.sync {}  // every event handled
    let progress = events.progress
    guard let verdict = progress.report else {
      throw fail("the session closed without a verdict")
    }
    let report = withWarnings(verdict)
    if verbose, let ms = progress.checksToVerdictMs {
      let what = report.state == .connected ? "connected" : "failed"
      stderr(
        "verdict: \(what) \(String(format: "%.1f", ms)) ms after the checks started")
    }
    if json {
      try JSONOutput.print(report, schema: .connect)
    } else {
      print(TerminalText.fit(report.text, ascii: console.renderOptions.ascii))
    }
    if report.state != .connected { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }

  /// The session's configuration from the options (both the token exchange and WHIP/WHEP).
  func sessionConfiguration() throws -> ConnectSessionConfiguration {
    let stunServers = try stun.map(resolveServer)
    let turnServers = try turnConfiguration()
    var agent = ICEConfiguration()
    if aggressive { agent.nomination = .aggressive }
    var configuration = ConnectSessionConfiguration(
      role: role, stunServers: stunServers, turnServers: turnServers,
      portRange: sockets.portRange?.range, includeLoopback: includeLoopback,
      localAddresses: sockets.bind.map { [$0.ip] },
      probeTimeout: noProbe ? nil : .milliseconds(1200), agent: agent,
      peerWaitTimeout: .seconds(Int64(timeout)),
      portMapping: noPortMapping ? nil : ConnectPortMappingConfiguration())
    if noPathMTU {
      configuration.pathMTUTurnedOff = true
    } else {
      configuration.pathMTU = PathMTUConfiguration()
    }
    if noDTLS {
      configuration.dtlsTurnedOff = true
    } else {
      do {
        configuration.dtls = try ConnectDTLSSettings.fresh(certificateBytes: dtlsCertificateSize)
      } catch {
        throw ValidationError(error.message)
      }
    }
    return configuration
  }

  /// The runner of this command's session on `runtime`: the headless run and the console
  /// both drive the session through it.
  /// - Parameter logged: wraps the runtime the session sees (`--log-level` logging; the console
  ///   leaves it unwrapped, since log lines would land on its screen).
  static func runner(
    _ runtime: NIORuntime, _ configuration: ConnectSessionConfiguration,
    logged: @escaping @Sendable (any NetworkRuntime) -> any NetworkRuntime = { $0 }
  ) -> SessionRunner<ConnectLogEntry, ConnectSessionCommand> {
    .connect(hop: runtime.hop) {
      ConnectSession(
        runtime: logged(runtime), configuration: configuration,
        streamConnector: runtime.streamConnector(),
        tlsConnector: { server in
          runtime.tlsStreamConnector(server.tls ?? TLSClientSettings(serverName: nil))
        },
        rawStreamConnector: runtime.rawStreamConnector())
    }
  }

  /// The report with this run's warnings: `--insecure`, and a `turns:` server's certificate
  /// that has expired or expires within 14 days (as `natscope turn` warns).
  func withWarnings(_ report: ConnectReport) -> ConnectReport {
    var report = report
    if insecure { report.warnings.append(ConnectReport.insecureWarning) }
    for relay in report.local.relays {
      if let w = relay.certificate?.expiryWarning(uri: "turns:\(relay.server)", now: Date()),
        !report.warnings.contains(w)
      {
        report.warnings.append(w)
      }
    }
    return report
  }

  // MARK: - Configuration

  func turnConfiguration() throws -> [ConnectTURNServer] {
    guard !turn.isEmpty else { return [] }
    let credentials = try turnCredentials.credentials(option: "--turn")
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
        transport: uri.transport == .tcp ? .tcp : .udp,
        tls: uri.secure
          ? TLSClientSettings(
            serverName: uri.server.literal == nil ? uri.server.host : nil, caFile: ca,
            insecure: insecure) : nil)
    }
  }

  // MARK: - Tokens in and out

  /// Writes our description; returns whether it went straight to a program (`--token-out`
  /// naming a FIFO, pipe or socket, which the peer has open) rather than to a person (the
  /// prompt, a terminal or a file).
  @discardableResult
  func writeOwn(_ d: SessionDescription, _ runner: ConnectRunner) throws -> Bool {
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
      return tokenOut != nil && Self.isPipe(STDOUT_FILENO)
    case "stderr":
      FileHandle.standardError.write(Data(text.utf8))
      return false
    default:
      guard let f = fopen(destination, "w") else {
        Self.close(runner)
        throw fail("cannot write the token to \(destination): \(String(cString: strerror(errno))).")
      }
      let pipe = Self.isPipe(fileno(f))
      fputs(text, f)
      fclose(f)
      return pipe
    }
  }

  /// Whether `fd` is a FIFO, pipe or socket: what is written there reaches a reader that
  /// has it open now, not a person.
  static func isPipe(_ fd: Int32) -> Bool {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return false }
    let kind = st.st_mode & S_IFMT
    return kind == S_IFIFO || kind == S_IFSOCK
  }

  /// Reads the peer's description while the session is open: nil when the session finished
  /// first (its wait for the answer ran out; the report says so).
  func readPeerWhileOpen(_ runner: ConnectRunner, limitText: String) throws
    -> SessionDescription?
  {
    let read = PeerRead()
    nonisolated(unsafe) let command = self
    let prompt = tokenIn == nil ? "Paste the answer token (waiting up to \(limitText)):" : nil
    Thread.detachNewThread {
      read.finish(Result { try command.readPeer(runner, prompt: prompt) })
    }
    // Bounded: the session's own deadline (--timeout) ends the wait when no answer comes.
    while !read.isDone {
      if runner.waitUntilFinished(timeout: .milliseconds(200)) { break }
    }
    // The reader closes the session itself when the paste is refused, and says why just
    // after: give it that moment.
    for _ in 0..<100 where !read.isDone { usleep(10_000) }
    switch read.result {
    case .success(let d)?: return d
    case .failure(let e)?: throw e
    case nil: return nil
    }
  }

  /// How many pastes of the peer's description are read before the session gives up: a
  /// mistyped character asks again rather than ending the session (and the offer with it).
  static let pasteAttempts = 5

  /// Reads the peer's description. One that cannot be read is refused in one sentence and
  /// asked for again (up to ``pasteAttempts`` in all) while the session stays open; at the end
  /// of the input (a closed pipe), or from a regular file, the refusal is final.
  func readPeer(_ runner: ConnectRunner, prompt: String? = nil) throws -> SessionDescription {
    let source = tokenIn ?? "-"
    if tokenIn == nil {
      stderr(prompt ?? (answer ? "Paste the offer token:" : "Paste the answer token:"))
    }
    let file: UnsafeMutablePointer<FILE>?
    if source == "-" {
      file = fdopen(dup(0), "r")
    } else {
      file = fopen(source, "r")
    }
    guard let file else {
      Self.close(runner)
      throw fail("cannot read the token from \(source): \(String(cString: strerror(errno))).")
    }
    defer { fclose(file) }
    // A regular file named with --token-in holds what it holds: nobody pastes into it again.
    var info = stat()
    let regularFile =
      source != "-" && fstat(fileno(file), &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    let attempts = regularFile ? 1 : Self.pasteAttempts
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    var lines = 0
    for attempt in 1...attempts {
      var reader = DescriptionReader(expecting: peerRole)
      var step = DescriptionReader.Step.needMore
      var ended = false
      while step == .needMore, lines < 10_000 {
        guard getline(&line, &capacity, file) >= 0, let line else {
          ended = true
          break
        }
        lines += 1
        step = reader.feed(String(cString: line))
      }
      if step == .needMore { step = reader.finish() }
      let error: SignalingError
      switch step {
      case .complete(let d):
        return d
      case .error(let e):
        error = e
      case .needMore:
        error = .empty
      }
      // Nothing more can come (end of input, or the line limit): no use asking again.
      let last = attempt == attempts || ended || lines >= 10_000
      let refused = SessionEndFindings.pasteRefused(
        reason: error.message, attempt: attempt, attempts: last ? attempt : attempts)
      if last {
        Self.close(runner)
        throw fail(ended || regularFile ? error.message : refused.text)
      }
      stderr(refused.text)
    }
    Self.close(runner)
    throw fail(SignalingError.empty.message)
  }

  /// Closes the session (releasing TURN allocations), bounded; callable from any thread but
  /// the loop.
  static func close(_ runner: ConnectRunner) {
    do {
      try runner.send(.close)
    } catch {
      return  // the runtime is gone, and the session's sockets with it
    }
    _ = runner.waitUntilFinished(timeout: .seconds(8))
  }
}

/// The peer's description read on a thread of its own.
final class PeerRead: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Result<SessionDescription, any Error>?

  func finish(_ r: Result<SessionDescription, any Error>) {
    lock.withLock { value = r }
  }

  var isDone: Bool { lock.withLock { value != nil } }

  var result: Result<SessionDescription, any Error>? { lock.withLock { value } }
}

typealias ConnectRunner = SessionRunner<ConnectLogEntry, ConnectSessionCommand>

/// The headless `connect`'s view of its session: the events folded into a ``ConnectProgress``
/// (on the delivery queue), `-v` lines, and a signal when our description is ready.
final class HeadlessConnectEvents: @unchecked Sendable {
  private let verbose: Bool
  private let lock = NSLock()
  private var state = ConnectProgress()
  private let localReady = DispatchSemaphore(value: 0)
  /// Logs each event's line at debug (`--log-level debug`); nil otherwise.
  private let logger: Logger?
  /// `-v` leaves out the waiting-for-the-peer lines (they speak of pasting tokens; with
  /// --whip/--whep the HTTP exchange prints its own lines instead).
  var omitsWaitingLines = false

  init(verbose: Bool, logger: Logger? = nil) {
    self.verbose = verbose
    self.logger = logger
  }

  /// Handles events in order (called on one serial queue).
  func handle(_ entries: [ConnectLogEntry]) {
    for entry in entries {
      lock.lock()
      let hadLocal = state.localDescription != nil
      state.apply(entry)
      let hasLocal = state.localDescription != nil
      lock.unlock()
      // `-v`: one line per event with the milliseconds since the runtime started.
      if verbose, !(omitsWaitingLines && entry.event.isWaitingForPeer) {
        stderr(entry.logLine(since: .zero, width: 9))
      }
      // `--log-level debug`: the session's state changes, as log records.
      logger?.debug("\(entry.event.logLine)")
      if !hadLocal && hasLocal { localReady.signal() }
    }
  }

  var progress: ConnectProgress {
    lock.lock()
    defer { lock.unlock() }
    return state
  }

  /// This side's description (with the password the peer needs), once ready.
  var localDescription: SessionDescription? { progress.localDescription }

  func waitForLocalDescription(timeout: Duration) -> Bool {
    localReady.wait(timeout: .now() + .milliseconds(Int(timeout.milliseconds))) == .success
  }
}

extension ConnectEvent {
  var isWaitingForPeer: Bool {
    if case .waitingForPeer = self { return true }
    return false
  }
}

func stderr(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}
