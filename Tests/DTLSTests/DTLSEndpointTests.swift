import DTLS
import Foundation
import STUN
import Testing
import Traversal

/// Two endpoints wired back to back in memory, on a clock the test advances.
private struct Pair {
  let client: DTLSEndpoint
  let server: DTLSEndpoint
  var now = Instant.zero
  var clientEvents: [DTLSEvent] = []
  var serverEvents: [DTLSEvent] = []
  var clientDeadline: Instant?
  var serverDeadline: Instant?
  /// Datagrams client → server and back, in flight.
  var toServer: [[UInt8]] = []
  var toClient: [[UInt8]] = []
  var sentSizes: [Int] = []

  static let a = TransportAddress("192.0.2.1:5000")!
  static let b = TransportAddress("192.0.2.2:6000")!

  init(
    clientCert: DTLSCertificate, serverCert: DTLSCertificate,
    clientExpects: DTLSFingerprint?, serverExpects: DTLSFingerprint?, mtu: Int = 1200,
    initial: Duration = .seconds(1)
  ) throws {
    client = try DTLSEndpoint(
      configuration: DTLSConfiguration(
        role: .client, certificate: clientCert, expectedPeerFingerprint: clientExpects,
        linkMTU: mtu, initialRetransmission: initial),
      remote: Pair.b)
    server = try DTLSEndpoint(
      configuration: DTLSConfiguration(
        role: .server, certificate: serverCert, expectedPeerFingerprint: serverExpects,
        linkMTU: mtu, initialRetransmission: initial),
      remote: Pair.a)
  }

  mutating func take(_ outputs: [MachineOutput<DTLSEvent>], fromClient: Bool) {
    for o in outputs {
      switch o {
      case .transmit(let t):
        sentSizes.append(t.bytes.count)
        if fromClient { toServer.append(t.bytes) } else { toClient.append(t.bytes) }
      case .event(let e):
        if fromClient { clientEvents.append(e) } else { serverEvents.append(e) }
      case .timeout: break
      }
    }
    if fromClient { clientDeadline = outputs.timeout() } else { serverDeadline = outputs.timeout() }
  }

  /// Delivers everything in flight (both ways) until nothing is left, dropping what `drop`
  /// says and, with `reversed`, each batch in the opposite order (bounded).
  mutating func exchange(
    reversed: Bool = false, drop: (Bool, [UInt8]) -> Bool = { _, _ in false }
  ) {
    for _ in 0..<50 {
      if toServer.isEmpty && toClient.isEmpty { return }
      if reversed {
        toServer.reverse()
        toClient.reverse()
      }
      let s = toServer
      toServer = []
      for d in s where !drop(true, d) { take(server.handleInput(d, at: now), fromClient: false) }
      let c = toClient
      toClient = []
      for d in c where !drop(false, d) { take(client.handleInput(d, at: now), fromClient: true) }
    }
  }
}

@Suite struct DTLSEndpointTests {
  @Test func fingerprintTextRoundTrips() throws {
    let cert = try DTLSCertificate()
    let text = cert.fingerprint.text
    #expect(text.count == 32 * 3 - 1)
    #expect(DTLSFingerprint(text: text) == cert.fingerprint)
    #expect(DTLSFingerprint(text: text.lowercased()) == cert.fingerprint)
    #expect(DTLSFingerprint(text: "AB:CD") == nil)
    #expect(DTLSFingerprint(text: String(text.dropLast()) + "G") == nil)
    #expect(try DTLSCertificate().fingerprint != cert.fingerprint)
  }

