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

/// Synchronous socket creation with plain POSIX calls, so that `openUDP` knows the bound port
/// on return even on the event loop thread (where a NIO future cannot be waited on). The bound
/// descriptor is then handed to NIO with `DatagramBootstrap.withBoundSocket`.
enum POSIXSocket {
  /// Creates a non-blocking UDP socket bound as `options` ask; returns the descriptor and the
  /// bound address (with the real port). Throws `RuntimeError`.
  static func openBoundUDP(_ options: UDPSocketOptions) throws -> (Int32, TransportAddress) {
    let ip = options.address ?? .anyV4
    let family: Int32 = ip.family == .ipv4 ? AF_INET : AF_INET6
    #if canImport(Darwin)
      let fd = socket(family, SOCK_DGRAM, 0)
    #else
      let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #endif
    guard fd >= 0 else {
      throw RuntimeError.failed("cannot create a UDP socket: \(errnoText(errno))")
    }
    do {
      if family == AF_INET6 {
        try setIntOption(fd, Int32(IPPROTO_IPV6), Int32(IPV6_V6ONLY), 1, name: "IPV6_V6ONLY")
      }
      let flags = fcntl(fd, F_GETFL)
      guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
        throw RuntimeError.failed("cannot make the UDP socket non-blocking: \(errnoText(errno))")
      }
      try bind(fd, ip: ip, options: options)
      return (fd, try localAddress(of: fd))
    } catch {
      _ = systemClose(fd)
      throw error
    }
  }

  /// Creates a non-blocking TCP socket bound to `address` and listening; returns the descriptor
  /// and the bound address (with the real port). Throws `RuntimeError`.
  static func openListeningTCP(_ address: TransportAddress) throws -> (Int32, TransportAddress) {
    let family: Int32 = address.ip.family == .ipv4 ? AF_INET : AF_INET6
    #if canImport(Darwin)
      let fd = socket(family, SOCK_STREAM, 0)
    #else
      let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #endif
    guard fd >= 0 else {
      throw RuntimeError.failed("cannot create a TCP socket: \(errnoText(errno))")
    }
    do {
      if family == AF_INET6 {
        try setIntOption(fd, Int32(IPPROTO_IPV6), Int32(IPV6_V6ONLY), 1, name: "IPV6_V6ONLY")
      }
      try setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "SO_REUSEADDR")
      let flags = fcntl(fd, F_GETFL)
      guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
        throw RuntimeError.failed("cannot make the TCP socket non-blocking: \(errnoText(errno))")
      }
      let code = tryBind(fd, address)
      if code != 0 { throw bindError(code, address) }
      guard listen(fd, 128) == 0 else {
        throw RuntimeError.failed("cannot listen on \(address): \(errnoText(errno))")
      }
      return (fd, try localAddress(of: fd))
    } catch {
      _ = systemClose(fd)
      throw error
    }
  }

  static func setIntOption(
    _ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String
  )
    throws
  {
    var v = value
    guard setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
      throw RuntimeError.failed("cannot set \(name) on the socket: \(errnoText(errno))")
    }
  }

  /// Binds to the fixed port, the port range (from a random start, walking the range) or an
  /// ephemeral port.
  private static func bind(_ fd: Int32, ip: IPAddress, options: UDPSocketOptions) throws {
    if options.port == nil, let range = options.portRange {
      let low = Int(max(range.lowerBound, 1))
      let high = Int(range.upperBound)
      guard low <= high else {
        throw RuntimeError.failed("the port range \(range) contains no usable port")
      }
      let count = high - low + 1
      let start = Int.random(in: 0..<count)
      for i in 0..<count {
        let port = UInt16(low + (start + i) % count)
        let code = tryBind(fd, TransportAddress(ip: ip, port: port))
        if code == 0 { return }
        if code == EADDRINUSE || code == EACCES { continue }
        throw bindError(code, TransportAddress(ip: ip, port: port))
      }
      throw RuntimeError.addressInUse("every port of \(ip) in \(low)-\(high) is taken")
    }
    let address = TransportAddress(ip: ip, port: options.port ?? 0)
    let code = tryBind(fd, address)
    if code != 0 { throw bindError(code, address) }
  }

  /// Returns 0 on success, else errno.
  private static func tryBind(_ fd: Int32, _ address: TransportAddress) -> Int32 {
    var (storage, length) = address.sockaddrStorage
    let rc = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemBind(fd, $0, length) }
    }
    return rc == 0 ? 0 : errno
  }

  private static func bindError(_ code: Int32, _ address: TransportAddress) -> RuntimeError {
    switch code {
    case EADDRINUSE: return .addressInUse("\(address)")
    case EADDRNOTAVAIL: return .addressNotAvailable("\(address.ip)")
    default: return .failed("cannot bind a socket to \(address): \(errnoText(code))")
    }
  }

  /// The bound address of a socket (getsockname).
  static func localAddress(of fd: Int32) throws -> TransportAddress {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard rc == 0, let address = TransportAddress(storage: storage) else {
      throw RuntimeError.failed("cannot read the socket's local address: \(errnoText(errno))")
    }
    return address
  }

  /// One non-blocking `sendto`; returns 0 on success, else errno.
  static func sendTo(_ fd: Int32, _ bytes: [UInt8], _ destination: TransportAddress) -> Int32 {
    var (storage, length) = destination.sockaddrStorage
    let rc = bytes.withUnsafeBytes { buffer in
      withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, length)
        }
      }
    }
    return rc >= 0 ? 0 : errno
  }
}

/// `close(2)`, named so that methods called `close` can reach it.
func systemClose(_ fd: Int32) -> Int32 {
  #if canImport(Glibc)
    Glibc.close(fd)
  #elseif canImport(Musl)
    Musl.close(fd)
  #else
    Darwin.close(fd)
  #endif
}

/// `bind(2)`, named so that methods called `bind` can reach it.
func systemBind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
  #if canImport(Glibc)
    Glibc.bind(fd, address, length)
  #elseif canImport(Musl)
    Musl.bind(fd, address, length)
  #else
    Darwin.bind(fd, address, length)
  #endif
}
