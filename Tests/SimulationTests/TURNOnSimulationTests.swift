import Report
import Runtime
import STUN
import Sessions
import Simulation
import Testing
import Traversal

/// A TURN server on the simulated internet, a client behind a NAT, and a public peer that
/// answers `echo:<text>`.
final class TURNWorld {
  static let serverAddress = ep("203.0.113.20:3478")
  static let peerAddress = ep("198.51.100.50:7000")
  static let password = "sim-secret"

  let net = VirtualNetwork(seed: 11)
  let internet: Realm
  let lan: Realm
  let nat: NATBox
  let client: SimulatedHost
  let serverHost: SimulatedHost
  let server: TURNServerSession
  let peerHost: SimulatedHost
  private var peerSocket: SimulatedSocket?
  private(set) var peerSaw: [(text: String, from: TransportAddress)] = []
  private(set) var events: [TURNClientEvent] = []
  private(set) var received: [(text: String, from: TransportAddress)] = []
  private(set) var session: TURNAllocationSession?

  init(
    _ behavior: NATBehavior = .symmetric, nonceLifetime: Duration = .seconds(600),
    password: String = TURNWorld.password
  ) throws {
    internet = net.addRealm("internet")
    lan = try net.addRealm("lan", prefix: "192.168.1.0/24")
    nat = try net.addNAT(
      "nat", behavior: behavior, outside: internet, publicIPs: [ip("198.51.100.1")], inside: lan,
      insideAddress: ip("192.168.1.1"))
    client = try net.addHost("client", in: lan, address: ip("192.168.1.10"))
    serverHost = try net.addHost("turn", in: internet, address: TURNWorld.serverAddress.ip)
    server = try TURNServerSession(
      runtime: serverHost,
      configuration: TURNServerConfiguration(
        listen: TURNWorld.serverAddress, relayIP: TURNWorld.serverAddress.ip,
        realm: "sim.test", users: ["carol": TURNWorld.password], nonceLifetime: nonceLifetime))
    peerHost = try net.addHost("peer", in: internet, address: TURNWorld.peerAddress.ip)
    peerSocket = try peerHost.bind(
      UDPSocketOptions(address: TURNWorld.peerAddress.ip, port: TURNWorld.peerAddress.port)
    ) { [weak self] d in
      guard let self else { return }
      let text = String(decoding: d.bytes, as: UTF8.self)
      self.peerSaw.append((text, d.source))
      self.peerSocket?.send(Array("echo:\(text)".utf8), to: d.source)
    }
    let session = try TURNAllocationSession(
      runtime: client, server: TURNWorld.serverAddress,
      credentials: TURNCredentials(username: "carol", password: password))
    session.onEvent = { [weak self] e in self?.events.append(e) }
    session.onReceive = { [weak self] bytes, from in
      self?.received.append((String(decoding: bytes, as: UTF8.self), from))
    }
    self.session = session
    session.start()
  }

  func count(_ match: (TURNClientEvent) -> Bool) -> Int { events.filter(match).count }
}

