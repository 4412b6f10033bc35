import Runtime
import STUN

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One address of one network interface.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
  /// The interface name (`eth0`, `lo`).
  public var name: String
  /// The interface index (for IPv6 scope ids), 0 when unknown.
  public var index: Int
  /// The address.
  public var address: IPAddress
  /// Whether the interface is administratively up.
  public var isUp: Bool

  /// IPv4 or IPv6.
  public var family: AddressFamily { address.family }

  /// Creates an entry (for tests and simulated hosts).
  public init(name: String, index: Int, address: IPAddress, isUp: Bool) {
    self.name = name
    self.index = index
    self.address = address
    self.isUp = isUp
  }

  /// `eth0 192.0.2.10`.
  public var description: String { "\(name) \(address)" }
}

/// This host's network interfaces (getifaddrs).
public enum Interfaces {
  /// The addresses of interfaces that are up, IPv4 first, then IPv6; within a family global
  /// addresses before private ones, then link-local, then loopback, then by interface index,
  /// name and address, so the order is stable between calls.
  /// - Parameters:
  ///   - includeLoopback: also list 127.0.0.0/8 and ::1.
  ///   - includeLinkLocal: also list 169.254.0.0/16 and fe80::/10.
  ///   - includeDown: also list interfaces that are down.
  public static func list(
    includeLoopback: Bool = false, includeLinkLocal: Bool = false, includeDown: Bool = false
  ) -> [InterfaceAddress] {
    all().filter {
      ($0.isUp || includeDown) && (includeLoopback || !$0.address.isLoopback)
        && (includeLinkLocal || !$0.address.isLinkLocal)
    }.sorted(by: order)
  }

  /// Every IPv4/IPv6 address getifaddrs reports, unfiltered and unsorted.
  public static func all() -> [InterfaceAddress] {
    var head: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&head) == 0, let first = head else { return [] }
    defer { freeifaddrs(head) }
    var out: [InterfaceAddress] = []
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
      defer { cursor = entry.pointee.ifa_next }
      guard let sa = entry.pointee.ifa_addr, let cName = entry.pointee.ifa_name else { continue }
      let ip: IPAddress
      switch Int32(sa.pointee.sa_family) {
      case AF_INET:
        ip = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          IPAddress($0.pointee.sin_addr)
        }
      case AF_INET6:
        ip = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          IPAddress($0.pointee.sin6_addr)
        }
      default:
        continue
      }
      let name = String(cString: cName)
      let up = entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
      out.append(
        InterfaceAddress(name: name, index: Int(if_nametoindex(cName)), address: ip, isUp: up))
    }
    return out
  }

  /// IPv4 before IPv6, then by scope rank, interface index, name, address.
  static func order(_ a: InterfaceAddress, _ b: InterfaceAddress) -> Bool {
    func familyRank(_ x: InterfaceAddress) -> Int { x.family == .ipv4 ? 0 : 1 }
    func scopeRank(_ x: InterfaceAddress) -> Int {
      if x.address.isLoopback { return 3 }
      if x.address.isLinkLocal { return 2 }
      if x.address.isPrivate { return 1 }
      return 0
    }
    if familyRank(a) != familyRank(b) { return familyRank(a) < familyRank(b) }
    if scopeRank(a) != scopeRank(b) { return scopeRank(a) < scopeRank(b) }
    if a.index != b.index { return a.index < b.index }
    if a.name != b.name { return a.name < b.name }
    return a.address.bytes.lexicographicallyPrecedes(b.address.bytes)
  }
}
