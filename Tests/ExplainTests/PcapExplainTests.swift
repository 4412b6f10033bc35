import Explain
import Foundation
import Report
import STUN
import TestSupport
import Testing

/// Packet captures, written here in the pcap format tcpdump writes (raw IPv4, and Ethernet),
/// with STUN messages made by natscope's own codec: checks matched by transaction ID, a STUN
/// server's answer, a 487, USE-CANDIDATE, and DTLS records after the checks.
@Suite struct PcapExplainTests {
  /// One UDP datagram of the capture.
  struct Datagram {
    var ms: Int
    var from: TransportAddress
    var to: TransportAddress
    var payload: [UInt8]
  }

  static func le32(_ v: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
  }

  /// A little-endian pcap file of `datagrams` (link type 101, raw IP, or 1, Ethernet).
  static func pcap(_ datagrams: [Datagram], ethernet: Bool = false) -> [UInt8] {
    var out: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + le32(0) + le32(0) + le32(65535)
    out += le32(ethernet ? 1 : 101)
    for d in datagrams {
      guard case .v4(let s) = d.from.ip, case .v4(let t) = d.to.ip else { continue }
      let udpLength = 8 + d.payload.count
      let total = 20 + udpLength
      var ip: [UInt8] = [
        0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0,
      ]
      for a in [s, t] {
        ip += [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
      }
      let udp: [UInt8] = [
        UInt8(d.from.port >> 8), UInt8(d.from.port & 0xFF), UInt8(d.to.port >> 8),
        UInt8(d.to.port & 0xFF), UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0,
      ]
      var frame = ip + udp + d.payload
      if ethernet { frame = [UInt8](repeating: 0x02, count: 12) + [0x08, 0x00] + frame }
      out += le32(UInt32(d.ms / 1000)) + le32(UInt32(d.ms % 1000 * 1000))
      out += le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
    }
    return out
  }

  static func address(_ s: String) -> TransportAddress { TransportAddress(s)! }

  static func message(
    _ type: MessageType, _ id: TransactionID, check: Bool = false, use: Bool = false,
    mapped: TransportAddress? = nil, error: UInt16? = nil
  ) -> [UInt8] {
    var b = MessageBuilder(type: type, transactionID: id)
    if check {
      b.add(Priority(1_845_494_271))
      b.add(ICEControlling(42))
    }
    if use { b.add(UseCandidate()) }
    if let mapped { b.add(XORMappedAddress(mapped)) }
    if let error { b.add(ErrorCodeAttribute(ErrorCode(rawValue: error))) }
    b.addFingerprint()
    return b.bytes
  }

  /// This host checks three peers' addresses: one never answers, one answers 487, one answers
  /// a nominating check; a STUN server gives the reflexive address; DTLS follows both ways.
  static func session() -> [Datagram] {
    let local = address("192.168.1.20:40010")
    let server = address("198.51.100.99:3478")
    let srflx = address("198.51.100.7:40010")
    let silent = address("10.0.5.9:51000")
    let conflict = address("203.0.113.60:9000")
    let peer = address("203.0.113.50:62000")
    var d: [Datagram] = []
    let s1 = TransactionID.random()
    d.append(Datagram(ms: 1000, from: local, to: server, payload: message(.bindingRequest, s1)))
    d.append(
      Datagram(
        ms: 1020, from: server, to: local, payload: message(.bindingSuccess, s1, mapped: srflx)))
    for k in 0..<3 {
      d.append(
        Datagram(
          ms: 1100 + 100 * k, from: local, to: silent,
          payload: message(.bindingRequest, .random(), check: true)))
    }
    let c1 = TransactionID.random()
    d.append(
      Datagram(
        ms: 1110, from: local, to: conflict, payload: message(.bindingRequest, c1, check: true)))
    d.append(
      Datagram(ms: 1130, from: conflict, to: local, payload: message(.bindingError, c1, error: 487))
    )
    let p1 = TransactionID.random()
    d.append(
      Datagram(
        ms: 1150, from: local, to: peer,
        payload: message(.bindingRequest, p1, check: true, use: true)))
    let q1 = TransactionID.random()
    d.append(
      Datagram(ms: 1160, from: peer, to: local, payload: message(.bindingRequest, q1, check: true)))
    d.append(
      Datagram(ms: 1161, from: local, to: peer, payload: message(.bindingSuccess, q1, mapped: peer))
    )
    d.append(
      Datagram(
        ms: 1190, from: peer, to: local, payload: message(.bindingSuccess, p1, mapped: srflx)))
    // DTLS: a ClientHello (record type 22, handshake type 1 at offset 13), then data both ways.
    var hello: [UInt8] = [22, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 10) + [1]
    hello += [UInt8](repeating: 0, count: 40)
    d.append(Datagram(ms: 1200, from: local, to: peer, payload: hello))
    let data: [UInt8] = [23, 0xFE, 0xFD] + [UInt8](repeating: 7, count: 30)
    d.append(Datagram(ms: 1260, from: peer, to: local, payload: data))
    d.append(Datagram(ms: 1262, from: local, to: peer, payload: data))
    return d
  }

  static func explain(_ bytes: [UInt8]) throws -> ExplainSession {
    let r = try Explainer.read(name: "capture", source: MemorySource(bytes), secrets: SecretSet())
    #expect(r.input.format == .pcap)
    return ExplainSession(input: "capture", evidence: try #require(r.sessions.first))
  }

  @Test(arguments: [false, true])
  func aCaptureIsExplained(ethernet: Bool) throws {
    let s = try Self.explain(Self.pcap(Self.session(), ethernet: ethernet))
    let row = Situation(
      "capture: connected through a nominated check, one address silent, one 487",
      mustFind: [
        .explainConnected, .explainPair, .explainCheckError, .explainDTLSTime,
        .explainPathNotMeasured, .explainServers, .explainPortKept,
      ],
      // The peer's candidate types are not in a capture: no path is called failed or not
      // formed, and the peer is not said to have offered only host candidates.
      mustNotFind: [
        .explainFailed, .explainMissingChecks, .explainMissingPeer, .explainPathFailed,
        .explainPathNotFormed, .explainHostOnly,
      ])
    #expect(row.check(s.findings).isEmpty, "\(row.check(s.findings))")
    let c = try #require(s.findings.with(.explainConnected).first)
    #expect(c.parameters.text("local") == "192.168.1.20:40010")
    #expect(c.parameters.text("remote") == "203.0.113.50:62000")
    let silent = try #require(s.evidence.pairs.first { $0.remote.port == 51000 })
    #expect(silent.requestsSent == 3 && (silent.responsesReceived ?? 0) == 0)
    #expect(silent.state == "failed")
    let peer = try #require(s.evidence.pairs.first { $0.remote.port == 62000 })
    #expect(peer.requestsSent == 1 && peer.responsesReceived == 1)
    #expect(peer.requestsReceived == 1 && peer.responsesSent == 1 && peer.nominated == true)
    #expect(s.evidence.checkErrors.map(\.code) == [487])
    #expect(s.evidence.local.contains { $0.kind == .srflx && $0.port == 40010 })
    // From the ClientHello to records seen both ways.
    #expect(s.findings.with(.explainDTLSTime).first?.parameters.milliseconds("ms") == 62)
  }

  @Test func aCaptureWithoutSTUNIsRefused() throws {
    let udp = [
      Datagram(
        ms: 0, from: Self.address("10.0.0.1:1"), to: Self.address("10.0.0.2:2"), payload: [1, 2, 3])
    ]
    #expect(throws: ExplainError.self) { try Self.explain(Self.pcap(udp)) }
  }
}
