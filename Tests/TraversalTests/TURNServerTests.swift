import STUN
import Testing
import Traversal

@Suite struct TURNServerTests {
  static let config = TURNServerConfiguration(
    listen: TURNAddr.listen, relayIP: TURNAddr.relayIP, realm: "natscope.test",
    users: ["alice": turnPassword], relayPorts: 50000...50001, maximumAllocations: 2)

  /// Builds a request; signed with the MD5 long-term key when `nonce` is given.
  func request(
    _ method: STUN.Method, nonce: String? = nil, id: TransactionID = .random(),
    password: String = turnPassword, _ fill: (inout MessageBuilder) -> Void = { _ in }
  ) throws -> [UInt8] {
    var b = MessageBuilder(type: MessageType(method: method, class: .request), transactionID: id)
    fill(&b)
    if let nonce {
      b.add(Username("alice"))
      b.add(Realm("natscope.test"))
      b.add(Nonce(nonce))
      b.addMessageIntegrity(
        key: try IntegrityKey.longTerm(
          username: "alice", realm: "natscope.test", password: password))
    }
    b.addFingerprint()
    return b.bytes
  }

  func replies(_ outs: [TURNServer.Output]) throws -> [Message] {
    try outs.compactMap {
      if case .transmit(let t) = $0, t.to.ip != TURNAddr.peer.ip {
        let m = try Message(bytes: t.bytes)
        #expect(t.from == TURNAddr.listen && t.transactionID == m.transactionID)
        return m
      }
      return nil
    }
  }

  func errorCode(_ m: Message?) -> UInt16? {
    (try? m?.get(ErrorCodeAttribute.self))?.code.rawValue
  }

  /// Gets a nonce from a 401 challenge.
  func nonce(_ s: inout TURNServer, from client: TransportAddress = TURNAddr.client) throws
    -> String
  {
    let challenge = try replies(
      s.handleInput(
        try request(.allocate) { $0.add(RequestedTransport.udp) }, from: client, at: .zero))
    #expect(errorCode(challenge.first) == 401)
    #expect(try challenge.first?.get(Realm.self)?.text == "natscope.test")
    return try challenge.first?.get(Nonce.self)?.text ?? ""
  }

