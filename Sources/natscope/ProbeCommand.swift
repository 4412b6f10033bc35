import ArgumentParser
import Console
import Foundation
import Network
import Runtime
import STUN
import Scenarios
import Sessions
import Traversal

struct ProbeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Find out what your NAT does (RFC 5780) and what that means for direct connections.",
    discussion: """
      Runs RFC 5780's tests against SERVER: UDP reachability, mapping (tests I-III), filtering
      (tests II-III, and a fourth test from erratum 7971), hairpinning, ALG detection, port
      allocation, and with --lifetime the binding lifetime. Every request is retransmitted;
      "no answer" is concluded only after the whole window, which follows the measured RTT,
      or at once when an ICMP error comes back (port unreachable: no STUN server there).

      Mapping and filtering need a server with two IP addresses (natscope serve, coturn's
      turnserver with two --listening-ip, stuntman). With servers that lack RFC 5780, mapping
      is judged by comparing two or more servers and filtering is reported as unknown.

      With no SERVER, natscope tries its default list: \(ProbeCommand.defaultServers.joined(separator: ", "))
      (override with NATSCOPE_DEFAULT_SERVERS, comma-separated).

      Exit status: 0 verdict reached, 1 usage or internal error, 2 no server reachable, no
      STUN server at the address (ICMP port unreachable), or UDP blocked.
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

  @Option(
    help: ArgumentHelp("Fresh sockets used to learn port allocation (0 to skip).", valueName: "n"))
  var portSamples: Int = 4

  @OptionGroup var sockets: SocketArguments
  @OptionGroup var console: ConsoleArguments
  @OptionGroup var global: GlobalOptions

  func validate() throws {
    guard (0...32).contains(portSamples) else {
      throw ValidationError("--port-samples must be between 0 and 32.")
    }
    guard (1...3600).contains(lifetimeMax) else {
      throw ValidationError("--lifetime-max must be between 1 and 3600 seconds.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    var names = servers
    if names.isEmpty {
      names =
        ProcessInfo.processInfo.environment["NATSCOPE_DEFAULT_SERVERS"]?
        .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty } ?? Self.defaultServers
    }
    var resolved: [TransportAddress] = []
    var problems: [String] = []
    for name in names {
      do {
        resolved.append(try resolveServer(name))
      } catch let error as UserFacingError where error.code == NatscopeExit.unreachable {
        problems.append(error.message)
      }
    }
    guard let first = resolved.first else {
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
    var report: ProbeReport
    if console.wantsConsole(json: json) {
      report = try ConsoleRunner.runProbe(
        runtime: runtime, configuration: configuration, socketOptions: options, limit: limit,
        options: console.renderOptions)
    } else {
      let runner = ConsoleRunner.probeRunner(
        runtime: runtime, configuration: configuration, socketOptions: options,
        logged: { global.logged($0, "natscope.probe") })
      try runner.start()
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
    }
    if json {
      try JSONOutput.print(report)
    } else {
      print(ProbeReportText(report: report, verbose: verbose).render())
      if !problems.isEmpty {
        FileHandle.standardError.write(
          Data(("skipped: " + problems.joined(separator: "; ") + "\n").utf8))
      }
    }
    // Exit 2 when UDP is blocked, and when no server answered because each one's address
    // was reported unreachable (no STUN server there).
    if report.udpBlocked || report.mappedAddress == nil {
      throw ExitCode(NatscopeExit.unreachable.rawValue)
    }
  }

  /// Loopback addresses count as "ours" when a probe runs against a local server.
  static let loopbacks: [IPAddress] = [.loopbackV4, .loopbackV6]
}
