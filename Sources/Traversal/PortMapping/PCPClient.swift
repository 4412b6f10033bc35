import STUN

/// How a PCP client retransmits (RFC 6887 §8.1.1): the first wait is `(1 + RAND) · IRT`, each
/// later one `(1 + RAND) · min(2 · previous, MRT)`, where RAND is drawn uniformly from
/// [-0.1, +0.1] (in steps of 0.001) for every wait.
public struct PCPRetransmission: Sendable, Hashable {
  /// IRT: the initial wait (RFC 6887: 3 s).
  public var initial: Duration
  /// MRT: the largest wait before jitter (RFC 6887: 1024 s).
  public var maximum: Duration
  /// MRC: how many requests are sent before giving up; nil never gives up (the RFC's 0).
  public var maxRequests: Int?
  /// MRD: how long after the first request to give up; nil never gives up (the RFC's 0).
  public var maxDuration: Duration?

  public init(
    initial: Duration = .seconds(3), maximum: Duration = .seconds(1024), maxRequests: Int? = nil,
    maxDuration: Duration? = nil
  ) {
    self.initial = max(.milliseconds(1), initial)
    self.maximum = max(self.initial, maximum)
    self.maxRequests = maxRequests.map { max(1, $0) }
    self.maxDuration = maxDuration.map { max(.milliseconds(1), $0) }
  }

  /// RFC 6887's values: IRT 3 s, MRT 1024 s, no limit on requests or duration.
  public static let rfc6887 = PCPRetransmission()

  /// The next wait: `(1 + RAND) · base`, with `base` the IRT for the first request and
  /// `min(2 · previous, MRT)` afterwards. RAND is `(n mod 201 − 100) / 1000` for one draw `n`.
  func nextWait(previous: Duration?, using generator: inout some RandomNumberGenerator) -> Duration
  {
    let base: Int64
    if let previous {
      base = min(saturatingMultiply(previous.nanoseconds, 2), maximum.nanoseconds)
    } else {
      base = initial.nanoseconds
    }
    let permille = Int64(generator.next() % 201) - 100
    return .nanoseconds(base / 1000 * (1000 + permille) + base % 1000 * (1000 + permille) / 1000)
  }
}

/// Why a PCP request ended without the wanted result.
public struct PCPFailure: Error, Sendable, Hashable {
  /// What went wrong.
  public enum Reason: Sendable, Hashable {
    /// The server answered with a non-zero result code; `lifetime` is how long (seconds) the
    /// server expects the error to last.
    case result(PCPResultCode, lifetime: UInt32)
    /// Nothing came back after `attempts` requests.
    case noAnswer(attempts: Int)
  }

  /// The server asked.
  public var server: TransportAddress
  /// The opcode of the request.
  public var opcode: PCPOpcode
  /// The mapping concerned; nil for ANNOUNCE.
  public var mapping: PortMappingKey?
  /// What went wrong.
  public var reason: Reason

  public init(
    server: TransportAddress, opcode: PCPOpcode, mapping: PortMappingKey?, reason: Reason
  ) {
    self.server = server
    self.opcode = opcode
    self.mapping = mapping
    self.reason = reason
  }

}

/// What a ``PCPClient`` reports.
public enum PCPClientEvent: Sendable, Hashable {
  /// A new mapping was granted.
  case mapped(PortMapping, rtt: RTTSample)
  /// A mapping was renewed (on schedule, or after a server restart).
  case renewed(PortMapping)
  /// The server confirmed a deletion.
  case deleted(PortMappingKey)
  /// A mapping lapsed: its renewal got no answer before it expired.
  case expired(PortMappingKey)
  /// A request failed.
  case failed(PCPFailure)
  /// The server does not speak PCP version 2; it speaks `serverVersion`. Version 0 means a
  /// NAT-PMP-only gateway: the caller should fall back to ``NATPMPClient``. Every request
  /// stopped.
  case versionNotSupported(serverVersion: UInt8)
  /// The server's epoch shows it restarted (or it announced so): mappings are being renewed.
  case gatewayRestarted(epochTime: UInt32)
  /// The server answered our ANNOUNCE request: it speaks PCP.
  case announced(epochTime: UInt32, rtt: RTTSample)
}

/// What a ``PCPClient`` asks its driver to do, or reports: the shared machine contract
/// (`.transmit` to the server, `.timeout` last when the client has a deadline, `.event`).
public typealias PCPClientOutput = MachineOutput<PCPClientEvent>

