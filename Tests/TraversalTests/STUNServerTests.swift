import STUN
import Testing
import Traversal

extension STUNServer {
  /// The one transmit `handleInput` returns, or nil when it returns none (it never returns
  /// more than one, nor a timeout or an event).
  fileprivate mutating func reply(
    _ bytes: [UInt8], from source: TransportAddress, on local: TransportAddress, at now: Instant
  ) -> Transmit? {
    let outs = handleInput(bytes, from: source, on: local, at: now)
    #expect(outs.count <= 1)
    return outs.transmits().first
  }
}

@Suite struct STUNServerTests {
  static let p = IPAddress("203.0.113.10")!
  static let a = IPAddress("203.0.113.11")!
  static let client = TransportAddress("198.51.100.1:40000")!
  static let config = STUNServerConfiguration(primary: p, alternate: a, software: "natscope-test")

  func request(_ build: (inout MessageBuilder) -> Void = { _ in }) -> [UInt8] {
    var b = MessageBuilder(type: .bindingRequest, transactionID: .random())
    build(&b)
    b.addFingerprint()
    return b.bytes
  }

  @Test func answersBindingWithRFC5780Attributes() throws {
    var server = STUNServer(configuration: Self.config)
    let local = TransportAddress(ip: Self.p, port: 3478)
    let replyReply = server.reply(request(), from: Self.client, on: local, at: .zero)
    let reply = try #require(replyReply)
    #expect(reply.from == local)
    #expect(reply.to == Self.client)
    let m = try Message(bytes: reply.bytes)
    #expect(m.type == .bindingSuccess)
    #expect(try m.get(XORMappedAddress.self)?.address == Self.client)
    #expect(try m.get(ResponseOrigin.self)?.address == local)
    #expect(try m.get(OtherAddress.self)?.address == TransportAddress(ip: Self.a, port: 3479))
    #expect(try m.get(Software.self)?.text == "natscope-test")
    #expect(try m.get(MappedAddress.self) == nil)
    #expect(m.verifyFingerprint())
  }

  @Test func theReplyIsATransmitCarryingTheRequestsTransactionID() throws {
    var server = STUNServer(configuration: Self.config)
    let local = TransportAddress(ip: Self.p, port: 3478)
    let id = TransactionID.random()
    var b = MessageBuilder(type: .bindingRequest, transactionID: id)
    b.addFingerprint()
    let outs = server.handleInput(b.bytes, from: Self.client, on: local, at: .zero)
    let reply = try #require(outs.transmits().first)
    #expect(outs == [.transmit(reply)])
    #expect(reply.transactionID == id)
    #expect(try Message(bytes: reply.bytes).transactionID == id)
    #expect(outs.timeout() == nil)
  }

  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func changeRequestPicksTheReplyEndpoint(changeIP: Bool, changePort: Bool) throws {
    var server = STUNServer(configuration: Self.config)
    let local = TransportAddress(ip: Self.p, port: 3478)
    let bytes = request { $0.add(ChangeRequest(changeIP: changeIP, changePort: changePort)) }
    let replyReply = server.reply(bytes, from: Self.client, on: local, at: .zero)
    let reply = try #require(replyReply)
    #expect(reply.from?.ip == (changeIP ? Self.a : Self.p))
    #expect(reply.from?.port == (changePort ? 3479 : 3478))
    #expect(try Message(bytes: reply.bytes).get(ResponseOrigin.self)?.address == reply.from)
  }

  @Test func plainServerRefusesChangeRequestWith420() throws {
    var server = STUNServer(configuration: STUNServerConfiguration(primary: Self.p))
    #expect(server.configuration.endpoints.count == 1)
    let local = TransportAddress(ip: Self.p, port: 3478)
    let bytes = request { $0.add(ChangeRequest(changeIP: true, changePort: false)) }
    let replyReply = server.reply(bytes, from: Self.client, on: local, at: .zero)
    let reply = try #require(replyReply)
    let m = try Message(bytes: reply.bytes)
    #expect(m.type == .bindingError)
    #expect(try m.get(ErrorCodeAttribute.self)?.code == .unknownAttribute)
    #expect(try m.get(UnknownAttributes.self)?.types == [.changeRequest])
    // Without CHANGE-REQUEST it still answers, and sends no OTHER-ADDRESS.
    let plainReply = server.reply(request(), from: Self.client, on: local, at: .zero)
    let plain = try #require(plainReply)
    #expect(try Message(bytes: plain.bytes).get(OtherAddress.self) == nil)
  }

