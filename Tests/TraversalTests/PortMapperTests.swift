import Report
import STUN
import Testing
import Traversal

/// The port mapper (the probe's test mapping, connect's mapping) on a manual clock: the order
/// PCP → NAT-PMP → UPnP IGD, the wait, ICMP, renewal, a late grant deleted, the release.
struct PortMapperTests {
  static let port: UInt16 = 4000
  static let ssdpUnicast = TransportAddress(ip: PM.gatewayIP, port: 1900)

  /// Connect's settings: PCP with the SSDP search beside it, a 1 s wait, UPnP renewed.
  static func connect(upnp: Bool = true, lifetime: UInt32 = 120) -> PortMapper {
    PortMapper(
      gateway: PM.gatewayIP, localAddress: PM.clientIP,
      configuration: .init(
        protocols: [.pcp, .natPMP] + (upnp ? [.upnpIGD] : []), internalPort: port,
        lifetime: lifetime,
        pcpRetransmission: PCPRetransmission(
          initial: .milliseconds(250), maximum: .seconds(2), maxRequests: 5,
          maxDuration: .seconds(5)),
        natpmpRequests: 9, natpmpAsksExternalAddress: true, natPMPOnlyWhenPCPUnspoken: true,
        searchAtStart: true, ssdpUnicastPort: 1900, ssdpWait: .seconds(1), ssdpMX: 1,
        httpTimeout: .seconds(1), upnpDescription: "natscope connect", wait: .seconds(1),
        renewUPnP: true, requireExternalAddress: true),
      generator: ConstantGenerator(value: 100))
  }

  /// The probe's settings: one protocol at a time, the search on UPnP IGD's turn, no wait.
  static func probe(_ protocols: [PortMappingResult.Method]) -> PortMapper {
    PortMapper(
      gateway: PM.gatewayIP, localAddress: PM.clientIP,
      configuration: .init(
        protocols: protocols, internalPort: port, lifetime: 30,
        pcpRetransmission: PCPRetransmission(
          initial: .milliseconds(250), maximum: .seconds(2), maxRequests: 4,
          maxDuration: .seconds(4)),
        natpmpRequests: 4, natpmpAsksExternalAddress: false, natPMPOnlyWhenPCPUnspoken: false,
        searchAtStart: false, ssdpUnicastPort: nil, ssdpWait: .seconds(2), ssdpMX: 2,
        httpTimeout: .seconds(2), upnpDescription: "natscope test", wait: nil, renewUPnP: false,
        requireExternalAddress: false),
      generator: ConstantGenerator(value: 100))
  }

  static func events(_ out: [PortMapperOutput]) -> [PortMapperEvent] {
    out.compactMap { if case .event(let e) = $0 { e } else { nil } }
  }

  static func sends(_ out: [PortMapperOutput], _ channel: PortMappingChannel) -> [[UInt8]] {
    out.compactMap { if case .send(let c, let b, _) = $0, c == channel { b } else { nil } }
  }

  static func httpRequest(_ out: [PortMapperOutput]) -> (Int, String)? {
    for case .http(.request(let id, _, let bytes)) in out {
      return (id, String(decoding: bytes, as: UTF8.self))
    }
    return nil
  }

  /// A PCP MAP answer to the last request in `out` (its nonce at bytes 24..<36).
  static func pcpAnswer(
    to out: [PortMapperOutput], lifetime: UInt32 = 120, result: PCPResultCode = .success
  ) throws -> [UInt8] {
    let request = try #require(sends(out, .pcp).last)
    return PCPResponse(
      opcode: .map, result: result, lifetime: lifetime, epochTime: 1000,
      map: .init(
        nonce: Array(request[24..<36]), protocolNumber: 17, internalPort: port,
        assignedExternalPort: 50000, assignedExternalAddress: PM.externalIP)
    ).bytes
  }

  /// Runs timeouts up to `limit`, collecting outputs.
  static func advance(_ m: inout PortMapper, to limit: Instant) -> [PortMapperOutput] {
    var all: [PortMapperOutput] = []
    for _ in 0..<100 {
      guard let t = m.nextDeadline, t <= limit else { break }
      all += m.handleTimeout(at: t)
    }
    return all
  }

