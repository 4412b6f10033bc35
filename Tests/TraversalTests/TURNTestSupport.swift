import STUN
import Testing
import Traversal

/// Addresses used by the TURN machine tests.
enum TURNAddr {
  static let listen = TransportAddress(ip: .v4(0xCB00_710A), port: 3478)  // 203.0.113.10:3478
  static let relayIP = IPAddress.v4(0xCB00_710A)
  static let client = TransportAddress(ip: .v4(0xC633_6401), port: 40000)  // 198.51.100.1
  static let peer = TransportAddress(ip: .v4(0xC633_6402), port: 5000)  // 198.51.100.2:5000
  static let peer2 = TransportAddress(ip: .v4(0xC633_6403), port: 6000)
}

let turnPassword = "s3cr3t-Pa55word"

/// A TURN client and a TURN server machine wired back to back with a manual clock: every
/// output of one is fed to the other at once; peers are recorded.
struct TURNPair {
  var client: TURNClient
  var server: TURNServer
  var now = Instant.zero
  var events: [TURNClientEvent] = []
  var received: [(bytes: [UInt8], from: TransportAddress)] = []
  /// Datagrams the relay sent to peers: (bytes, relay, peer).
  var atPeers: [(bytes: [UInt8], from: TransportAddress, to: TransportAddress)] = []
  /// Every client → server packet.
  var clientSent: [[UInt8]] = []
  var clientWake: Instant?
  var serverWake: Instant?
  var openRelays: Set<TransportAddress> = []
  /// When true, client packets are lost on the way to the server.
  var dropClientPackets = false

  init(
    password: String = turnPassword, configuration: TURNClient.Configuration = .init(),
    server serverConfiguration: TURNServerConfiguration? = nil
  ) {
    client = TURNClient(
      server: TURNAddr.listen,
      credentials: TURNCredentials(username: "alice", password: password),
      configuration: configuration)
    server = TURNServer(
      configuration: serverConfiguration
        ?? TURNServerConfiguration(
          listen: TURNAddr.listen, relayIP: TURNAddr.relayIP, realm: "natscope.test",
          users: ["alice": turnPassword]))
  }

  mutating func fromClient(_ outs: [TURNClient.Output]) {
    // The contract: the call that produced `outs` ended with the client's deadline, and every
    // request it sent names its transaction.
    #expect(outs.timeout() == client.nextWake)
    if let last = outs.last, let next = client.nextWake { #expect(last == .timeout(next)) }
    for t in outs.transmits() {
      if let m = try? Message(bytes: t.bytes), m.messageClass == .request {
        #expect(t.transactionID == m.transactionID)
      }
    }
    for o in outs {
      switch o {
      case .transmit(let t):
        clientSent.append(t.bytes)
        guard t.to == TURNAddr.listen, !dropClientPackets else { continue }
        fromServer(server.handleInput(t.bytes, from: TURNAddr.client, at: now))
      case .timeout(let at): clientWake = at
      case .event(.data(let bytes, let from)): received.append((bytes, from))
      case .event(let e): events.append(e)
      }
    }
  }

  mutating func fromServer(_ outs: [TURNServer.Output]) {
    #expect(outs.timeout() == server.nextWake)
    for o in outs {
      switch o {
      case .transmit(let t):
        let from = t.from ?? TURNAddr.listen
        if t.to == TURNAddr.client {
          fromClient(client.handleInput(t.bytes, from: from, at: now))
        } else {
          atPeers.append((t.bytes, from, t.to))
        }
      case .event(.openRelay(let r)): openRelays.insert(r)
      case .event(.closeRelay(let r)): openRelays.remove(r)
      case .timeout(let at):
        serverWake = at
      }
    }
  }

  mutating func start() { fromClient(client.start(at: now)) }

  mutating func send(_ text: String, to peer: TransportAddress) {
    fromClient(client.send(Array(text.utf8), to: peer, at: now))
  }

  mutating func peerSends(_ text: String, from peer: TransportAddress) {
    guard let relay = client.relayedAddress else { return }
    fromServer(server.handleInput(Array(text.utf8), from: peer, on: relay, at: now))
  }

  /// Advances the clock to `end`, firing every wake of either side on the way.
  mutating func advance(to end: Instant) {
    var guardCount = 0
    while guardCount < 100_000 {
      guardCount += 1
      let next = [clientWake, serverWake].compactMap { $0 }.filter { $0 <= end }.min()
      guard let next else { break }
      now = max(now, next)
      if let w = clientWake, w <= now {
        clientWake = nil
        fromClient(client.handleTimeout(at: now))
      }
      if let w = serverWake, w <= now {
        serverWake = nil
        fromServer(server.handleTimeout(at: now))
      }
    }
    now = max(now, end)
  }

  mutating func advance(by d: Duration) { advance(to: now + d) }
}

func seconds(_ s: Int64) -> Instant { Instant(nanoseconds: s * 1_000_000_000) }
