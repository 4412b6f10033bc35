import Runtime
import STUN

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Blocking name resolution with getaddrinfo, for server names given on the command line.
/// Call it before starting a session (not on the event loop: it may block on DNS).
public enum Resolver {
  /// Which addresses to return first.
  public enum Preference: Sendable {
    case ipv4First, ipv6First, ipv4Only, ipv6Only
  }

  /// Resolves `host` for UDP to `port`. Literal addresses are returned as they are, without a
  /// lookup. Like `AI_ADDRCONFIG`, a family is dropped when this host has no address of it
  /// (counting loopback, unlike glibc, so that `localhost` works on a host with only `lo`).
  /// Duplicates are removed; the order within a family is getaddrinfo's.
  ///
  /// - Throws: `ResolveError` ("cannot resolve stun.example.invalid: Name or service not known").
  public static func resolve(host: String, port: UInt16, prefer: Preference = .ipv4First)
    throws(ResolveError) -> [TransportAddress]
  {
    if let ip = IPAddress(host) {
      return [TransportAddress(ip: ip, port: port)]
    }
    // RFC 6761 §6.4: ".invalid" names never exist; answer at once, without asking DNS.
    let name = host.lowercased()
    if name == "invalid" || name.hasSuffix(".invalid") || name.hasSuffix(".invalid.") {
      throw ResolveError(host: host, reason: "names under .invalid never exist (RFC 6761)")
    }
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    #if canImport(Darwin)
      hints.ai_socktype = SOCK_DGRAM
      hints.ai_protocol = IPPROTO_UDP
    #else
      hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
      hints.ai_protocol = Int32(IPPROTO_UDP)
    #endif
    var result: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &result)
    guard rc == 0 else {
      let reason: String
      if rc == EAI_SYSTEM {
        reason = errnoText(errno)
      } else if let p = gai_strerror(rc) {
        reason = String(cString: p)
      } else {
        reason = "error \(rc)"
      }
      throw ResolveError(host: host, reason: reason)
    }
    defer { freeaddrinfo(result) }
    var addresses: [TransportAddress] = []
    var cursor = result
    while let entry = cursor {
      defer { cursor = entry.pointee.ai_next }
      guard let sa = entry.pointee.ai_addr else { continue }
      let address: TransportAddress?
      switch entry.pointee.ai_family {
      case AF_INET:
        address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          TransportAddress(ip: IPAddress($0.pointee.sin_addr), port: port)
        }
      case AF_INET6:
        address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          TransportAddress(ip: IPAddress($0.pointee.sin6_addr), port: port)
        }
      default:
        address = nil
      }
      if let address, !addresses.contains(address) { addresses.append(address) }
    }
    let families = Set(Interfaces.list(includeLoopback: true, includeLinkLocal: true).map(\.family))
    let usable = families.isEmpty ? addresses : addresses.filter { families.contains($0.ip.family) }
    let ordered = order(usable, prefer)
    guard !ordered.isEmpty else {
      throw ResolveError(
        host: host, reason: "no address of a family this host can reach (\(addresses.count) found)")
    }
    return ordered
  }

  /// Resolves a parsed server argument.
  public static func resolve(_ server: ServerAddress, prefer: Preference = .ipv4First)
    throws(ResolveError) -> [TransportAddress]
  {
    if let ip = server.literal { return [TransportAddress(ip: ip, port: server.port)] }
    return try resolve(host: server.host, port: server.port, prefer: prefer)
  }

  static func order(_ addresses: [TransportAddress], _ prefer: Preference) -> [TransportAddress] {
    let v4 = addresses.filter { $0.ip.family == .ipv4 }
    let v6 = addresses.filter { $0.ip.family == .ipv6 }
    switch prefer {
    case .ipv4First: return v4 + v6
    case .ipv6First: return v6 + v4
    case .ipv4Only: return v4
    case .ipv6Only: return v6
    }
  }
}

/// A name that could not be resolved.
public struct ResolveError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The name as given.
  public var host: String
  /// The resolver's explanation ("Name or service not known").
  public var reason: String

  /// Creates an error for `host` with the resolver's `reason`.
  public init(host: String, reason: String) {
    self.host = host
    self.reason = reason
  }

  /// "cannot resolve stun.example.invalid: Name or service not known"
  public var description: String { "cannot resolve \(host): \(reason)" }
}
