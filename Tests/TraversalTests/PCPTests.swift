import Report
import STUN
import Testing
import Traversal

private let nonce: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
private let mapped192_168_1_10: [UInt8] = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 168, 1, 10,
]
private let mappedZero: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0]
private let mappedExternal: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 203, 0, 113, 7]

/// A MAP success response for `nonce`/UDP/`internalPort`, as a server would send it.
private func mapResponse(
  nonce: [UInt8], internalPort: UInt16 = 4000, externalPort: UInt16 = 50000,
  lifetime: UInt32 = 7200, epoch: UInt32 = 1000, result: PCPResultCode = .success
) -> [UInt8] {
  PCPResponse(
    opcode: .map, result: result, lifetime: lifetime, epochTime: epoch,
    map: .init(
      nonce: nonce, protocolNumber: 17, internalPort: internalPort,
      assignedExternalPort: externalPort, assignedExternalAddress: PM.externalIP)
  ).bytes
}

@Suite struct PCPCodecTests {
  @Test func mapRequestIsByteExact() {
    let request = PCPRequest(
      map: .init(nonce: nonce, proto: .udp, internalPort: 4000), lifetime: 7200,
      clientAddress: PM.clientIP)
    let expected: [UInt8] =
      [2, 1, 0, 0, 0x00, 0x00, 0x1C, 0x20] + mapped192_168_1_10 + nonce
      + [17, 0, 0, 0, 0x0F, 0xA0, 0x00, 0x00] + mappedZero
    #expect(request.bytes == expected)
    #expect(request.bytes.count == 60)
    #expect(request.opcode == .map)
  }

  @Test func announceRequestAndIPv6Client() throws {
    let v6 = try #require(IPAddress("2001:db8::10"))
    let a = PCPRequest(announceFrom: v6)
    #expect(a.opcode == .announce)
    #expect(
      a.bytes == [2, 0, 0, 0, 0, 0, 0, 0] + [0x20, 0x01, 0x0D, 0xB8]
        + [UInt8](repeating: 0, count: 11)
        + [0x10])
    #expect(
      PCPAddress.encode(.v4(0x0102_0304)) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4])
    #expect(PCPAddress.decode(mappedExternal) == PM.externalIP)
    #expect(PCPAddress.decode(v6.bytes) == v6)
    #expect(PCPAddress.decode([1, 2, 3]) == nil)
    #expect(PCPAddress.unspecified(like: v6) == .anyV6)
  }

  @Test func mapResponseDecodes() throws {
    let bytes: [UInt8] =
      [2, 0x81, 0, 0, 0, 0, 0x0E, 0x10, 0, 0, 0x03, 0xE8] + [UInt8](repeating: 0, count: 12) + nonce
      + [17, 0, 0, 0, 0x0F, 0xA0, 0xC3, 0x50] + mappedExternal
    let r = try PCPResponse(bytes: bytes)
    #expect(r.opcode == .map && r.result == .success)
    #expect(r.lifetime == 3600 && r.epochTime == 1000)
    #expect(
      r.map
        == .init(
          nonce: nonce, protocolNumber: 17, internalPort: 4000, assignedExternalPort: 50000,
          assignedExternalAddress: PM.externalIP))
    #expect(r.options.isEmpty)
    #expect(r.bytes == bytes)
  }

  @Test func optionsRoundTrip() throws {
    var r = try PCPResponse(bytes: mapResponse(nonce: nonce))
    r.options = [PCPOption(code: 129, data: [1, 2, 3, 4, 5]), PCPOption(code: 2, data: [])]
    let bytes = r.bytes
    #expect(bytes.count == 60 + 12 + 4)
    #expect(try PCPResponse(bytes: bytes) == r)
  }

  @Test func malformedResponsesThrowWithWhere() {
    let good = mapResponse(nonce: nonce)
    #expect(throws: PCPDecodeError.tooShort(length: 1, needed: 2)) { try PCPResponse(bytes: [2]) }
    #expect(throws: PCPDecodeError.tooShort(length: 20, needed: 24)) {
      try PCPResponse(bytes: Array(good.prefix(20)))
    }
    #expect(throws: PCPDecodeError.tooShort(length: 40, needed: 60)) {
      try PCPResponse(bytes: Array(good.prefix(40)))
    }
    #expect(throws: PCPDecodeError.notMultipleOfFour(length: 61)) {
      try PCPResponse(bytes: good + [0])
    }
    #expect(throws: PCPDecodeError.tooLong(length: 1104)) {
      try PCPResponse(bytes: good + [UInt8](repeating: 0, count: 1044))
    }
    var request = good
    request[1] = 0x01
    #expect(throws: PCPDecodeError.notAResponse) { try PCPResponse(bytes: request) }
    var v3 = good
    v3[0] = 3
    #expect(throws: PCPDecodeError.wrongVersion(3)) { try PCPResponse(bytes: v3) }
    #expect(throws: PCPDecodeError.badOption(offset: 60)) {
      try PCPResponse(bytes: good + [129, 0, 0, 8, 1, 2, 3, 4])
    }
    // A NAT-PMP gateway's answer to a PCP request.
    #expect(throws: PCPDecodeError.versionNotSupported(serverVersion: 0)) {
      try PCPResponse(bytes: [0, 129, 0, 1, 0, 0, 0, 5])
    }
    #expect(PCPDecodeError.versionNotSupported(serverVersion: 0).description.contains("NAT-PMP"))
    // An error response may omit the MAP body.
    let short = [2, 0x81, 0, 3, 0, 0, 0, 30, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 12)
    #expect((try? PCPResponse(bytes: short))?.result == .malformedRequest)
  }

  @Test func everyResultCodeHasAMeaning() {
    let names = [
      "SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE",
      "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES", "UNSUPP_PROTOCOL",
      "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
    ]
    var explanations = Set<String>()
    for code in UInt8(0)...13 {
      let r = PCPResultCode(rawValue: code)
      #expect(r.name == names[Int(code)])
      #expect(r.explanation.hasSuffix("."))
      #expect(r.description == "\(code) \(names[Int(code)])")
      explanations.insert(r.explanation)
    }
    #expect(explanations.count == 14)
    #expect(PCPResultCode(rawValue: 14).name == nil)
    #expect(PCPResultCode(rawValue: 14).description == "14")
    #expect(PCPResultCode.addressMismatch.explanation.contains("another NAT"))
  }
}

