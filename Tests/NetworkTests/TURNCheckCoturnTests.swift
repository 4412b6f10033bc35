import Foundation
import Network
import Report
import STUN
import Sessions
import Testing
import Traversal

/// `TURNCheckSession` (what `natscope turn` runs) against a real coturn on loopback.
@Suite(
  "TURN check against a real coturn on loopback", .serialized, .timeLimit(.minutes(2)),
  // Skipped when coturn is not installed or loopback cannot be bound here: never a failure.
  .enabled(if: turnserverPath != nil, "coturn's turnserver is not installed"),
  .enabled(
    if: Coturn.bindable(port: 0, type: Int32(SOCK_DGRAM.rawValue)),
    "cannot bind 127.0.0.1 here"))
struct TURNCheckCoturnTests {
  func check(
    _ coturn: Coturn, transports: [TURNCheckTarget.Transport] = [.udp],
    credentials: TURNCredentials = TURNCredentials(username: "natscope", password: "secret")
  ) throws -> TURNCheckReport {
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let server = coturn.address
    return try runtime.run(timeout: .seconds(60)) { rt, done in
      let session = TURNCheckSession(
        runtime: rt,
        targets: transports.map {
          TURNCheckTarget(
            uri: "turn:\(server)?transport=\($0.rawValue)", address: server, transport: $0,
            credentials: credentials)
        }, connector: rt.streamConnector())
      session.start { done.succeed($0) }
    }
  }

  @Test func aWorkingServerOverUDPAndTCP() throws {
    let coturn = try Coturn.launch(staleNonce: 600)
    defer { coturn.stop() }
    let report = try check(coturn, transports: [.udp, .tcp])
    #expect(report.servers.map(\.transport) == ["udp", "tcp"])
    for s in report.servers {
      #expect(s.problems == [], "\(s.problems)\n\(coturn.logTail)")
      #expect(s.reachable && s.authenticated)
      #expect(s.realm == "natscope.test")
      #expect(s.software?.hasPrefix("Coturn") == true)
      #expect(s.rttMs != nil)
      #expect(s.relayedAddress?.ip == .loopbackV4)
      #expect(s.reflexiveAddress?.ip == .loopbackV4)
      #expect(s.refreshed == true)
      #expect(s.relays == true)
      #expect(s.relay?.indicationsReceived == 5)
      #expect(s.relay?.channelReceived == 5)
      #expect(s.relay?.rttMs != nil)
      #expect(s.released)
    }
    #expect(report.verdict == .works)
    let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    #expect(!json.contains("secret"))
  }

  @Test func aWrongPasswordIsUnauthorized() throws {
    let coturn = try Coturn.launch(staleNonce: 600)
    defer { coturn.stop() }
    let report = try check(
      coturn, credentials: TURNCredentials(username: "natscope", password: "not-it"))
    let s = try #require(report.servers.first)
    #expect(s.reachable)
    #expect(!s.authenticated)
    #expect(s.problems.map(\.code) == [.unauthorized])
    #expect(report.verdict == .broken)
  }

  @Test func restAPISharedSecret() throws {
    let coturn = try Coturn.launch(
      staleNonce: 600, auth: ["--use-auth-secret", "--static-auth-secret=north-secret"])
    defer { coturn.stop() }
    let now = Int64(Date().timeIntervalSince1970)
    let good = try check(
      coturn,
      credentials: .restAPI(secret: "north-secret", user: "alice", now: now))
    #expect(good.verdict == .works, "\(good.servers.first?.problems ?? [])\n\(coturn.logTail)")
    let wrong = try check(
      coturn, credentials: .restAPI(secret: "south-secret", user: "alice", now: now))
    #expect(wrong.servers.first?.problems.map(\.code) == [.unauthorized])
    // Expired a minute ago.
    let expired = try check(
      coturn, credentials: .restAPI(secret: "north-secret", user: "alice", now: now, validity: -60))
    #expect(expired.servers.first?.problems.map(\.code) == [.unauthorized])
  }

  @Test func externalIPMisconfigurationIsFlagged() throws {
    let coturn = try Coturn.launch(staleNonce: 600, extra: ["--external-ip=10.99.99.99"])
    defer { coturn.stop() }
    let report = try check(coturn)
    let s = try #require(report.servers.first)
    #expect(s.relayedAddress?.ip == IPAddress("10.99.99.99"))
    let problem = try #require(s.problems.first { $0.code == .relayedAddressUnroutable })
    #expect(problem.message.contains("10.99.99.99") && problem.message.contains("127.0.0.1"))
    #expect(report.verdict == .broken)
  }

  @Test func aPeerPolicy403IsNotAFailure() throws {
    // Without --allow-loopback-peers coturn refuses permissions for loopback peers (403).
    let coturn = try Coturn.launch(staleNonce: 600, allowLoopbackPeers: false)
    defer { coturn.stop() }
    let report = try check(coturn)
    let s = try #require(report.servers.first)
    #expect(s.peerForbidden)
    #expect(s.relays == nil)
    #expect(s.problems == [])
    // Not a failure, but relaying was not tested: the verdict does not claim it (issue 18 #1).
    #expect(report.verdict == .unverified)
    #expect(report.text.contains("policy"))
  }
}
