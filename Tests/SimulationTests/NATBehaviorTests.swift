import Foundation
import Report
import STUN
import Sessions
import Simulation
import Testing

/// Presets and the JSON form of behaviours.
@Suite struct NATBehaviorTests {
  @Test func presetsMatchTheirNames() {
    #expect(NATBehavior.fullCone.summary == "full cone")
    #expect(NATBehavior.restrictedCone.summary == "restricted cone")
    #expect(NATBehavior.portRestrictedCone.summary == "port-restricted cone")
    #expect(NATBehavior.symmetric.summary == "symmetric")
    #expect(NATBehavior.udpBlocked.summary == "UDP blocked")
    #expect(NATBehavior.open.summary == "no NAT")
    #expect(NATBehavior.cgnat.mapping == .endpointIndependent)
    #expect(
      NATBehavior(mapping: .addressDependent, filtering: .addressDependent).summary
        == "address-dependent mapping, address-dependent filtering")
  }

  @Test func rawValuesAreStable() {
    #expect(
      MappingBehavior.allCases.map(\.rawValue) == [
        "endpoint-independent", "address-dependent", "address-and-port-dependent",
      ])
    #expect(FilteringBehavior.allCases.map(\.rawValue) == MappingBehavior.allCases.map(\.rawValue))
    #expect(UDPFirewall.blockAll.rawValue == "block-all")
    #expect(DropReason.mappingExpired.rawValue == "mapping-expired")
  }

  @Test func jsonRoundTripAndDefaults() throws {
    var b = NATBehavior.symmetric
    b.mappingLifetime = .milliseconds(1500)
    b.portRange = 2000...3000
    let data = try JSONEncoder().encode(b)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains(#""mapping":"address-and-port-dependent""#))
    #expect(text.contains(#""mappingLifetime":1.5"#))
    #expect(try JSONDecoder().decode(NATBehavior.self, from: data) == b)
    let partial = Data(#"{"filtering":"address-dependent"}"#.utf8)
    #expect(try JSONDecoder().decode(NATBehavior.self, from: partial) == .restrictedCone)
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(NATBehavior.self, from: Data(#"{"mapping":"cone"}"#.utf8))
    }
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(NATBehavior.self, from: Data(#"{"mappingLifetime":-1}"#.utf8))
    }
  }

  @Test func traceEntriesEncodeAsJSON() throws {
    let lab = try Lab(.udpBlocked)
    var entries: [PacketTrace] = []
    lab.net.trace = { entries.append($0) }
    let e = try Endpoint(lab.client, port: 5000)
    e.send("x", to: Reflector.primary)
    lab.net.run(for: .seconds(1))
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let json = try entries.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
    #expect(
      json == [
        #"{"destination":"203.0.113.10:3478","kind":"sent","node":"client","packet":1,"#
          + #""size":1,"source":"192.168.1.10:5000","timeMs":0}"#,
        #"{"destination":"203.0.113.10:3478","kind":"dropped","node":"nat","packet":1,"#
          + #""reason":"firewall","size":1,"source":"192.168.1.10:5000","timeMs":0}"#,
      ])
  }
}
