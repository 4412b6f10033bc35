import Report
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// The sessions' one timer-and-routing helper and their event queue, on the simulated runtime.
@Suite struct MachineDriverTests {
  private func host() throws -> (VirtualNetwork, SimulatedHost) {
    let net = VirtualNetwork(seed: 3)
    let internet = net.addRealm("internet")
    let host = try net.addHost("h", in: internet, address: ip("203.0.113.5"))
    return (net, host)
  }

  private final class Record {
    var fired: [Instant] = []
    var sent: [Transmit] = []
  }

  @Test func armsAtTheLastTimeoutMovesItAndCancelsWhenACallHasNone() throws {
    let (net, host) = try host()
    defer { withExtendedLifetime(net) {} }
    let record = Record()
    let driver = MachineDriver<Int>(
      runtime: host, transmit: { record.sent.append($0) },
      timeout: { record.fired.append($0) })
    let t0 = host.now
    let request = Transmit(
      bytes: [1], from: ep("203.0.113.5:4000"), to: ep("192.0.2.1:3478"),
      transactionID: TransactionID(high: 1, low: 2))
    let events = driver.carryOut([
      .transmit(request), .event(7), .event(8), .timeout(t0 + .seconds(1)),
    ])
    #expect(events == [7, 8])
    #expect(record.sent == [request])
    #expect(driver.deadline == t0 + .seconds(1))

    // A later call moves the deadline: the old timer does not fire.
    driver.carryOut([.timeout(t0 + .seconds(2))])
    #expect(driver.deadline == t0 + .seconds(2))
    _ = net.run(until: t0 + .milliseconds(1500))
    #expect(record.fired.isEmpty)

    // A call with no timeout means the machine has no deadline: the timer is cancelled.
    driver.carryOut([])
    #expect(driver.deadline == nil)
    _ = net.run(until: t0 + .seconds(3))
    #expect(record.fired.isEmpty)

    // Armed again, it fires once, at its deadline, with the runtime's time.
    driver.carryOut([.timeout(t0 + .seconds(4))])
    driver.carryOut([.timeout(t0 + .seconds(4))])  // unchanged: the same timer stays
    _ = net.run(until: t0 + .seconds(6))
    #expect(record.fired == [t0 + .seconds(4)])
    #expect(driver.deadline == nil)

    // Stopped, it neither sends nor arms.
    driver.stop()
    #expect(driver.carryOut([.transmit(request), .event(9), .timeout(t0 + .seconds(7))]).isEmpty)
    #expect(driver.deadline == nil)
    _ = net.run(until: t0 + .seconds(8))
    #expect(record.fired == [t0 + .seconds(4)])
    #expect(record.sent == [request])
  }

  @Test func aTimeoutHandlerThatRearmsKeepsTheNewDeadline() throws {
    let (net, host) = try host()
    defer { withExtendedLifetime(net) {} }
    let record = Record()
    let t0 = host.now
    final class Holder { var driver: MachineDriver<Never>? }
    let holder = Holder()
    holder.driver = MachineDriver<Never>(
      runtime: host, transmit: { _ in },
      timeout: { now in
        record.fired.append(now)
        // Like a machine's handleTimeout: the next deadline, until three have passed.
        holder.driver?.carryOut(record.fired.count < 3 ? [.timeout(now + .seconds(1))] : [])
      })
    holder.driver?.carryOut([.timeout(t0 + .seconds(1))])
    _ = net.run(until: t0 + .seconds(10))
    #expect(record.fired == [1, 2, 3].map { t0 + .seconds($0) })
    #expect(holder.driver?.deadline == nil)
  }

  @Test func eventsAreNeverDeliveredReentrantly() {
    final class Holder { var drain: EventDrain<Int>? }
    let holder = Holder()
    var log: [String] = []
    holder.drain = EventDrain { n in
      log.append("start \(n)")
      if n == 1 {
        holder.drain?.post(2)
        log.append("posted 2")
      }
      log.append("end \(n)")
    }
    holder.drain?.post(contentsOf: [1, 3])
    #expect(
      log == ["start 1", "posted 2", "end 1", "start 3", "end 3", "start 2", "end 2"])
    #expect(holder.drain?.pendingCount == 0)
    #expect(holder.drain?.isDraining == false)
  }

  /// An ICE session's handler that calls back into the session (here: closes it on the first
  /// candidate) returns before the events its call caused are delivered.
  @Test func anICESessionDeliversEventsAfterTheHandlerThatCalledBackReturns() throws {
    let lab = try SimulatedLab(seed: 1)
    let host = try lab.addSite("a", behavior: .fullCone)
    let session = ICESession(
      runtime: host, role: .controlling,
      configuration: ICESessionConfiguration(stunServers: [lab.stunServerAddress]))
    var trace: [String] = []
    session.onEvent = { entry in
      switch entry.event.agentEvent {
      case .candidateGathered?:
        trace.append("gathered")
        if trace.count == 1 {
          session.close()
          trace.append("close returned")
        }
      case .agentStateChanged(_, let to, _)?:
        trace.append("state \(to.rawValue)")
      default:
        break
      }
    }
    session.start()
    lab.network.run(for: .seconds(2))
    #expect(session.state == .closed)
    #expect(Array(trace.prefix(2)) == ["gathered", "close returned"])
    #expect(trace.last == "state closed")
    #expect(trace.filter { $0 == "close returned" }.count == 1)
  }

  @Test func removeAllDuringADeliveryDropsWhatIsQueued() {
    final class Holder { var drain: EventDrain<Int>? }
    let holder = Holder()
    var delivered: [Int] = []
    holder.drain = EventDrain { n in
      delivered.append(n)
      if n == 1 { holder.drain?.removeAll() }
    }
    holder.drain?.post(contentsOf: [0, 1, 2, 3])
    #expect(delivered == [0, 1])
    holder.drain?.post(4)
    #expect(delivered == [0, 1, 4])
  }
}
