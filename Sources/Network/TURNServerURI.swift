import Runtime
import STUN

/// A TURN server as the user names it (RFC 7065): `turn:host[:port][?transport=udp|tcp]`, or
/// `host[:port]` with the same optional query. `turns:` (TLS) is refused. Pure: resolves
/// nothing.
public struct TURNServerURI: Hashable, Sendable, CustomStringConvertible {
  /// The transport to the server (`udp` unless `?transport=tcp`).
  public enum Transport: String, Hashable, Sendable {
    case udp, tcp
  }

  /// Host and port (default 3478).
  public var server: ServerAddress
  public var transport: Transport

  public init(server: ServerAddress, transport: Transport = .udp) {
    self.server = server
    self.transport = transport
  }

  /// `turn:203.0.113.10:3478?transport=tcp`.
  public var description: String { "turn:\(server)?transport=\(transport.rawValue)" }

  /// Parses a TURN URI.
  /// - Throws: `ServerAddressError` with a one-sentence message.
  public static func parse(_ text: String) throws(ServerAddressError) -> TURNServerURI {
    var rest = Substring(text)
    while let f = rest.first, f == " " || f == "\t" { rest = rest.dropFirst() }
    while let l = rest.last, l == " " || l == "\t" { rest = rest.dropLast() }
    let lower = rest.lowercased()
    if lower.hasPrefix("turns:") {
      throw .init("\(text) asks for TURN over TLS (turns:), which is not supported yet; use turn:")
    }
    if lower.hasPrefix("stun:") {
      throw .init("\(text) is a STUN server URI; give a TURN server here (turn:host[:port])")
    }
    if let scheme = lower.range(of: "://").map({ lower[..<$0.lowerBound] }), scheme != "turn" {
      throw .init(
        "\(text) is not a TURN server URI; write turn:host[:port][?transport=udp|tcp]")
    }
    if lower.hasPrefix("turn:") {
      rest = rest.dropFirst(5)
      if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
    }
    var transport = Transport.udp
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
    return TURNServerURI(server: try ServerAddress.parse(String(rest)), transport: transport)
  }
}
