import STUN

/// An `http://` URL as UPnP uses them on a LAN: host, port and path (with any query). No
/// Foundation, no user info, no fragments; anything else parses to nil.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
  /// The host: an IP literal (IPv6 without brackets) or a name.
  public var host: String
  /// The port (80 when the URL names none).
  public var port: UInt16
  /// The path, starting with `/`, with the query if any.
  public var path: String

  public init(host: String, port: UInt16 = 80, path: String = "/") {
    self.host = host
    self.port = port
    self.path = path.hasPrefix("/") ? path : "/" + path
  }

  /// Parses `http://host[:port][/path]` (scheme case-insensitive; `[v6]` hosts allowed).
  /// Returns nil for any other scheme, an empty or malformed host, a bad port, or text with
  /// spaces or control characters.
  public init?(_ text: some StringProtocol) {
    let s = String(text).trimmingWhitespace
    guard s.utf8.count <= 2048,
      !s.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
    else { return nil }
    guard s.lowercased().hasPrefix("http://") else { return nil }
    let rest = s.dropFirst(7)
    let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
    let authority = rest[..<authorityEnd]
    var path = String(rest[authorityEnd...])
    if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
    if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
    guard !authority.contains("@") else { return nil }
    let host: Substring
    var port: UInt16 = 80
    if authority.hasPrefix("[") {
      guard let close = authority.firstIndex(of: "]") else { return nil }
      host = authority[authority.index(after: authority.startIndex)..<close]
      guard IPAddress(host) != nil else { return nil }
      let after = authority[authority.index(after: close)...]
      if !after.isEmpty {
        guard after.hasPrefix(":"), let p = UInt16(after.dropFirst()), p > 0 else { return nil }
        port = p
      }
    } else if let colon = authority.lastIndex(of: ":") {
      host = authority[..<colon]
      let portText = authority[authority.index(after: colon)...]
      if !portText.isEmpty {
        guard portText.allSatisfy(\.isASCII), let p = UInt16(portText), p > 0 else { return nil }
        port = p
      }
    } else {
      host = authority
    }
    guard !host.isEmpty,
      host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) })
    else { return nil }
    self.init(host: String(host), port: port, path: path)
  }

  /// The host as an IP address, when it is a literal.
  public var ip: IPAddress? { IPAddress(host) }

  /// Host and port as an address to connect to, when the host is an IP literal.
  public var address: TransportAddress? { ip.map { TransportAddress(ip: $0, port: port) } }

  /// The `Host` header value: `host`, `host:port` when the port is not 80, IPv6 in brackets.
  public var hostHeader: String {
    let h = host.contains(":") ? "[\(host)]" : host
    return port == 80 ? h : "\(h):\(port)"
  }

  /// `http://host[:port]/path`.
  public var description: String { "http://\(hostHeader)\(path)" }

  /// Resolves a reference found in a device description (RFC 3986 §5.2, for the forms UPnP
  /// devices use): an absolute `http://` URL, `//host/path`, `/absolute/path`, `?query`, or a
  /// path relative to this URL's directory; `.` and `..` segments are removed. Nil when the
  /// result is not an `http://` URL.
  public func resolving(_ reference: some StringProtocol) -> HTTPURL? {
    let ref = String(reference).trimmingWhitespace
    if ref.lowercased().hasPrefix("http://") { return HTTPURL(ref) }
    if ref.contains("://") { return nil }
    if ref.hasPrefix("//") { return HTTPURL("http:" + ref) }
    if ref.isEmpty { return self }
    var joined: String
    if ref.hasPrefix("/") {
      joined = ref
    } else if ref.hasPrefix("?") {
      joined = String(path.prefix { $0 != "?" }) + ref
    } else {
      let base = path.prefix { $0 != "?" }
      let directory = base.lastIndex(of: "/").map { base[...$0] } ?? "/"
      joined = directory + ref
    }
    if let hash = joined.firstIndex(of: "#") { joined = String(joined[..<hash]) }
    return HTTPURL(host: host, port: port, path: HTTPURL.removeDotSegments(joined))
  }

  private static func removeDotSegments(_ path: String) -> String {
    let query = path.firstIndex(of: "?").map { String(path[$0...]) } ?? ""
    let pathOnly = path.prefix { $0 != "?" }
    var out: [Substring] = []
    let parts = pathOnly.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
    for (i, part) in parts.enumerated() {
      let last = i == parts.count - 1
      switch part {
      case ".":
        if last { out.append("") }
      case "..":
        if !out.isEmpty { out.removeLast() }
        if last { out.append("") }
      default:
        out.append(part)
      }
    }
    return "/" + out.joined(separator: "/") + query
  }
}

extension String {
  /// The string without leading and trailing spaces, tabs, CR and LF (CR LF is one Character).
  var trimmingWhitespace: String {
    let ws: (Character) -> Bool = {
      $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n"
    }
    guard let start = firstIndex(where: { !ws($0) }), let end = lastIndex(where: { !ws($0) })
    else { return "" }
    return String(self[start...end])
  }
}
