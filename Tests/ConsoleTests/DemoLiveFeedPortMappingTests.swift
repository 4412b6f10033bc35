import Console
import Report
import Scenarios
import Sessions
import Testing
import Traversal

/// The live demo's event log says what each host's router answered when its probe asked, and
/// the NAT above a home router behind a carrier-grade NAT.
@Suite struct DemoLiveFeedPortMappingTests {
  static func logLines(a: String, b: String) throws -> [String] {
    let configuration = TwoHostDemoConfiguration(
      a: try SitePreset.parse(a).get(), b: try SitePreset.parse(b).get(), turn: false)
    let demo = try TwoHostDemo(configuration)
    let feed = DemoLiveFeed(natA: configuration.a.name, natB: configuration.b.name)
    var lines: [String] = []
    demo.onEvent = { event in
      guard case .probed(let side, let report) = event else { return }
      for case .connect(.log(let line)) in feed.probed(hostA: side == .a, report) {
        lines.append(line)
      }
    }
    demo.runToEnd()
    return lines
  }

  @Test func theRoutersAnswersAndTheDoubleNATAreLogged() throws {
    let lines = try Self.logLines(a: "cgnat", b: "symmetric")
    #expect(
      lines.contains(
        "host A (cgnat) asked its router: PCP, NAT-PMP, UPnP IGD, router's own address 100.64.0.2"),
      Comment(rawValue: lines.joined(separator: "\n")))
    #expect(
      lines.contains {
        $0.hasPrefix(
          "host A (cgnat): double NAT: Your router's own internet address is 100.64.0.2, but servers see 198.51.100.1"
        )
      })
    #expect(lines.contains("host B (symmetric) asked its router: no port mapping"))
    #expect(!lines.contains { $0.hasPrefix("host B (symmetric): double NAT") })
  }

  /// A probe with no UDP answer is logged as what is known then (no answer: blocked, or every
  /// request lost), not as a verdict the report may later correct.
  @Test func aProbeWithoutUDPAnswersIsLoggedAsNoAnswer() throws {
    let lines = try Self.logLines(a: "udp-blocked", b: "symmetric")
    #expect(
      lines.contains(
        "host A (udp-blocked) probed its NAT: no answer over UDP (UDP blocked, or every request lost)"
      ), Comment(rawValue: lines.joined(separator: "\n")))
    #expect(!lines.contains { $0.hasPrefix("host B (symmetric) probed its NAT: no answer") })
  }
}
