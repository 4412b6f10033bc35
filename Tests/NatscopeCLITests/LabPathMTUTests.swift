import Foundation
import Testing

/// The path MTU search and DTLS after ICE on lab paths that do not carry full-size datagrams:
/// natscope against natscope through two port-restricted NATs, with nat-a changed by the test
/// (an nftables rule that silently drops large UDP datagrams, or a smaller link MTU, which makes
/// the router answer with ICMP "fragmentation needed"). Each lab is torn down when its test ends.
@Suite(
  .serialized, .timeLimit(.minutes(10)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")))
struct LabPathMTUTests {
  typealias End = LabConnectTests.End
  typealias Outcome = LabConnectTests.Outcome

  let connector = LabConnectTests()

  func lab() throws -> Lab { try connector.coturnLab(a: "eim-apdf", b: "eim-apdf") }

  /// Makes nat-a drop, both ways, every UDP datagram whose IP length is above `size` bytes, as
  /// a firewall or a tunnel with a small MTU that sends no ICMP does.
  func dropUDP(above size: Int, in lab: Lab) throws {
    let steps: [[String]] = [
      ["nft", "add", "table", "ip", "mtulab"],
      [
        "nft", "add", "chain", "ip", "mtulab", "bigudp",
        "{ type filter hook forward priority 0 ; policy accept ; }",
      ],
      [
        "nft", "add", "rule", "ip", "mtulab", "bigudp", "meta", "l4proto", "udp", "ip", "length",
        ">", "\(size)", "drop",
      ],
    ]
    for step in steps {
      let r = try lab.exec("nat-a", step, timeout: 20)
      guard r.status == 0 else { throw Lab.LabError("\(step.joined(separator: " ")): \(r.output)") }
    }
  }

  /// Both ends' documents, checked against the connect schema (when jsonschema is here).
  func run(_ lab: Lab, extra: [String] = [], name: String) throws -> (Outcome, Outcome) {
    let (x, y) = try connector.connect(
      lab, offer: End(agent: .natscope, node: "client-a", extra: extra),
      answer: End(agent: .natscope, node: "client-b", extra: extra))
    if SchemaValidator.python != nil {
      try SchemaValidator.validate([
        SchemaTests.Sample(name: "\(name)-offer", schema: "connect", text: x.stdout),
        SchemaTests.Sample(name: "\(name)-answer", schema: "connect", text: y.stdout),
      ])
    }
    return (x, y)
  }

  static func codes(_ o: Outcome) -> [String] {
    (o.json["findings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
  }

  static func leg(_ o: Outcome, _ direction: String) -> [String: Any] {
    o.json.path("pathMTU.\(direction)") as? [String: Any] ?? [:]
  }

  /// A path that silently drops UDP datagrams above 1200 bytes: both directions are measured
  /// at that size, the report says it is too small for WebRTC's 1200-byte payloads, and the
  /// normal (small) certificate's handshake still completes.
  @Test func blackHoleAbove1200IsMeasuredBothWays() throws {
    let lab = try lab()
    defer { lab.down() }
    try dropUDP(above: 1200, in: lab)
    let (x, y) = try run(lab, name: "black-hole-1200")
    for o in [x, y] {
      #expect(o.status == 0, o.note)
      #expect(o.state == "connected", o.note)
      #expect(o.json.path("dtls.state") as? String == "connected", o.note)
      for direction in ["forward", "reverse"] {
        let l = Self.leg(o, direction)
        #expect(l["outcome"] as? String == "measured", o.note)
        let largest = l["largestAnswered"] as? Int ?? 0
        let lost = l["smallestLost"] as? Int ?? 0
        #expect((1196...1200).contains(largest), "\(direction): \(largest)\n\(o.note)")
        #expect((1201...1204).contains(lost), "\(direction): \(lost)\n\(o.note)")
        #expect(l["icmpMTU"] == nil, "a black hole sends no ICMP\n\(o.note)")
      }
      #expect(Self.codes(o).contains("mtu.too-small"), o.note)
    }
  }

  /// The same path with certificates as large as a media server's chain: the handshake's
  /// flights no longer fit, DTLS stalls after ICE connected, and the report connects the two.
  @Test func largeCertificateStallsOnThatPath() throws {
    let lab = try lab()
    defer { lab.down() }
    try dropUDP(above: 1200, in: lab)
    let (x, y) = try run(
      lab, extra: ["--dtls-certificate-size", "4000"], name: "large-certificate")
    var dtlsLarger = false
    for o in [x, y] {
      #expect(o.status == 2, o.note)
      #expect(o.json.path("dtls.state") as? String == "failed", o.note)
      let failure = o.json.path("dtls.failure") as? String
      #expect(failure == "stalled" || failure == "no-answer", o.note)
      let certificate = o.json.path("dtls.certificateBytes") as? Int ?? 0
      #expect((3600...4400).contains(certificate), "certificate \(certificate)\n\(o.note)")
      #expect(Self.codes(o).contains("dtls.failed-after-ice"), o.note)
      dtlsLarger = dtlsLarger || Self.codes(o).contains("mtu.dtls-larger")
    }
    #expect(dtlsLarger, "neither side said its DTLS datagrams were larger than the path\n\(x.note)")
  }

  /// A smaller link MTU on nat-a's WAN side: the router answers the forward probes with ICMP
  /// "fragmentation needed" naming its MTU, which natscope reads from the socket's error queue.
  @Test func routerICMPNamesItsMTU() throws {
    let lab = try lab()
    defer { lab.down() }
    for (node, interface) in [("nat-a", "wan"), ("pub", "p-nata")] {
      let r = try lab.exec(node, ["ip", "link", "set", interface, "mtu", "1300"], timeout: 20)
      guard r.status == 0 else { throw Lab.LabError("mtu on \(node) \(interface): \(r.output)") }
    }
    let (x, y) = try run(lab, name: "router-mtu-1300")
    for o in [x, y] {
      #expect(o.status == 0, o.note)
      #expect(o.json.path("dtls.state") as? String == "connected", o.note)
    }
    let forward = Self.leg(x, "forward")
    #expect(forward["outcome"] as? String == "measured", x.note)
    #expect(forward["icmpMTU"] as? Int == 1300, x.note)
    #expect(forward["largestAnswered"] as? Int == 1300, x.note)
    #expect((forward["icmpReporter"] as? String ?? "").isEmpty == false, x.note)
  }
}
