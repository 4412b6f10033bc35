import STUN

/// A port mapping a NAT-PMP or PCP gateway granted.
public struct PortMapping: Sendable, Hashable {
  /// UDP or TCP.
  public var proto: PortMappingProtocol
  /// The client's port the mapping forwards to.
  public var internalPort: UInt16
  /// The external address and port the gateway assigned (for NAT-PMP the address is the last
  /// one the gateway reported, or 0.0.0.0 before any).
  public var external: TransportAddress
  /// The lifetime granted, in seconds.
  public var lifetime: UInt32
  /// When the response granting it arrived.
  public var grantedAt: Instant

  /// A mapping with these fields.
  public init(
    proto: PortMappingProtocol, internalPort: UInt16, external: TransportAddress,
    lifetime: UInt32, grantedAt: Instant
  ) {
    self.proto = proto
    self.internalPort = internalPort
    self.external = external
    self.lifetime = lifetime
    self.grantedAt = grantedAt
  }

  /// When the mapping lapses unless renewed.
  public var expiresAt: Instant { grantedAt + .seconds(Int64(lifetime)) }

  /// When a client renewing at `fraction` of the lifetime (½ by RFC 6886 §3.3 and natscope's
  /// default for PCP) sends its renewal.
  public func renewalAt(fraction: Double = 0.5) -> Instant {
    let ns = Double(lifetime) * 1e9 * min(max(fraction, 0.05), 0.95)
    return grantedAt + .nanoseconds(Int64(ns))
  }
}

/// Identifies a mapping within one client: its protocol and internal port.
public struct PortMappingKey: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var proto: PortMappingProtocol
  public var internalPort: UInt16

  public init(_ proto: PortMappingProtocol, internalPort: UInt16) {
    self.proto = proto
    self.internalPort = internalPort
  }

  public static func < (a: Self, b: Self) -> Bool {
    (a.proto.rawValue, a.internalPort) < (b.proto.rawValue, b.internalPort)
  }

  /// For example `UDP port 4000`.
  public var description: String { "\(proto.upnpName) port \(internalPort)" }
}

/// Why a NAT-PMP request ended without the wanted result.
public struct NATPMPFailure: Error, Sendable, Hashable {
  /// What went wrong.
  public enum Reason: Sendable, Hashable {
    /// The gateway answered with a non-zero result code.
    case result(NATPMPResultCode)
    /// Nothing came back after `attempts` requests.
    case noAnswer(attempts: Int)
  }

  /// The gateway asked.
  public var gateway: TransportAddress
  /// The request's opcode.
  public var opcode: NATPMPOpcode
  /// The mapping concerned; nil for the external-address request.
  public var mapping: PortMappingKey?
  /// What went wrong.
  public var reason: Reason

  public init(
    gateway: TransportAddress, opcode: NATPMPOpcode, mapping: PortMappingKey?, reason: Reason
  ) {
    self.gateway = gateway
    self.opcode = opcode
    self.mapping = mapping
    self.reason = reason
  }

}

/// What a ``NATPMPClient`` reports.
public enum NATPMPClientEvent: Sendable, Hashable {
  /// The gateway reported its external IPv4 address (asked for, or announced unsolicited, in
  /// which case `rtt` is nil).
  case externalAddress(IPAddress, rtt: RTTSample?)
  /// A new mapping was granted.
  case mapped(PortMapping, rtt: RTTSample)
  /// An existing mapping was renewed (on schedule, or after a gateway restart).
  case renewed(PortMapping)
  /// The gateway confirmed the deletion of a mapping.
  case deleted(PortMappingKey)
  /// A mapping lapsed: its renewal got no answer before it expired.
  case expired(PortMappingKey)
  /// A request failed.
  case failed(NATPMPFailure)
  /// The gateway's epoch shows it restarted and lost its mappings; they are being renewed.
  case gatewayRestarted(secondsSinceEpoch: UInt32)
}

/// What a ``NATPMPClient`` asks its driver to do, or reports: the shared machine contract
/// (`.transmit` to the gateway, `.timeout` last when the client has a deadline, `.event`).
public typealias NATPMPClientOutput = MachineOutput<NATPMPClientEvent>

