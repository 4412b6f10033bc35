import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

/// A mutable reference for callbacks that need the socket they belong to.
final class Box<Value> {
  var value: Value
  init(_ value: Value) { self.value = value }
}

/// Opens a UDP socket that sends every datagram back to where it came from. Call on the loop.
func openEcho(_ rt: NIORuntime, _ options: UDPSocketOptions) throws -> UDPSocket {
  let me = Box<UDPSocket?>(nil)
  let socket = try rt.openUDPSocket(options) { datagram in
    me.value?.send(datagram.bytes, to: datagram.source)
  }
  me.value = socket
  return socket
}

/// Whether ::1 can be bound here (IPv6 may be disabled in containers).
let ipv6LoopbackAvailable: Bool = {
  let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var sin6 = sockaddr_in6()
  sin6.sin6_family = sa_family_t(AF_INET6)
  sin6.sin6_addr = in6addr_loopback
  let rc = withUnsafePointer(to: &sin6) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
    }
  }
  if rc != 0 { print("IPv6 tests skipped: cannot bind ::1 (\(String(cString: strerror(errno))))") }
  return rc == 0
}()

/// Whether 127.0.0.2 is routed to this host (true on Linux, where all of 127/8 is local).
let secondLoopbackAvailable: Bool = {
  let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var sin = sockaddr_in()
  sin.sin_family = sa_family_t(AF_INET)
  sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0002).bigEndian)
  let rc = withUnsafePointer(to: &sin) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  if rc != 0 { print("127.0.0.2 tests skipped: cannot bind it") }
  return rc == 0
}()

/// A TCP socket listening on 127.0.0.1 that nobody accepts on; returns it and its port.
func rawTCPListener(backlog: Int32) -> (Int32, UInt16)? {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return nil }
  var sin = sockaddr_in()
  sin.sin_family = sa_family_t(AF_INET)
  sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &sin) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 && listen(fd, backlog) == 0 && getsockname(fd, $0, &length) == 0
    }
  }
  guard ok else {
    close(fd)
    return nil
  }
  return (fd, UInt16(bigEndian: sin.sin_port))
}
