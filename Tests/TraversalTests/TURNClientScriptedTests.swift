import Foundation
import Report
import STUN
import Testing
import Traversal

struct ScriptError: Error {}

/// The client against hand-written server answers.
@Suite struct TURNClientScriptedTests {
  /// The last request the client sent, decoded.
  func lastRequest(_ outs: [TURNClient.Output]) -> Message? {
    for o in outs.reversed() {
      if case .transmit(let t) = o, let m = try? Message(bytes: t.bytes), m.messageClass == .request
      {
        return m
      }
    }
    return nil
  }

  func error(
    _ code: ErrorCode, to request: Message, nonce: String? = nil, key: IntegrityKey? = nil
  ) -> [UInt8] {
    var b = MessageBuilder(
      type: MessageType(method: request.method, class: .errorResponse),
      transactionID: request.transactionID)
    b.add(ErrorCodeAttribute(code))
    if let nonce {
      b.add(Realm("r"))
      b.add(Nonce(nonce))
    }
    if let key { b.addMessageIntegrity(key: key) }
    b.addFingerprint()
    return b.bytes
  }

  /// A client allocated against a scripted server; returns it, its key and the outputs so far.
  func allocated(transport: TURNTransport = .udp) throws -> (TURNClient, IntegrityKey) {
    var c = TURNClient(
      server: TURNAddr.listen, credentials: TURNCredentials(username: "u", password: "p"),
      transport: transport)
    guard let first = lastRequest(c.start(at: .zero)) else { throw ScriptError() }
    let second = lastRequest(
      c.handleInput(
        error(.unauthenticated, to: first, nonce: "n1"), from: TURNAddr.listen, at: .zero))
    let key = try IntegrityKey.longTerm(username: "u", realm: "r", password: "p")
    guard let second else { throw ScriptError() }
    var b = MessageBuilder(
      type: MessageType(method: .allocate, class: .successResponse),
      transactionID: second.transactionID)
    b.add(XORRelayedAddress(TransportAddress(ip: TURNAddr.relayIP, port: 50000)))
    b.add(Lifetime(seconds: 300))
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    let outs = c.handleInput(b.bytes, from: TURNAddr.listen, at: .zero)
    #expect(
      outs.contains(
        .event(
          .allocated(
            relayed: TransportAddress(ip: TURNAddr.relayIP, port: 50000), mapped: nil,
            lifetime: 300))))
    return (c, key)
  }

  @Test func staleNonceRetriesAreBounded() throws {
    var (c, _) = try allocated()
    var request = lastRequest(c.refresh(at: seconds(1)))
    var stale = 0
    var last: [TURNClient.Output] = []
    while let r = request, stale < 10 {
      stale += 1
      #expect(r.contains(.nonce) && r.hasMessageIntegrity)
      last = c.handleInput(
        error(.staleNonce, to: r, nonce: "n\(stale + 1)"), from: TURNAddr.listen, at: seconds(1))
      request = lastRequest(last)
    }
    #expect(stale == 4)  // the request and three retries
    #expect(c.stats.staleNonceRetries == 3)
    #expect(
      last.contains {
        if case .event(.requestFailed("Refresh", let f)) = $0 { f.code == 438 } else { false }
      })
  }

  @Test func allocationMismatchOnRefreshIsFatal() throws {
    var (c, key) = try allocated()
    guard let r = lastRequest(c.refresh(at: seconds(1))) else {
      Issue.record("no refresh")
      return
    }
    let outs = c.handleInput(
      error(.allocationMismatch, to: r, key: key), from: TURNAddr.listen, at: seconds(1))
    guard case .event(.failed(let f))? = outs.first else {
      Issue.record("expected failure: \(outs)")
      return
    }
    #expect(f.code == 437 && f.explanation.contains("no longer knows this allocation"))
    #expect(c.state == .failed(f))
  }

  @Test func channelDataIsPaddedOverStreams() throws {
    var (c, key) = try allocated(transport: .stream)
    guard let bind = lastRequest(c.bindChannel(to: TURNAddr.peer, at: .zero)) else {
      Issue.record("no ChannelBind")
      return
    }
    var b = MessageBuilder(
      type: MessageType(method: .channelBind, class: .successResponse),
      transactionID: bind.transactionID)
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    _ = c.handleInput(b.bytes, from: TURNAddr.listen, at: .zero)
    let outs = c.send([1, 2, 3, 4, 5], to: TURNAddr.peer, at: .zero)
    guard case .transmit(let frame)? = outs.first else {
      Issue.record("nothing sent")
      return
    }
    #expect(frame.bytes == [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0])
    // ChannelData from the server, padded, is understood.
    let inbound = c.handleInput(
      [0x40, 0x00, 0x00, 0x02, 7, 8, 0, 0], from: TURNAddr.listen, at: .zero)
    #expect(
      inbound == [.event(.data([7, 8], from: TURNAddr.peer)), .timeout(c.nextWake ?? .zero)])
  }

  @Test func eventsRoundTripThroughJSON() throws {
    let events: [TURNClientEvent] = [
      .allocating(server: TURNAddr.listen), .challenged(realm: "r", algorithm: "MD5"),
      .staleNonce(method: "Refresh"), .redirected(alternate: TURNAddr.peer),
      .allocated(relayed: TURNAddr.peer2, mapped: TURNAddr.client, lifetime: 600),
      .refreshed(lifetime: 600), .permissionCreated(peer: TURNAddr.peer.ip),
      .channelBound(peer: TURNAddr.peer, channel: 0x4000),
      .requestFailed(method: "CreatePermission", failure: .explaining(.forbidden)),
      .failed(.explaining(.wrongCredentials)), .released,
    ]
    let data = try JSONEncoder().encode(events)
    #expect(try JSONDecoder().decode([TURNClientEvent].self, from: data) == events)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("\"relayed\":\"198.51.100.3:6000\""))
    // The failure travels typed (its code and cause); Report words it.
    #expect(text.contains("\"code\":441"))
    #expect(!text.contains("the TURN server rejected"))
  }
}
