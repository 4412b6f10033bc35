import STUN
import Testing
import Traversal

/// Two (or more) ICE agents wired back to back on a manual clock: every `.send` becomes a
/// datagram delivered after `delay` unless `drop` says otherwise; an optional static NAT
/// rewrites the source of datagrams from a private base.
final class ICEWire {
  struct Datagram {
    var at: Instant
    var seq: Int
    var bytes: [UInt8]
    var from: TransportAddress
    var to: TransportAddress
  }

  var agents: [ICEAgent]
  var now: Instant = .zero
  var delay: Duration = .milliseconds(10)
  /// Decides, per datagram (after NAT translation of the source), whether it is lost.
  var drop: (_ from: TransportAddress, _ to: TransportAddress, _ bytes: [UInt8]) -> Bool = {
    _, _, _ in false
  }
  /// Private base → public address (a static, endpoint-independent NAT).
  var nat: [TransportAddress: TransportAddress] = [:]
  /// Which agent owns a local base.
  var owner: [TransportAddress: Int] = [:]
  private(set) var events: [[(at: Instant, event: ICEEvent)]]
  private(set) var sends: [[(at: Instant, from: TransportAddress, to: TransportAddress)]]
  private var wakes: [Instant?]
  private var inFlight: [Datagram] = []
  private var seq = 0

  init(_ agents: [ICEAgent]) {
    self.agents = agents
    events = Array(repeating: [], count: agents.count)
    sends = Array(repeating: [], count: agents.count)
    wakes = Array(repeating: nil, count: agents.count)
  }

  /// Runs `body` on agent `k` and carries out its outputs.
  func with(_ k: Int, _ body: (inout ICEAgent, Instant) -> [ICEAgentOutput]) {
    let outs = body(&agents[k], now)
    apply(k, outs)
  }

  func apply(_ k: Int, _ outs: [ICEAgentOutput]) {
    // The contract: the call that produced `outs` ended with the agent's deadline; every
    // transmit names its base, and every check or answer its transaction.
    #expect(outs.timeout() == agents[k].nextDeadline)
    if let next = agents[k].nextDeadline { #expect(outs.last == .timeout(next)) }
    for t in outs.transmits() {
      #expect(t.from != nil)
      if let m = try? Message(bytes: t.bytes), m.messageClass != .indication {
        #expect(t.transactionID == m.transactionID)
      }
    }
    for o in outs {
      switch o {
      case .transmit(let t):
        let (bytes, to) = (t.bytes, t.to)
        guard let from = t.from else { continue }
        sends[k].append((now, from, to))
        let source = nat[from] ?? from
        if drop(source, to, bytes) { continue }
        seq += 1
        inFlight.append(Datagram(at: now + delay, seq: seq, bytes: bytes, from: source, to: to))
      case .timeout(let at):
        wakes[k] = at
      case .event(let e):
        events[k].append((now, e))
      }
    }
  }

  /// Runs until nothing is pending or `deadline` is reached.
  /// Loop iterations of the last ``run(until:)`` (a machine that keeps asking to be woken at
  /// the same instant would never let virtual time advance).
  private(set) var iterations = 0

  func run(until deadline: Instant) {
    iterations = 0
    while true {
      iterations += 1
      if iterations > 100_000 {
        Issue.record("the wire did not settle: an agent keeps waking at \(now)")
        break
      }
      let nextPacket = inFlight.map(\.at).min()
      let nextWake = wakes.compactMap { $0 }.min()
      guard let next = [nextPacket, nextWake].compactMap({ $0 }).min(), next <= deadline else {
        break
      }
      now = next
      let due = inFlight.filter { $0.at <= now }.sorted { $0.seq < $1.seq }
      inFlight.removeAll { $0.at <= now }
      for d in due {
        let destination = nat.first { $0.value == d.to }?.key ?? d.to
        guard let k = owner[destination] else { continue }
        apply(k, agents[k].handleInput(d.bytes, from: d.from, to: destination, at: now))
      }
      for k in agents.indices {
        if let w = wakes[k], w <= now {
          wakes[k] = nil
          apply(k, agents[k].handleTimeout(at: now))
        }
      }
    }
    if deadline != .distantFuture { now = Swift.max(now, deadline) }
  }

  func run(for d: Duration) { run(until: now + d) }

  /// The first time agent `k` entered `state`.
  func time(_ k: Int, reached state: ICEAgentState) -> Instant? {
    events[k].first {
      if case .agentStateChanged(_, let to, _) = $0.event { return to == state }
      return false
    }?.at
  }

  /// Every event of agent `k` without times.
  func eventList(_ k: Int) -> [ICEEvent] { events[k].map(\.event) }
}

/// Builders for the unit tests.
enum ICEFixture {
  static func address(_ s: String) -> TransportAddress {
    TransportAddress(s) ?? TransportAddress(ip: .anyV4, port: 0)
  }

  static let fast = ICEConfiguration(
    consentInterval: .milliseconds(500), disconnectedTimeout: .seconds(2),
    consentTimeout: .seconds(4), keepaliveInterval: .seconds(1))

  /// Two agents with host candidates, credentials exchanged, candidates exchanged, both ends
  /// of candidates known, and wired (not started).
  static func pair(
    aHosts: [String] = ["10.0.0.1:1000"], bHosts: [String] = ["10.0.0.2:2000"],
    aRole: ICERole = .controlling, bRole: ICERole = .controlled,
    configuration: ICEConfiguration = fast, bConfiguration: ICEConfiguration? = nil,
    seed: UInt64 = 1, exchange: Bool = true
  ) -> ICEWire {
    let a = ICEAgent(
      role: aRole, configuration: configuration, generator: SeededGenerator(seed: seed))
    let b = ICEAgent(
      role: bRole, configuration: bConfiguration ?? configuration,
      generator: SeededGenerator(seed: seed &+ 1000))
    let wire = ICEWire([a, b])
    for (i, h) in aHosts.enumerated() {
      wire.owner[address(h)] = 0
      wire.with(0) { $0.addHostCandidate(address(h), interfaceIndex: i, at: $1) }
    }
    for (i, h) in bHosts.enumerated() {
      wire.owner[address(h)] = 1
      wire.with(1) { $0.addHostCandidate(address(h), interfaceIndex: i, at: $1) }
    }
    let ca = wire.agents[0].localCredentials
    let cb = wire.agents[1].localCredentials
    wire.with(0) { $0.setRemoteCredentials(cb, at: $1) }
    wire.with(1) { $0.setRemoteCredentials(ca, at: $1) }
    if exchange {
      for c in wire.agents[1].localCandidates { wire.with(0) { $0.addRemoteCandidate(c, at: $1) } }
      for c in wire.agents[0].localCandidates { wire.with(1) { $0.addRemoteCandidate(c, at: $1) } }
      for k in 0..<2 {
        wire.with(k) { $0.endOfLocalCandidates(at: $1) + $0.endOfRemoteCandidates(at: $1) }
      }
    }
    return wire
  }
}
