import STUN
import Traversal

/// Descriptions and candidate lines shared by the signalling and report tests.
public enum SignalingFixtures {
  public static let password = "Zq3vN8xKp2LmW7rT5yHs9d"

  public static func v4(_ s: String) -> SignaledCandidate.Address {
    .ip(IPAddress(s) ?? .anyV4)
  }

  /// 4 IPv4 host candidates, 1 srflx, 1 relay, NAT profile: the typical size case.
  public static let typical = SessionDescription(
    ufrag: "aB3d", password: password, role: .offer, tieBreaker: 0x0123_4567_89AB_CDEF,
    candidates: [
      .init(
        foundation: "1", priority: 2_130_706_431, address: v4("192.168.1.23"), port: 50000,
        kind: .host),
      .init(
        foundation: "2", priority: 2_130_706_175, address: v4("10.8.0.5"), port: 50001,
        kind: .host),
      .init(
        foundation: "3", priority: 2_130_705_919, address: v4("172.17.0.1"), port: 50002,
        kind: .host),
      .init(
        foundation: "4", priority: 2_130_705_663, address: v4("100.64.12.9"), port: 50003,
        kind: .host),
      .init(
        foundation: "5", priority: 1_694_498_815, address: v4("203.0.113.7"), port: 61665,
        kind: .srflx, relatedAddress: v4("192.168.1.23"), relatedPort: 50000),
      .init(
        foundation: "6", priority: 16_777_215, address: v4("198.51.100.20"), port: 49170,
        kind: .relay, relatedAddress: v4("203.0.113.7"), relatedPort: 61665),
    ],
    natProfile: .portRestrictedCone)

  /// Every candidate type, IPv6, TCP, mDNS, extensions; an answer without a NAT profile.
  public static let everything = SessionDescription(
    ufrag: "x/Y+9", password: password + "Q", role: .answer, tieBreaker: .max,
    candidates: [
      .init(
        foundation: "842163049", priority: 2_122_260_223,
        address: .ip(IPAddress("2001:db8::1") ?? .anyV6), port: 9,
        kind: .host, generation: 0,
        extensions: [.init("ufrag", "EsAw"), .init("network-id", "2"), .init("network-cost", "10")]
      ),
      .init(
        foundation: "4", component: 2, transport: .tcp, priority: 1_518_280_447,
        address: v4("192.168.1.5"), port: 9, kind: .host, tcpType: .active),
      .init(
        foundation: "0", priority: 2_122_252_543,
        address: .hostname("4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d.local"), port: 54321,
        kind: .host),
      .init(
        foundation: "7", priority: 1_686_052_607,
        address: .ip(IPAddress("2001:db8:ffff::7") ?? .anyV6), port: 3478, kind: .prflx,
        relatedAddress: .ip(IPAddress("2001:db8::1") ?? .anyV6), relatedPort: 9),
      .init(
        foundation: "8", priority: 1_694_498_815, address: v4("203.0.113.7"), port: 61665,
        kind: .srflx, relatedAddress: v4("0.0.0.0"), relatedPort: 0),
      .init(
        foundation: "9", priority: 41_885_439, address: v4("198.51.100.20"), port: 49170,
        kind: .relay, relatedAddress: .hostname("x.local"), relatedPort: 1),
    ],
    endOfCandidates: false)

  /// What a Chrome tab and a Firefox tab print, CRLF line ends, with browser-only lines.
  public static let browser = [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:EsAw",
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 0F:74:31:25:CB:A2:13:EC:28:6F:6D:2C:61:FF:5D:C2:BC:B9:DB:3D:98:14:8D:1A:BB:EA:33:0C:A4:60:A8:8E",
    "a=setup:actpass",
    "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-id 1 network-cost 10",
    "a=candidate:3513431784 1 udp 2122260223 f3b0c7a2-1d4e-4b8f-9a6c-2e5d7f8a9b0c.local 54400 typ host generation 0 ufrag EsAw network-id 1 network-cost 10",
    "a=candidate:1467250027 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 ufrag EsAw network-id 1",
    "candidate:0 1 UDP 2122252543 2001:db8::5 54321 typ host",
    "candidate:1 1 UDP 8265471 198.51.100.20 49170 typ relay raddr 203.0.113.7 rport 61665",
    "a=end-of-candidates",
  ].map { $0 + "\r" }
}
