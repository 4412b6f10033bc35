import ArgumentParser
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

struct BindingCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "binding",
    abstract: "Send one STUN Binding request and show what the server saw.",
    discussion: """
      Prints your reflexive (public) address as SERVER saw it, the round-trip time, the number \
      of requests sent, the server's SOFTWARE, and whether the server supports RFC 5780 (an \
      OTHER-ADDRESS with a different IP and port). Requests are retransmitted as RFC 8489 \
      §6.2.1 describes; an ICMP error (port unreachable: nothing listens there) ends the wait \
      at once.

      SERVER is host, host:port, [IPv6]:port or stun:host[:port]; the port defaults to 3478. \
      stuns:host[:port] (port 5349) sends the request over TLS on TCP instead (RFC 7064, \
      RFC 8489 §6.2.3): the certificate is verified against the system's trust store and the \
      host name (sent as SNI), or against --ca FILE; --insecure skips that, with a warning in \
      the report. After the handshake the report names the certificate's subject, issuer and \
      expiry, with a warning when it expires within 14 days. A failed handshake is one \
      sentence (expired, wrong name, untrusted issuer, no common TLS version or cipher, \
      refused).

      With --every DURATION (monitor mode), the request is repeated every DURATION, --count \
      N times or until SIGINT or SIGTERM: a line per run and what changed since the last run \
      (the address the server saw, whether it answered, since when it has not); with --json \
      one JSON document a line (schema urn:natscope:schema:monitor-1). SIGINT or SIGTERM ends \
      the loop with a summary and exit status 0.

      Exit status: 0 answered, 1 usage error, 2 unresolvable name, no answer, ICMP \
      unreachable, or a failed TLS handshake; 130 or 143 when interrupted by SIGINT \
      (Ctrl-C) or SIGTERM.
      """)

  @Argument(help: ArgumentHelp("The STUN server.", valueName: "server"))
  var server: String

  @Flag(help: "Print the result as JSON.")
  var json = false

  @Option(help: ArgumentHelp("Initial retransmission timeout in milliseconds.", valueName: "ms"))
  var rto: Int = 500

  @Option(help: ArgumentHelp("Requests to send before giving up (RFC 8489 Rc).", valueName: "n"))
  var maxRequests: Int = 7

  @Flag(
    name: .shortAndLong,
    help:
      "Say on stderr what natscope waits for and for how long (said anyway when stderr is a terminal, without --json)."
  )
  var verbose = false

  @OptionGroup var monitor: MonitorArguments
  @OptionGroup var sockets: SocketArguments
  @OptionGroup var tls: STUNTLSArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    try monitor.check()
    let secure = (try? STUNServerURI.parse(server))?.secure ?? false
    if secure && monitor.enabled {
      throw ValidationError(
        "--every repeats a Binding request over UDP; it does not take a stuns: server.")
    }
    try tls.check(anyTLS: secure)
    if secure && (sockets.bind != nil || sockets.portRange != nil) {
      throw ValidationError(
        "--bind and --port-range choose the local UDP socket; a stuns: server is reached over TCP, so drop them."
      )
    }
    guard (10...60_000).contains(rto) else {
      throw ValidationError("--rto must be between 10 and 60000 milliseconds.")
    }
    guard (1...20).contains(maxRequests) else {
      throw ValidationError("--max-requests must be between 1 and 20.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    // Ctrl-C or SIGTERM exits 130 or 143 (in monitor mode: ends the loop with a summary).
    if !monitor.enabled { InterruptExit.install() }
    let uri = try parseSTUNServer(server)
    if uri.secure {
      try runOverTLS(uri)
      return
    }
    let destination: TransportAddress
    do {
      destination = try resolveServer(server)
    } catch let error as UserFacingError where json && error.code == NatscopeExit.unreachable {
      // With --json a name that does not resolve is still a document: the failure, as a finding.
      try JSONOutput.print(
        BindingReport(unresolved: server, error: error.message), schema: .binding)
      throw ExitCode(NatscopeExit.unreachable.rawValue)
    }
    let policy = RetransmissionPolicy(
      initialRTO: .milliseconds(rto), maxRequests: maxRequests, lastWaitMultiplier: 16)
    let options = try sockets.options(toReach: destination)
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let window = policy.timeoutWindow()
    if monitor.enabled {
      let logging = global
      try MonitorRunner.run(
        command: "binding", arguments: monitor, json: json, schema: .binding, runtime: runtime,
        perRun: window + .seconds(5)
      ) { rt, done in
        let client = STUNClient(
          runtime: logging.logged(rt, "natscope.binding"), policy: policy, socketOptions: options)
        client.answersBindingRequests = false
        do {
          try client.send(BindingQuery(socket: ProbeSocketID(0), destination: destination)) {
            outcome, local in
            client.close()
            let report = BindingReport(server: destination, local: local, outcome: outcome)
            done((report, MonitorObservation(binding: report)))
          }
        } catch {
          stderr("natscope: cannot open a UDP socket: \(error)")
          done(nil)
        }
      }
      return
    }
    if verbose || (isatty(STDERR_FILENO) == 1 && !json) {
      // Without an answer the wait is long (RFC 8489's schedule): say what is going on.
      let seconds = String(
        format: "%.1f",
        Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18)
      FileHandle.standardError.write(
        Data(
          "natscope: asking \(destination) what address it sees (up to \(counted(maxRequests, "request")) over \(seconds) s if it does not answer)…\n"
            .utf8))
    }
    let result: BindingReport
    do {
      result = try runtime.run(timeout: window + .seconds(5)) { rt, done in
        let client = STUNClient(
          runtime: global.logged(rt, "natscope.binding"), policy: policy, socketOptions: options)
        client.answersBindingRequests = false
        try client.send(BindingQuery(socket: ProbeSocketID(0), destination: destination)) {
          outcome, local in
          client.close()
          done.succeed(BindingReport(server: destination, local: local, outcome: outcome))
        }
      }
    } catch let error as RuntimeError {
      throw fail("cannot open a UDP socket: \(error)")
    }
    if json {
      try JSONOutput.print(result, schema: .binding)
    } else {
      print(result.text)
    }
    if !result.answered { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }

  /// stuns: one Binding request over TLS on TCP.
  func runOverTLS(_ uri: STUNServerURI) throws {
    let address = try resolveSTUNServer(uri)
    let report = try checkSTUNOverTLS(
      [(uri, address)], tls: tls, note: nil, global: global)
    if json {
      try JSONOutput.print(report, schema: .stuns)
    } else {
      print(report.text)
    }
    if !report.allReachable { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }
}
