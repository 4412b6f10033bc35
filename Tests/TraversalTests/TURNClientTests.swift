import Foundation
import Report
import STUN
import Testing
import Traversal

@Suite struct TURNClientTests {
  @Test func allocatesAfterChallenge() throws {
    var p = TURNPair()
    p.start()
    #expect(p.events.count == 3)
    #expect(p.events[0] == .allocating(server: TURNAddr.listen))
    #expect(p.events[1] == .challenged(realm: "natscope.test", algorithm: "MD5"))
    guard case .allocated(let relayed, let mapped, let lifetime) = p.events[2] else {
      Issue.record("not allocated: \(p.events)")
      return
    }
    #expect(relayed.ip == TURNAddr.relayIP && relayed.port >= 49152)
    #expect(mapped == TURNAddr.client)
    #expect(lifetime == 600)
    #expect(p.client.isAllocated && p.openRelays == [relayed])
    // The second Allocate carries USERNAME, REALM, NONCE, MESSAGE-INTEGRITY and FINGERPRINT.
    let second = try Message(bytes: p.clientSent[1])
    #expect(second.contains(.username) && second.contains(.realm) && second.contains(.nonce))
    #expect(second.hasMessageIntegrity && second.verifyFingerprint())
    #expect(try second.get(RequestedTransport.self) == .udp)
  }

  @Test func sendAndDataIndicationsWithoutChannels() throws {
    var p = TURNPair(configuration: .init(useChannels: false))
    p.start()
    p.send("hello", to: TURNAddr.peer)
    #expect(p.events.contains(.permissionCreated(peer: TURNAddr.peer.ip)))
    #expect(p.atPeers.count == 1)
    #expect(p.atPeers.first.map { String(decoding: $0.bytes, as: UTF8.self) } == "hello")
    #expect(p.atPeers.first?.from == p.client.relayedAddress)
    p.peerSends("world", from: TURNAddr.peer)
    #expect(p.received.count == 1)
    #expect(p.received.first?.from == TURNAddr.peer)
    #expect(p.received.first.map { String(decoding: $0.bytes, as: UTF8.self) } == "world")
    // The data went in a Send indication.
    let last = try Message(bytes: p.clientSent.last ?? [])
    #expect(last.type == MessageType(method: .send, class: .indication))
    // A peer with no permission is not relayed.
    p.peerSends("intruder", from: TURNAddr.peer2)
    #expect(p.received.count == 1)
    #expect(p.server.stats.droppedNoPermission == 1)
  }

  @Test func channelDataBothWays() throws {
    var p = TURNPair()
    p.start()
    p.send("one", to: TURNAddr.peer)
    #expect(p.events.contains(.channelBound(peer: TURNAddr.peer, channel: 0x4000)))
    #expect(p.client.channel(for: TURNAddr.peer) == 0x4000)
    p.send("two", to: TURNAddr.peer)
    #expect(p.clientSent.last?.first.map { $0 & 0xC0 } == 0x40)  // ChannelData
    #expect(p.atPeers.map { String(decoding: $0.bytes, as: UTF8.self) } == ["one", "two"])
    p.peerSends("back", from: TURNAddr.peer)
    #expect(p.received.map { String(decoding: $0.bytes, as: UTF8.self) } == ["back"])
    #expect(p.received.first?.from == TURNAddr.peer)
    #expect(p.client.stats.dataReceived == 1 && p.client.stats.dataSent == 2)
  }

