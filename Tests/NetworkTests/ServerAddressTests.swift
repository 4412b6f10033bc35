import Network
import Report
import STUN
import Sessions
import Testing

@Suite("Server arguments")
struct ServerAddressTests {
  static let accepted: [(String, String, UInt16, IPAddress?)] = [
    ("stun.example.org", "stun.example.org", 3478, nil),
    ("stun.example.org:19302", "stun.example.org", 19302, nil),
    ("STUN.Example.ORG", "stun.example.org", 3478, nil),
    ("stun:stun.example.org", "stun.example.org", 3478, nil),
    ("stun:stun.example.org:5349", "stun.example.org", 5349, nil),
    ("STUN:localhost:1", "localhost", 1, nil),
    ("  localhost  ", "localhost", 3478, nil),
    ("localhost.", "localhost.", 3478, nil),
    ("192.0.2.1", "192.0.2.1", 3478, .v4(0xC000_0201)),
    ("192.0.2.1:65535", "192.0.2.1", 65535, .v4(0xC000_0201)),
    ("stun:192.0.2.1:3479", "192.0.2.1", 3479, .v4(0xC000_0201)),
    ("2001:db8::1", "2001:db8::1", 3478, IPAddress("2001:db8::1")),
    ("[2001:DB8::1]", "2001:db8::1", 3478, IPAddress("2001:db8::1")),
    ("[2001:db8::1]:3479", "2001:db8::1", 3479, IPAddress("2001:db8::1")),
    ("stun:[::1]:3478", "::1", 3478, .loopbackV6),
    ("::1", "::1", 3478, .loopbackV6),
    ("my_host-1.lan", "my_host-1.lan", 3478, nil),
  ]

  @Test(arguments: accepted)
  func accepts(_ input: String, _ host: String, _ port: UInt16, _ literal: IPAddress?) throws {
    let parsed = try ServerAddress.parse(input)
    #expect(parsed.host == host)
    #expect(parsed.port == port)
    #expect(parsed.literal == literal)
  }

  static let refused: [(String, String)] = [
    ("", "empty"),
    ("   ", "empty"),
    ("stuns:stun.example.org", "TLS"),
    ("STUNS:stun.example.org:5349", "TLS"),
    ("turn:turn.example.org", "TURN"),
    ("http://stun.example.org", "unknown scheme"),
    ("stun:", "no host"),
    (":3478", "no host"),
    ("host:", "port (empty)"),
    ("host:0", "port 0"),
    ("host:65536", "port 65536"),
    ("host:12ab", "port 12ab"),
    ("host:+12", "port +12"),
    ("2001:db8::1:3478:99999", "IPv6"),
    ("[2001:db8::1", "does not close"),
    ("[192.0.2.1]:3478", "not an IPv6 address"),
    ("[::1]x", "unexpected text"),
    ("[::1]:", "port (empty)"),
    ("bad host", "not a host name"),
    ("-bad.example", "not a host name"),
    ("300.1.2.3", "not a host name"),
    ("stun.example.org/path", "path or query"),
    ("stun:host?transport=udp", "path or query"),
  ]

  @Test(arguments: refused)
  func refuses(_ input: String, _ fragment: String) {
    do {
      let parsed = try ServerAddress.parse(input)
      Issue.record("\(input) parsed as \(parsed)")
    } catch {
      #expect(error.message.contains(fragment), "\(error.message)")
      #expect(!error.message.contains("\n"))
    }
  }

  @Test func descriptionBracketsIPv6() throws {
    #expect(try ServerAddress.parse("[::1]:9").description == "[::1]:9")
    #expect(try ServerAddress.parse("stun:localhost").description == "localhost:3478")
  }

  @Test func longNamesAreRefused() {
    let label = String(repeating: "a", count: 64)
    #expect(throws: ServerAddressError.self) { try ServerAddress.parse("\(label).example") }
    let long = Array(repeating: "abcdefghi", count: 26).joined(separator: ".")
    #expect(throws: ServerAddressError.self) { try ServerAddress.parse(long) }
  }
}

@Suite("Resolver")
struct ResolverTests {
  @Test func literalsAreNotLookedUp() throws {
    #expect(
      try Resolver.resolve(host: "192.0.2.7", port: 3478) == [TransportAddress("192.0.2.7:3478")])
    #expect(
      try Resolver.resolve(host: "2001:db8::7", port: 1)
        == [TransportAddress(ip: IPAddress("2001:db8::7") ?? .anyV6, port: 1)])
    let server = try ServerAddress.parse("[::1]:5000")
    #expect(try Resolver.resolve(server) == [TransportAddress(ip: .loopbackV6, port: 5000)])
  }

  @Test func localhostResolvesToLoopbackIPv4First() throws {
    let addresses = try Resolver.resolve(host: "localhost", port: 3478)
    #expect(!addresses.isEmpty)
    #expect(addresses.allSatisfy { $0.ip.isLoopback && $0.port == 3478 })
    #expect(addresses.first?.ip == .loopbackV4)
    #expect(Set(addresses).count == addresses.count)
    let v6First = try Resolver.resolve(host: "localhost", port: 1, prefer: .ipv6First)
    #expect(Set(v6First) == Set(addresses.map { TransportAddress(ip: $0.ip, port: 1) }))
    let v4Only = try Resolver.resolve(host: "localhost", port: 1, prefer: .ipv4Only)
    #expect(v4Only.allSatisfy { $0.ip.family == .ipv4 })
  }

  @Test func errorIsOneSentence() {
    let error = ResolveError(host: "stun.example.invalid", reason: "Name or service not known")
    #expect(error.description == "cannot resolve stun.example.invalid: Name or service not known")
  }
}

@Suite("Interfaces")
struct InterfaceTests {
  @Test func loopbackIsListedOnlyWhenAsked() {
    let without = Interfaces.list()
    #expect(without.allSatisfy { !$0.address.isLoopback && !$0.address.isLinkLocal && $0.isUp })
    let with = Interfaces.list(includeLoopback: true)
    #expect(with.contains { $0.address == .loopbackV4 && $0.name == "lo" })
  }

  @Test func orderIsIPv4FirstAndStable() {
    let list = Interfaces.list(includeLoopback: true, includeLinkLocal: true)
    if let firstV6 = list.firstIndex(where: { $0.family == .ipv6 }) {
      #expect(list[firstV6...].allSatisfy { $0.family == .ipv6 })
    }
    #expect(list == Interfaces.list(includeLoopback: true, includeLinkLocal: true))
  }
}

@Suite struct InvalidDomainTests {
  /// RFC 6761: `.invalid` fails at once and never reaches DNS (tests must not query outside).
  @Test func invalidNamesFailWithoutALookup() {
    for name in ["no-such-host.invalid", "STUN.Example.INVALID", "invalid", "x.invalid."] {
      #expect(throws: ResolveError.self) { try Resolver.resolve(host: name, port: 3478) }
    }
  }
}