/// A sans-IO PCP client (RFC 6887) for MAP mappings on one server.
///
/// It creates mappings with a random nonce, retransmits on the §8.1.1 schedule with jitter from
/// the injected generator, renews at half the granted lifetime (configurable), deletes with
/// lifetime 0, and validates the server's epoch on every response (§8.5). A server restart —
/// from an invalid epoch or an unsolicited ANNOUNCE — is reported and every mapping renewed. A
/// NAT-PMP-only gateway (version 0, result 1) is reported as
/// `.versionNotSupported(serverVersion: 0)` so the caller can fall back.
///
/// ```swift
/// var c = PCPClient(server: .v4(0xC0A8_0101), clientAddress: .v4(0xC0A8_010A))
/// out = c.map(.udp, internalPort: 4000, at: now)  // [.transmit(60 bytes), .timeout(~now + 3 s)]
/// out = c.handleInput(bytes, from: c.server, at: now)  // [.event(.mapped(...)), .timeout(renewal)]
/// ```
public struct PCPClient: Sendable {
  /// Lifetime and timing choices.
  public struct Configuration: Sendable, Hashable {
    /// How requests are retransmitted.
    public var retransmission: PCPRetransmission
    /// The lifetime asked for, in seconds.
    public var requestedLifetime: UInt32
    /// Renew at this fraction of the granted lifetime.
    public var renewalFraction: Double
    /// After an ANNOUNCE says the server restarted, each mapping is renewed after a random
    /// delay up to this long (RFC 6887 §14.1.3: 5 s), so clients do not all answer at once.
    public var announceRenewalSpread: Duration

    public init(
      retransmission: PCPRetransmission = .rfc6887, requestedLifetime: UInt32 = 7200,
      renewalFraction: Double = 0.5, announceRenewalSpread: Duration = .seconds(5)
    ) {
      self.retransmission = retransmission
      self.requestedLifetime = max(1, requestedLifetime)
      self.renewalFraction = min(max(renewalFraction, 0.05), 0.95)
      self.announceRenewalSpread = max(.zero, announceRenewalSpread)
    }
  }

  /// Counters for reports.
  public struct Stats: Sendable, Hashable, Codable {
    /// Packets that did not decode as PCP responses.
    public var malformedDropped = 0
    /// Packets from an address other than the server's.
    public var wrongSourceDropped = 0
    /// Well-formed responses that answered no outstanding request (wrong nonce, late).
    public var unmatchedDropped = 0
    /// Requests sent again after no answer.
    public var retransmissions = 0
    public init() {}
  }

  private enum Purpose: Sendable, Hashable {
    case create
    case renew
    case delete
    case announce
  }

  private struct Transmission: Sendable {
    var bytes: [UInt8]
    var purpose: Purpose
    var sendTimes: [Instant] = []
    var lastWait: Duration?
    var deadline: Instant = .zero
  }

  private struct MapState: Sendable {
    var nonce: [UInt8]
    var suggestedExternalPort: UInt16
    var suggestedExternalAddress: IPAddress
    var lifetime: UInt32
    var granted: PortMapping?
    var tx: Transmission?
    var renewAt: Instant?
  }

  /// The server: its address, port 5351.
  public let server: TransportAddress
  /// This host's address as the server sees the request's source (put in every request).
  public let clientAddress: IPAddress
  /// Settings.
  public let configuration: Configuration
  /// The server's epoch, as last seen.
  public private(set) var epoch = GatewayEpoch()
  /// Set once the server said it does not speak version 2.
  public private(set) var serverVersion: UInt8?
  /// Counters.
  public private(set) var stats = Stats()

  private var generator: any RandomNumberGenerator & Sendable
  private var states: [PortMappingKey: MapState] = [:]
  private var announceTx: Transmission?

  /// A client for the PCP server at `server` (its port 5351).
  public init(
    server: IPAddress, clientAddress: IPAddress, configuration: Configuration = Configuration(),
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.init(
      server: TransportAddress(ip: server, port: PCPRequest.serverPort),
      clientAddress: clientAddress, configuration: configuration, generator: generator)
  }