  @Test func refreshTiming() {
    var p = TURNPair()
    p.start()
    p.send("x", to: TURNAddr.peer)
    func requests(_ p: TURNPair) -> Int {
      p.clientSent.filter { (try? Message(bytes: $0))?.messageClass == .request }.count
    }
    let sentBefore = requests(p)
    p.advance(to: seconds(239))
    #expect(requests(p) == sentBefore)  // no request before 240 s
    // Keepalives (Binding indications) every 15 s hold NAT mappings open.
    let keepalives = p.clientSent.filter { (try? Message(bytes: $0))?.type == .bindingIndication }
    #expect(keepalives.count == 15)
    p.advance(to: seconds(241))
    // Permission refresh at 240 s (the first permission came with the channel binding).
    #expect(p.events.filter { $0 == .permissionCreated(peer: TURNAddr.peer.ip) }.count == 1)
    p.advance(to: seconds(479))
    #expect(!p.events.contains(.refreshed(lifetime: 600)))
    p.advance(to: seconds(481))  // 80% of 600 s
    #expect(p.events.contains(.refreshed(lifetime: 600)))
    p.advance(to: seconds(541))  // channel refresh at 540 s
    #expect(
      p.events.filter { $0 == .channelBound(peer: TURNAddr.peer, channel: 0x4000) }.count == 2)
    // Kept alive long past the first lifetime, and still relaying.
    p.advance(to: seconds(3000))
    #expect(p.client.isAllocated && p.server.allocationCount == 1)
    p.peerSends("late", from: TURNAddr.peer)
    #expect(p.received.last.map { String(decoding: $0.bytes, as: UTF8.self) } == "late")
  }

  @Test func staleNonceIsRetried() {
    let config = TURNServerConfiguration(
      listen: TURNAddr.listen, relayIP: TURNAddr.relayIP, realm: "natscope.test",
      users: ["alice": turnPassword], nonceLifetime: .seconds(100))
    var p = TURNPair(server: config)
    p.start()
    p.send("x", to: TURNAddr.peer)
    p.advance(to: seconds(241))
    #expect(p.events.contains(.staleNonce(method: "CreatePermission")))
    #expect(p.server.stats.staleNonces >= 1)
    #expect(p.client.stats.staleNonceRetries >= 1)
    #expect(p.events.filter { $0 == .permissionCreated(peer: TURNAddr.peer.ip) }.count == 1)
    p.advance(to: seconds(2000))
    #expect(p.client.isAllocated)
  }

  @Test func wrongPasswordFailsWithExplanation() {
    var p = TURNPair(password: "wrong")
    p.start()
    guard case .failed(let f) = p.events.last else {
      Issue.record("expected failure, got \(p.events)")
      return
    }
    #expect(f.code == 401)
    #expect(f.explanation.contains("username or password"))
    #expect(p.events.contains(.challenged(realm: "natscope.test", algorithm: "MD5")))
    #expect(p.server.allocationCount == 0)
  }

  @Test func closeReleasesTheAllocation() {
    var p = TURNPair()
    p.start()
    p.send("x", to: TURNAddr.peer)
    p.fromClient(p.client.close(at: p.now))
    #expect(p.events.last == .released)
    #expect(p.client.state == .released)
    #expect(p.server.allocationCount == 0 && p.openRelays.isEmpty)
    let release = try? Message(bytes: p.clientSent.last ?? [])
    #expect(release.flatMap { try? $0.get(Lifetime.self) } == Lifetime(seconds: 0))
  }

  @Test func serverExpiresAnAllocationThatIsNotRefreshed() {
    var p = TURNPair()
    p.start()
    p.dropClientPackets = true
    p.advance(to: seconds(599))
    #expect(p.server.allocationCount == 1)
    p.advance(to: seconds(601))
    #expect(p.server.allocationCount == 0 && p.server.stats.expired == 1)
    #expect(p.openRelays.isEmpty)
    // The client, whose refreshes were lost, gives up when the lifetime runs out.
    guard case .failed(let f) = p.events.last else {
      Issue.record("expected failure, got \(p.events)")
      return
    }
    #expect(f.explanation.contains("expired"))
    #expect(p.events.contains { if case .requestFailed("Refresh", _) = $0 { true } else { false } })
  }

  @Test func quotaAndCapacity() {
    let config = TURNServerConfiguration(
      listen: TURNAddr.listen, relayIP: TURNAddr.relayIP, realm: "natscope.test",
      users: ["alice": turnPassword], maximumAllocationsPerUser: 1)
    var server = TURNServer(configuration: config)
    func allocate(from client: TransportAddress) -> [TURNClientEvent] {
      var c = TURNClient(
        server: TURNAddr.listen,
        credentials: TURNCredentials(username: "alice", password: turnPassword))
      var events: [TURNClientEvent] = []
      var queue = c.start(at: .zero)
      var n = 0
      while !queue.isEmpty, n < 50 {
        n += 1
        let o = queue.removeFirst()
        switch o {
        case .event(let e): events.append(e)
        case .transmit(let t):
          for case .transmit(let r) in server.handleInput(t.bytes, from: client, at: .zero)
          where r.to == client {
            queue += c.handleInput(r.bytes, from: r.from ?? TURNAddr.listen, at: .zero)
          }
        default: break
        }
      }
      return events
    }
    _ = allocate(from: TURNAddr.client)
    let second = allocate(from: TransportAddress(ip: TURNAddr.client.ip, port: 40001))
    guard case .failed(let f) = second.last else {
      Issue.record("expected 486, got \(second)")
      return
    }
    #expect(f.code == 486 && f.explanation.contains("too many allocations"))
  }

  @Test func explanations() {
    let cases: [(UInt16, String)] = [
      (401, "username or password"), (403, "forbids"), (437, "no longer knows"),
      (441, "rejected the username or password"), (442, "does not relay UDP"),
      (486, "too many allocations"), (508, "no relay ports"),
    ]
    for (code, text) in cases {
      let f = TURNFailure.explaining(ErrorCode(code), method: .createPermission)
      #expect(f.code == Int(code) && f.explanation.contains(text), "\(code): \(f.explanation)")
    }
    #expect(TURNFailure.timedOut(after: .milliseconds(39_500)).explanation.contains("39.5 s"))
  }

  @Test func tryAlternateIsFollowedOnce() throws {
    let other = TransportAddress(ip: .v4(0xCB00_710B), port: 3478)
    var c = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "u", password: "p"))
    let outs = c.start(at: .zero)
    guard
      case .transmit(let t)? = outs.first(where: { if case .transmit = $0 { true } else { false } })
    else {
      Issue.record("no request")
      return
    }
    let request = try Message(bytes: t.bytes)
    var b = MessageBuilder(
      type: MessageType(method: .allocate, class: .errorResponse),
      transactionID: request.transactionID)
    b.add(ErrorCodeAttribute(.tryAlternate))
    b.add(AlternateServer(other))
    b.addFingerprint()
    let next = c.handleInput(b.bytes, from: TURNAddr.listen, at: .zero)
    #expect(next.contains(.event(.redirected(alternate: other))))
    #expect(next.contains { if case .transmit(let t) = $0 { t.to == other } else { false } })
    #expect(c.server == other)
  }

  @Test func badIntegrityAndMalformedPacketsAreDroppedAndCounted() throws {
    var p = TURNPair()
    p.start()
    // A forged success response to a pending CreatePermission, with a wrong key.
    let outs = p.client.createPermission(for: [TURNAddr.peer.ip], at: p.now)
    guard case .transmit(let t)? = outs.first else {
      Issue.record("no request")
      return
    }
    let bytes = t.bytes
    let request = try Message(bytes: bytes)
    var b = MessageBuilder(
      type: MessageType(method: .createPermission, class: .successResponse),
      transactionID: request.transactionID)
    b.addMessageIntegrity(key: IntegrityKey(bytes: Array(repeating: 7, count: 16)))
    b.addFingerprint()
    #expect(
      p.client.handleInput(b.bytes, from: TURNAddr.listen, at: p.now).allSatisfy {
        if case .event = $0 { false } else { true }
      })
    #expect(p.client.stats.integrityFailures == 1)
    _ = p.client.handleInput([0x00, 0x01, 0x02], from: TURNAddr.listen, at: p.now)
    _ = p.client.handleInput(Array(repeating: 0x41, count: 8), from: TURNAddr.listen, at: p.now)
    _ = p.client.handleInput(bytes, from: TURNAddr.peer, at: p.now)  // not the server
    #expect(p.client.stats.malformedDropped == 3)
    #expect(!p.client.permittedPeers.contains(TURNAddr.peer.ip))
  }

  @Test func streamTransportDoesNotRetransmit() {
    var c = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "u", password: "p"),
      transport: .stream)
    let outs = c.start(at: .zero)
    #expect(outs.filter { if case .transmit = $0 { true } else { false } }.count == 1)
    #expect(outs.last == .timeout(Instant(nanoseconds: 39_500_000_000)))
    #expect(
      c.handleTimeout(at: seconds(20)).allSatisfy { if case .transmit = $0 { false } else { true } }
    )
    let end = c.handleTimeout(at: Instant(nanoseconds: 39_500_000_000))
    guard case .event(.failed(let f))? = end.first else {
      Issue.record("expected timeout, got \(end)")
      return
    }
    #expect(f.code == nil && f.explanation.contains("39.5 s"))
  }

  @Test func noSecretsInEventsOrDescriptions() throws {
    var p = TURNPair()
    p.start()
    p.send("x", to: TURNAddr.peer)
    p.advance(to: seconds(700))
    p.fromClient(p.client.close(at: p.now))
    var wrong = TURNPair(password: "wrong-\(turnPassword)")
    wrong.start()
    let all = p.events + wrong.events
    #expect(all.count > 6)
    let json = String(decoding: try JSONEncoder().encode(all), as: UTF8.self)
    let key = try IntegrityKey.longTerm(
      username: "alice", realm: "natscope.test", password: turnPassword)
    let keyHex = key.bytes.map { String(format: "%02x", $0) }.joined()
    var dumped = ""
    dump(p.client, to: &dumped)
    dump(p.server, to: &dumped)
    dump(TURNCredentials(username: "alice", password: turnPassword), to: &dumped)
    let texts = [
      json, "\(all)", "\(p.client)", String(reflecting: p.client), "\(p.client.stats)",
      "\(p.server.configuration)", dumped,
    ]
    for text in texts {
      #expect(!text.contains(turnPassword))
      #expect(!text.lowercased().contains(keyHex))
      #expect(!text.contains("\(key.bytes)"))
      #expect(!text.contains(key.bytes.prefix(4).map(String.init).joined(separator: ", ")))
    }
    let creds = TURNCredentials(username: "alice", password: turnPassword)
    #expect(!"\(creds)".contains(turnPassword) && !String(reflecting: creds).contains(turnPassword))
  }
}