@Suite struct PCPClientTests {
  func client(
    _ retransmission: PCPRetransmission = .rfc6887, generator value: UInt64 = 100,
    lifetime: UInt32 = 7200
  ) -> PCPClient {
    PCPClient(
      server: PM.gatewayIP, clientAddress: PM.clientIP,
      configuration: .init(retransmission: retransmission, requestedLifetime: lifetime),
      generator: ConstantGenerator(value: value))
  }

  /// Runs with no answers; returns send instants (ms) and the failure instant (ms).
  func unanswered(_ c: inout PCPClient, limit: Int = 12) -> (sends: [Int64], failedAt: Int64?) {
    var out = c.map(.udp, internalPort: 4000, at: .zero)
    var sends: [Int64] = [0]
    while let next = out.wake, sends.count <= limit {
      out = c.handleTimeout(at: next)
      let ms = next.nanoseconds / 1_000_000
      if !out.sent.isEmpty { sends.append(ms) }
      if out.events.contains(where: { if case .failed = $0 { true } else { false } }) {
        return (sends, ms)
      }
    }
    return (sends, nil)
  }

  @Test func retransmissionWithoutJitterDoublesUpToMRT() {
    // RAND = 0 (the generator yields 100): 3, 6, 12, … s, capped at MRT.
    var c = client(.init(maximum: .seconds(20), maxRequests: 6))
    let r = unanswered(&c)
    #expect(r.sends == [0, 3000, 9000, 21000, 41000, 61000])
    #expect(r.failedAt == 81000)
    #expect(c.stats.retransmissions == 5)
  }

  @Test func rfcDefaultsNeverGiveUpAndCapAt1024Seconds() {
    var c = client()
    let r = unanswered(&c, limit: 11)
    #expect(r.sends == [0, 3, 9, 21, 45, 93, 189, 381, 765, 1533, 2557, 3581].map { $0 * 1000 })
    #expect(r.failedAt == nil)
  }

  @Test func jitterIsTheInjectedRAND() {
    // The generator yields 0: RAND = -0.1 on every wait.
    var low = client(.init(maxRequests: 3), generator: 0)
    #expect(unanswered(&low).sends == [0, 2700, 2700 + 4860])
    // 200: RAND = +0.1.
    var high = client(.init(maxRequests: 3), generator: 200)
    #expect(unanswered(&high).sends == [0, 3300, 3300 + 7260])
    // A seeded generator stays within ±10% of the nominal schedule.
    var seeded = PCPClient(
      server: PM.gatewayIP, clientAddress: PM.clientIP,
      configuration: .init(retransmission: .init(maxRequests: 2)),
      generator: SeededGenerator(seed: 42))
    let first = seeded.map(.udp, internalPort: 1, at: .zero).wake
    #expect(first.map { $0 >= PM.t(2700) && $0 <= PM.t(3300) } == true)
  }

  @Test func maxDurationStopsRetransmission() {
    var c = client(.init(maxDuration: .seconds(10)))
    let r = unanswered(&c)
    #expect(r.sends == [0, 3000, 9000])
    #expect(r.failedAt == 10000)
  }