/// A sans-IO NAT-PMP client (RFC 6886) for one gateway.
///
/// It asks for the external address, creates, renews (at half the lifetime) and deletes UDP and
/// TCP mappings, retransmits each request after 250 ms, 500 ms, 1 s, … (RFC 6886 §3.1), and
/// watches the gateway's epoch: when it shows a restart, it reports it and renews every
/// mapping. Malformed packets, packets from other addresses and answers to nothing asked are
/// dropped and counted in ``stats``.
///
/// ```swift
/// var c = NATPMPClient(gateway: .v4(0xC0A8_0101))
/// out = c.requestExternalAddress(at: now)     // [.transmit([0, 0] to 192.168.1.1:5351), .timeout(+250 ms)]
/// out = c.map(.udp, internalPort: 4000, at: now)
/// out = c.handleInput(bytes, from: gateway, at: now) // [.event(.mapped(...)), .timeout(renewal)]
/// ```
public struct NATPMPClient: Sendable {
  /// Timing choices.
  public struct Configuration: Sendable, Hashable {
    /// The wait after the first request; each later wait doubles (RFC 6886: 250 ms).
    public var initialWait: Duration
    /// How many requests are sent before giving up (RFC 6886: 9, i.e. 127.75 s in all).
    public var maxRequests: Int
    /// The lifetime asked for new mappings, in seconds (RFC 6886 recommends 7200).
    public var requestedLifetime: UInt32
    /// Renew at this fraction of the granted lifetime (RFC 6886 §3.3: one half).
    public var renewalFraction: Double

    public init(
      initialWait: Duration = .milliseconds(250), maxRequests: Int = 9,
      requestedLifetime: UInt32 = 7200, renewalFraction: Double = 0.5
    ) {
      self.initialWait = max(.milliseconds(1), initialWait)
      self.maxRequests = min(max(1, maxRequests), 30)
      self.requestedLifetime = max(1, requestedLifetime)
      self.renewalFraction = min(max(renewalFraction, 0.05), 0.95)
    }
  }

  /// Counters for reports.
  public struct Stats: Sendable, Hashable, Codable {
    /// Packets that did not decode as NAT-PMP responses (short, garbage, wrong version).
    public var malformedDropped = 0
    /// Packets from an address other than the gateway's port 5351.
    public var wrongSourceDropped = 0
    /// Well-formed responses that answered no outstanding request.
    public var unmatchedDropped = 0
    /// Requests sent again after no answer.
    public var retransmissions = 0
    public init() {}
  }

  private enum Purpose: Sendable, Hashable {
    case externalAddress
    case create
    case renew
    case delete
  }

  private struct Pending: Sendable {
    var request: NATPMPRequest
    var purpose: Purpose
    var sendTimes: [Instant] = []
    var deadline: Instant = .zero
  }

  /// Where requests go: the gateway's address, port 5351.
  public let gateway: TransportAddress
  /// Timing.
  public let configuration: Configuration
  /// The external address last reported.
  public private(set) var externalAddress: IPAddress?
  /// Active mappings.
  public private(set) var mappings: [PortMappingKey: PortMapping] = [:]
  /// The gateway's epoch, as last seen.
  public private(set) var epoch = GatewayEpoch()
  /// Counters.
  public private(set) var stats = Stats()

  private var pending: [NATPMPRequestKey: Pending] = [:]
  private let waits: [Duration]

  /// A client for the gateway at `gateway` (its UDP port 5351).
  public init(gateway: IPAddress, configuration: Configuration = Configuration()) {
    self.init(
      gateway: TransportAddress(ip: gateway, port: NATPMPRequest.serverPort),
      configuration: configuration)
  }

  /// A client for a gateway listening at `gateway` (a test or simulation may use another port).
  public init(gateway: TransportAddress, configuration: Configuration = Configuration()) {
    self.gateway = gateway
    self.configuration = configuration
    self.waits = doublingWaits(initial: configuration.initialWait, count: configuration.maxRequests)
  }

  /// The instants at which a request is sent if never answered, and (last) when it fails,
  /// relative to its first send: 0, 250 ms, 750 ms, … 63.75 s, then 127.75 s by default.
  public var schedule: [Duration] {
    var t = Duration.zero
    var out: [Duration] = [t]
    for w in waits {
      t += w
      out.append(t)
    }
    return out
  }

  /// The earliest instant the client wants ``handleTimeout(at:)``.
  public var nextWake: Instant? {
    var all = pending.values.map(\.deadline)
    for (key, m) in mappings {
      all.append(m.expiresAt)
      if !isPending(key) { all.append(m.renewalAt(fraction: configuration.renewalFraction)) }
    }
    return all.min()
  }

  /// True while any request awaits an answer.
  public var hasPendingRequests: Bool { !pending.isEmpty }

  // MARK: - Requests

  /// Asks for the external address. Does nothing if that request is already outstanding.
  public mutating func requestExternalAddress(at now: Instant) -> [NATPMPClientOutput] {
    let out = start(.externalAddress, purpose: .externalAddress, at: now)
    return finish(out)
  }

