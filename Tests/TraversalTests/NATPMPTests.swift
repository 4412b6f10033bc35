import Report
import STUN
import Testing
import Traversal

@Suite struct NATPMPCodecTests {
  @Test func requestEncodings() {
    #expect(NATPMPRequest.externalAddress.bytes == [0, 0])
    let map = NATPMPRequest.map(
      .udp, internalPort: 4000, suggestedExternalPort: 4000, lifetime: 7200)
    #expect(map.bytes == [0, 1, 0, 0, 0x0F, 0xA0, 0x0F, 0xA0, 0x00, 0x00, 0x1C, 0x20])
    let delete = NATPMPRequest.map(.tcp, internalPort: 8080, suggestedExternalPort: 0, lifetime: 0)
    #expect(delete.bytes == [0, 2, 0, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0])
    #expect(delete.opcode == .mapTCP)
  }

  @Test func externalAddressResponse() throws {
    let bytes: [UInt8] = [0, 128, 0, 0, 0, 0, 0x03, 0xE8, 203, 0, 113, 7]
    let r = try NATPMPResponse(bytes: bytes)
    #expect(r.requestOpcode == .externalAddress)
    #expect(r.result == .success)
    #expect(r.secondsSinceEpoch == 1000)
    #expect(r.body == .externalAddress(PM.externalIP))
    #expect(r.bytes == bytes)
  }

  @Test func mapResponse() throws {
    let bytes: [UInt8] = [0, 129, 0, 0, 0, 0, 0, 10, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20]
    let r = try NATPMPResponse(bytes: bytes)
    #expect(r.requestOpcode == .mapUDP)
    #expect(r.body == .map(.udp, internalPort: 4000, externalPort: 50000, lifetime: 7200))
    #expect(r.bytes == bytes)
    // Extra trailing bytes are ignored.
    #expect(try NATPMPResponse(bytes: bytes + [9, 9]) == r)
  }

  /// Found by `scripts/fuzz natpmp`: an error answer to the external-address request that ends
  /// after the epoch decoded with no address, but re-encoded with 0.0.0.0, which then decoded
  /// as an address the gateway never gave.
  @Test func anErrorWithoutAnAddressRoundTrips() throws {
    let bytes: [UInt8] = [0x00, 0x80, 0xF9, 0x30, 0x39, 0xF9, 0x80, 0xF9, 0x30, 0x39]
    let r = try NATPMPResponse(bytes: bytes)
    #expect(r.body == .externalAddress(nil))
    #expect(r.bytes == Array(bytes.prefix(8)))
    #expect(try NATPMPResponse(bytes: r.bytes) == r)
  }

  @Test func shortErrorResponses() throws {
    // Unsupported version / opcode replies may stop after the epoch.
    let r = try NATPMPResponse(bytes: [0, 130, 0, 1, 0, 0, 0, 7])
    #expect(r.result == .unsupportedVersion)
    #expect(r.body == .map(.tcp, internalPort: 0, externalPort: 0, lifetime: 0))
    let other = try NATPMPResponse(bytes: [0, 128 + 99, 0, 5, 0, 0, 0, 7])
    #expect(other.body == .other(NATPMPOpcode(rawValue: 99)))
    #expect(other.result == .unsupportedOpcode)
  }