  /// A client for a server listening at `server` (a test or simulation may use another port).
  public init(
    server: TransportAddress, clientAddress: IPAddress,
    configuration: Configuration = Configuration(),
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.server = server
    self.clientAddress = clientAddress
    self.configuration = configuration
    self.generator = generator
  }

  /// Granted mappings, by key.
  public var mappings: [PortMappingKey: PortMapping] {
    states.compactMapValues(\.granted)
  }

  /// The nonce used for a mapping (requested or granted).
  public func nonce(for key: PortMappingKey) -> [UInt8]? { states[key]?.nonce }

  /// True while any request awaits an answer.
  public var hasPendingRequests: Bool {
    announceTx != nil || states.values.contains { $0.tx != nil }
  }

  /// The earliest instant the client wants ``handleTimeout(at:)``.
  public var nextWake: Instant? {
    var all: [Instant] = []
    if let a = announceTx { all.append(a.deadline) }
    for s in states.values {
      if let t = s.tx { all.append(t.deadline) }
      if let r = s.renewAt { all.append(r) }
      if let g = s.granted { all.append(g.expiresAt) }
    }
    return all.min()
  }

  // MARK: - Requests

  /// Asks for a mapping of `internalPort` (replacing any request or mapping for the same key,
  /// with a fresh nonce unless one exists). `lifetime` nil uses the configured lifetime.
  public mutating func map(
    _ proto: PortMappingProtocol, internalPort: UInt16, suggestedExternalPort: UInt16 = 0,
    suggestedExternalAddress: IPAddress? = nil, lifetime: UInt32? = nil, at now: Instant
  ) -> [PCPClientOutput] {
    guard serverVersion == nil else { return finish([]) }
    let key = PortMappingKey(proto, internalPort: internalPort)
    var s =
      states[key]
      ?? MapState(
        nonce: makeNonce(), suggestedExternalPort: 0,
        suggestedExternalAddress: PCPAddress.unspecified(like: clientAddress),
        lifetime: configuration.requestedLifetime)
    s.suggestedExternalPort = suggestedExternalPort
    s.suggestedExternalAddress =
      suggestedExternalAddress ?? PCPAddress.unspecified(like: clientAddress)
    s.lifetime = max(1, lifetime ?? configuration.requestedLifetime)
    s.renewAt = nil
    var tx = Transmission(
      bytes: request(key, s, lifetime: s.lifetime), purpose: s.granted == nil ? .create : .renew)
    let out = send(&tx, at: now)
    s.tx = tx
    states[key] = s
    return finish(out)
  }

  /// Deletes a mapping (MAP with lifetime 0 and the mapping's nonce); renewals stop at once.
  /// Does nothing for a key this client never asked for.
  public mutating func delete(
    _ proto: PortMappingProtocol, internalPort: UInt16, at now: Instant
  ) -> [PCPClientOutput] {
    let key = PortMappingKey(proto, internalPort: internalPort)
    guard serverVersion == nil, var s = states[key] else { return finish([]) }
    s.granted = nil
    s.renewAt = nil
    var tx = Transmission(bytes: request(key, s, lifetime: 0), purpose: .delete)
    let out = send(&tx, at: now)
    s.tx = tx
    states[key] = s
    return finish(out)
  }

  /// Sends an ANNOUNCE request: a cheap way to learn whether the gateway speaks PCP.
  public mutating func announce(at now: Instant) -> [PCPClientOutput] {
    guard serverVersion == nil, announceTx == nil else { return finish([]) }
    var tx = Transmission(
      bytes: PCPRequest(announceFrom: clientAddress).bytes, purpose: .announce)
    let out = send(&tx, at: now)
    announceTx = tx
    return finish(out)
  }

  // MARK: - Inputs