@Suite struct TURNOnSimulationTests {
  @Test func relaysThroughASymmetricNATBothWays() throws {
    let w = try TURNWorld(.symmetric)
    w.net.run(for: .seconds(1))
    guard let session = w.session, case .allocated(let relayed, let mapped, _)? = w.events.last
    else {
      Issue.record("not allocated: \(w.events)")
      return
    }
    #expect(relayed.ip == TURNWorld.serverAddress.ip)
    #expect(mapped?.ip == ip("198.51.100.1"))  // the NAT's public address
    #expect(session.relayedAddress == relayed && session.mappedAddress == mapped)
    session.send(Array("hello".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(1))
    #expect(w.peerSaw.map(\.text) == ["hello"])
    #expect(w.peerSaw.first?.from == relayed)  // the peer sees only the relay
    #expect(w.received.map(\.text) == ["echo:hello"])
    #expect(w.received.first?.from == TURNWorld.peerAddress)
    // The channel is bound by now: the next datagrams go as ChannelData both ways.
    #expect(session.client.channel(for: TURNWorld.peerAddress) == 0x4000)
    session.send(Array("two".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(1))
    #expect(w.received.map(\.text) == ["echo:hello", "echo:two"])
    #expect(w.server.stats.relayedToPeer == 2 && w.server.stats.relayedToClient == 2)
    #expect(session.client.stats.dataReceived == 2)
    // A stranger without a permission cannot reach the client through the relay.
    let stranger = try w.net.addHost("stranger", in: w.internet, address: ip("198.51.100.77"))
    let s = try stranger.bind(UDPSocketOptions()) { _ in }
    s.send(Array("spam".utf8), to: relayed)
    w.net.run(for: .seconds(1))
    #expect(w.received.count == 2 && w.server.stats.droppedNoPermission == 1)
  }

  @Test func refreshesKeepTheAllocationForAnHour() throws {
    let w = try TURNWorld(.symmetric)
    w.net.run(for: .seconds(1))
    w.session?.send(Array("a".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(3600))
    // Allocation every 480 s, permission every 240 s, channel every 540 s.
    #expect(w.count { if case .refreshed = $0 { true } else { false } } == 7)
    #expect(w.count { if case .permissionCreated = $0 { true } else { false } } >= 14)
    #expect(w.count { if case .channelBound = $0 { true } else { false } } == 7)
    #expect(w.session?.client.isAllocated == true && w.server.server.allocationCount == 1)
    w.session?.send(Array("b".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(1))
    #expect(w.received.map(\.text) == ["echo:a", "echo:b"])
  }

  @Test func staleNonceIsRenewed() throws {
    let w = try TURNWorld(.symmetric, nonceLifetime: .seconds(100))
    w.net.run(for: .seconds(1))
    w.session?.send(Array("a".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(600))
    #expect(w.count { if case .staleNonce = $0 { true } else { false } } >= 1)
    #expect(w.server.stats.staleNonces >= 1)
    #expect(w.session?.client.isAllocated == true)
    w.session?.send(Array("b".utf8), to: TURNWorld.peerAddress)
    w.net.run(for: .seconds(1))
    #expect(w.received.map(\.text) == ["echo:a", "echo:b"])
  }

  @Test func wrongPasswordIsChallengedThenExplained() throws {
    let w = try TURNWorld(.portRestrictedCone, password: "not-it")
    w.net.run(for: .seconds(5))
    #expect(w.events.contains(.challenged(realm: "sim.test", algorithm: "MD5")))
    guard case .failed(let f)? = w.events.last else {
      Issue.record("expected failure: \(w.events)")
      return
    }
    #expect(f.code == 401 && f.explanation.contains("username or password"))
    #expect(w.server.server.allocationCount == 0)
  }

  @Test func allocationExpiresWhenTheClientVanishes() throws {
    let w = try TURNWorld(.symmetric)
    w.net.run(for: .seconds(1))
    #expect(w.server.server.allocationCount == 1)
    w.client.setLink(Link(loss: 1), for: ip("192.168.1.10"))
    w.net.run(for: .seconds(598))
    #expect(w.server.server.allocationCount == 1)
    w.net.run(for: .seconds(5))
    #expect(w.server.server.allocationCount == 0 && w.server.stats.expired == 1)
    guard case .failed(let f)? = w.events.last else {
      Issue.record("expected failure: \(w.events)")
      return
    }
    #expect(f.explanation.contains("expired"))
  }

  @Test func closeReleasesTheAllocation() throws {
    let w = try TURNWorld(.fullCone)
    w.net.run(for: .seconds(1))
    w.session?.close()
    w.net.run(for: .seconds(1))
    #expect(w.events.last == .released)
    #expect(w.server.server.allocationCount == 0)
    #expect(w.server.server.relayedAddresses.isEmpty)
  }
}
