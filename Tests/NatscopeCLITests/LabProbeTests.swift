import Foundation
import Testing

/// `natscope probe` on real Linux NATs (network namespaces, nftables), against natscope's own
/// server and coturn's turnserver, with coturn's turnutils_natdiscovery as a second opinion.
@Suite(.serialized, .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")))
struct LabProbeTests {
  struct Kind: Sendable, CustomTestStringConvertible {
    var lab: String
    var natDetected: Bool
    var udpBlocked: Bool
    var mapping: String
    var filtering: String
    var legacy: String
    /// natdiscovery's words, for comparison.
    var discoveryMapping: String
    var discoveryFiltering: String
    var testDescription: String { lab }
  }

  static let kinds: [Kind] = [
    Kind(
      lab: "none", natDetected: false, udpBlocked: false, mapping: "endpoint-independent",
      filtering: "endpoint-independent", legacy: "Open Internet", discoveryMapping: "No NAT",
      discoveryFiltering: "Endpoint Independent Filtering"),
    Kind(
      lab: "eim-eif", natDetected: true, udpBlocked: false, mapping: "endpoint-independent",
      filtering: "endpoint-independent", legacy: "Full Cone",
      discoveryMapping: "Endpoint Independent Mapping",
      discoveryFiltering: "Endpoint Independent Filtering"),
    Kind(
      lab: "eim-adf", natDetected: true, udpBlocked: false, mapping: "endpoint-independent",
      filtering: "address-dependent", legacy: "Restricted Cone",
      discoveryMapping: "Endpoint Independent Mapping",
      discoveryFiltering: "Address Dependent Filtering"),
    Kind(
      lab: "eim-apdf", natDetected: true, udpBlocked: false, mapping: "endpoint-independent",
      filtering: "address-and-port-dependent", legacy: "Port Restricted Cone",
      discoveryMapping: "Endpoint Independent Mapping",
      discoveryFiltering: "Address and Port Dependent Filtering"),
    Kind(
      lab: "apdm-apdf", natDetected: true, udpBlocked: false, mapping: "address-and-port-dependent",
      filtering: "address-and-port-dependent", legacy: "Symmetric",
      discoveryMapping: "Address and Port Dependent Mapping",
      discoveryFiltering: "Address and Port Dependent Filtering"),
    Kind(
      lab: "udp-blocked", natDetected: false, udpBlocked: true, mapping: "unknown",
      filtering: "unknown", legacy: "UDP Blocked", discoveryMapping: "", discoveryFiltering: ""),
  ]

  func probe(_ lab: Lab) throws -> [String: Any] {
    let r = try lab.exec("client-a", [Binary.url.path, "probe", lab["SERVER_PRIMARY"], "--json"])
    return try #require(
      try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
      Comment(rawValue: r.output))
  }

  func check(_ o: [String: Any], _ k: Kind, server: String) {
    let where_ = Comment(rawValue: "\(k.lab) against \(server)")
    #expect(o["udpBlocked"] as? Bool == k.udpBlocked, where_)
    if !k.udpBlocked { #expect(o["natDetected"] as? Bool == k.natDetected, where_) }
    #expect((o["mapping"] as? [String: Any])?["behavior"] as? String == k.mapping, where_)
    #expect((o["filtering"] as? [String: Any])?["behavior"] as? String == k.filtering, where_)
    #expect(o["legacyType"] as? String == k.legacy, where_)
  }

  @Test(arguments: kinds)
  func verdictAgainstNatscopeServeAndCoturn(_ k: Kind) throws {
    let lab = try Lab(a: k.lab)
    defer { lab.down() }
    try lab.startNatscopeServer()
    let ours = try probe(lab)
    check(ours, k, server: "natscope serve")
    if k.udpBlocked {
      // natscope serve speaks UDP only: the TCP fallback must say so.
      #expect((ours["tcp"] as? [String: Any])?["reachable"] as? Bool == false)
    } else {
      #expect(ours["tcp"] is NSNull)
    }
    #expect((ours["alg"] as? [String: Any])?["detected"] as? Bool != true)
    lab.stop("natscope-serve")

    try lab.startCoturn()
    let theirs = try probe(lab)
    check(theirs, k, server: "coturn")
    if k.udpBlocked {
      // coturn listens on TCP too, and the NAT lets TCP through: the way out is TURN over TCP.
      #expect((theirs["tcp"] as? [String: Any])?["reachable"] as? Bool == true)
      #expect((theirs["summary"] as? String)?.contains("TURN relay over TCP") == true)
    }

    // coturn's own client on the same lab must agree where it gives a verdict.
    guard !k.udpBlocked else { return }
    let d = try lab.exec(
      "client-a",
      ["turnutils_natdiscovery", "-m", "-f", "-L", lab["CLIENT_A_ADDR"], lab["SERVER_PRIMARY"]],
      timeout: 30)
    #expect(d.output.contains(k.discoveryMapping), Comment(rawValue: d.output))
    #expect(d.output.contains(k.discoveryFiltering), Comment(rawValue: d.output))
  }

  @Test func hairpinningOnALinuxNATThatLoopsBack() throws {
    let lab = try Lab(a: "eim-apdf", extra: ["--hairpin", "on"])
    defer { lab.down() }
    try lab.startNatscopeServer()
    #expect(try probe(lab)["hairpinning"] as? Bool == true)
  }

  @Test func verdictSurvivesLoss() throws {
    let lab = try Lab(a: "eim-adf", extra: ["--loss", "10"])
    defer { lab.down() }
    try lab.startNatscopeServer()
    for _ in 0..<5 {
      let o = try probe(lab)
      #expect((o["filtering"] as? [String: Any])?["behavior"] as? String == "address-dependent")
      #expect((o["mapping"] as? [String: Any])?["behavior"] as? String == "endpoint-independent")
    }
  }
}