  /// Handles one datagram from `source`. Responses must come from the server's address; an
  /// unsolicited ANNOUNCE (multicast to port 5350) may come from any port of it.
  public mutating func handleInput(
    _ bytes: [UInt8], from source: TransportAddress, at now: Instant
  )
    -> [PCPClientOutput]
  {
    guard source.ip == server.ip else {
      stats.wrongSourceDropped += 1
      return finish([])
    }
    let response: PCPResponse
    do {
      response = try PCPResponse(bytes: bytes)
    } catch .versionNotSupported(let version) {
      guard source == server, serverVersion == nil, hasPendingRequests else {
        stats.unmatchedDropped += 1
        return finish([])
      }
      serverVersion = version
      announceTx = nil
      states.removeAll()
      return finish([.event(.versionNotSupported(serverVersion: version))])
    } catch {
      stats.malformedDropped += 1
      return finish([])
    }
    guard source == server || response.opcode == .announce else {
      stats.wrongSourceDropped += 1
      return finish([])
    }
    var out: [PCPClientOutput] = []
    let valid = epoch.observe(response.epochTime, at: now)
    if response.opcode == .announce {
      out += announced(response, from: source, epochValid: valid, at: now)
    } else {
      if !valid { out += restarted(response.epochTime, spread: .zero, at: now) }
      if response.opcode == .map {
        out += mapResponse(response, at: now)
      } else {
        stats.unmatchedDropped += 1
      }
    }
    return finish(out)
  }

  /// Advances time: retransmissions, failures, renewals and expiries.
  public mutating func handleTimeout(at now: Instant) -> [PCPClientOutput] {
    var out: [PCPClientOutput] = []
    if var a = announceTx, a.deadline <= now {
      if let reason = giveUp(a, at: now) {
        announceTx = nil
        out.append(
          .event(
            .failed(PCPFailure(server: server, opcode: .announce, mapping: nil, reason: reason))))
      } else {
        stats.retransmissions += 1
        out += send(&a, at: now)
        announceTx = a
      }
    }
    for key in states.keys.sorted() {
      guard var s = states[key] else { continue }
      if let g = s.granted, g.expiresAt <= now {
        states[key] = nil
        out.append(.event(.expired(key)))
        continue
      }
      if var tx = s.tx, tx.deadline <= now {
        if let reason = giveUp(tx, at: now) {
          s.tx = nil
          if tx.purpose == .renew, s.granted != nil {
            states[key] = s  // keeps the mapping until it expires
            continue
          }
          states[key] = nil
          out.append(
            .event(.failed(PCPFailure(server: server, opcode: .map, mapping: key, reason: reason))))
          continue
        }
        stats.retransmissions += 1
        out += send(&tx, at: now)
        s.tx = tx
      }
      if s.tx == nil, let r = s.renewAt, r <= now, s.granted != nil {
        s.renewAt = nil
        var tx = Transmission(bytes: request(key, s, lifetime: s.lifetime), purpose: .renew)
        out += send(&tx, at: now)
        s.tx = tx
      }
      states[key] = s
    }
    return finish(out)
  }

  // MARK: - Internals

  private mutating func makeNonce() -> [UInt8] {
    var out: [UInt8] = []
    for _ in 0..<3 {
      let r = generator.next()
      for shift in stride(from: 0, to: 32, by: 8) {
        out.append(UInt8(truncatingIfNeeded: r >> UInt64(shift)))
      }
    }
    return out
  }

  private func request(_ key: PortMappingKey, _ s: MapState, lifetime: UInt32) -> [UInt8] {
    var port = s.suggestedExternalPort
    var address = s.suggestedExternalAddress
    if let g = s.granted {
      port = g.external.port
      address = g.external.ip
    }
    let map = PCPRequest.Map(
      nonce: s.nonce, proto: key.proto, internalPort: key.internalPort,
      suggestedExternalPort: port, suggestedExternalAddress: address)
    return PCPRequest(map: map, lifetime: lifetime, clientAddress: clientAddress).bytes
  }

  private mutating func send(_ tx: inout Transmission, at now: Instant) -> [PCPClientOutput] {
    var g = generator
    let wait = configuration.retransmission.nextWait(previous: tx.lastWait, using: &g)
    generator = g
    tx.sendTimes.append(now)
    tx.lastWait = wait
    var deadline = now + wait
    if let mrd = configuration.retransmission.maxDuration, let first = tx.sendTimes.first {
      deadline = min(deadline, first + mrd)
    }
    tx.deadline = deadline
    return [.transmit(Transmit(bytes: tx.bytes, to: server))]
  }

  private func giveUp(_ tx: Transmission, at now: Instant) -> PCPFailure.Reason? {
    let policy = configuration.retransmission
    if let mrc = policy.maxRequests, tx.sendTimes.count >= mrc {
      return .noAnswer(attempts: tx.sendTimes.count)
    }
    if let mrd = policy.maxDuration, let first = tx.sendTimes.first, now - first >= mrd {
      return .noAnswer(attempts: tx.sendTimes.count)
    }
    return nil
  }