  @Test func twoEndpointsHandshakeInMemory() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate()
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint)
    pair.take(pair.client.start(at: .zero), fromClient: true)
    #expect(pair.toServer.count == 1)
    pair.take(pair.server.start(at: .zero), fromClient: false)
    pair.exchange()
    #expect(pair.client.state == .connected)
    #expect(pair.server.state == .connected)
    guard case .connected(let r) = pair.clientEvents.last else {
      Issue.record("client events: \(pair.clientEvents)")
      return
    }
    #expect(r.srtpProfile == "SRTP_AEAD_AES_128_GCM")
    #expect(r.cipher.contains("ECDHE-ECDSA"))
    #expect(r.peerFingerprint == s.fingerprint)
    #expect(pair.server.result?.peerFingerprint == c.fingerprint)
    #expect(pair.client.counters.retransmissions == 0)
    #expect(pair.clientDeadline == nil)
    #expect(pair.serverDeadline == nil)
  }

  @Test func lossOfTheFirstFlightIsRecoveredByARetransmission() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate()
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint,
      initial: .milliseconds(30))
    pair.take(pair.client.start(at: .zero), fromClient: true)
    pair.toServer.removeAll()  // the ClientHello is lost
    let deadline = try #require(pair.clientDeadline)
    #expect(deadline <= Instant.zero + .milliseconds(30))
    // OpenSSL's timer runs on the wall clock (see DTLSEndpoint): let it run out.
    Thread.sleep(forTimeInterval: 0.045)
    pair.now = deadline
    pair.take(pair.client.handleTimeout(at: deadline), fromClient: true)
    #expect(pair.client.counters.retransmissions == 1)
    #expect(pair.clientEvents.contains(.retransmitted(count: 1)))
    #expect(pair.toServer.count == 1)
    pair.exchange()
    #expect(pair.client.state == .connected)
    #expect(pair.server.state == .connected)
  }

  @Test func aWrongFingerprintIsNamed() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate()
    let other = try DTLSCertificate()
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: other.fingerprint,
      serverExpects: c.fingerprint)
    pair.take(pair.client.start(at: .zero), fromClient: true)
    pair.exchange()
    #expect(pair.client.state == .failed)
    #expect(
      pair.client.failure
        == .fingerprintMismatch(expected: other.fingerprint, received: s.fingerprint))
    // The client told the server why: bad_certificate.
    #expect(pair.server.state == .failed)
    guard case .alertReceived(let alert) = pair.server.failure else {
      Issue.record("server failure: \(String(describing: pair.server.failure))")
      return
    }
    #expect(alert.code == 42)
    #expect(alert.fatal)
  }

  @Test func aFlightLargerThanTheLinkMTUIsFragmented() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate(paddingBytes: 3000)
    #expect(s.derLength > 3000)
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint,
      mtu: 1200)
    pair.take(pair.client.start(at: .zero), fromClient: true)
    pair.exchange()
    #expect(pair.client.state == .connected)
    #expect(pair.server.counters.datagramsSent >= 3)
    #expect(pair.server.counters.largestDatagramSent <= 1200)
    #expect(pair.sentSizes.allSatisfy { $0 <= 1200 })
  }

  /// Flights whose datagrams arrive last first (a reordering path: every batch reversed, the
  /// retransmitted ones too) still complete the handshake, within its time.
  @Test func aReorderedFragmentedFlightStillCompletes() throws {
    let c = try DTLSCertificate(paddingBytes: 2500)
    let s = try DTLSCertificate(paddingBytes: 3000)
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint,
      mtu: 1200, initial: .milliseconds(20))
    pair.take(pair.client.start(at: .zero), fromClient: true)
    pair.exchange(reversed: true)
    // Retransmissions (20 ms, doubling) run on OpenSSL's wall-clock timer (see DTLSEndpoint):
    // real time passes between steps; the test's clock moves 100 ms a step (the handshake's
    // 10 s limit is never reached).
    for step in 1...40 where pair.client.state != .connected || pair.server.state != .connected {
      Thread.sleep(forTimeInterval: 0.03)
      pair.now = Instant.zero + .milliseconds(100 * step)
      pair.take(pair.client.handleTimeout(at: pair.now), fromClient: true)
      pair.take(pair.server.handleTimeout(at: pair.now), fromClient: false)
      pair.exchange(reversed: true)
    }
    #expect(pair.server.counters.datagramsSent >= 3)
    #expect(pair.client.state == .connected, "\(pair.client.counters)")
    #expect(pair.server.state == .connected, "\(pair.server.counters)")
  }

  @Test func aPathThatDropsLargeDatagramsStallsAfterTheFirstFlight() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate(paddingBytes: 3000)
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint,
      mtu: 1400)
    pair.take(pair.client.start(at: .zero), fromClient: true)
    pair.take(pair.server.start(at: .zero), fromClient: false)
    pair.exchange { _, d in d.count > 1200 }
    #expect(pair.client.state == .handshaking)
    let giveUp = Instant.zero + .seconds(10)
    pair.take(pair.client.handleTimeout(at: giveUp), fromClient: true)
    #expect(pair.client.state == .failed)
    #expect(
      pair.client.failure == .stalled(datagramsReceived: pair.client.counters.datagramsReceived))
    #expect(pair.client.counters.datagramsReceived > 0)
  }

  @Test func noAnswerToTheClientHello() throws {
    let c = try DTLSCertificate()
    let client = try DTLSEndpoint(
      configuration: DTLSConfiguration(
        role: .client, certificate: c, expectedPeerFingerprint: nil,
        handshakeTimeout: .seconds(5)),
      remote: Pair.b)
    let out = client.start(at: .zero)
    #expect(out.transmits().count == 1)
    let end = client.handleTimeout(at: Instant.zero + .seconds(5))
    #expect(end.events() == [.failed(.noAnswer)])
    #expect(end.timeout() == nil)
  }

  @Test func garbageIsDroppedAndCountedNeverACrash() throws {
    let c = try DTLSCertificate()
    let s = try DTLSCertificate()
    var pair = try Pair(
      clientCert: c, serverCert: s, clientExpects: s.fingerprint, serverExpects: c.fingerprint)
    var generator = SystemRandomNumberGenerator()
    // Not DTLS by the first byte (STUN, RTP, empty): dropped before OpenSSL.
    for bytes in [[], [0x00, 0x01, 0x00, 0x00], [0x80, 0x60], [0xff]] as [[UInt8]] {
      _ = pair.server.handleInput(bytes, at: .zero)
    }
    #expect(pair.server.counters.datagramsDropped == 4)
    // DTLS-looking garbage: OpenSSL discards it; the handshake still completes afterwards.
    for _ in 0..<200 {
      let length = Int.random(in: 1...300, using: &generator)
      var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      bytes[0] = UInt8.random(in: 20...63, using: &generator)
      _ = pair.server.handleInput(bytes, at: .zero)
      _ = pair.client.handleInput(bytes, at: .zero)
    }
    #expect(pair.server.state != .connected)
    if pair.server.state == .handshaking && pair.client.state == .idle {
      pair.take(pair.client.start(at: .zero), fromClient: true)
      pair.exchange()
      #expect(pair.client.state == .connected)
    }
  }
}
