import ArgumentParser
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions

/// `--ca` and `--insecure` for the stuns: servers of `binding` and `probe`.
struct STUNTLSArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "PEM file of CA certificates to trust for stuns: servers instead of the system's.",
      valueName: "file"))
  var ca: String?

  @Flag(help: "Do not verify stuns: servers' TLS certificates (every report then says so).")
  var insecure = false

  /// Refuses --ca/--insecure without a stuns: server, and both together.
  func check(anyTLS: Bool) throws {
    if (ca != nil || insecure) && !anyTLS {
      throw ValidationError("--ca and --insecure apply to stuns: servers; none is given.")
    }
    if ca != nil && insecure {
      throw ValidationError(
        "--insecure skips certificate verification, so --ca would not be used; give one of them.")
    }
    if let ca, !FileManager.default.isReadableFile(atPath: ca) {
      throw ValidationError("cannot read the CA file \(ca).")
    }
  }
}

/// Parses a STUN server argument of `binding` or `probe` (stun:, stuns:, host:port); usage
/// errors become one sentence and exit 1.
func parseSTUNServer(_ text: String) throws -> STUNServerURI {
  do {
    return try STUNServerURI.parse(text)
  } catch {
    throw fail(error.message)
  }
}

/// Sends one Binding request over TLS to each stuns: server, in parallel, and reports.
func checkSTUNOverTLS(
  _ servers: [(uri: STUNServerURI, address: TransportAddress)], tls: STUNTLSArguments,
  note: String?, global: GlobalOptions
) throws -> STUNTLSReport {
  let runtime = NIORuntime()
  defer { runtime.shutdown() }
  let targets = servers.map {
    STUNTLSCheckSession.Target(uri: $0.uri.description, address: $0.address)
  }
  let names = Dictionary(
    servers.map { ($0.uri.description, $0.uri.serverName) }, uniquingKeysWith: { a, _ in a })
  let caFile = tls.ca
  let insecure = tls.insecure
  do {
    return try runtime.run(timeout: .seconds(20)) { rt, done in
      let session = STUNTLSCheckSession(
        runtime: global.logged(rt, "natscope.stuns"), targets: targets,
        connector: { target in
          rt.tlsStreamConnector(
            TLSClientSettings(
              serverName: names[target.uri] ?? nil, caFile: caFile, insecure: insecure))
        })
      if insecure {
        session.warnings.append(
          "--insecure: TLS certificates were not verified, so anyone on the path could have answered for the stuns: servers."
        )
      }
      session.note = note
      session.start { done.succeed($0) }
    }
  } catch {
    throw fail("the STUN over TLS check did not finish: \(error)")
  }
}

/// Resolves a parsed STUN server (the name as given; the port from the URI).
func resolveSTUNServer(_ uri: STUNServerURI) throws -> TransportAddress {
  try resolveServer(uri.server.description)
}
