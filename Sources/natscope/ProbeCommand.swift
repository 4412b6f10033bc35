import ArgumentParser
import Console
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

struct ProbeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Find out what your NAT does (RFC 5780) and what that means for direct connections.",
    discussion: """
      Runs RFC 5780's tests against SERVER: UDP reachability, mapping (tests I-III), filtering \
      (tests II-III, and a fourth test from erratum 7971), hairpinning, ALG detection, port \
      allocation, and with --lifetime the binding lifetime. Every request is retransmitted; \
      "no answer" is concluded only after the whole window, which follows the measured RTT, \
      or at once when an ICMP error comes back (port unreachable: no STUN server there).

      Mapping and filtering need a server with two IP addresses (natscope serve, coturn's \
      turnserver with two --listening-ip, stuntman). With servers that lack RFC 5780, mapping \
      is judged by comparing two or more servers and filtering is reported as unknown.

      With no SERVER, natscope tries its default list: \(ProbeCommand.defaultServers.joined(separator: ", ")) \
      (override with NATSCOPE_DEFAULT_SERVERS, comma-separated).

      Unless --no-port-mapping is given, natscope also asks the host's default gateway, read-only, \
      whether it offers port mapping and what its own internet address is: a NAT-PMP external \
      address request and a PCP ANNOUNCE to the gateway's UDP port 5351, and an SSDP M-SEARCH \
      to 239.255.255.250:1900 followed by the UPnP IGD device description and \
      GetExternalIPAddress over HTTP. It never creates a mapping. When the router's own address \
      differs from the one the STUN server saw, there is another NAT above the router. The \
      router is not asked when every server is on loopback.

      With --port-mapping, natscope also makes one short-lived test mapping after the probe: a \
      UDP socket's port mapped on the router for 30 s with the first protocol that answered (PCP \
      MAP, else NAT-PMP's UDP mapping request, else UPnP IGD AddPortMapping), the same external \
      port suggested. From that socket it asks the RFC 5780 server (CHANGE-REQUEST and \
      RESPONSE-PORT) to answer from its other address and port to the mapped external port: if \
      the answer arrives, peers get in through the mapping. Then it deletes the mapping \
      (lifetime 0, or DeletePortMapping), also on Ctrl-C or SIGTERM. The report lists every \
      request sent to the router. When the router claims the address servers see but every \
      protocol refused the mapping as a router that cannot forward from its internet side \
      does (PCP 7, 8, 11; NAT-PMP 3, 4; UPnP 501), a NAT above it is reported as likely.

      Given only stuns:host[:port] servers (STUN over TLS on TCP, port 5349), natscope checks \
      that each answers a Binding request over TLS (certificate verified against the system's \
      trust store, or --ca FILE; --insecure skips that with a warning) and reports the address \
      it saw; RFC 5780's tests need UDP, so they are not run, and the report says so. stun: and \
      stuns: servers are not mixed in one run.

      With --every DURATION (monitor mode), the probe is repeated every DURATION, --count N \
      times or until SIGINT or SIGTERM: a line per run, then what changed since the last run \
      (mapping, filtering, the address the server saw, whether it answered); a property a run \
      did not measure is "not measured", never a change. With --json each run is one JSON \
      document on one line (schema urn:natscope:schema:monitor-1, with a timestamp). The \
      router is not asked about port mapping in monitor mode. SIGINT or SIGTERM ends the loop \
      with a summary and exit status 0.

      Exit status: 0 verdict reached (stuns: every server answered), 1 usage or internal \
      error, 2 no server reachable, no STUN server at the address (ICMP port unreachable), UDP \
      blocked, or a stuns: server not answering over TLS, 3 the console was quit (q, Ctrl-C) \
      before the probe finished; 130 or 143 when interrupted by SIGINT (Ctrl-C) or SIGTERM \
      outside the console; in the console, SIGTERM and SIGHUP print what q prints, then exit \
      143 or 129.
      """)

  static let defaultServers = [
    "stun.l.google.com:19302", "stun.cloudflare.com:3478", "stun.stunprotocol.org:3478",
  ]

  @Argument(help: ArgumentHelp("STUN servers to probe with.", valueName: "server"))
  var servers: [String] = []

  @Flag(help: "Print the report as JSON (schema in the README and man page).")
  var json = false

  @Flag(
    name: .shortAndLong, help: "Also list every request: what was sent from where, what came back.")
  var verbose = false

  @Flag(help: "Measure the binding lifetime (slow: waits up to --lifetime-max).")
  var lifetime = false

  @Option(
    help: ArgumentHelp("Longest idle time the lifetime search tries, in seconds.", valueName: "s"))
  var lifetimeMax: Int = 120

  @Flag(help: "Skip the hairpinning test.")
  var noHairpin = false

  @Flag(help: "Do not ask the default gateway about port mapping (NAT-PMP, PCP, UPnP IGD).")
  var noPortMapping = false

  @Flag(
    help:
      "Also make a 30 s test mapping of one UDP port on the router, prove peers get in through it, and delete it."
  )
  var portMapping = false

  @Option(
    help: ArgumentHelp("Fresh sockets used to learn port allocation (0 to skip).", valueName: "n"))
  var portSamples: Int = 4

  @OptionGroup var monitor: MonitorArguments
  @OptionGroup var sockets: SocketArguments
  @OptionGroup var tls: STUNTLSArguments
  @OptionGroup var console: ConsoleArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    try monitor.check()
    let secure = servers.filter { (try? STUNServerURI.parse($0))?.secure ?? false }
    if monitor.enabled && (!secure.isEmpty || portMapping || lifetime) {
      throw ValidationError(
        "--every repeats the UDP probe; it cannot be combined with stuns: servers, --port-mapping or --lifetime."
      )
    }
    if !secure.isEmpty && secure.count < servers.count {
      throw ValidationError(
        "stuns: servers are checked over TLS only and stun: servers run RFC 5780's UDP tests; give one kind per run."
      )
    }
    try tls.check(anyTLS: !secure.isEmpty)
    if !secure.isEmpty && (sockets.bind != nil || sockets.portRange != nil) {
      throw ValidationError(
        "--bind and --port-range choose the local UDP socket; a stuns: server is reached over TCP, so drop them."
      )
    }
    guard (0...32).contains(portSamples) else {
      throw ValidationError("--port-samples must be between 0 and 32.")
    }
    guard !(portMapping && noPortMapping) else {
      throw ValidationError("--port-mapping and --no-port-mapping cannot be used together.")
    }
    guard (1...3600).contains(lifetimeMax) else {
      throw ValidationError("--lifetime-max must be between 1 and 3600 seconds.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    // Outside the console, Ctrl-C or SIGTERM exits 130 or 143 (the console restores the
    // terminal and handles them itself).
    if !console.wantsConsole(json: json) && !monitor.enabled { InterruptExit.install() }
    var names = servers
    if names.isEmpty {
      names =
        ProcessInfo.processInfo.environment["NATSCOPE_DEFAULT_SERVERS"]?
        .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty } ?? Self.defaultServers
    }
    let uris = try names.map(parseSTUNServer)
    if uris.contains(where: \.secure) {
      try runOverTLS(uris)
      return
    }
    var resolved: [TransportAddress] = []
    var problems: [String] = []
    var unresolved: [(name: String, error: String)] = []
    for name in names {
      do {
        resolved.append(try resolveServer(name))
      } catch let error as UserFacingError where error.code == NatscopeExit.unreachable {
        problems.append(error.message)
        unresolved.append((name, error.message))
      }
    }
    guard let first = resolved.first else {
      // With --json the failure is still a document, with a finding per name.
      if json, let document = ProbeDocument.unresolved(unresolved) {
        try JSONOutput.print(document, schema: .probe)
        throw ExitCode(NatscopeExit.unreachable.rawValue)
      }
      throw fail(
        "no STUN server reachable: " + problems.joined(separator: "; "),
        code: NatscopeExit.unreachable)
    }
    let family = first.ip.family
    let sameFamily = resolved.filter { $0.ip.family == family }
    let options = try sockets.options(toReach: first)
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let configuration = ProbeConfiguration(
      servers: sameFamily, localAddresses: runtime.localAddresses() + Self.loopbacks,
      testHairpinning: !noHairpin, portAllocationSamples: portSamples,
      lifetime: lifetime ? .upTo(.seconds(Int64(lifetimeMax))) : nil)
    let limit: Duration = .seconds(30) + (lifetime ? .seconds(Int64(lifetimeMax) + 30) : .zero)
    if monitor.enabled {
      try runMonitor(
        runtime: runtime, configuration: configuration, options: options, unresolved: unresolved,
        limit: limit)
      return
    }
    var report: ProbeReport
    // A server on loopback is reached without the router: its answer says nothing about the
    // router, so the router is not asked.
    let askPortMapping = !noPortMapping && !sameFamily.allSatisfy { $0.ip.isLoopback }
    if console.wantsConsole(json: json) {
      report = try ConsoleRunner.runProbe(
        runtime: runtime, configuration: configuration, socketOptions: options, limit: limit,
        askRouter: askPortMapping, options: console.renderOptions)
    } else {
      let runner = ConsoleRunner.probeRunner(
        runtime: runtime, configuration: configuration, socketOptions: options,
        logged: { global.logged($0, "natscope.probe") })
      try runner.start()
      // The port-mapping questions run while the probe does (on the same loop).
      let portMapping = askPortMapping ? askRouter(runtime) : nil
      guard runner.waitUntilFinished(timeout: limit) else {
        throw fail("the probe did not finish within \(limit.components.seconds) s")
      }
      var outcome: ProbeReport?
      for event in runner.drain() {
        switch event {
        case .action(.finished(let r)): outcome = r
        case .failed(let reason): throw fail(reason)
        default: break
        }
      }
      guard let outcome else { throw fail("the probe ended without a report") }
      report = outcome
      if let portMapping { report.attach(portMapping: portMapping) }
    }
    var interrupted: Int32?
    if portMapping, askPortMapping, let pm = report.portMapping {
      let (test, signal) = testMapping(runtime, report: report, portMapping: pm)
      report.attach(testMapping: test)
      interrupted = signal
    }
    if json {
      try JSONOutput.print(ProbeDocument(report, unresolved: unresolved), schema: .probe)
    } else {
      let text = ProbeReportText(
        report: report, verbose: verbose, width: TerminalText.terminalColumns ?? 92
      ).render()
      print(TerminalText.fit(text, ascii: console.renderOptions.ascii))
      if !problems.isEmpty {
        FileHandle.standardError.write(
          Data(("skipped: " + problems.joined(separator: "; ") + "\n").utf8))
      }
    }
    if let interrupted { throw ExitCode(128 + interrupted) }
    // Exit 2 when UDP is blocked, and when no server answered because each one's address
    // was reported unreachable (no STUN server there).
    if report.udpBlocked || report.mappedAddress == nil {
      throw ExitCode(NatscopeExit.unreachable.rawValue)
    }
  }

  /// `--every`: the probe, again and again, with what changed between runs.
  func runMonitor(
    runtime: NIORuntime, configuration: ProbeConfiguration, options: UDPSocketOptions,
    unresolved: [(name: String, error: String)], limit: Duration
  ) throws {
    let logLabel = global
    let names = unresolved.map { MonitorUnresolved(name: $0.name, error: $0.error) }
    try MonitorRunner.run(
      command: "probe", arguments: monitor, json: json, schema: .probe, runtime: runtime,
      perRun: limit
    ) { rt, done in
      let session = ProbeSession(
        runtime: logLabel.logged(rt, "natscope.probe"), configuration: configuration,
        socketOptions: options, tcpConnector: rt.streamConnector())
      // The completion keeps the session alive until it has run.
      session.start { result in
        _ = session
        switch result {
        case .success(let r):
          done(
            (
              ProbeDocument(r, unresolved: names.map { ($0.name, $0.error) }),
              MonitorObservation(probe: r)
            ))
        case .failure(let e):
          stderr("natscope: cannot open a UDP socket: \(e)")
          done(nil)
        }
      }
    }
  }

  /// Only stuns: servers: a Binding request over TLS to each, and the plain sentence that the
  /// NAT behaviour tests need UDP.
  func runOverTLS(_ uris: [STUNServerURI]) throws {
    guard uris.allSatisfy(\.secure) else {
      throw fail(
        "stuns: servers are checked over TLS only and stun: servers run RFC 5780's UDP tests; give one kind per run."
      )
    }
    let servers = try uris.map { (uri: $0, address: try resolveSTUNServer($0)) }
    let report = try checkSTUNOverTLS(
      servers, tls: tls, note: STUNTLSReport.probeNote, global: global)
    if json {
      try JSONOutput.print(report, schema: .stuns)
    } else {
      print(report.text)
    }
    if !report.allReachable { throw ExitCode(NatscopeExit.unreachable.rawValue) }
  }

  /// Asks the default gateway, read-only, about port mapping and its own address; nil when the
  /// questions could not run in time.
  func askRouter(_ runtime: NIORuntime) -> PortMappingReport? {
    try? runtime.run(timeout: Self.portMappingLimit) { rt, done in
      let session = PortMappingSession(
        runtime: global.logged(rt, "natscope.portmap"), connector: rt.rawStreamConnector())
      // The completion keeps the session alive until it has run.
      session.start {
        done.succeed($0); _ = session
      }
    }
  }

  /// Makes, tests and deletes the test mapping (`--port-mapping`); Ctrl-C or SIGTERM skips to
  /// the deletion. Returns the report and the signal that interrupted it, if one did.
  func testMapping(_ runtime: NIORuntime, report: ProbeReport, portMapping pm: PortMappingReport)
    -> (PortMappingTestReport, Int32?)
  {
    let configuration = PortMappingTestSession.Configuration(
      gateway: pm.gateway,
      protocols: pm.protocols.filter { $0.answered && $0.error == nil }.map(\.name),
      routerAddress: pm.externalAddress, stunServer: report.server,
      serverSupportsChange: report.serverSupport?.rfc5780 ?? false,
      serverSeen: report.udpBlocked ? nil : report.mappedAddress?.ip)
    let box = PortMappingTestBox()
    let signalQueue = DispatchQueue(label: "natscope.probe.signals")
    var sources: [any DispatchSourceSignal] = []
    defer { sources.forEach { $0.cancel() } }
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler {
        _ = try? runtime.onLoop { _ in
          box.signal = sig
          box.session?.interrupt()
        }
      }
      source.resume()
      sources.append(source)
    }
    let result = try? runtime.run(timeout: configuration.limit + .seconds(10)) { rt, done in
      let session = PortMappingTestSession(
        runtime: global.logged(rt, "natscope.portmap"), configuration: configuration,
        connector: rt.rawStreamConnector())
      box.session = session
      session.start { done.succeed($0) }
    }
    let signal = try? runtime.onLoop { _ in box.signal }
    return (
      result
        ?? PortMappingTestReport(
          requestedLifetime: configuration.lifetime,
          error: "the test mapping did not finish in time"), signal ?? nil
    )
  }

  /// The longest the port-mapping questions may take (each protocol gives up sooner on its own:
  /// at most 2 s for SSDP plus 2 s per HTTP exchange).
  static let portMappingLimit: Duration = .seconds(10)

  /// Loopback addresses count as "ours" when a probe runs against a local server.
  static let loopbacks: [IPAddress] = [.loopbackV4, .loopbackV6]
}

/// A server name that did not resolve, as monitor mode carries it between runs.
struct MonitorUnresolved: Sendable {
  var name: String
  var error: String
}

/// The running test mapping, reachable from the signal handler (touched only on the loop).
final class PortMappingTestBox: @unchecked Sendable {
  var session: PortMappingTestSession?
  var signal: Int32?
}
