import ArgumentParser
import Dispatch
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run an RFC 5780 STUN server (behaviour discovery) on one or two addresses.",
    discussion: """
      With --alternate it binds four sockets (primary and alternate IP, each on --port and \
      --alt-port), answers CHANGE-REQUEST from the right one, and sends OTHER-ADDRESS and \
      RESPONSE-ORIGIN, so clients can classify their NAT. With only --primary it is a plain \
      RFC 8489 server and answers CHANGE-REQUEST with 420.

      Hardened for the open internet: malformed packets are dropped and counted, unknown \
      comprehension-required attributes get 420, each source IP is rate limited, and no reply \
      is larger than \(STUNServer.maximumGrowth) bytes more than its request (nor 1280 bytes), \
      so the server cannot amplify an attack.

      Statistics go to standard error on SIGUSR1 and at exit (to standard output as JSON with \
      --json); SIGINT or SIGTERM stop it.

      Exit status: 1 usage error or cannot listen; stopped by SIGINT (Ctrl-C) or SIGTERM, 130 \
      or 143 after printing the statistics.
      """)

  @Option(help: ArgumentHelp("The primary IP address to listen on.", valueName: "ip"))
  var primary: IPArgument

  @Option(
    help: ArgumentHelp("A second IP address, for RFC 5780 behaviour discovery.", valueName: "ip"))
  var alternate: IPArgument?

  @Option(help: "The primary port.")
  var port: UInt16 = 3478

  @Option(help: "The alternate port (used only with --alternate).")
  var altPort: UInt16 = 3479

  @Flag(help: "Also send MAPPED-ADDRESS, so clients can detect ALGs that rewrite addresses.")
  var mappedAddress = false

  @Option(help: ArgumentHelp("SOFTWARE to send; empty to send none.", valueName: "text"))
  var software: String = "natscope \(NatscopeVersion.current)"

  @Option(help: ArgumentHelp("Requests per second allowed from one source IP.", valueName: "n"))
  var rate: Int = 100

  @Flag(help: "Print the final statistics as JSON on standard output.")
  var json = false

  @OptionGroup var global: GlobalOptions

  func validate() throws {
    if let alternate, alternate.ip == primary.ip {
      throw ValidationError("--alternate must differ from --primary.")
    }
    if let alternate, alternate.ip.family != primary.ip.family {
      throw ValidationError("--primary and --alternate must be of the same address family.")
    }
    guard port != altPort else { throw ValidationError("--port and --alt-port must differ.") }
    guard (1...100_000).contains(rate) else {
      throw ValidationError("--rate must be between 1 and 100000.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    let configuration = STUNServerConfiguration(
      primary: primary.ip, alternate: alternate?.ip, port: port, alternatePort: altPort,
      software: software.isEmpty ? nil : software, sendMappedAddress: mappedAddress,
      ratePerSecond: rate, rateBurst: rate * 2)
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let holder = ServerHolder()
    let signalQueue = DispatchQueue(label: "natscope.serve.signals")
    var sources: [any DispatchSourceSignal] = []
    defer { sources.forEach { $0.cancel() } }
    for sig in [SIGINT, SIGTERM, SIGUSR1] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler {
        runtime.eventLoop.execute {
          if sig == SIGUSR1 {
            if let s = holder.session?.stats {
              FileHandle.standardError.write(Data((Self.describe(s) + "\n").utf8))
            }
          } else {
            holder.signal = sig
            holder.finish()
          }
        }
      }
      source.resume()
      sources.append(source)
    }
    let stats: STUNServerStats
    do {
      stats = try runtime.run(timeout: .seconds(10 * 365 * 86_400)) { rt, done in
        let session = try STUNServerSession(
          runtime: global.logged(rt, "natscope.serve"), configuration: configuration)
        holder.session = session
        holder.done = done
        let mode =
          configuration.supportsBehaviorDiscovery
          ? "RFC 5780 behaviour discovery"
          : "plain RFC 8489 server (no --alternate: CHANGE-REQUEST gets 420)"
        let endpoints = session.endpoints.map(\.description).joined(separator: ", ")
        FileHandle.standardError.write(
          Data("natscope serve: listening on \(endpoints) (\(mode))\n".utf8))
      }
    } catch let error as RuntimeError {
      throw fail(
        "cannot listen: \(error) (is the address assigned to this host and the port free?)")
    }
    if json {
      try JSONOutput.print(stats, schema: .serve, addsVersion: true)
    } else {
      FileHandle.standardError.write(Data((Self.describe(stats) + "\n").utf8))
    }
    // Stopped by SIGINT or SIGTERM (the only way it stops): 128 + signal, as every command.
    if let sig = try runtime.eventLoop.submit({ holder.signal }).wait() {
      throw ExitCode(InterruptExit.status(for: sig))
    }
  }

  static func describe(_ s: STUNServerStats) -> String {
    "natscope serve: \(s.received) received, \(s.answered) answered, \(counted(s.errorsSent, "error")) sent, \(counted(s.changeRequests, "change request")), \(s.malformed) malformed, \(s.ignored) ignored, \(s.rateLimited) rate-limited, \(s.oversized) oversized"
  }
}

/// Holds the server session for signal handlers. Only ever read or written on the runtime's
/// event loop (every access is inside `eventLoop.execute` or the run body), which is what
/// makes the unchecked conformance sound.
private final class ServerHolder: @unchecked Sendable {
  var session: STUNServerSession?
  var done: RunCompletion<STUNServerStats>?

  /// Closes the server and completes the run with its final statistics.
  /// The signal that stopped the server.
  var signal: Int32?

  func finish() {
    let final = session?.stats ?? STUNServerStats()
    session?.close()
    session = nil
    done?.succeed(final)
    done = nil
  }
}
