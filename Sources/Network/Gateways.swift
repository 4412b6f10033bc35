import STUN

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Reads the host's default gateways from the Linux routing tables (`/proc/net/route` and
/// `/proc/net/ipv6_route`). The parsers are pure functions of the file text, so tests feed them
/// fixtures; on a system without these files the list is empty.
public enum Gateways {
  /// The default gateways in the host's routing tables, IPv4 first, without duplicates.
  public static func defaultGateways() -> [IPAddress] {
    var out: [IPAddress] = []
    let v4 = (try? String(contentsOfFile: "/proc/net/route", encoding: .utf8)) ?? ""
    let v6 = (try? String(contentsOfFile: "/proc/net/ipv6_route", encoding: .utf8)) ?? ""
    for gateway in parseIPv4Routes(v4) + parseIPv6Routes(v6) where !out.contains(gateway) {
      out.append(gateway)
    }
    return out
  }

  /// The gateways of the default routes (destination and mask 0, RTF_GATEWAY set) in the text
  /// of `/proc/net/route`, whose addresses are 8 hex digits in the kernel's (little-endian)
  /// byte order.
  public static func parseIPv4Routes(_ text: String) -> [IPAddress] {
    var out: [IPAddress] = []
    for line in text.split(separator: "\n").dropFirst() {
      let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard f.count >= 8, f[1] == "00000000", f[7] == "00000000",
        let raw = UInt32(f[2], radix: 16), let flags = UInt16(f[3], radix: 16),
        flags & 0x0003 == 0x0003, raw != 0
      else { continue }
      let gateway = IPAddress.v4(UInt32(bigEndian: raw))
      if !out.contains(gateway) { out.append(gateway) }
    }
    return out
  }

  /// The next hops of the default routes (`::/0` with a non-zero next hop, RTF_UP and
  /// RTF_GATEWAY set) in the text of `/proc/net/ipv6_route`, whose addresses are 32 hex digits
  /// in network byte order.
  public static func parseIPv6Routes(_ text: String) -> [IPAddress] {
    var out: [IPAddress] = []
    for line in text.split(separator: "\n") {
      let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard f.count >= 10, f[0].count == 32, f[1] == "00", f[4].count == 32,
        f[0].allSatisfy({ $0 == "0" }), let flags = UInt32(f[8], radix: 16),
        flags & 0x0003 == 0x0003,
        let hi = UInt64(f[4].prefix(16), radix: 16), let lo = UInt64(f[4].suffix(16), radix: 16),
        hi != 0 || lo != 0
      else { continue }
      let gateway = IPAddress.v6(hi, lo)
      if !out.contains(gateway) { out.append(gateway) }
    }
    return out
  }
}

extension NIORuntime {
  /// The default gateways in this host's routing tables (see ``Gateways``).
  public func defaultGateways() -> [IPAddress] { Gateways.defaultGateways() }
}