  @Test func allocateRetransmissionGetsTheSameAnswerAndErrorsAreSigned() throws {
    var s = TURNServer(configuration: Self.config)
    let n = try nonce(&s)
    let id = TransactionID.random()
    let bytes = try request(.allocate, nonce: n, id: id) { $0.add(RequestedTransport.udp) }
    let first = try replies(s.handleInput(bytes, from: TURNAddr.client, at: .zero))
    let again = try replies(s.handleInput(bytes, from: TURNAddr.client, at: seconds(1)))
    #expect(first.first?.messageClass == .successResponse)
    #expect(
      try first.first?.get(XORRelayedAddress.self) == again.first?.get(XORRelayedAddress.self))
    #expect(s.allocationCount == 1)
    // A different Allocate on the same 5-tuple: 437, integrity-protected.
    let other = try replies(
      s.handleInput(
        try request(.allocate, nonce: n) { $0.add(RequestedTransport.udp) },
        from: TURNAddr.client, at: .zero))
    #expect(errorCode(other.first) == 437)
    let key = try IntegrityKey.longTerm(
      username: "alice", realm: "natscope.test", password: turnPassword)
    #expect(other.first?.verifyMessageIntegrity(key: key) == true)
  }

  @Test func requestErrors() throws {
    var s = TURNServer(configuration: Self.config)
    let n = try nonce(&s)
    // TCP relaying is not offered.
    let tcp = try replies(
      s.handleInput(
        try request(.allocate, nonce: n) { $0.add(RequestedTransport.tcp) },
        from: TURNAddr.client, at: .zero))
    #expect(errorCode(tcp.first) == 442)
    // No REQUESTED-TRANSPORT.
    let none = try replies(
      s.handleInput(try request(.allocate, nonce: n), from: TURNAddr.client, at: .zero))
    #expect(errorCode(none.first) == 400)
    // Refresh with no allocation.
    let refresh = try replies(
      s.handleInput(try request(.refresh, nonce: n), from: TURNAddr.client, at: .zero))
    #expect(errorCode(refresh.first) == 437)
    // Wrong password: 401 with a new challenge.
    let wrong = try replies(
      s.handleInput(
        try request(.allocate, nonce: n, password: "nope") { $0.add(RequestedTransport.udp) },
        from: TURNAddr.client, at: .zero))
    #expect(errorCode(wrong.first) == 401 && wrong.first?.contains(.nonce) == true)
    // An unknown nonce: 438 with a fresh one.
    let stale = try replies(
      s.handleInput(
        try request(.allocate, nonce: "made-up") { $0.add(RequestedTransport.udp) },
        from: TURNAddr.client, at: .zero))
    #expect(errorCode(stale.first) == 438 && stale.first?.contains(.nonce) == true)
    // Capacity: two relay ports, so the third client gets 508.
    for port in UInt16(1)...3 {
      let c = TransportAddress(ip: TURNAddr.client.ip, port: 41000 + port)
      let r = try replies(
        s.handleInput(
          try request(.allocate, nonce: n) { $0.add(RequestedTransport.udp) }, from: c,
          at: .zero))
      #expect(port < 3 ? r.first?.messageClass == .successResponse : errorCode(r.first) == 508)
    }
    #expect(s.stats.errorsSent >= 6)
  }

  @Test func channelBindConflictsAndPermissionChecks() throws {
    var s = TURNServer(configuration: Self.config)
    let n = try nonce(&s)
    let allocated = try replies(
      s.handleInput(
        try request(.allocate, nonce: n) { $0.add(RequestedTransport.udp) },
        from: TURNAddr.client, at: .zero))
    guard let relay = try allocated.first?.get(XORRelayedAddress.self)?.address else {
      Issue.record("no allocation")
      return
    }
    func bind(_ channel: UInt16, _ peer: TransportAddress) throws -> UInt16? {
      let r = try replies(
        s.handleInput(
          try request(.channelBind, nonce: n) {
            $0.add(ChannelNumber(channel))
            $0.add(XORPeerAddress(peer))
          }, from: TURNAddr.client, at: .zero))
      return r.first?.messageClass == .successResponse ? 0 : errorCode(r.first)
    }
    #expect(try bind(0x4001, TURNAddr.peer) == 0)
    #expect(try bind(0x4001, TURNAddr.peer2) == 400)  // channel taken by another peer
    #expect(try bind(0x4002, TURNAddr.peer) == 400)  // peer already on another channel
    #expect(try bind(0x3FFF, TURNAddr.peer2) == 400)  // out of range
    // Peer data: from the bound peer as ChannelData; from a stranger, dropped.
    let fromPeer = s.handleInput([1, 2, 3], from: TURNAddr.peer, on: relay, at: .zero)
    guard case .transmit(let frame)? = fromPeer.first else {
      Issue.record("peer data not relayed")
      return
    }
    #expect(frame.to == TURNAddr.client && frame.bytes.first == 0x40)
    #expect(
      s.handleInput([1], from: TURNAddr.peer2, on: relay, at: .zero)
        == s.nextWake.map { [.timeout($0)] })
    // A Send indication to a peer without permission is dropped; ChannelData on an unbound
    // channel too; garbage is counted as malformed.
    var b = MessageBuilder(
      type: MessageType(method: .send, class: .indication), transactionID: .random())
    b.add(XORPeerAddress(TURNAddr.peer2))
    b.add(DataAttribute([9]))
    b.addFingerprint()
    func sends(_ outs: [TURNServer.Output]) -> Int {
      outs.filter { if case .transmit = $0 { true } else { false } }.count
    }
    #expect(sends(s.handleInput(b.bytes, from: TURNAddr.client, at: .zero)) == 0)
    #expect(
      sends(s.handleInput([0x4F, 0xFF, 0, 1, 7, 0, 0, 0], from: TURNAddr.client, at: .zero)) == 0)
    #expect(s.stats.droppedNoPermission == 3)
    _ = s.handleInput([0xFF, 0xEE], from: TURNAddr.client, at: .zero)
    #expect(s.stats.malformed == 1)
    // Permissions expire after 300 s.
    _ = s.handleTimeout(at: seconds(301))
    #expect(
      s.handleInput([1], from: TURNAddr.peer, on: relay, at: seconds(301))
        == s.nextWake.map { [.timeout($0)] })
  }

  @Test func sha256WhenOffered() throws {
    let sha = TURNServerConfiguration(
      listen: TURNAddr.listen, relayIP: TURNAddr.relayIP, realm: "natscope.test",
      users: ["alice": turnPassword], offersSHA256: true)
    var p = TURNPair(server: sha)
    p.start()
    #expect(p.events.contains(.challenged(realm: "natscope.test", algorithm: "SHA-256")))
    #expect(p.client.isAllocated)
    let second = try Message(bytes: p.clientSent[1])
    #expect(try second.get(PasswordAlgorithmAttribute.self)?.entry.algorithm == .sha256)
    let key = try IntegrityKey.longTerm(
      username: "alice", realm: "natscope.test", password: turnPassword, algorithm: .sha256)
    #expect(second.verifyMessageIntegrity(key: key))
    p.send("x", to: TURNAddr.peer)
    #expect(p.atPeers.count == 1)
  }
}
