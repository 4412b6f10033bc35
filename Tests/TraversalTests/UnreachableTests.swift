import Foundation
import Report
import STUN
import Testing
import Traversal

/// ICMP errors end transactions at once, with the evidence, instead of after the window.
@Suite struct UnreachableTests {
  let refused = Unreachable(
    kind: .portUnreachable, destination: server, reporter: server.ip, at: at(30))

  @Test func aTransactionFailsAtOnceOnPortUnreachable() {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    _ = t.start(at: .zero)
    let out = t.handleUnreachable(refused)
    #expect(out == [.event(.failed(id: tid(1), .unreachable(refused, attempts: 1)))])
    #expect(t.state == .failed(.unreachable(refused, attempts: 1)))
    #expect(t.deadline == nil)
    #expect(t.evidence.outcome == .failed(.unreachable(refused, attempts: 1)))
    // Nothing more: no retransmission at the old deadline.
    #expect(t.handleTimeout(at: at(500)).isEmpty)
  }

  @Test func anErrorForAnotherDestinationOrAFinishedTransactionIsIgnored() throws {
    var t = ClientTransaction<[UInt8]>(id: tid(1), request: requestBytes, destination: server)
    #expect(t.handleUnreachable(refused).isEmpty)  // not started
    _ = t.start(at: .zero)
    var other = refused
    other.destination = TransportAddress(ip: server.ip, port: 3479)
    // Ignored: the call ends as every call of a waiting transaction does, with its deadline.
    #expect(t.handleUnreachable(other) == [.timeout(try #require(t.deadline))])
    #expect(t.state == .waiting)
    _ = t.handleInput(id: tid(1), from: server, at: at(10), response: [1])
    #expect(t.handleUnreachable(refused).isEmpty)
    #expect(t.state == .completed)
  }

  @Test func theTableFailsOnlyTransactionsToThatDestinationItIsToldConcern() {
    var table = TransactionTable<[UInt8]>()
    let elsewhere = TransportAddress(ip: .v4(0xC000_0202), port: 3478)
    _ = table.start(id: tid(1), request: requestBytes, to: server, at: .zero)
    _ = table.start(id: tid(2), request: requestBytes, to: server, at: .zero)
    _ = table.start(id: tid(3), request: requestBytes, to: elsewhere, at: .zero)
    // Transaction 2 was sent from another socket: the error does not concern it.
    let out = table.handleUnreachable(refused) { $0 != tid(2) }
    #expect(out.first == .event(.failed(id: tid(1), .unreachable(refused, attempts: 1))))
    #expect(out.count == 2)  // the failure, then the wake for the two still waiting
    #expect(table.pendingCount == 2)
    #expect(table[tid(2)]?.state == .waiting)
    #expect(table[tid(3)]?.state == .waiting)
  }

  @Test func anUnreachableOutcomeRoundTripsThroughJSON() throws {
    let outcome = BindingOutcome.unreachable(refused, attempts: 2)
    let data = try JSONEncoder().encode(outcome)
    #expect(try JSONDecoder().decode(BindingOutcome.self, from: data) == outcome)
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    #expect(object?["answered"] as? Bool == false)
    #expect(object?["attempts"] as? Int == 2)
  }

  @Test func theEvidenceSaysWhichErrorAndWhoSentIt() {
    #expect(refused.description == "ICMP port unreachable from 192.0.2.1")
    #expect(
      TransactionFailure.unreachable(refused, attempts: 1).description
        == "ICMP port unreachable from 192.0.2.1 after 1 request")
    let local = Unreachable(
      kind: .networkUnreachable, destination: server, reporter: nil, at: at(1))
    #expect(local.description == "no route to 192.0.2.1 from this host")
  }
}

/// A probe whose servers say "nothing listens here" ends with that, not with "UDP blocked".
@Suite struct ProbeUnreachableTests {
  func finish(_ outcomes: (TransportAddress) -> BindingOutcome, servers: [TransportAddress])
    throws -> ProbeReport
  {
    var probe = BehaviorProbe(
      configuration: ProbeConfiguration(servers: servers, localAddresses: [ModelNAT.hostIP]))
    var queries: [(ProbeQueryID, BindingQuery)] = []
    for case .event(.query(let id, let q)) in probe.start(at: .zero) { queries.append((id, q)) }
    var report: ProbeReport?
    for (id, q) in queries {
      for case .event(.finished(let r)) in probe.handleInput(
        outcomes(q.destination), localAddress: nil, for: id, at: at(5))
      {
        report = r
      }
    }
    return try #require(report)
  }

  @Test func aClosedPortIsNoServerNotUDPBlocked() throws {
    let closed = TransportAddress("127.0.0.1:9")!
    let u = Unreachable(
      kind: .portUnreachable, destination: closed, reporter: closed.ip, at: at(1))
    let report = try finish({ _ in .unreachable(u, attempts: 1) }, servers: [closed])
    #expect(!report.udpBlocked)
    #expect(report.mappedAddress == nil)
    #expect(report.unreachable == [u])
    // The sentences are the findings' (Report's ProbeFindings), from the same steps.
    #expect(
      ProbeFindings.apply(to: report).mapping.reason
        == "No STUN server answers at 127.0.0.1:9 (ICMP port unreachable from 127.0.0.1): that host is up but nothing listens on that port."
    )
    #expect(!ProbeFindings.apply(to: report).summary.contains("blocked"))
    #expect(report.profile.udpBlocked == false)
  }

  @Test func aNATThatAnswersHairpinWithICMPDoesNotHairpinAndTheReportSaysWhy() throws {
    var model = ModelNAT(mapping: .endpointIndependent, filtering: .addressAndPortDependent)
    model.refusesHairpinWithICMP = true
    let result = model.run(
      ProbeConfiguration(servers: [ModelNAT.primary], localAddresses: [ModelNAT.hostIP]))
    let report = try #require(result)
    #expect(report.hairpinning == false)
    #expect(
      ProbeFindings.apply(to: report).hairpinningReason.hasSuffix(
        "instead of passing the requests back inside, the NAT answered with ICMP port unreachable from 198.51.100.1."
      ))
    #expect(report.unreachable == [])  // test I was answered: nothing to say about the server
  }

  @Test func silenceFromEveryServerIsStillUDPBlocked() throws {
    let report = try finish(
      { _ in .noAnswer(attempts: 7, window: .seconds(39)) }, servers: [ModelNAT.primary])
    #expect(report.udpBlocked)
    #expect(report.unreachable == [])
  }

  @Test func oneRefusalAndOneSilentServerSaySoBoth() throws {
    let closed = TransportAddress("198.51.100.7:3478")!
    let u = Unreachable(
      kind: .portUnreachable, destination: closed, reporter: closed.ip, at: at(1))
    let report = try finish(
      {
        $0 == closed ? .unreachable(u, attempts: 1) : .noAnswer(attempts: 7, window: .seconds(39))
      },
      servers: [closed, ModelNAT.primary])
    #expect(!report.udpBlocked)
    // Each server's own sentence: the refusal, then the silence.
    let reason = ProbeFindings.apply(to: report).mapping.reason
    #expect(
      reason.hasPrefix("No STUN server answers at 198.51.100.7:3478"), Comment(rawValue: reason))
    #expect(reason.contains("No answer from"), Comment(rawValue: reason))
  }
}
