import STUN

/// A STUN server as `binding` and `probe` take it: anything ``ServerAddress`` accepts (STUN
/// over UDP), or `stuns:host[:port]` (RFC 7064): STUN over TLS on TCP, port 5349 by default.
/// Pure: resolves nothing.
public struct STUNServerURI: Hashable, Sendable, CustomStringConvertible {
  /// The default port of `stuns:` (RFC 7064).
  public static let defaultTLSPort: UInt16 = 5349

  /// Host and port.
  public var server: ServerAddress
  /// `stuns:`: TLS over TCP.
  public var secure: Bool

  public init(server: ServerAddress, secure: Bool = false) {
    self.server = server
    self.secure = secure
  }

  /// `stuns:stun.example.org:5349`, or `host:port` for UDP.
  public var description: String { secure ? "stuns:\(server)" : server.description }

  /// The name the server's certificate must carry (and SNI): the host name as given; nil when
  /// the server was given as an IP address.
  public var serverName: String? { server.literal == nil ? server.host : nil }

  /// Parses a STUN server argument.
  /// - Throws: `ServerAddressError` with a one-sentence message.
  public static func parse(_ text: String) throws(ServerAddressError) -> STUNServerURI {
    var rest = Substring(text)
    while let f = rest.first, f.isWhitespace { rest = rest.dropFirst() }
    while let l = rest.last, l.isWhitespace { rest = rest.dropLast() }
    guard rest.lowercased().hasPrefix("stuns:") else {
      return STUNServerURI(server: try ServerAddress.parse(text))
    }
    rest = rest.dropFirst(6)
    if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
    guard !rest.isEmpty else { throw .init("\(text) names no host") }
    if rest.lowercased().hasPrefix("stun:") || rest.contains("://") {
      throw .init("\(text) is not a STUN server URI; write stuns:host[:port]")
    }
    if rest.contains("?") || rest.contains("/") {
      throw .init("\(text) has a path or query, which a STUN server address does not take")
    }
    var server = try ServerAddress.parse(String(rest))
    let explicitPort =
      rest.hasPrefix("[") ? rest.contains("]:") : rest.count(where: { $0 == ":" }) == 1
    if !explicitPort { server.port = defaultTLSPort }
    return STUNServerURI(server: server, secure: true)
  }
}
