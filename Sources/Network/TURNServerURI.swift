import Runtime
import STUN

/// A TURN server as the user names it (RFC 7065): `turn:host[:port][?transport=udp|tcp]`, or
/// `host[:port]` with the same optional query, or `turns:host[:port][?transport=tcp]` (TLS over
/// TCP, port 5349 by default; DTLS, `?transport=udp`, is refused). Pure: resolves nothing.
public struct TURNServerURI: Hashable, Sendable, CustomStringConvertible {
  /// The transport to the server (`udp` unless `?transport=tcp`).
  public enum Transport: String, Hashable, Sendable {
    case udp, tcp
  }

  /// The default port of `turns:` (RFC 7065).
  public static let defaultTLSPort: UInt16 = 5349

  /// Host and port (default 3478, or 5349 for `turns:`).
  public var server: ServerAddress
  public var transport: Transport
  /// `turns:`: TLS over TCP.
  public var secure: Bool

  public init(server: ServerAddress, transport: Transport = .udp, secure: Bool = false) {
    self.server = server
    self.transport = transport
    self.secure = secure
  }

  /// `turn:203.0.113.10:3478?transport=tcp` or `turns:turn.example.org:5349?transport=tcp`.
  public var description: String {
    "\(secure ? "turns" : "turn"):\(server)?transport=\(transport.rawValue)"
  }

  /// Parses a TURN URI.
  /// - Throws: `ServerAddressError` with a one-sentence message.
  public static func parse(_ text: String) throws(ServerAddressError) -> TURNServerURI {
    var rest = Substring(text)
    while let f = rest.first, f == " " || f == "\t" { rest = rest.dropFirst() }
    while let l = rest.last, l == " " || l == "\t" { rest = rest.dropLast() }
    let lower = rest.lowercased()
    var secure = false
    if lower.hasPrefix("turns:") {
      secure = true
      rest = rest.dropFirst(6)
      if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
    }
    if lower.hasPrefix("stun:") {
      throw .init("\(text) is a STUN server URI; give a TURN server here (turn:host[:port])")
    }
    if !secure, let scheme = lower.range(of: "://").map({ lower[..<$0.lowerBound] }),
      scheme != "turn"
    {
      throw .init(
        "\(text) is not a TURN server URI; write turn:host[:port][?transport=udp|tcp]")
    }
    if !secure, lower.hasPrefix("turn:") {
      rest = rest.dropFirst(5)
      if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
    }
    var transport = secure ? Transport.tcp : Transport.udp
    if let q = rest.firstIndex(of: "?") {
      let query = rest[rest.index(after: q)...]
      rest = rest[..<q]
      for item in query.split(separator: "&") {
        let kv = item.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, kv[0].lowercased() == "transport" else {
          throw .init("\(text) has an unknown query \(item); only ?transport=udp or tcp is known")
        }
        guard let t = Transport(rawValue: kv[1].lowercased()) else {
          throw .init("\(text) asks for transport \(kv[1]); use udp or tcp")
        }
        transport = t
      }
    }
    guard !rest.isEmpty else { throw .init("\(text) names no host") }
    if secure && transport == .udp {
      throw .init(
        "\(text) asks for TURN over DTLS (turns: with transport=udp), which natscope does not support; use turns: over TCP or turn: over UDP"
      )
    }
    var server = try ServerAddress.parse(String(rest))
    let explicitPort =
      rest.hasPrefix("[") ? rest.contains("]:") : rest.count(where: { $0 == ":" }) == 1
    if secure && !explicitPort { server.port = defaultTLSPort }
    return TURNServerURI(server: server, transport: transport, secure: secure)
  }
}
