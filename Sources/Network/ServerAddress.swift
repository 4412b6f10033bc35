import Runtime
import STUN

/// A STUN server as the user names it on the command line: a host name or literal address and
/// a port.
///
/// Accepted forms: `host`, `host:port`, `1.2.3.4`, `1.2.3.4:port`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:port`, and any of those after `stun:` (RFC 7064). The
/// default port is 3478. `stuns:` (STUN over TLS) is refused here: ``STUNServerURI`` takes it.
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
  /// The STUN default port (RFC 8489).
  public static let defaultPort: UInt16 = 3478

  /// The host name as given (lowercased), or the literal address's text.
  public var host: String
  /// The port.
  public var port: UInt16
  /// The address when `host` is a literal IPv4/IPv6 address; nil for a name to resolve.
  public var literal: IPAddress?

  /// A server by name or literal address; a literal is recognised and normalised, a name is
  /// lowercased. Nothing is resolved.
  public init(host: String, port: UInt16 = ServerAddress.defaultPort) {
    self.literal = IPAddress(host)
    self.host = literal.map { "\($0)" } ?? host.lowercased()
    self.port = port
  }

  /// `host:port`, with IPv6 literals in brackets.
  public var description: String {
    if case .v6 = literal { return "[\(host)]:\(port)" }
    return "\(host):\(port)"
  }

  /// Parses a server argument. Pure: resolves nothing.
  /// - Throws: `ServerAddressError` with a one-sentence message.
  public static func parse(_ text: String) throws(ServerAddressError) -> ServerAddress {
    var rest = Substring(text.trimmingWhitespace())
    guard !rest.isEmpty else { throw .init("the server address is empty") }
    let lower = rest.lowercased()
    if lower.hasPrefix("stuns:") {
      throw .init(
        "\(text) asks for STUN over TLS (stuns:), which gives no UDP address and is not taken here; use stun: or host:port (binding and probe take stuns:)"
      )
    }
    for scheme in ["turn:", "turns:"] where lower.hasPrefix(scheme) {
      throw .init("\(text) is a TURN server URI; give a STUN server here (stun:host[:port])")
    }
    if lower.hasPrefix("stun:") {
      rest = rest.dropFirst(5)
      if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
    } else if let scheme = rest.firstRange(of: "://") {
      throw .init(
        "\(text) has an unknown scheme \(rest[..<scheme.lowerBound]); use stun:host[:port]")
    }
    if rest.contains("?") || rest.contains("/") {
      throw .init("\(text) has a path or query, which a STUN server address does not take")
    }
    guard !rest.isEmpty else { throw .init("\(text) names no host") }

    // [v6] or [v6]:port
    if rest.hasPrefix("[") {
      guard let close = rest.firstIndex(of: "]") else {
        throw .init("\(text) opens a bracket for an IPv6 address but does not close it")
      }
      let inner = rest[rest.index(after: rest.startIndex)..<close]
      guard let ip = IPAddress(inner), case .v6 = ip else {
        throw .init("\(text) has \(inner) in brackets, which is not an IPv6 address")
      }
      let after = rest[rest.index(after: close)...]
      if after.isEmpty { return ServerAddress(host: "\(ip)") }
      guard after.hasPrefix(":") else {
        throw .init("\(text) has unexpected text after the IPv6 address; write [address]:port")
      }
      return ServerAddress(host: "\(ip)", port: try parsePort(after.dropFirst(), text))
    }

    let colons = rest.count(where: { $0 == ":" })
    if colons > 1 {
      // A bare IPv6 literal, without a port.
      guard let ip = IPAddress(rest), case .v6 = ip else {
        throw .init(
          "\(text) is neither host:port nor an IPv6 address; write an IPv6 address with a port as [address]:port"
        )
      }
      return ServerAddress(host: "\(ip)")
    }
    var host = rest
    var port = defaultPort
    if colons == 1, let colon = rest.firstIndex(of: ":") {
      host = rest[..<colon]
      port = try parsePort(rest[rest.index(after: colon)...], text)
    }
    guard !host.isEmpty else { throw .init("\(text) names no host") }
    if let ip = IPAddress(host) { return ServerAddress(host: "\(ip)", port: port) }
    guard isHostName(host) else {
      throw .init("\(text) does not name a valid host: \(host) is not a host name or IP address")
    }
    return ServerAddress(host: String(host), port: port)
  }

  private static func parsePort(_ s: Substring, _ text: String) throws(ServerAddressError) -> UInt16
  {
    guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s),
      (1...65535).contains(n)
    else {
      throw .init(
        "\(text) has port \(s.isEmpty ? "(empty)" : String(s)), which is not a number from 1 to 65535"
      )
    }
    return UInt16(n)
  }

  /// RFC 1123 host names: dot-separated labels of letters, digits and hyphens (and `_`, seen in
  /// practice), each 1–63 characters, not starting or ending with a hyphen; 253 in all. A name
  /// made only of digits and dots is a malformed IPv4 address, not a name.
  static func isHostName(_ s: Substring) -> Bool {
    var name = s
    if name.hasSuffix(".") { name = name.dropLast() }
    guard !name.isEmpty, name.count <= 253 else { return false }
    let labels = name.split(separator: ".", omittingEmptySubsequences: false)
    for label in labels {
      guard !label.isEmpty, label.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
        label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
      else { return false }
    }
    return !name.allSatisfy { $0.isNumber || $0 == "." }
  }
}

/// Why a server argument was refused: one sentence that says what to write instead.
public struct ServerAddressError: Error, Equatable, Sendable, CustomStringConvertible {
  /// One sentence.
  public var message: String
  /// Creates an error with its sentence.
  public init(_ message: String) { self.message = message }
  /// The sentence.
  public var description: String { message }
}

extension String {
  fileprivate func trimmingWhitespace() -> Substring {
    var s = Substring(self)
    while let f = s.first, f.isWhitespace { s = s.dropFirst() }
    while let l = s.last, l.isWhitespace { s = s.dropLast() }
    return s
  }
}
