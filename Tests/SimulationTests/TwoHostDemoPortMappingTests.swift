import Foundation
import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// Site presets whose router offers port mapping (`symmetric+pcp`, `cgnat`, …), and the
/// two-host demo using it as the real commands do: each probe asks the router read-only, and
/// both connect sessions ask for a mapping.
@Suite struct TwoHostDemoPortMappingTests {
  @Test func suffixesParseToACanonicalName() throws {
    let p = try SitePreset.parse("Symmetric+UPnP").get()
    #expect(p.name == "symmetric+upnp")
    #expect(p.portMapping == [.upnpIGD])
    #expect(p.summary == "symmetric NAT whose router offers UPnP IGD")
    let custom = try SitePreset.parse("EIM/APDF+upnp+pcp").get()
    #expect(custom.name == "eim/apdf+pcp+upnp")
    #expect(custom.portMapping == [.pcp, .upnpIGD])
    #expect(custom.summary.hasSuffix("whose router offers PCP and UPnP IGD"))
    let alias = try SitePreset.parse("port-restricted-cone+natpmp").get()
    #expect(alias.name == "port-restricted+nat-pmp")
    let cgnat = try SitePreset.parse("cgnat").get()
    #expect(cgnat.portMapping == [.pcp, .natPMP, .upnpIGD])
    #expect(
      cgnat.summary
        == "home router (offers PCP, NAT-PMP and UPnP IGD) behind a carrier-grade NAT")
    #expect(try SitePreset.parse("cgnat+pcp").get().name == "cgnat+pcp")
    #expect(try SitePreset.parse("cgnat+upnp+nat-pmp+pcp").get().name == "cgnat")
    #expect(try SitePreset.parse("symmetric").get().portMapping.isEmpty)
  }

  @Test(arguments: [
    ("open+pcp", "open has no router"), ("udp-blocked+upnp", "drops all UDP"),
    ("symmetric+foo", "\"+foo\" is not a port-mapping protocol"),
    ("symmetric+", "\"+\" is not a port-mapping protocol"),
    ("bogus+pcp", "not a NAT natscope can simulate"),
  ])
  func badSuffixesGiveOneSentence(name: String, says: String) {
    guard case .failure(let e) = SitePreset.parse(name) else {
      Issue.record("\(name) parsed")
      return
    }
    let text = e.description
    #expect(text.hasSuffix(".") && !text.contains("\n"), Comment(rawValue: text))
    #expect(text.contains(says), Comment(rawValue: text))
  }

  @Test func aSymmetricNATWithPCPConnectsToASymmetricNATWithoutTheRelay() throws {
    let r = try TwoHostCases.run("symmetric+pcp", "symmetric", turn: false)
    let c = r.connect
    #expect(c.state == .connected, Comment(rawValue: c.text))
    let m = try #require(c.local.portMapping)
    #expect(m.protocol == "pcp" && m.granted)
    let s = try #require(c.selectedPair)
    #expect(s.local.type == .srflx)
    #expect(s.local.address == m.externalAddress && s.local.port == m.externalPort)
    #expect(
      c.paths.reflexive.reason.hasPrefix("Connected through the port mapping natscope made"),
      Comment(rawValue: c.paths.reflexive.reason))
    #expect(r.prediction.outcome == .works, Comment(rawValue: r.prediction.reason))
    #expect(
      r.prediction.reason.hasPrefix("With the router's PCP mapping counted"),
      Comment(rawValue: r.prediction.reason))
    #expect(TwoHostConsistency.contradictions(r).isEmpty)
    // The probe asked the router too: PCP answered (an ANNOUNCE carries no address, so there
    // is nothing to compare with what servers see).
    let pm = try #require(r.a.probe?.portMapping)
    #expect(pm.protocols.first { $0.name == .pcp }?.answered == true)
    #expect(r.a.probe?.doubleNAT?.detected == nil)
    #expect(r.a.probe?.doubleNAT?.reason.hasPrefix("Unknown: no router answered") == true)
  }

  @Test func twoSymmetricNATsWithoutPortMappingStillFailWithoutTheRelay() throws {
    let r = try TwoHostCases.run("symmetric", "symmetric", turn: false)
    #expect(r.connect.state == .failed)
    #expect(r.connect.local.portMapping?.granted != true)
    #expect(r.prediction.outcome == .fails)
  }

  @Test func thePeersMappingCountsInThePredictionToo() throws {
    let r = try TwoHostCases.run("symmetric", "symmetric+nat-pmp", turn: false)
    #expect(r.connect.state == .connected, Comment(rawValue: r.connect.text))
    #expect(r.prediction.outcome == .works)
    #expect(
      r.prediction.reason.contains("host B's router's NAT-PMP mapping"),
      Comment(rawValue: r.prediction.reason))
    // NAT-PMP reports the router's address: the one servers see.
    #expect(r.b.probe?.doubleNAT?.detected == false)
    #expect(TwoHostConsistency.contradictions(r).isEmpty)
  }

  @Test func cgnatReportsTheNATAboveTheRouterAndTheMappingBelowIt() throws {
    let r = try TwoHostCases.run("cgnat", "symmetric", turn: false)
    let probe = try #require(r.a.probe)
    let pm = try #require(probe.portMapping)
    #expect(pm.externalAddress == .v4(0x6440_0002), "the home router's carrier-side address")
    #expect(
      pm.protocols.allSatisfy { $0.answered && $0.error == nil },
      Comment(rawValue: "\(pm.protocols)"))
    let d = try #require(probe.doubleNAT)
    #expect(d.detected == true)
    #expect(d.reason.contains("100.64.0.2") && d.reason.contains("198.51.100.1"))
    #expect(probe.summary.contains("another NAT above your router"))
    // connect's mapping on the home router is not offered as a way in from the internet.
    let c = r.connect
    #expect(c.local.portMapping?.granted == true)
    #expect(
      c.paths.reflexive.reason.contains(
        "is on a router behind another NAT (servers see this host at 198.51.100.1), so peers outside that NAT cannot use it."
      ), Comment(rawValue: c.paths.reflexive.reason))
    #expect(c.state == .failed)
    #expect(r.prediction.outcome == .fails)
    #expect(!r.prediction.reason.contains("mapping"), "a mapping below another NAT is not counted")
    #expect(TwoHostConsistency.contradictions(r).isEmpty)
    // In the JSON.
    let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
    #expect(json.contains("\"doubleNAT\":{") && json.contains("\"portMapping\":{"))
  }

  @Test func upnpOnTheRouterIsFoundByTheProbe() throws {
    let r = try TwoHostCases.run("port-restricted+upnp", "open", turn: false)
    let pm = try #require(r.a.probe?.portMapping)
    let upnp = try #require(pm.protocols.first { $0.name == .upnpIGD })
    #expect(upnp.answered && upnp.error == nil, Comment(rawValue: upnp.error ?? ""))
    #expect(upnp.externalAddress == r.a.probe?.mappedAddress?.ip)
    #expect(r.connect.state == .connected)
    // The open host has no router to ask.
    #expect(r.b.probe?.portMapping?.gateway == nil)
  }
}