  @Test func unknownComprehensionRequiredAttributeGets420() throws {
    var server = STUNServer(configuration: Self.config)
    let bytes = request { $0.add(type: AttributeType(rawValue: 0x7ABC), value: [1, 2, 3, 4]) }
    let replyReply = server.reply(
      bytes, from: Self.client, on: .init(ip: Self.p, port: 3478), at: .zero)
    let reply = try #require(replyReply)
    let m = try Message(bytes: reply.bytes)
    #expect(try m.get(ErrorCodeAttribute.self)?.code == .unknownAttribute)
    #expect(try m.get(UnknownAttributes.self)?.types == [AttributeType(rawValue: 0x7ABC)])
  }

  @Test func responsePortRedirectsTheAnswer() throws {
    var server = STUNServer(configuration: Self.config)
    let bytes = request { $0.add(ResponsePort(41234)) }
    let replyReply = server.reply(
      bytes, from: Self.client, on: .init(ip: Self.p, port: 3478), at: .zero)
    let reply = try #require(replyReply)
    #expect(reply.to == TransportAddress(ip: Self.client.ip, port: 41234))
  }

  @Test func malformedAndNonRequestsAreDroppedAndCounted() {
    var server = STUNServer(configuration: Self.config)
    let local = TransportAddress(ip: Self.p, port: 3478)
    #expect(server.reply([0x00, 0x01, 0x00], from: Self.client, on: local, at: .zero) == nil)
    #expect(
      server.reply(
        [0x80] + [UInt8](repeating: 0, count: 30), from: Self.client, on: local, at: .zero) == nil)
    var tampered = request()
    tampered[tampered.count - 1] ^= 0xFF
    #expect(server.reply(tampered, from: Self.client, on: local, at: .zero) == nil)
    var b = MessageBuilder(type: .bindingIndication, transactionID: .random())
    b.addFingerprint()
    #expect(server.reply(b.bytes, from: Self.client, on: local, at: .zero) == nil)
    #expect(server.stats.malformed == 3)
    #expect(server.stats.ignored == 1)
    #expect(server.stats.answered == 0)
  }

  @Test func paddingIsEchoedOnlyWithinTheAmplificationBound() throws {
    var server = STUNServer(configuration: Self.config)
    let local = TransportAddress(ip: Self.p, port: 3478)
    let padded = request { $0.add(Padding(count: 400)) }
    let replyReply = server.reply(padded, from: Self.client, on: local, at: .zero)
    let reply = try #require(replyReply)
    #expect(reply.bytes.count <= padded.count + STUNServer.maximumGrowth)
    #expect(try Message(bytes: reply.bytes).get(Padding.self)?.bytes.count == 400)
    // A small request never gets a reply much larger than itself.
    let smallReply = server.reply(request(), from: Self.client, on: local, at: .zero)
    let small = try #require(smallReply)
    #expect(small.bytes.count <= request().count + STUNServer.maximumGrowth)
  }

  @Test func rateLimitPerSource() {
    var server = STUNServer(
      configuration: STUNServerConfiguration(primary: Self.p, ratePerSecond: 10, rateBurst: 5))
    let local = TransportAddress(ip: Self.p, port: 3478)
    let answered = (0..<20).filter { _ in
      server.reply(request(), from: Self.client, on: local, at: .zero) != nil
    }.count
    #expect(answered == 5)
    #expect(server.stats.rateLimited == 15)
    // A second later the bucket has refilled ten tokens.
    let later = Instant.zero + .seconds(1)
    let more = (0..<20).filter { _ in
      server.reply(request(), from: Self.client, on: local, at: later) != nil
    }.count
    #expect(more == 5)
    // Another source is not affected.
    #expect(
      server.reply(request(), from: TransportAddress("198.51.100.2:1")!, on: local, at: .zero)
        != nil)
  }
}
