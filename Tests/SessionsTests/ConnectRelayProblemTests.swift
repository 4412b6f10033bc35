import Foundation
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// `connect` says what `natscope turn` says about a TURN server: the same problem codes, and a
/// relayed address no peer can reach named as the reason, not a timeout.
@Suite struct ConnectRelayProblemTests {
  typealias E = ConnectReport.Endpoint
  typealias Pair = ConnectReport.PairOutcome

  static let unroutable = TURNCheckClassifier.unroutableRelay(
    relayed: TransportAddress(ip: .v4(0x0A63_6363), port: 50000),  // 10.99.99.99
    server: TransportAddress(ip: .v4(0xCB00_7114), port: 3478))  // 203.0.113.20

  @Test func anUnroutableRelayIsTheReasonRelayedPairsTimedOut() throws {
    let problem = try #require(Self.unroutable)
    #expect(problem.code == .relayedAddressUnroutable)
    let relay = ConnectReport.RelayServer(
      server: "203.0.113.20:3478", transport: .udp, allocated: true,
      relayedAddress: "10.99.99.99:50000", reason: problem.message,
      problem: problem.code.rawValue)
    let timedOut = Pair(
      local: E(type: .relay, address: "10.99.99.99", port: 50000),
      remote: E(type: .srflx, address: "198.51.100.2", port: 50000), succeeded: false,
      failure: .timeout, requests: 7)
    let paths = ConnectReportBuilder.paths(
      [timedOut], local: .init(profile: nil, candidates: [], turn: [.udp], relays: [relay]),
      remote: .init(profile: nil, candidates: []), selected: nil)
    #expect(paths.relay.problem == "relayed-address-unroutable")
    #expect(
      paths.relay.reason
        == "The relayed pair failed: the server hands out relayed address 10.99.99.99 but answered on 203.0.113.20: 10.99.99.99 is a private address, which peers that reach the server at 203.0.113.20 cannot reach; make the server announce its public address (coturn: --external-ip)."
    )
    #expect(!paths.relay.reason.contains("timed out"))
    // Other paths carry no problem key.
    #expect(paths.direct.problem == nil && paths.reflexive.problem == nil)
  }

  @Test func aFailedAllocationCarriesTheTURNCheckCode() throws {
    let failure = TURNFailure.explaining(.init(rawValue: 401))
    let problem = TURNCheckClassifier.allocationProblem(failure, reachable: true)
    let relay = ConnectReport.RelayServer(
      server: "203.0.113.20:3478", transport: .udp, allocated: false, code: 401,
      reason: problem.message, problem: problem.code.rawValue)
    let paths = ConnectReportBuilder.paths(
      [], local: .init(profile: nil, candidates: [], turn: [.udp], relays: [relay]),
      remote: .init(profile: nil, candidates: []), selected: nil)
    #expect(paths.relay.problem == "unauthorized")
    #expect(paths.relay.reason.contains("rejected the username or password"))
  }

  @Test func theJSONHasTheProblemNextToTheReason() throws {
    let relay = ConnectReport.RelayServer(
      server: "203.0.113.20:3478", transport: .udp, allocated: false, code: nil,
      reason: "no TURN server at 203.0.113.20:3478", problem: "unreachable")
    let json = String(decoding: try JSONEncoder().encode(relay), as: UTF8.self)
    #expect(json.contains("\"problem\":\"unreachable\""))
    let none = ConnectReport.RelayServer(
      server: "203.0.113.20:3478", transport: .udp, allocated: true,
      relayedAddress: "203.0.113.20:50000")
    #expect(
      String(decoding: try JSONEncoder().encode(none), as: UTF8.self).contains("\"problem\":null"))
  }

  static let certificate = TLSPeerCertificate(
    subject: "turn.example.org", issuer: "Example CA", notValidAfter: "2027-01-31T12:00:00Z",
    subjectAlternativeNames: ["turn.example.org"])

  /// A turns: relay names the certificate it presented, in the text and the JSON; the event
  /// that carries it survives a round trip and its log line names it.
  @Test func aTLSRelayNamesItsCertificate() throws {
    var relay = ConnectReport.RelayServer(
      server: "203.0.113.10:443", transport: .tls, allocated: true,
      relayedAddress: "203.0.113.10:50000")
    relay.certificate = Self.certificate
    let report = ConnectReportBuilder(
      local: .init(profile: nil, candidates: [], turn: [.tcp], relays: [relay]),
      remote: .init(profile: nil, candidates: [])
    ).build()
    let text = ConnectReportText.render(report, width: 140)
    #expect(
      text.contains(
        "  TURN over TLS 203.0.113.10:443: certificate for turn.example.org, issued by Example CA, valid until 2027-01-31 12:00 UTC"
      ))
    let json = String(decoding: try JSONEncoder().encode(relay), as: UTF8.self)
    #expect(json.contains("\"transport\":\"tls\""))
    #expect(json.contains("\"certificate\":{"))
    // A relay without TLS has no certificate key.
    let plain = ConnectReport.RelayServer(
      server: "203.0.113.10:3478", transport: .udp, allocated: true)
    #expect(
      !String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("certificate"))
    let event = ConnectEvent.relayCertificate(
      server: TransportAddress(ip: .v4(0xCB00_710A), port: 443), certificate: Self.certificate)
    let decoded = try JSONDecoder().decode(
      ConnectEvent.self, from: try JSONEncoder().encode(event))
    #expect(decoded == event)
    #expect(event.logLine.hasPrefix("turns 203.0.113.10:443: TLS handshake done, certificate for"))
  }
}
