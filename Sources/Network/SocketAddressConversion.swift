import NIOCore
import Runtime
import STUN
import Traversal

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

// Conversions between natscope's address values and the C / NIO socket address types.

extension IPAddress {
  /// The address as a C `in_addr` (IPv4 only).
  var inAddr: in_addr? {
    guard case .v4(let a) = self else { return nil }
    return in_addr(s_addr: a.bigEndian)
  }

  /// The address as a C `in6_addr` (IPv6 only).
  var in6Addr: in6_addr? {
    guard case .v6 = self else { return nil }
    var out = in6_addr()
    let bytes = self.bytes
    withUnsafeMutableBytes(of: &out) { raw in
      for i in 0..<16 { raw[i] = bytes[i] }
    }
    return out
  }

  init(_ a: in_addr) {
    self = .v4(UInt32(bigEndian: a.s_addr))
  }

  init(_ a: in6_addr) {
    var copy = a
    let bytes = withUnsafeBytes(of: &copy) { Array($0) }
    // 16 bytes always make an address; fall back to the unspecified address defensively.
    self = IPAddress(bytes: bytes) ?? .anyV6
  }
}

extension TransportAddress {
  /// Builds a transport address from a C socket address; nil for families other than IPv4/IPv6.
  init?(storage: sockaddr_storage) {
    var s = storage
    switch Int32(s.ss_family) {
    case AF_INET:
      let sin = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in.self) }
      self.init(ip: IPAddress(sin.sin_addr), port: UInt16(bigEndian: sin.sin_port))
    case AF_INET6:
      let sin6 = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in6.self) }
      self.init(ip: IPAddress(sin6.sin6_addr), port: UInt16(bigEndian: sin6.sin6_port))
    default:
      return nil
    }
  }

  /// Builds a transport address from a NIO socket address; nil for Unix domain sockets.
  init?(_ address: SocketAddress) {
    switch address {
    case .v4(let a):
      self.init(
        ip: IPAddress(a.address.sin_addr), port: UInt16(bigEndian: a.address.sin_port))
    case .v6(let a):
      self.init(
        ip: IPAddress(a.address.sin6_addr), port: UInt16(bigEndian: a.address.sin6_port))
    default:
      return nil
    }
  }

  /// The address as a C socket address, and its length.
  var sockaddrStorage: (sockaddr_storage, socklen_t) {
    var storage = sockaddr_storage()
    switch ip {
    case .v4:
      var sin = sockaddr_in()
      sin.sin_family = sa_family_t(AF_INET)
      sin.sin_port = port.bigEndian
      sin.sin_addr = ip.inAddr ?? in_addr()
      withUnsafeMutableBytes(of: &storage) { raw in
        withUnsafeBytes(of: &sin) { raw.copyMemory(from: $0) }
      }
      return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
    case .v6:
      var sin6 = sockaddr_in6()
      sin6.sin6_family = sa_family_t(AF_INET6)
      sin6.sin6_port = port.bigEndian
      sin6.sin6_addr = ip.in6Addr ?? in6_addr()
      withUnsafeMutableBytes(of: &storage) { raw in
        withUnsafeBytes(of: &sin6) { raw.copyMemory(from: $0) }
      }
      return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
    }
  }

  /// The address as a NIO socket address.
  var nioAddress: SocketAddress {
    switch ip {
    case .v4:
      var sin = sockaddr_in()
      sin.sin_family = sa_family_t(AF_INET)
      sin.sin_port = port.bigEndian
      sin.sin_addr = ip.inAddr ?? in_addr()
      return SocketAddress(sin)
    case .v6:
      var sin6 = sockaddr_in6()
      sin6.sin6_family = sa_family_t(AF_INET6)
      sin6.sin6_port = port.bigEndian
      sin6.sin6_addr = ip.in6Addr ?? in6_addr()
      return SocketAddress(sin6)
    }
  }
}

/// The text of a C `errno` value ("Connection refused").
func errnoText(_ code: Int32) -> String {
  guard let p = strerror(code) else { return "error \(code)" }
  return String(cString: p)
}

/// A TCP connect or I/O failure, typed: a refusal (ECONNREFUSED) and the connect timeout are
/// told apart; anything else keeps the system's words.
func closeReason(for error: any Error) -> StreamCloseReason {
  if let e = error as? IOError, e.errnoCode == ECONNREFUSED { return .refused }
  if let e = error as? ChannelError, case .connectTimeout(let t) = e {
    return .timedOut(milliseconds: Int(t.nanoseconds / 1_000_000))
  }
  return .failed(describeConnectionError(error))
}

/// A TCP connect or I/O failure in words: the errno's text, or the connect timeout.
func describeConnectionError(_ error: any Error) -> String {
  if let e = error as? IOError { return errnoText(e.errnoCode) }
  if let e = error as? ChannelError, case .connectTimeout(let t) = e {
    return "no answer within \(t.nanoseconds / 1_000_000) ms"
  }
  return "\(error)"
}
