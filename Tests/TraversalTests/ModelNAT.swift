import STUN
import Testing
import Traversal

/// A small model of one host behind one NAT talking to an RFC 5780 server, at the level of
/// `BindingQuery` → `BindingOutcome`. It lets the probe machine be tested without packets; the
/// packet-level proof runs on the simulated network.
struct ModelNAT {
  var mapping: MappingBehavior
  var filtering: FilteringBehavior
  var hairpinning = false
  var natPresent = true
  var blocked = false
  var rfc5780Server = true
  var serverIgnoresChangeRequest = false
  /// A NAT that does not hairpin answers a datagram to its own public address with ICMP port
  /// unreachable (a Linux router without hairpin rules does), instead of staying silent.
  var refusesHairpinWithICMP = false

  init(
    mapping: MappingBehavior, filtering: FilteringBehavior, hairpinning: Bool = false,
    natPresent: Bool = true, blocked: Bool = false, rfc5780Server: Bool = true,
    serverIgnoresChangeRequest: Bool = false
  ) {
    self.mapping = mapping
    self.filtering = filtering
    self.hairpinning = hairpinning
    self.natPresent = natPresent
    self.blocked = blocked
    self.rfc5780Server = rfc5780Server
    self.serverIgnoresChangeRequest = serverIgnoresChangeRequest
  }

  static let primary = TransportAddress("203.0.113.10:3478")!
  static let alternate = TransportAddress("203.0.113.11:3479")!
  static let publicIP = IPAddress("198.51.100.1")!
  static let hostIP = IPAddress("192.168.1.10")!

  private struct Mapping {
    var publicPort: UInt16
    var socket: ProbeSocketID
    var sentTo: Set<TransportAddress> = []
  }

  private var mappings: [String: Mapping] = [:]
  private var nextPort: UInt16 = 61000

  func localAddress(_ socket: ProbeSocketID) -> TransportAddress {
    TransportAddress(
      ip: natPresent ? Self.hostIP : Self.publicIP, port: UInt16(50000 + socket.rawValue))
  }

  /// Sends a packet out through the NAT; returns the public source address it leaves with.
  private mutating func outbound(_ socket: ProbeSocketID, to dest: TransportAddress)
    -> TransportAddress
  {
    guard natPresent else { return localAddress(socket) }
    let key: String
    switch mapping {
    case .endpointIndependent: key = "\(socket)"
    case .addressDependent: key = "\(socket)-\(dest.ip)"
    case .addressAndPortDependent: key = "\(socket)-\(dest)"
    }
    if mappings[key] == nil {
      mappings[key] = Mapping(publicPort: nextPort, socket: socket)
      nextPort += 1
    }
    mappings[key]?.sentTo.insert(dest)
    return TransportAddress(ip: Self.publicIP, port: mappings[key]?.publicPort ?? 0)
  }

  /// Delivers a packet from `source` to public address `dest`; returns the socket it reaches.
  private func inbound(from source: TransportAddress, to dest: TransportAddress) -> ProbeSocketID? {
    guard natPresent else {
      let socket = ProbeSocketID(Int(dest.port) - 50000)
      return filteringAllowsWithoutNAT(socket: socket, source: source) ? socket : nil
    }
    guard dest.ip == Self.publicIP,
      let m = mappings.values.first(where: { $0.publicPort == dest.port })
    else { return nil }
    switch filtering {
    case .endpointIndependent: return m.socket
    case .addressDependent: return m.sentTo.contains { $0.ip == source.ip } ? m.socket : nil
    case .addressAndPortDependent: return m.sentTo.contains(source) ? m.socket : nil
    }
  }

  private func filteringAllowsWithoutNAT(socket: ProbeSocketID, source: TransportAddress) -> Bool {
    filtering == .endpointIndependent || source == Self.primary
      || !sentFrom(socket).isEmpty
        && sentFrom(socket).contains(source)
  }

  private var firewallSent: [ProbeSocketID: Set<TransportAddress>] = [:]
  private func sentFrom(_ socket: ProbeSocketID) -> Set<TransportAddress> {
    firewallSent[socket] ?? []
  }

  mutating func answer(_ q: BindingQuery) -> BindingOutcome {
    if blocked { return .noAnswer(attempts: 7, window: .milliseconds(600)) }
    if !natPresent { firewallSent[q.socket, default: []].insert(q.destination) }
    let publicSource = outbound(q.socket, to: q.destination)
    // Hairpinning: the destination is our own public address.
    if q.destination.ip == Self.publicIP {
      guard hairpinning, let target = inbound(from: publicSource, to: q.destination) else {
        if refusesHairpinWithICMP {
          return .unreachable(
            Unreachable(
              kind: .portUnreachable, destination: q.destination, reporter: Self.publicIP,
              at: .zero),
            attempts: 1)
        }
        return .noAnswer(attempts: 7, window: .milliseconds(600))
      }
      // The target socket answers; the answer goes back through the NAT the same way.
      let answerSource = outbound(target, to: publicSource)
      guard inbound(from: answerSource, to: publicSource) != nil else {
        return .noAnswer(attempts: 7, window: .milliseconds(600))
      }
      return .answered(
        BindingAnswer(
          source: answerSource, arrivedOn: q.socket, xorMappedAddress: publicSource,
          rtt: .milliseconds(1), attempts: 1))
    }
    var from = q.destination
    if !serverIgnoresChangeRequest && rfc5780Server {
      let other = q.destination.ip == Self.primary.ip ? Self.alternate : Self.primary
      if q.changeIP { from.ip = other.ip }
      if q.changePort {
        from.port =
          q.destination.port == Self.primary.port ? Self.alternate.port : Self.primary.port
      }
    }
    guard inbound(from: from, to: publicSource) != nil else {
      return .noAnswer(attempts: 7, window: .milliseconds(600))
    }
    return .answered(
      BindingAnswer(
        source: from, arrivedOn: q.socket, xorMappedAddress: publicSource,
        otherAddress: rfc5780Server ? Self.alternate : nil, software: "model",
        rtt: .milliseconds(1), attempts: 1))
  }

  /// Runs a probe to completion against this model (bounded).
  mutating func run(_ configuration: ProbeConfiguration) -> ProbeReport? {
    var probe = BehaviorProbe(configuration: configuration)
    var now = Instant.zero
    var queue = probe.start(at: now)
    var wakes: [Instant] = []
    for _ in 0..<10_000 {
      if queue.isEmpty {
        guard let next = wakes.min() else { return nil }
        wakes.removeAll { $0 == next }
        now = max(now, next)
        queue = probe.handleTimeout(at: now)
        #expect(queue.timeout() == probe.nextDeadline)
        continue
      }
      let action = queue.removeFirst()
      switch action {
      case .event(.query(let id, let q)):
        now = now + .milliseconds(1)
        let outcome = answer(q)
        let outs = probe.handleInput(
          outcome, localAddress: localAddress(q.socket), for: id, at: now)
        // The contract: the call ends with the probe's deadline, if it has one.
        #expect(outs.timeout() == probe.nextDeadline)
        if let next = probe.nextDeadline { #expect(outs.last == .timeout(next)) }
        queue += outs
      case .timeout(let at): wakes.append(at)
      case .event(.finished(let report)): return report
      case .event(.stepStarted), .event(.stepFinished): break
      case .transmit: Issue.record("the probe never transmits; its driver's STUN client does")
      }
    }
    return nil
  }
}