  /// Asks for a mapping of `internalPort`, suggesting `suggestedExternalPort` (0: any), for
  /// `lifetime` seconds (nil: the configured lifetime). Replaces an outstanding request for the
  /// same mapping.
  public mutating func map(
    _ proto: PortMappingProtocol, internalPort: UInt16, suggestedExternalPort: UInt16 = 0,
    lifetime: UInt32? = nil, at now: Instant
  ) -> [NATPMPClientOutput] {
    let request = NATPMPRequest.map(
      proto, internalPort: internalPort, suggestedExternalPort: suggestedExternalPort,
      lifetime: max(1, lifetime ?? configuration.requestedLifetime))
    let purpose: Purpose =
      mappings[PortMappingKey(proto, internalPort: internalPort)] == nil
      ? .create : .renew
    let out = start(request, purpose: purpose, at: now)
    return finish(out)
  }

  /// Deletes the mapping of `internalPort` (a request with lifetime 0); renewals stop at once.
  /// An internal port of 0 deletes all of this client's mappings for the protocol.
  public mutating func delete(
    _ proto: PortMappingProtocol, internalPort: UInt16, at now: Instant
  ) -> [NATPMPClientOutput] {
    if internalPort == 0 {
      for key in mappings.keys where key.proto == proto { mappings[key] = nil }
    } else {
      mappings[PortMappingKey(proto, internalPort: internalPort)] = nil
    }
    let request = NATPMPRequest.map(
      proto, internalPort: internalPort, suggestedExternalPort: 0, lifetime: 0)
    let out = start(request, purpose: .delete, at: now)
    return finish(out)
  }

  // MARK: - Inputs

  /// Handles one datagram from `source`.
  public mutating func handleInput(
    _ bytes: [UInt8], from source: TransportAddress, at now: Instant
  )
    -> [NATPMPClientOutput]
  {
    guard source == gateway else {
      stats.wrongSourceDropped += 1
      return finish([])
    }
    guard let response = try? NATPMPResponse(bytes: bytes) else {
      stats.malformedDropped += 1
      return finish([])
    }
    var out: [NATPMPClientOutput] = []
    if !epoch.observe(response.secondsSinceEpoch, at: now) {
      out += restarted(response.secondsSinceEpoch, at: now)
    }
    out += dispatch(response, at: now)
    return finish(out)
  }

  /// Advances time: retransmissions, failures, renewals and expiries.
  public mutating func handleTimeout(at now: Instant) -> [NATPMPClientOutput] {
    var out: [NATPMPClientOutput] = []
    for key in pending.keys.sorted(by: {
      ($0.opcode, $0.internalPort) < ($1.opcode, $1.internalPort)
    }) {
      guard var p = pending[key], p.deadline <= now else { continue }
      if p.sendTimes.count < waits.count {
        stats.retransmissions += 1
        out += send(&p, at: now)
        pending[key] = p
        continue
      }
      pending[key] = nil
      let mapping = p.request.mappingKey
      if p.purpose == .renew, let mapping, mappings[mapping] != nil {
        continue  // the expiry check below reports it if it lapses
      }
      out.append(
        .event(
          .failed(
            NATPMPFailure(
              gateway: gateway, opcode: p.request.opcode, mapping: mapping,
              reason: .noAnswer(attempts: p.sendTimes.count)))))
    }
    for key in mappings.keys.sorted() {
      guard let m = mappings[key] else { continue }
      if m.expiresAt <= now {
        mappings[key] = nil
        let requestKey = NATPMPRequestKey(
          opcode: NATPMPOpcode.map(key.proto).rawValue, internalPort: key.internalPort)
        if pending[requestKey]?.purpose == .renew { pending[requestKey] = nil }
        out.append(.event(.expired(key)))
      } else if !isPending(key), m.renewalAt(fraction: configuration.renewalFraction) <= now {
        out += renew(m, at: now)
      }
    }
    return finish(out)
  }

  // MARK: - Internals

  private func isPending(_ key: PortMappingKey) -> Bool {
    pending[
      NATPMPRequestKey(opcode: NATPMPOpcode.map(key.proto).rawValue, internalPort: key.internalPort)
    ]
      != nil
  }

  private mutating func start(_ request: NATPMPRequest, purpose: Purpose, at now: Instant)
    -> [NATPMPClientOutput]
  {
    let key = request.requestKey
    if purpose == .externalAddress, pending[key] != nil { return [] }
    var p = Pending(request: request, purpose: purpose)
    let out = send(&p, at: now)
    pending[key] = p
    return out
  }

  private func send(_ p: inout Pending, at now: Instant) -> [NATPMPClientOutput] {
    let wait = waits[min(p.sendTimes.count, waits.count - 1)]
    p.sendTimes.append(now)
    p.deadline = now + wait
    return [.transmit(Transmit(bytes: p.request.bytes, to: gateway))]
  }

