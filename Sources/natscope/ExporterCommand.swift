import ArgumentParser
import Dispatch
import Exporter
import Foundation
import Logging
import Network

struct ExporterCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "exporter",
    abstract: "Serve STUN, NAT and TURN checks to Prometheus (/metrics and /probe).",
    discussion: """
      An HTTP server in the Prometheus conventions. /metrics holds natscope's own process \
      metrics and the latest results of the checks the config file schedules (labelled check, \
      module and target). /probe?target=HOST:PORT&module=NAME runs one check and answers with \
      its metrics alone, blackbox_exporter's multi-target pattern: one exporter serves a whole \
      Prometheus job of targets. The check's time limit is Prometheus' \
      X-Prometheus-Scrape-Timeout-Seconds minus half a second (else the module's timeout).

      Modules: probe (RFC 5780 NAT probe), binding (one STUN Binding request), turn_udp, \
      turn_tcp, turn_tls (a TURN check; need credentials from the config file), port_mapping \
      (this host's gateway, target=gateway); the config file may add more. Metrics: \
      natscope_probe_success, natscope_probe_duration_seconds, natscope_stun_rtt_seconds, \
      natscope_nat_mapping_behavior{behavior}, natscope_nat_filtering_behavior{behavior}, \
      natscope_turn_allocate_duration_seconds, natscope_turn_relay_works, \
      natscope_port_mapping_available{protocol}, natscope_double_nat. What a check did not \
      measure has no sample, never a zero.

      The config file (--config, YAML) names modules with their TURN credentials (password, \
      password_file, secret or secret_file), scheduled checks and limits (concurrency, \
      queue). Credentials are never taken from a URL and never appear in a metric, label or \
      log line. At most limits.concurrency checks run at once (default 4) and \
      limits.queue wait (default 64); a request beyond that is answered 503 at once.

      The exposition is Prometheus' text format 0.0.4, also when Accept asks for OpenMetrics \
      (swift-prometheus writes no OpenMetrics). A malformed /probe query is answered 400 with \
      one sentence.

      Exit status: 1 usage error, unreadable config or cannot listen; stopped by SIGINT or \
      SIGTERM, 0 (not 130 or 143: a signal is how it is meant to stop).
      """)

  @Option(
    help: ArgumentHelp(
      "Address and port to listen on (e.g. 127.0.0.1:9799, [::1]:9799; port 0 picks one).",
      valueName: "addr:port"))
  var listen: String

  @Option(
    help: ArgumentHelp(
      "YAML config: modules, TURN credentials, scheduled checks.", valueName: "file"),
    completion: .file())
  var config: String?

  @OptionGroup var global: GlobalOptions

  func run() throws {
    global.bootstrapLogging()
    let (host, port) = try Self.parseListen(listen)
    var settings = ExporterConfig()
    if let config {
      let text: String
      do {
        text = try String(contentsOfFile: config, encoding: .utf8)
      } catch {
        throw fail("cannot read the config file \(config).")
      }
      do {
        settings = try ExporterConfig.parse(text)
      } catch let error as ExporterConfigError {
        throw fail("\(config): \(error.message)")
      }
    }
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let server = ExporterServer(
      config: settings, runtime: runtime, logger: Logger(label: "natscope.exporter"))
    let bound: Int
    do {
      bound = try server.start(host: host, port: port)
    } catch {
      throw fail("cannot listen on \(listen): \(error)")
    }
    stderr("natscope exporter: listening on \(host.contains(":") ? "[\(host)]" : host):\(bound)")
    let signalQueue = DispatchQueue(label: "natscope.exporter.signals")
    var sources: [any DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
      source.setEventHandler { server.stop() }
      source.resume()
      sources.append(source)
    }
    server.wait()
    sources.forEach { $0.cancel() }
  }

  /// `host:port` or `[v6]:port`.
  static func parseListen(_ text: String) throws -> (String, Int) {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
        throw fail("--listen \(text) is not ADDR:PORT or [IPv6]:PORT.")
      }
      host = text[text.index(after: text.startIndex)..<close]
      portText = text[text.index(close, offsetBy: 2)...]
    } else {
      guard let colon = text.lastIndex(of: ":") else {
        throw fail("--listen \(text) is not ADDR:PORT or [IPv6]:PORT.")
      }
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
    }
    guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
      throw fail("--listen \(text) is not ADDR:PORT with a port from 0 to 65535.")
    }
    return (String(host), port)
  }
}