  @Test func mapsThenRenewsAtHalfLifetimeThenDeletes() throws {
    var c = client()
    var out = c.map(.udp, internalPort: 4000, at: PM.s(1))
    let request = try #require(out.sent.first)
    #expect(request.count == 60)
    let key = PortMappingKey(.udp, internalPort: 4000)
    let n = try #require(c.nonce(for: key))
    #expect(Array(request[24..<36]) == n)
    out = c.handleInput(
      mapResponse(nonce: n, lifetime: 120), from: PM.gateway, at: PM.s(1) + .milliseconds(8))
    let granted = PortMapping(
      proto: .udp, internalPort: 4000, external: TransportAddress(ip: PM.externalIP, port: 50000),
      lifetime: 120, grantedAt: PM.s(1) + .milliseconds(8))
    #expect(
      out.events == [
        .mapped(granted, rtt: RTTSample(duration: .milliseconds(8), isAmbiguous: false))
      ])
    #expect(out.wake == PM.s(61) + .milliseconds(8))
    // The renewal carries the same nonce and suggests the assigned address and port.
    out = c.handleTimeout(at: PM.s(61) + .milliseconds(8))
    let renewal = try #require(out.sent.first)
    #expect(Array(renewal[24..<36]) == n)
    #expect(Array(renewal[42..<44]) == [0xC3, 0x50])
    #expect(Array(renewal[44..<60]) == mappedExternal)
    out = c.handleInput(
      mapResponse(nonce: n, lifetime: 120, epoch: 1060), from: PM.gateway, at: PM.s(62))
    guard case .renewed(let m)? = out.events.first else {
      Issue.record("not renewed: \(out)")
      return
    }
    #expect(m.grantedAt == PM.s(62))
    #expect(out.wake == PM.s(122))
    // Deletion: lifetime 0, same nonce; renewals stop at once.
    out = c.delete(.udp, internalPort: 4000, at: PM.s(70))
    let delete = try #require(out.sent.first)
    #expect(Array(delete[4..<8]) == [0, 0, 0, 0])
    #expect(Array(delete[24..<36]) == n)
    #expect(c.mappings.isEmpty)
    out = c.handleInput(
      mapResponse(nonce: n, lifetime: 0, epoch: 1068), from: PM.gateway,
      at: PM.s(70) + .milliseconds(3))
    #expect(out.events == [.deleted(key)])
    #expect(c.nextWake == nil && !c.hasPendingRequests)
  }

  @Test func natPMPOnlyGatewayMeansFallBack() {
    var c = client()
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    let out = c.handleInput([0, 129, 0, 1, 0, 0, 0x03, 0xE8], from: PM.gateway, at: PM.t(4))
    #expect(out == [.event(.versionNotSupported(serverVersion: 0))])
    #expect(c.serverVersion == 0)
    #expect(c.nextWake == nil)
    let again = c.map(.udp, internalPort: 4000, at: PM.t(5))
    #expect(again.isEmpty)
  }

  @Test func errorResultFailsTheMapping() throws {
    var c = client()
    _ = c.map(.tcp, internalPort: 22, at: .zero)
    let n = try #require(c.nonce(for: PortMappingKey(.tcp, internalPort: 22)))
    var bytes = PCPResponse(
      opcode: .map, result: .notAuthorized, lifetime: 30, epochTime: 5,
      map: .init(
        nonce: n, protocolNumber: 6, internalPort: 22, assignedExternalPort: 0,
        assignedExternalAddress: .anyV4)
    ).bytes
    let out = c.handleInput(bytes, from: PM.gateway, at: PM.t(2))
    guard case .failed(let f)? = out.events.first else {
      Issue.record("no failure: \(out)")
      return
    }
    #expect(f.reason == .result(.notAuthorized, lifetime: 30))
    #expect(
      f.sentence.hasPrefix(
        "PCP MAP of TCP port 22 at 192.168.1.1:5351: result 2 NOT_AUTHORIZED."))
    #expect(c.mappings.isEmpty && c.nextWake == nil)
    // Answers after that are unmatched.
    bytes[3] = 0
    _ = c.handleInput(bytes, from: PM.gateway, at: PM.t(3))
    #expect(c.stats.unmatchedDropped == 1)
  }

  @Test func junkWrongNonceAndStrangersAreDroppedAndCounted() throws {
    var c = client()
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    let junk: [[UInt8]] = [
      [], [2], [2, 0x81, 0, 0], [UInt8](repeating: 0xFF, count: 64), [7, 7, 7],
    ]
    for j in junk {
      let out = c.handleInput(j, from: PM.gateway, at: PM.t(1))
      // Nothing sent, nothing reported; only the unchanged deadline, as the contract requires.
      #expect(out == [.timeout(PM.s(3))])
    }
    #expect(c.stats.malformedDropped == junk.count)
    let wrongNonce = c.handleInput(
      mapResponse(nonce: [UInt8](repeating: 9, count: 12)), from: PM.gateway, at: PM.t(2))
    #expect(wrongNonce.events.isEmpty && wrongNonce.sent.isEmpty)
    #expect(c.stats.unmatchedDropped == 1)
    let n = try #require(c.nonce(for: PortMappingKey(.udp, internalPort: 4000)))
    let stranger = c.handleInput(mapResponse(nonce: n), from: PM.stranger, at: PM.t(3))
    #expect(stranger == [.timeout(PM.s(3))])
    #expect(c.stats.wrongSourceDropped == 1)
    let real = c.handleInput(mapResponse(nonce: n), from: PM.gateway, at: PM.t(4))
    #expect(real.events.count == 1)
  }

  @Test func epochResetInAResponseRenewsTheOtherMappings() throws {
    var c = client()
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    _ = c.map(.udp, internalPort: 5000, at: .zero)
    let n1 = try #require(c.nonce(for: PortMappingKey(.udp, internalPort: 4000)))
    let n2 = try #require(c.nonce(for: PortMappingKey(.udp, internalPort: 5000)))
    _ = c.handleInput(mapResponse(nonce: n1, epoch: 1000), from: PM.gateway, at: PM.t(10))
    _ = c.handleInput(
      mapResponse(nonce: n2, internalPort: 5000, externalPort: 50001, epoch: 1000),
      from: PM.gateway,
      at: PM.t(10))
    // 100 s later, port 4000 is asked again and the answer's epoch is 2: the gateway rebooted.
    _ = c.map(.udp, internalPort: 4000, at: PM.s(100))
    let out = c.handleInput(mapResponse(nonce: n1, epoch: 2), from: PM.gateway, at: PM.s(100))
    #expect(out.events.first == .gatewayRestarted(epochTime: 2))
    #expect(out.sent.count == 1)  // only port 5000 needed renewing
    #expect(out.sent.first.map { Array($0[24..<36]) } == n2)
  }

  @Test func announceProbeAndUnsolicitedRestartAnnouncement() throws {
    var c = client()
    var out = c.announce(at: .zero)
    #expect(out.sent == [PCPRequest(announceFrom: PM.clientIP).bytes])
    out = c.handleInput(
      PCPResponse(opcode: .announce, result: .success, lifetime: 0, epochTime: 500).bytes,
      from: PM.gateway, at: PM.t(6))
    #expect(
      out.events == [
        .announced(epochTime: 500, rtt: RTTSample(duration: .milliseconds(6), isAmbiguous: false))
      ])
    _ = c.map(.udp, internalPort: 4000, at: PM.s(1))
    let n = try #require(c.nonce(for: PortMappingKey(.udp, internalPort: 4000)))
    _ = c.handleInput(mapResponse(nonce: n, epoch: 501), from: PM.gateway, at: PM.s(1))
    // An unsolicited ANNOUNCE, multicast from the server's port 5351 to 224.0.0.1:5350, after a
    // reboot: epoch 0. The renewal comes after the random spread (the constant generator gives
    // 100 ms).
    out = c.handleInput(
      PCPResponse(opcode: .announce, result: .success, lifetime: 0, epochTime: 0).bytes,
      from: PM.gateway, at: PM.s(30))
    #expect(out.events == [.gatewayRestarted(epochTime: 0)])
    #expect(out.sent.isEmpty)
    #expect(out.wake == PM.s(30) + .milliseconds(100))
    out = c.handleTimeout(at: PM.s(30) + .milliseconds(100))
    #expect(out.sent.count == 1)
    #expect(out.sent.first.map { Array($0[24..<36]) } == n)
    // An announcement whose epoch checks out changes nothing.
    let calm = c.handleInput(
      PCPResponse(opcode: .announce, result: .success, lifetime: 0, epochTime: 10).bytes,
      from: PM.gateway, at: PM.s(40))
    #expect(calm.events.isEmpty)
  }

  @Test func unansweredRenewalLetsTheMappingExpire() throws {
    var c = client(lifetime: 20)
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    let n = try #require(c.nonce(for: PortMappingKey(.udp, internalPort: 4000)))
    var out = c.handleInput(mapResponse(nonce: n, lifetime: 20), from: PM.gateway, at: .zero)
    #expect(out.wake == PM.s(10))
    var sends: [Instant] = []
    var expiredAt: Instant?
    while let next = out.wake, expiredAt == nil {
      out = c.handleTimeout(at: next)
      if !out.sent.isEmpty { sends.append(next) }
      if out.events.contains(.expired(PortMappingKey(.udp, internalPort: 4000))) {
        expiredAt = next
      }
    }
    #expect(sends == [PM.s(10), PM.s(13), PM.s(19)])
    #expect(expiredAt == PM.s(20))
    #expect(c.mappings.isEmpty && c.nextWake == nil)
  }
}