  @Test func malformedResponsesThrowWithWhere() {
    #expect(throws: NATPMPDecodeError.tooShort(length: 0, needed: 2)) {
      try NATPMPResponse(bytes: [])
    }
    #expect(throws: NATPMPDecodeError.wrongVersion(2)) {
      try NATPMPResponse(bytes: [2, 129, 0, 0, 0, 0, 0, 0])
    }
    #expect(throws: NATPMPDecodeError.notAResponse(opcode: 1)) {
      try NATPMPResponse(bytes: [0, 1, 0, 0, 0, 0, 0, 0])
    }
    #expect(throws: NATPMPDecodeError.tooShort(length: 6, needed: 8)) {
      try NATPMPResponse(bytes: [0, 128, 0, 0, 0, 0])
    }
    #expect(throws: NATPMPDecodeError.tooShort(length: 8, needed: 12)) {
      try NATPMPResponse(bytes: [0, 128, 0, 0, 0, 0, 0, 1])
    }
    #expect(throws: NATPMPDecodeError.tooShort(length: 12, needed: 16)) {
      try NATPMPResponse(bytes: [0, 129, 0, 0, 0, 0, 0, 1, 0x0F, 0xA0, 0, 0])
    }
    #expect(NATPMPDecodeError.wrongVersion(2).description.contains("expected 0"))
  }

  @Test func everyResultCodeHasAMeaning() {
    let names = [
      "Success", "Unsupported Version", "Not Authorized/Refused", "Network Failure",
      "Out of resources", "Unsupported opcode",
    ]
    var explanations = Set<String>()
    for code in UInt16(0)...5 {
      let r = NATPMPResultCode(rawValue: code)
      #expect(r.name == names[Int(code)])
      #expect(r.explanation.hasSuffix("."))
      explanations.insert(r.explanation)
    }
    #expect(explanations.count == 6)
    #expect(NATPMPResultCode(rawValue: 6).name == nil)
    #expect(NATPMPResultCode(rawValue: 6).explanation.contains("6"))
    #expect(NATPMPResultCode.notAuthorized.description == "2 Not Authorized/Refused")
  }
}

@Suite struct GatewayEpochTests {
  /// Feeds (epoch seconds, client seconds) pairs; returns each verdict.
  func verdicts(_ seq: [(UInt32, Int64)]) -> [Bool] {
    var e = GatewayEpoch()
    return seq.map { e.observe($0.0, at: PM.s($0.1)) }
  }

  @Test func firstValueIsValidAndSteadyClockStaysValid() {
    // Up to one second backwards is reordering, not a restart.
    #expect(
      verdicts([(1000, 0), (1010, 10), (1610, 610), (1609, 610)]) == [true, true, true, true])
  }

  @Test func backwardsIsARestart() {
    #expect(verdicts([(1000, 0), (998, 0)]) == [true, false])
    var e = GatewayEpoch()
    _ = e.observe(1000, at: .zero)
    _ = e.observe(5, at: PM.s(1))
    #expect(e.lastServerSeconds == 5 && e.lastReceivedAt == PM.s(1))
  }

  @Test func jumpsEitherWayAreRestarts() {
    #expect(verdicts([(1000, 0), (1100, 10)]) == [true, false])  // 100 s of gateway time in 10 s
    #expect(verdicts([(1000, 0), (1010, 100)]) == [true, false])  // 10 s in 100 s
    #expect(verdicts([(1000, 0), (1098, 100)]) == [true, true])  // within 2 s + 1/16
  }
}