  private mutating func restarted(_ epochTime: UInt32, spread: Duration, at now: Instant)
    -> [PCPClientOutput]
  {
    var out: [PCPClientOutput] = [.event(.gatewayRestarted(epochTime: epochTime))]
    for key in states.keys.sorted() {
      guard var s = states[key], s.granted != nil, s.tx == nil else { continue }
      let spreadMs = spread.nanoseconds / 1_000_000
      let delay = spreadMs > 0 ? Int64(generator.next() % UInt64(spreadMs + 1)) : 0
      s.renewAt = now + .milliseconds(delay)
      if delay == 0 {
        s.renewAt = nil
        var tx = Transmission(bytes: request(key, s, lifetime: s.lifetime), purpose: .renew)
        out += send(&tx, at: now)
        s.tx = tx
      }
      states[key] = s
    }
    return out
  }

  private mutating func announced(
    _ response: PCPResponse, from source: TransportAddress, epochValid: Bool, at now: Instant
  )
    -> [PCPClientOutput]
  {
    var out: [PCPClientOutput] = []
    if let tx = announceTx, source == server {
      announceTx = nil
      if response.result == .success {
        let rtt = RTTSample(
          duration: now - (tx.sendTimes.first ?? now), isAmbiguous: tx.sendTimes.count > 1)
        out.append(.event(.announced(epochTime: response.epochTime, rtt: rtt)))
      } else {
        out.append(
          .event(
            .failed(
              PCPFailure(
                server: server, opcode: .announce, mapping: nil,
                reason: .result(response.result, lifetime: response.lifetime)))))
      }
      if !epochValid { out += restarted(response.epochTime, spread: .zero, at: now) }
      return out
    }
    // Unsolicited (RFC 6887 §14.1.3): the server announces that it restarted. The epoch tells
    // whether it really lost state since we last heard from it; if so, every mapping is
    // renewed after a random delay so that clients do not all answer at once.
    guard !epochValid else { return [] }
    return restarted(response.epochTime, spread: configuration.announceRenewalSpread, at: now)
  }

  private mutating func mapResponse(_ response: PCPResponse, at now: Instant) -> [PCPClientOutput] {
    let key: PortMappingKey
    if let m = response.map {
      guard let proto = PortMappingProtocol(ianaNumber: m.protocolNumber) else {
        stats.unmatchedDropped += 1
        return []
      }
      key = PortMappingKey(proto, internalPort: m.internalPort)
      guard let s = states[key], s.nonce == m.nonce, s.tx != nil else {
        stats.unmatchedDropped += 1
        return []
      }
    } else {
      // An error response without the MAP body: match it only when unambiguous.
      let waiting = states.filter { $0.value.tx != nil }.map(\.key)
      guard waiting.count == 1, let only = waiting.first else {
        stats.unmatchedDropped += 1
        return []
      }
      key = only
    }
    guard var s = states[key], let tx = s.tx else {
      stats.unmatchedDropped += 1
      return []
    }
    s.tx = nil
    guard response.result == .success else {
      states[key] = nil
      return [
        .event(
          .failed(
            PCPFailure(
              server: server, opcode: .map, mapping: key,
              reason: .result(response.result, lifetime: response.lifetime))))
      ]
    }
    if tx.purpose == .delete || response.lifetime == 0 {
      states[key] = nil
      return [.event(.deleted(key))]
    }
    guard let m = response.map else {
      states[key] = nil
      stats.malformedDropped += 1
      return []
    }
    let mapping = PortMapping(
      proto: key.proto, internalPort: key.internalPort,
      external: TransportAddress(ip: m.assignedExternalAddress, port: m.assignedExternalPort),
      lifetime: response.lifetime, grantedAt: now)
    let renewal = s.granted != nil
    s.granted = mapping
    s.renewAt = mapping.renewalAt(fraction: configuration.renewalFraction)
    states[key] = s
    if renewal { return [.event(.renewed(mapping))] }
    let rtt = RTTSample(
      duration: now - (tx.sendTimes.first ?? now), isAmbiguous: tx.sendTimes.count > 1)
    return [.event(.mapped(mapping, rtt: rtt))]
  }

  private func finish(_ out: [PCPClientOutput]) -> [PCPClientOutput] {
    guard let next = nextWake else { return out }
    return out + [.timeout(next)]
  }
}