  private mutating func renew(_ m: PortMapping, at now: Instant) -> [NATPMPClientOutput] {
    let request = NATPMPRequest.map(
      m.proto, internalPort: m.internalPort, suggestedExternalPort: m.external.port,
      lifetime: configuration.requestedLifetime)
    return start(request, purpose: .renew, at: now)
  }

  private mutating func restarted(_ seconds: UInt32, at now: Instant) -> [NATPMPClientOutput] {
    var out: [NATPMPClientOutput] = [.event(.gatewayRestarted(secondsSinceEpoch: seconds))]
    for key in mappings.keys.sorted() where !isPending(key) {
      if let m = mappings[key] { out += renew(m, at: now) }
    }
    return out
  }

  private mutating func dispatch(_ response: NATPMPResponse, at now: Instant)
    -> [NATPMPClientOutput]
  {
    var key: NATPMPRequestKey
    switch response.body {
    case .externalAddress:
      key = NATPMPRequestKey(opcode: 0, internalPort: 0)
    case .map(let proto, let internalPort, _, _):
      key = NATPMPRequestKey(opcode: NATPMPOpcode.map(proto).rawValue, internalPort: internalPort)
    case .other(let op):
      key = NATPMPRequestKey(opcode: op.rawValue, internalPort: 0)
    }
    if pending[key] == nil, response.result != .success, key.internalPort == 0 {
      // An error reply cut after the epoch does not echo the internal port: it answers the
      // one outstanding request with that opcode, if there is exactly one.
      let candidates = pending.keys.filter { $0.opcode == key.opcode }
      if candidates.count == 1, let only = candidates.first { key = only }
    }
    guard let p = pending[key] else {
      // RFC 6886 §3.2.1: the gateway announces its address unsolicited after a change.
      if case .externalAddress(let ip?) = response.body, response.result == .success {
        let changed = ip != externalAddress
        externalAddress = ip
        return changed ? [.event(.externalAddress(ip, rtt: nil))] : []
      }
      stats.unmatchedDropped += 1
      return []
    }
    pending[key] = nil
    let rtt = RTTSample(
      duration: now - (p.sendTimes.first ?? now), isAmbiguous: p.sendTimes.count > 1)
    let mappingKey = p.request.mappingKey
    guard response.result == .success else {
      if p.purpose == .renew, let mappingKey { mappings[mappingKey] = nil }
      return [
        .event(
          .failed(
            NATPMPFailure(
              gateway: gateway, opcode: p.request.opcode, mapping: mappingKey,
              reason: .result(response.result))))
      ]
    }
    switch response.body {
    case .externalAddress(let ip?):
      externalAddress = ip
      for (k, var m) in mappings {
        m.external.ip = ip
        mappings[k] = m
      }
      return [.event(.externalAddress(ip, rtt: rtt))]
    case .map(let proto, let internalPort, let externalPort, let lifetime):
      let k = PortMappingKey(proto, internalPort: internalPort)
      if p.purpose == .delete || lifetime == 0 {
        mappings[k] = nil
        return [.event(.deleted(k))]
      }
      let m = PortMapping(
        proto: proto, internalPort: internalPort,
        external: TransportAddress(ip: externalAddress ?? .anyV4, port: externalPort),
        lifetime: lifetime, grantedAt: now)
      let existed = mappings[k] != nil
      mappings[k] = m
      return [.event(existed || p.purpose == .renew ? .renewed(m) : .mapped(m, rtt: rtt))]
    case .externalAddress(nil), .other:
      stats.unmatchedDropped += 1
      return []
    }
  }

  private func finish(_ out: [NATPMPClientOutput]) -> [NATPMPClientOutput] {
    guard let next = nextWake else { return out }
    return out + [.timeout(next)]
  }
}

extension NATPMPRequest {
  fileprivate var requestKey: NATPMPRequestKey {
    switch self {
    case .externalAddress: return .init(opcode: 0, internalPort: 0)
    case .map(let p, let port, _, _):
      return .init(opcode: NATPMPOpcode.map(p).rawValue, internalPort: port)
    }
  }

  /// The mapping a map request concerns; nil for the address request.
  var mappingKey: PortMappingKey? {
    switch self {
    case .externalAddress: return nil
    case .map(let p, let port, _, _): return PortMappingKey(p, internalPort: port)
    }
  }
}

/// Requests are keyed by opcode and internal port (0 for the address request), which is what a
/// response echoes.
private struct NATPMPRequestKey: Hashable, Sendable {
  var opcode: UInt8
  var internalPort: UInt16
}