  @Test func pcpGrantsThenReleaseDeletes() throws {
    var m = Self.connect()
    let start = m.start(at: PM.t(0))
    // The search goes out first (multicast and to the gateway), then the PCP MAP request.
    #expect(Self.sends(start, .ssdp).count == 4)
    #expect(Self.sends(start, .pcp).count == 1)
    #expect(
      Self.events(start).first
        == .requested(.ssdpSearch(multicast: SSDP.multicastAddress, unicast: Self.ssdpUnicast)))
    let out = m.handleInput(
      .datagram(.pcp, bytes: try Self.pcpAnswer(to: start), from: PM.gateway), at: PM.t(5))
    let grant = PortMappingGrant(
      method: .pcp, external: TransportAddress(ip: PM.externalIP, port: 50000), lifetime: 120)
    #expect(Self.events(out) == [.granted(grant)])
    #expect(out.contains(.close(.ssdp)))
    #expect(m.isHolding && m.grant == grant)
    // The wait no longer matters; PCP renews at half the lifetime itself.
    let renewal = try #require(m.nextDeadline)
    #expect(renewal > PM.s(55) && renewal <= PM.s(61))
    let release = m.release(at: PM.s(10))
    #expect(
      Self.events(release).contains(.requested(.pcpDelete(server: PM.gateway, internalPort: 4000))))
    let done = m.handleInput(
      .datagram(.pcp, bytes: try Self.pcpAnswer(to: release, lifetime: 0), from: PM.gateway),
      at: PM.s(10) + .milliseconds(3))
    #expect(Self.events(done) == [.deleted, .finished])
    #expect(m.isFinished && m.nextDeadline == nil)
  }

  @Test func aNATPMPOnlyRouterIsAskedWithNATPMPAndPCPIsNoRefusal() throws {
    var m = Self.connect(upnp: false)
    _ = m.start(at: PM.t(0))
    // A NAT-PMP gateway answers PCP with version 0, UNSUPP_VERSION.
    let out = m.handleInput(
      .datagram(.pcp, bytes: [0, 0x81, 0, 1, 0, 0, 0, 9], from: PM.gateway), at: PM.t(2))
    let events = Self.events(out)
    #expect(
      events.prefix(3) == [
        .withdrawn(.pcp), .attemptFailed(.pcpOtherVersion(0)),
        .attempting(.natPMP, server: PM.gateway),
      ])
    #expect(out.contains(.close(.pcp)))
    // The external-address request, then the mapping request.
    let natpmp = Self.sends(out, .natPMP)
    #expect(natpmp.count == 2 && natpmp[0] == [0, 0])
    // The mapping answer alone is not offered: NAT-PMP's answer has no address.
    let mapAnswer: [UInt8] = [0, 129, 0, 0, 0, 0, 0, 9, 0x0F, 0xA0, 0xC3, 0x50, 0, 0, 0, 120]
    #expect(
      Self.events(
        m.handleInput(.datagram(.natPMP, bytes: mapAnswer, from: PM.gateway), at: PM.t(4))
      ).isEmpty)
    let address: [UInt8] = [0, 128, 0, 0, 0, 0, 0, 9, 203, 0, 113, 7]
    let granted = Self.events(
      m.handleInput(.datagram(.natPMP, bytes: address, from: PM.gateway), at: PM.t(5)))
    #expect(
      granted == [
        .routerAddress(PM.externalIP),
        .granted(
          PortMappingGrant(
            method: .natPMP, external: TransportAddress(ip: PM.externalIP, port: 50000),
            lifetime: 120)),
      ])
  }

  @Test func icmpSettlesAtOnceAndNoMappingIsSaidWithTheICMPError() throws {
    var m = Self.connect(upnp: false)
    _ = m.start(at: PM.t(0))
    let out = m.handleInput(
      .unreachable(.pcp, .portUnreachable, destination: PM.gateway), at: PM.t(3))
    let events = Self.events(out)
    let failure = PortMappingAttemptFailure.unreachable(PM.gateway, .portUnreachable, ssdp: false)
    #expect(events == [.attemptFailed(failure), .noMapping(.failed([failure])), .finished])
    #expect(
      PortMappingWords.connectError(.failed([failure]))
        == "no port mapping: 192.168.1.1:5351 answered with ICMP port unreachable (no PCP or NAT-PMP service on the router)"
    )
    #expect(m.isFinished)
  }

  @Test func silenceIsSaidAsDidNotAnswerWithinTheWaitAndThePendingRequestIsDeleted() throws {
    var m = Self.connect()
    _ = m.start(at: PM.t(0))
    let out = Self.advance(&m, to: PM.t(1000))
    let shortfalls = Self.events(out).compactMap {
      if case .noMapping(let s) = $0 { s } else { nil }
    }
    let shortfall = try #require(shortfalls.first)
    #expect(
      PortMappingWords.connectError(shortfall)
        == "no port mapping: the router 192.168.1.1:5351 did not answer PCP within 1000 ms; no UPnP IGD device answered the SSDP search within 1000 ms"
    )
    // The MAP request may have reached the router: it is deleted, not left to lapse.
    #expect(
      Self.events(out).contains(.requested(.pcpDelete(server: PM.gateway, internalPort: 4000))))
    // Releasing a deletion that was never answered does not wait for it.
    #expect(Self.events(m.release(at: PM.t(1200))) == [.finished])
    #expect(m.isFinished && m.nextDeadline == nil)
  }

  @Test func theProbeAsksOneProtocolAtATimeAndSaysEachRefusal() throws {
    var m = Self.probe([.pcp, .natPMP])
    let start = m.start(at: PM.t(0))
    #expect(Self.sends(start, .ssdp).isEmpty && Self.sends(start, .natPMP).isEmpty)
    let refused = m.handleInput(
      .datagram(
        .pcp, bytes: try Self.pcpAnswer(to: start, lifetime: 0, result: .noResources),
        from: PM.gateway), at: PM.t(2))
    let events = Self.events(refused)
    #expect(events.first == .refused(PortMappingRefusal(pcp: .noResources)))
    #expect(events.contains(.attempting(.natPMP, server: PM.gateway)))
    #expect(Self.sends(refused, .natPMP).count == 1)
    // NAT-PMP stays silent: four requests, then its give-up is the end.
    let out = Self.advance(&m, to: PM.s(30))
    let failures = Self.events(out).compactMap {
      if case .attemptFailed(let f) = $0 { f } else { nil }
    }
    let last = try #require(failures.last)
    // NAT-PMP waits 250, 500, 1000 and 2000 ms: silence within 3750 ms of its first request.
    #expect(
      PortMappingWords.sentence(last)
        == "192.168.1.1:5351 did not answer NAT-PMP within 3750 ms (4 requests)")
    #expect(Self.events(out).suffix(1) == [.finished])
    #expect(m.isFinished)
  }

  @Test func upnpIGDHasItsTurnAndTheLeaseIsRenewedAtHalfAndDeletedOnRelease() throws {
    var m = Self.connect(lifetime: 20)
    _ = m.start(at: PM.t(0))
    // The device answers the search; PCP is refused: UPnP IGD's turn.
    #expect(
      m.handleInput(
        .datagram(.ssdp, bytes: Array(UPnPFixture.ssdpResponse.utf8), from: Self.ssdpUnicast),
        at: PM.t(3)) == [.close(.ssdp)])
    var out = m.handleInput(
      .unreachable(.pcp, .portUnreachable, destination: PM.gateway), at: PM.t(4))
    #expect(Self.events(out).contains(.device(UPnPFixture.location)))
    let answers = [
      UPnPFixture.http(200, "OK", UPnPFixture.rootDesc),
      UPnPFixture.http(
        200, "OK",
        UPnPFixture.soapResponse("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])),
      UPnPFixture.http(
        500, "Internal Server Error", UPnPFixture.soapFault(725, "OnlyPermanentLeasesSupported")),
    ]
    var all: [PortMapperEvent] = []
    for (i, answer) in answers.enumerated() {
      let (id, _) = try #require(Self.httpRequest(out))
      out = m.handleInput(.httpBytes(id: id, bytes: answer), at: PM.t(10 + Int64(i)))
      all += Self.events(out)
    }
    // 725: the mapping is asked again with a permanent lease.
    #expect(
      all.contains(.requested(.upnpRetry(.addPortMapping, because: .onlyPermanentLeasesSupported))))
    let (id, request) = try #require(Self.httpRequest(out))
    #expect(request.contains("<NewLeaseDuration>0</NewLeaseDuration>"))
    out = m.handleInput(
      .httpBytes(
        id: id, bytes: UPnPFixture.http(200, "OK", UPnPFixture.soapResponse("AddPortMapping", []))),
      at: PM.t(20))
    let grant = PortMappingGrant(
      method: .upnpIGD, external: TransportAddress(ip: PM.externalIP, port: 4000), lifetime: 0)
    #expect(Self.events(out) == [.granted(grant)])
    // A permanent lease is not renewed.
    #expect(m.nextDeadline == nil)
    out = m.release(at: PM.s(5))
    let (del, text) = try #require(Self.httpRequest(out))
    #expect(text.contains("DeletePortMapping"))
    out = m.handleInput(
      .httpBytes(
        id: del,
        bytes: UPnPFixture.http(200, "OK", UPnPFixture.soapResponse("DeletePortMapping", []))),
      at: PM.s(5) + .milliseconds(2))
    #expect(Self.events(out) == [.deleted, .finished])
  }

  /// Connect's mapper with the lease `lifetime`, on UPnP IGD's turn (a device answered the
  /// search, PCP got ICMP), with the description and GetExternalIPAddress answered at 10 ms:
  /// the outputs that send AddPortMapping.
  static func onUPnPTurn(_ m: inout PortMapper) throws -> [PortMapperOutput] {
    _ = m.start(at: PM.t(0))
    _ = m.handleInput(
      .datagram(.ssdp, bytes: Array(UPnPFixture.ssdpResponse.utf8), from: Self.ssdpUnicast),
      at: PM.t(1))
    var out = m.handleInput(
      .unreachable(.pcp, .portUnreachable, destination: PM.gateway), at: PM.t(2))
    for body in [
      UPnPFixture.rootDesc,
      UPnPFixture.soapResponse("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")]),
    ] {
      let (id, _) = try #require(Self.httpRequest(out))
      out = m.handleInput(
        .httpBytes(id: id, bytes: UPnPFixture.http(200, "OK", body)), at: PM.t(10))
    }
    return out
  }

  @Test func aUPnPLeaseIsRenewedAtHalfItsLength() throws {
    var m = Self.connect(lifetime: 20)
    var out = try Self.onUPnPTurn(&m)
    let (add, _) = try #require(Self.httpRequest(out))
    out = m.handleInput(
      .httpBytes(
        id: add, bytes: UPnPFixture.http(200, "OK", UPnPFixture.soapResponse("AddPortMapping", []))),
      at: PM.t(10))
    #expect(Self.events(out).first.map { if case .granted = $0 { true } else { false } } == true)
    #expect(m.nextDeadline == PM.t(10) + .seconds(10))
    out = m.handleTimeout(at: PM.t(10) + .seconds(10))
    let (id, request) = try #require(Self.httpRequest(out))
    #expect(
      request.contains("AddPortMapping")
        && request.contains("<NewLeaseDuration>20</NewLeaseDuration>"))
    out = m.handleInput(
      .httpBytes(
        id: id, bytes: UPnPFixture.http(200, "OK", UPnPFixture.soapResponse("AddPortMapping", []))),
      at: PM.s(20))
    #expect(
      Self.events(out) == [
        .renewed(
          PortMappingGrant(
            method: .upnpIGD, external: TransportAddress(ip: PM.externalIP, port: 4000),
            lifetime: 20))
      ])
  }

  @Test func aGrantAfterTheWaitIsNeverOfferedAndDeletedAtOnce() throws {
    var m = Self.connect(lifetime: 20)
    var out = try Self.onUPnPTurn(&m)
    // AddPortMapping is in flight when the wait ends.
    let (add, _) = try #require(Self.httpRequest(out))
    let ended = Self.events(Self.advance(&m, to: PM.t(1000)))
    let shortfall = try #require(
      ended.compactMap { if case .noMapping(let s) = $0 { s } else { nil } }.first)
    #expect(
      PortMappingWords.connectError(shortfall)
        == "no port mapping: the router's UPnP IGD device did not grant one within 1000 ms")
    out = m.handleInput(
      .httpBytes(
        id: add, bytes: UPnPFixture.http(200, "OK", UPnPFixture.soapResponse("AddPortMapping", []))),
      at: PM.t(1005))
    let events = Self.events(out)
    #expect(events.first.map { if case .grantedLate = $0 { true } else { false } } == true)
    #expect(!events.contains { if case .granted = $0 { true } else { false } })
    let (_, delete) = try #require(Self.httpRequest(out))
    #expect(delete.contains("DeletePortMapping"))
  }
}