@Suite struct NATPMPClientTests {
  @Test func retransmitsOnTheRFCScheduleAndGivesUp() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    var out = c.requestExternalAddress(at: .zero)
    #expect(out == [.transmit(Transmit(bytes: [0, 0], to: PM.gateway)), .timeout(PM.t(250))])
    var sendTimes: [Int64] = [0]
    var failedAt: Int64?
    var failure: NATPMPFailure?
    while let next = out.wake {
      out = c.handleTimeout(at: next)
      if !out.sent.isEmpty { sendTimes.append(next.nanoseconds / 1_000_000) }
      for case .failed(let f) in out.events {
        failedAt = next.nanoseconds / 1_000_000
        failure = f
      }
    }
    #expect(sendTimes == [0, 250, 750, 1750, 3750, 7750, 15750, 31750, 63750])
    #expect(failedAt == 127_750)
    #expect(failure?.reason == .noAnswer(attempts: 9))
    #expect(failure?.sentence.contains("192.168.1.1:5351") == true)
    #expect(c.stats.retransmissions == 8)
    #expect(!c.hasPendingRequests && c.nextWake == nil)
    #expect(c.schedule.last == .milliseconds(127_750))
  }

  @Test func configurableRequestCount() {
    var c = NATPMPClient(gateway: PM.gatewayIP, configuration: .init(maxRequests: 3))
    var out = c.requestExternalAddress(at: PM.t(1000))
    var times: [Instant] = []
    while let next = out.wake {
      times.append(next)
      out = c.handleTimeout(at: next)
    }
    #expect(times == [PM.t(1250), PM.t(1750), PM.t(2750)])
    #expect(
      out.events == [
        .failed(
          NATPMPFailure(
            gateway: PM.gateway, opcode: .externalAddress, mapping: nil,
            reason: .noAnswer(attempts: 3)))
      ])
  }

  @Test func externalAddressAndMappingThenRenewalAtHalfLifetime() throws {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.requestExternalAddress(at: .zero)
    var out = c.handleInput(
      [0, 128, 0, 0, 0, 0, 0x03, 0xE8, 203, 0, 113, 7], from: PM.gateway, at: PM.t(20))
    #expect(
      out.events == [
        .externalAddress(
          PM.externalIP, rtt: RTTSample(duration: .milliseconds(20), isAmbiguous: false))
      ])
    #expect(out.wake == nil)
    out = c.map(.udp, internalPort: 4000, suggestedExternalPort: 4000, at: PM.t(100))
    #expect(out.sent == [[0, 1, 0, 0, 0x0F, 0xA0, 0x0F, 0xA0, 0, 0, 0x1C, 0x20]])
    // A retransmission first, then the answer: the RTT is ambiguous.
    out = c.handleTimeout(at: PM.t(350))
    #expect(out.sent.count == 1)
    out = c.handleInput(
      [0, 129, 0, 0, 0, 0, 0x03, 0xE8, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20],
      from: PM.gateway, at: PM.t(400))
    let mapping = PortMapping(
      proto: .udp, internalPort: 4000, external: TransportAddress(ip: PM.externalIP, port: 50000),
      lifetime: 7200, grantedAt: PM.t(400))
    #expect(
      out.events == [
        .mapped(mapping, rtt: RTTSample(duration: .milliseconds(300), isAmbiguous: true))
      ])
    #expect(out.wake == PM.t(400) + .seconds(3600))
    #expect(c.mappings[PortMappingKey(.udp, internalPort: 4000)] == mapping)
    // Nothing happens early; at half the lifetime the renewal asks for the same port.
    let early = c.handleTimeout(at: PM.t(400) + .seconds(3599))
    #expect(early.sent.isEmpty)
    out = c.handleTimeout(at: PM.t(400) + .seconds(3600))
    #expect(out.sent == [[0, 1, 0, 0, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20]])
    out = c.handleInput(
      [0, 129, 0, 0, 0, 0, 0x11, 0xF8, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20],
      from: PM.gateway, at: PM.t(400) + .seconds(3600) + .milliseconds(5))
    guard case .renewed(let renewed)? = out.events.first else {
      Issue.record("no renewal: \(out)")
      return
    }
    #expect(renewed.external.port == 50000 && renewed.lifetime == 7200)
    #expect(c.stats.malformedDropped == 0 && c.stats.unmatchedDropped == 0)
  }

  @Test func deleteUsesLifetimeZero() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.map(.tcp, internalPort: 8080, at: .zero)
    _ = c.handleInput(
      [0, 130, 0, 0, 0, 0, 0, 1, 0x1F, 0x90, 0x1F, 0x90, 0, 0, 0x1C, 0x20], from: PM.gateway,
      at: PM.t(5))
    var out = c.delete(.tcp, internalPort: 8080, at: PM.t(10))
    #expect(out.sent == [[0, 2, 0, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0]])
    #expect(c.mappings.isEmpty)
    out = c.handleInput(
      [0, 130, 0, 0, 0, 0, 0, 1, 0x1F, 0x90, 0, 0, 0, 0, 0, 0], from: PM.gateway, at: PM.t(15))
    #expect(out.events == [.deleted(PortMappingKey(.tcp, internalPort: 8080))])
    #expect(c.nextWake == nil)
  }

  @Test func errorResultIsReportedWithItsMeaning() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    let out = c.handleInput(
      [0, 129, 0, 2, 0, 0, 0, 9, 0x0F, 0xA0, 0, 0, 0, 0, 0, 0], from: PM.gateway, at: PM.t(3))
    guard case .failed(let f)? = out.events.first else {
      Issue.record("no failure: \(out)")
      return
    }
    #expect(f.reason == .result(.notAuthorized))
    #expect(f.mapping == PortMappingKey(.udp, internalPort: 4000))
    #expect(
      f.sentence.hasPrefix("NAT-PMP mapping of UDP port 4000 at 192.168.1.1:5351: result 2"))
    #expect(f.sentence.contains("refused"))
  }

  @Test func garbageShortAndStrangersAreDroppedAndCounted() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.requestExternalAddress(at: .zero)
    let junk: [[UInt8]] = [
      [], [0], [1, 128, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], [0, 0], [0, 128, 0, 0, 0],
      [0, 128, 0, 0, 0, 0, 0, 1], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    ]
    for j in junk {
      let out = c.handleInput(j, from: PM.gateway, at: PM.t(1))
      // Nothing sent, nothing reported; only the unchanged deadline, as the contract requires.
      #expect(out == [.timeout(PM.t(250))])
    }
    #expect(c.stats.malformedDropped == junk.count)
    let good: [UInt8] = [0, 128, 0, 0, 0, 0, 0x03, 0xE8, 203, 0, 113, 7]
    let fromStranger = c.handleInput(good, from: PM.stranger, at: PM.t(2))
    #expect(fromStranger == [.timeout(PM.t(250))])
    #expect(c.stats.wrongSourceDropped == 1)
    // A map answer nobody asked for.
    _ = c.handleInput(
      [0, 129, 0, 0, 0, 0, 0x03, 0xE8, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20],
      from: PM.gateway, at: PM.t(3))
    #expect(c.stats.unmatchedDropped == 1)
    // The real answer still completes the request.
    let answered = c.handleInput(good, from: PM.gateway, at: PM.t(4))
    #expect(answered.events.count == 1)
    #expect(c.externalAddress == PM.externalIP)
  }

  @Test func epochResetMeansRestartAndRenewal() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    _ = c.handleInput(
      [0, 129, 0, 0, 0, 0, 0x03, 0xE8, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20],
      from: PM.gateway, at: PM.t(10))
    // Ten seconds later the gateway's epoch is 3: it rebooted. Every mapping is renewed at once.
    _ = c.requestExternalAddress(at: PM.s(10))
    let out = c.handleInput(
      [0, 128, 0, 0, 0, 0, 0, 3, 203, 0, 113, 7], from: PM.gateway, at: PM.s(10) + .milliseconds(5))
    #expect(out.events.first == .gatewayRestarted(secondsSinceEpoch: 3))
    #expect(out.sent == [[0, 1, 0, 0, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0x1C, 0x20]])
    #expect(out.events.count == 2)  // the restart, then the address
  }

  @Test func epochJumpForwardIsAlsoARestart() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.requestExternalAddress(at: .zero)
    _ = c.handleInput(
      [0, 128, 0, 0, 0, 0, 0x03, 0xE8, 203, 0, 113, 7], from: PM.gateway, at: PM.t(1))
    // Unsolicited announcement 5 s later claiming 50 000 s of uptime, with a new address.
    let out = c.handleInput(
      [0, 128, 0, 0, 0, 0, 0xC3, 0x50, 203, 0, 113, 8], from: PM.gateway, at: PM.s(5))
    #expect(
      out.events == [
        .gatewayRestarted(secondsSinceEpoch: 50000), .externalAddress(.v4(0xCB00_7108), rtt: nil),
      ])
  }

  @Test func unansweredRenewalLetsTheMappingExpire() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.map(.udp, internalPort: 4000, lifetime: 10, at: .zero)
    var out = c.handleInput(
      [0, 129, 0, 0, 0, 0, 0, 1, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0, 10], from: PM.gateway, at: .zero)
    #expect(out.wake == PM.s(5))
    var expiredAt: Instant?
    while let next = out.wake, expiredAt == nil {
      out = c.handleTimeout(at: next)
      if out.events.contains(.expired(PortMappingKey(.udp, internalPort: 4000))) {
        expiredAt = next
      }
    }
    #expect(expiredAt == PM.s(10))
    #expect(c.mappings.isEmpty)
  }

  @Test func shortErrorReplyAnswersTheOnlyOutstandingRequest() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    _ = c.map(.udp, internalPort: 4000, at: .zero)
    let out = c.handleInput([0, 129, 0, 3, 0, 0, 0, 9], from: PM.gateway, at: PM.t(2))
    #expect(
      out.events == [
        .failed(
          NATPMPFailure(
            gateway: PM.gateway, opcode: .mapUDP, mapping: PortMappingKey(.udp, internalPort: 4000),
            reason: .result(.networkFailure)))
      ])
    #expect(!c.hasPendingRequests)
  }
}
