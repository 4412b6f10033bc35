import Foundation
import Network
import STUN

/// A `/probe?target=…&module=…` request, parsed and checked: blackbox_exporter's multi-target
/// pattern. A request that cannot be used is a ``ProbeQueryError`` with one sentence (400).
public struct ProbeQuery: Sendable {
  public var moduleName: String
  public var module: ExporterModule
  public var target: ServerAddress
  public var timeout: Duration

  /// Time kept back from Prometheus' scrape timeout, so the answer is sent before it gives up.
  public static let margin: Duration = .milliseconds(500)

  /// Parses the query string (after `?`) of a `/probe` request. `scrapeTimeout` is the value of
  /// the `X-Prometheus-Scrape-Timeout-Seconds` header, when there is one.
  public static func parse(
    query: String, scrapeTimeout: String?, modules: [String: ExporterModule]
  ) throws(ProbeQueryError) -> ProbeQuery {
    var fields: [String: String] = [:]
    for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let rawKey = String(parts[0]).replacingOccurrences(of: "+", with: " ")
      let rawValue =
        parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
      guard let key = rawKey.removingPercentEncoding, let value = rawValue.removingPercentEncoding
      else {
        throw ProbeQueryError("the query has a malformed percent-encoding.")
      }
      guard fields[key] == nil else {
        throw ProbeQueryError("the query gives \(key) twice; give it once.")
      }
      fields[key] = value
    }
    for key in fields.keys
    where ["password", "secret", "username", "user", "credential"].contains(key.lowercased()) {
      throw ProbeQueryError(
        "credentials are never taken from the URL; give them to the module in the --config file.")
    }
    guard let target = fields["target"], !target.isEmpty else {
      throw ProbeQueryError("the query has no target; add target=HOST:PORT.")
    }
    guard let moduleName = fields["module"], !moduleName.isEmpty else {
      throw ProbeQueryError(
        "the query has no module; add module=NAME (one of \(modules.keys.sorted().joined(separator: ", ")))."
      )
    }
    guard let module = modules[moduleName] else {
      throw ProbeQueryError(
        "no module named \(moduleName); the modules are \(modules.keys.sorted().joined(separator: ", "))."
      )
    }
    if target.contains("@") || target.contains("://") {
      throw ProbeQueryError(
        "the target is HOST or HOST:PORT, without a scheme or user information; credentials belong in the --config file."
      )
    }
    let address: ServerAddress
    if module.kind == .portMapping {
      guard target == "gateway" else {
        throw ProbeQueryError(
          "the port-mapping module asks this host's default gateway; use target=gateway.")
      }
      address = ServerAddress(host: "gateway", port: 5351)
    } else {
      do {
        address = try ServerAddress.parse(target)
      } catch {
        throw ProbeQueryError("the target is not HOST or HOST:PORT: \(error.message)")
      }
    }
    if module.kind == .turn && module.credential == nil {
      throw ProbeQueryError(
        "module \(moduleName) has no TURN credentials; give it username and password_file (or secret_file) in the --config file."
      )
    }
    var timeout = module.timeout
    if let header = scrapeTimeout {
      guard let seconds = Double(header.trimmingCharacters(in: .whitespaces)), seconds.isFinite,
        seconds > 0
      else {
        throw ProbeQueryError(
          "X-Prometheus-Scrape-Timeout-Seconds is not a number of seconds.")
      }
      let scrape = Duration.milliseconds(Int64((min(seconds, 3600) * 1000).rounded()))
      timeout = max(scrape - margin, .milliseconds(100))
    }
    return ProbeQuery(moduleName: moduleName, module: module, target: address, timeout: timeout)
  }
}

/// Why a `/probe` request cannot be used, in one sentence (the 400 response's body).
public struct ProbeQueryError: Error, Sendable, CustomStringConvertible {
  public var message: String
  init(_ message: String) { self.message = message }
  public var description: String { message }
}
