import ArgumentParser
import Console
import Dispatch
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

struct TURNCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "turn",
    abstract:
      "Check TURN servers end to end: reachable, authenticates, allocates, relays, releases.",
    discussion: """
      For each URI, in parallel: sends an Allocate and answers the 401 challenge (realm, \
      nonce), reports the relayed address, the lifetime and your address as the server saw \
      it, refreshes the allocation, makes a second allocation on the same server and sends \
      probes between the two relayed addresses (CreatePermission with Send/Data indications, \
      then ChannelBind with ChannelData), each echoed back, counting loss and measuring the \
      round trip through the relay, and releases both allocations (also on Ctrl-C or SIGTERM).

      A relayed address no peer can reach (private, carrier-grade NAT, loopback or \
      link-local while the server is reached elsewhere, or a public address other than the \
      server's public one) is reported as the external-ip misconfiguration. A 403 to \
      CreatePermission for the server's own relayed address is its policy, not a failure, \
      but then relaying was not tested: the server's verdict says only what was shown \
      (authenticates and allocates), and the check's verdict is "unverified".

      In text, each server's block is printed as soon as its check has finished; while \
      others still run, a line on standard error (when it is a terminal) says which servers \
      natscope still waits for, and for what. Lines are wrapped at the terminal's width, and \
      drawn in ASCII without a UTF-8 locale.

      URI is turn:host[:port][?transport=udp|tcp] or host[:port] (port 3478), or \
      turns:host[:port] for TURN over TLS (port 5349; DTLS is not supported). TLS certificates \
      are verified against the system's trust store and the host name (sent as SNI); --ca FILE \
      trusts a private CA instead, and --insecure skips verification with a warning in the \
      report. After the handshake the report names the certificate's subject, issuer and \
      expiry, with a warning when it expires within 14 days. \
      Credentials: --turn-user with --turn-password (or NATSCOPE_TURN_PASSWORD), or a TURN \
      REST API shared secret with --turn-secret (or NATSCOPE_TURN_SECRET): natscope then \
      uses the user name EXPIRY[:USER] (a day from now) and the password \
      base64(HMAC-SHA1(secret, user name)). Passwords and secrets are never printed.

      Problem codes (--json): unreachable, tls-certificate, tls-handshake, unauthorized, \
      forbidden, quota, \
      relayed-address-unroutable, relay-does-not-relay, allocation-lost, allocate-failed, \
      interrupted.

      Verdict (--json "verdict"): works (every server authenticates, allocates and relays \
      both ways), unverified (no server failed a check, but relaying was not tested on at \
      least one: its policy forbade the peer address), broken (a server failed a check).

      With --every DURATION (monitor mode), the check is repeated every DURATION, --count N \
      times or until SIGINT or SIGTERM: a line per run and what changed since the last run \
      ("TURN relay failing since 14:02 (3 runs)"); an unverified run is "not measured", never \
      a failure. With --json one JSON document a line (schema urn:natscope:schema:monitor-1). \
      SIGINT or SIGTERM releases the allocations, ends the loop with a summary and exits 0.

      Exit status: 0 every server works (allocates and relays), 1 usage error, 2 any server \
      is broken, 4 unverified (none broken, relaying not tested on some); 130 or 143 \
      when interrupted by SIGINT (Ctrl-C) or SIGTERM (after releasing the allocations and \
      printing the report).
      """)

  @Argument(
    help: ArgumentHelp("TURN servers to check.", valueName: "uri"),
    completion: Completions.turnURI)
  var uris: [String] = []

  @OptionGroup var turnCredentials: TURNCredentialArguments

  @Option(
    help: ArgumentHelp(
      "PEM file of CA certificates to trust for turns: servers instead of the system's.",
      valueName: "file"),
    completion: .file())
  var ca: String?

  @Flag(help: "Do not verify turns: servers' TLS certificates (every report then says so).")
  var insecure = false

  @Option(help: ArgumentHelp("Probes sent through the relay per method.", valueName: "n"))
  var probes: Int = 5

  @Flag(help: "Print the report as JSON (schema in the README and man page).")
  var json = false

  @OptionGroup var monitor: MonitorArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    try monitor.check()
    guard !uris.isEmpty else {
      throw ValidationError("Give at least one TURN server, e.g. turn:turn.example.org:3478.")
    }
    guard (1...100).contains(probes) else {
      throw ValidationError("--probes must be between 1 and 100.")
    }
    var anyTLS = false
    for text in uris {
      do {
        anyTLS = try TURNServerURI.parse(text).secure || anyTLS
      } catch {
        throw ValidationError(error.message)
      }
    }
    if (ca != nil || insecure) && !anyTLS {
      throw ValidationError("--ca and --insecure apply to turns: servers; none is given.")
    }
    if ca != nil && insecure {
      throw ValidationError(
        "--insecure skips certificate verification, so --ca would not be used; give one of them.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    let credentials = try turnCredentials.credentials(option: "natscope turn")
    var targets: [TURNCheckTarget] = []
    for text in uris {
      let uri: TURNServerURI
      do {
        uri = try TURNServerURI.parse(text)
      } catch {
        throw fail(error.message)
      }
      let address = try resolveServer(uri.server.description)
      targets.append(
        TURNCheckTarget(
          uri: uri.description, address: address,
          transport: uri.secure ? .tls : uri.transport == .tcp ? .tcp : .udp,
          credentials: credentials, serverName: uri.server.literal == nil ? uri.server.host : nil))
    }
    let checkTargets = targets
    let caFile = ca
    let skipVerification = insecure
    let configuration = TURNCheckSession.Configuration(probes: probes)
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    // One check of every target, as both the single run and each monitor run make it.
    let logging = global
    @Sendable func makeSession(_ rt: NIORuntime) -> TURNCheckSession {
      let session = TURNCheckSession(
        runtime: logging.logged(rt, "natscope.turn"), targets: checkTargets,
        connector: rt.streamConnector(),
        tlsConnector: { target in
          rt.tlsStreamConnector(
            TLSClientSettings(
              serverName: target.serverName, caFile: caFile, insecure: skipVerification))
        }, configuration: configuration)
      if skipVerification {
        session.warnings.append(
          "--insecure: TLS certificates were not verified, so anyone on the path could have answered for the turns: servers."
        )
      }
      return session
    }
    if monitor.enabled {
      let monitorBox = TURNCheckBox()
      try MonitorRunner.run(
        command: "turn", arguments: monitor, json: json, schema: .turn, runtime: runtime,
        perRun: configuration.deadline + .seconds(15),
        interrupt: { _ = try? runtime.onLoop { _ in monitorBox.session?.cancel() } }
      ) { rt, done in
        let session = makeSession(rt)
        monitorBox.session = session
        session.start { report in
          monitorBox.session = nil
          done((report, MonitorObservation(turn: report)))
        }
      }
      return
    }
    let box = TURNCheckBox()
    let text = !json
    let ascii = RenderOptions.detect(
      environment: ProcessInfo.processInfo.environment, forceASCII: false
    ).ascii
    let width = TerminalText.terminalColumns
    let progress = TerminalText.standardErrorIsTerminal
    let total = checkTargets.count

    // Ctrl-C or SIGTERM: stop the checks, release every allocation, print what was found.
    let signalQueue = DispatchQueue(label: "natscope.turn.signals")
    var sources: [any DispatchSourceSignal] = []
    defer { sources.forEach { $0.cancel() } }
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler {
        box.signal = sig
        _ = try? runtime.onLoop { _ in box.session?.cancel() }
      }
      source.resume()
      sources.append(source)
    }

    let report: TURNCheckReport
    do {
      report = try runtime.run(timeout: configuration.deadline + .seconds(15)) { rt, done in
        let session = makeSession(rt)
        box.session = session
        if text {
          // Each server's block as soon as its check is done (flushed at once), and what is
          // still awaited, on a terminal's standard error.
          let waiting = { [weak session] in
            guard progress, let session,
              let line = TURNFindings.waitingLine(
                session.running, deadline: configuration.deadline)
            else { return }
            let folded = ascii ? ASCIIText.fold(line) : line
            let lines = width.map { TextWrap.lines(folded, width: $0, indent: "  ") } ?? [folded]
            stderr(lines.joined(separator: "\n"))
          }
          session.onServerFinished = { server in
            print(TerminalText.fit(server.text(width: width), ascii: ascii, width: width))
            print("")
            fflush(nil)
            box.printed += 1
            if box.printed < total { waiting() }
          }
          // A first word on what is awaited when no server has finished within a second.
          _ = rt.schedule(at: rt.now + .seconds(1)) {
            if box.printed == 0 { waiting() }
          }
        }
        session.start { done.succeed($0) }
      }
    } catch {
      throw fail("the TURN check did not finish: \(error)")
    }
    if json {
      try JSONOutput.print(report, schema: .turn)
    } else {
      print(TerminalText.fit(report.closingText(width: width), ascii: ascii, width: width))
    }
    if let sig = box.signal { throw ExitCode(128 + sig) }
    switch report.verdict {
    case .works: break
    case .unverified: throw NatscopeExit.unverified
    case .broken: throw ExitCode(NatscopeExit.unreachable.rawValue)
    }
  }
}

/// The running check, reachable from the signal handler (touched only on the loop).
final class TURNCheckBox: @unchecked Sendable {
  var session: TURNCheckSession?
  var signal: Int32?
  /// Servers whose block has been printed (text mode).
  var printed = 0
}
