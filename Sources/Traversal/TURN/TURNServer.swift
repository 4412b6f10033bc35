import STUN

/// How a ``TURNServer`` is set up. The user table holds derived long-term keys, never the
/// passwords themselves, and neither `description` nor `dump` shows them.
public struct TURNServerConfiguration: Sendable, CustomStringConvertible, CustomReflectable {
  /// Where clients reach the server (UDP).
  public var listen: TransportAddress
  /// The IP relayed addresses use.
  public var relayIP: IPAddress
  /// Relayed ports are taken from this range.
  public var relayPorts: ClosedRange<UInt16>
  /// The long-term credential realm.
  public let realm: String
  /// A nonce older than this gets 438 Stale Nonce.
  public var nonceLifetime: Duration
  /// LIFETIME granted when the client asks for none (RFC 8656: 600 s).
  public var defaultLifetime: UInt32
  /// The longest LIFETIME granted (RFC 8656 recommends 3600 s).
  public var maximumLifetime: UInt32
  /// How many allocations one user may hold (486 beyond).
  public var maximumAllocationsPerUser: Int
  /// How many allocations the server holds (508 beyond).
  public var maximumAllocations: Int
  /// SOFTWARE in responses; nil for none.
  public var software: String?
  /// Offer PASSWORD-ALGORITHMS (SHA-256, then MD5) in challenges (RFC 8489 §9.2.4); clients
  /// that pick SHA-256 use the SHA-256 long-term key.
  public var offersSHA256: Bool
  private(set) var keys: [String: IntegrityKey] = [:]
  private(set) var sha256Keys: [String: IntegrityKey] = [:]
  private let userCount: Int

  /// A summary without keys: addresses, realm and how many users.
  public var description: String {
    "TURN server on \(listen), relaying on \(relayIP) ports \(relayPorts), realm \(realm),"
      + " \(userCount) user(s)"
  }
  /// Children without the user keys.
  public var customMirror: Mirror {
    Mirror(
      self,
      children: [
        "listen": listen, "relayIP": relayIP, "relayPorts": relayPorts, "realm": realm,
        "users": keys.keys.sorted(),
      ])
  }

  /// A configuration; `users` maps usernames to passwords, which are turned into MD5
  /// long-term keys at once (users whose password cannot be prepared are left out).
  public init(
    listen: TransportAddress, relayIP: IPAddress, realm: String, users: [String: String],
    relayPorts: ClosedRange<UInt16> = 49152...65535, nonceLifetime: Duration = .seconds(600),
    defaultLifetime: UInt32 = 600, maximumLifetime: UInt32 = 3600,
    maximumAllocationsPerUser: Int = 10, maximumAllocations: Int = 1000,
    software: String? = "natscope", offersSHA256: Bool = false
  ) {
    self.offersSHA256 = offersSHA256
    self.listen = listen
    self.relayIP = relayIP
    self.realm = realm
    self.relayPorts = relayPorts
    self.nonceLifetime = nonceLifetime
    self.defaultLifetime = max(1, defaultLifetime)
    self.maximumLifetime = max(self.defaultLifetime, maximumLifetime)
    self.maximumAllocationsPerUser = max(1, maximumAllocationsPerUser)
    self.maximumAllocations = max(1, maximumAllocations)
    self.software = software
    userCount = users.count
    for (user, password) in users {
      if let key = try? IntegrityKey.longTerm(username: user, realm: realm, password: password) {
        keys[user] = key
      }
      if offersSHA256,
        let key = try? IntegrityKey.longTerm(
          username: user, realm: realm, password: password, algorithm: .sha256)
      {
        sha256Keys[user] = key
      }
    }
  }
}

/// Counters a ``TURNServer`` keeps.
public struct TURNServerStats: Sendable, Hashable, Codable {
  /// Datagrams that arrived on the listening address.
  public var received = 0
  /// Not STUN/ChannelData, bad FINGERPRINT, or undecodable.
  public var malformed = 0
  /// 401 challenges sent to requests without MESSAGE-INTEGRITY.
  public var challenges = 0
  /// 438 answers to unknown or expired nonces.
  public var staleNonces = 0
  /// Unknown users, wrong realms and bad MESSAGE-INTEGRITY.
  public var authFailures = 0
  /// Allocations made.
  public var allocations = 0
  /// Allocations that expired without a refresh.
  public var expired = 0
  /// Error responses sent.
  public var errorsSent = 0
  /// Data relayed client → peer.
  public var relayedToPeer = 0
  /// Data relayed peer → client.
  public var relayedToClient = 0
  /// Peer data dropped for want of a permission; client data dropped for want of a
  /// permission, channel or allocation.
  public var droppedNoPermission = 0
  public init() {}
}

/// What happened to a ``TURNServer``'s relays; the driver owns their sockets. (Its transmits
/// come `from` the listening address or a relayed address.)
public enum TURNServerEvent: Sendable, Hashable {
  /// An allocation got this relayed address: open a UDP socket bound to it and feed its
  /// datagrams to ``TURNServer/handleInput(_:from:on:at:)``.
  case openRelay(TransportAddress)
  /// The allocation on this relayed address ended: close its socket.
  case closeRelay(TransportAddress)
}

/// A compact sans-IO TURN server (RFC 8656) with long-term credentials, its clients on UDP or
/// (through ``TURNServerSession/acceptStream(_:client:)``) TCP: for natscope's
/// simulated relay, the demo and tests. One relayed port per allocation on `relayIP`; nonces
/// expire; permissions (300 s), channels (600 s) and allocations expire; peer data without a
/// permission is dropped. Bounded by allocations per user and per server.
public struct TURNServer: Sendable {
  /// What the server hands back.
  public typealias Output = MachineOutput<TURNServerEvent>

  private struct Allocation: Sendable {
    var client: TransportAddress
    var username: String
    var key: IntegrityKey
    var relay: TransportAddress
    var expiresAt: Instant
    var allocateTransaction: TransactionID
    var permissions: [IPAddress: Instant] = [:]
    var channels: [UInt16: (peer: TransportAddress, expiresAt: Instant)] = [:]
    var channelOf: [TransportAddress: UInt16] = [:]
  }

  /// The configuration.
  public let configuration: TURNServerConfiguration
  /// Counters.
  public private(set) var stats = TURNServerStats()
  private var allocations: [TransportAddress: Allocation] = [:]
  private var byRelay: [TransportAddress: TransportAddress] = [:]
  private var nonces: [String: Instant] = [:]
  private var nonceOrder: [String] = []
  private var nextPort: UInt16
  private var random = SystemRandomNumberGenerator()

  /// PASSWORD-ALGORITHMS as offered when `offersSHA256` is set.
  static let offered = PasswordAlgorithms([
    PasswordAlgorithmEntry(.sha256), PasswordAlgorithmEntry(.md5),
  ])

  /// Permissions last this long (RFC 8656 §9).
  public static let permissionLifetime: Duration = .seconds(300)
  /// Channel bindings last this long (RFC 8656 §12).
  public static let channelLifetime: Duration = .seconds(600)

  /// A server with no allocations.
  public init(configuration: TURNServerConfiguration) {
    self.configuration = configuration
    self.nextPort = configuration.relayPorts.lowerBound
  }

  /// The number of live allocations.
  public var allocationCount: Int { allocations.count }
  /// The relayed addresses of live allocations.
  public var relayedAddresses: [TransportAddress] { Array(byRelay.keys) }

  /// The earliest expiry the server must act on.
  public var nextWake: Instant? {
    var best: Instant?
    for a in allocations.values {
      var t = a.expiresAt
      if let p = a.permissions.values.min() { t = min(t, p) }
      if let c = a.channels.values.map(\.expiresAt).min() { t = min(t, c) }
      best = best.map { min($0, t) } ?? t
    }
    return best
  }

  // MARK: - Inputs

  /// Handles a datagram that arrived on the listening address from `client`.
  public mutating func handleInput(_ bytes: [UInt8], from client: TransportAddress, at now: Instant)
    -> [Output]
  {
    stats.received += 1
    switch PacketKind.classify(bytes) {
    case .channelData:
      guard let frame = try? ChannelData(bytes: bytes), let a = allocations[client],
        let bound = a.channels[frame.channel], a.permissions[bound.peer.ip] != nil
      else {
        stats.droppedNoPermission += 1
        return finish([])
      }
      stats.relayedToPeer += 1
      return finish([send(Array(frame.payload), from: a.relay, to: bound.peer)])
    case .stun:
      guard let m = try? Message(bytes: bytes), !m.hasFingerprint || m.verifyFingerprint() else {
        stats.malformed += 1
        return finish([])
      }
      let result = message(m, from: client, at: now)
      return finish(result)
    default:
      stats.malformed += 1
      return finish([])
    }
  }

  /// Handles a datagram from `peer` that arrived on the relayed address `relay`.
  public mutating func handleInput(
    _ bytes: [UInt8], from peer: TransportAddress, on relay: TransportAddress, at now: Instant
  ) -> [Output] {
    guard let client = byRelay[relay], let a = allocations[client],
      let until = a.permissions[peer.ip], until > now
    else {
      stats.droppedNoPermission += 1
      return finish([])
    }
    stats.relayedToClient += 1
    if let channel = a.channelOf[peer], let c = a.channels[channel], c.expiresAt > now {
      let frame = ChannelData(channel: channel, payload: bytes[...]).encoded(padded: false)
      return finish([send(frame, from: configuration.listen, to: client)])
    }
    var b = MessageBuilder(
      type: MessageType(method: .data, class: .indication), transactionID: .random(),
      capacity: bytes.count + 64)
    b.add(XORPeerAddress(peer))
    b.add(DataAttribute(bytes))
    b.addFingerprint()
    return finish([send(b.bytes, from: configuration.listen, to: client)])
  }

  /// Removes the allocation on `relay` (for a driver that could not open its relay socket).
  public mutating func dropAllocation(relay: TransportAddress) -> [Output] {
    guard let client = byRelay[relay] else { return finish([]) }
    let result = remove(client)
    return finish(result)
  }

  /// Removes the allocation of `client`, if it has one (its TCP connection ended).
  public mutating func dropAllocation(client: TransportAddress) -> [Output] {
    guard allocations[client] != nil else { return finish([]) }
    let result = remove(client)
    return finish(result)
  }

  /// Expires allocations, permissions and channels.
  public mutating func handleTimeout(at now: Instant) -> [Output] {
    var out: [Output] = []
    for (client, var a) in allocations {
      if a.expiresAt <= now {
        out += remove(client)
        stats.expired += 1
        continue
      }
      a.permissions = a.permissions.filter { $0.value > now }
      for (channel, c) in a.channels where c.expiresAt <= now {
        a.channels[channel] = nil
        a.channelOf[c.peer] = nil
      }
      allocations[client] = a
    }
    return finish(out)
  }

  // MARK: - Requests

  private mutating func message(_ m: Message, from client: TransportAddress, at now: Instant)
    -> [Output]
  {
    if m.messageClass == .indication {
      guard m.method == .send else { return [] }
      return sendIndication(m, from: client, at: now)
    }
    guard m.messageClass == .request else { return [] }
    if m.method == .binding {
      var b = MessageBuilder(type: .bindingSuccess, transactionID: m.transactionID)
      b.add(XORMappedAddress(client))
      b.addFingerprint()
      return [send(b.bytes, from: configuration.listen, to: client, id: m.transactionID)]
    }
    guard [.allocate, .refresh, .createPermission, .channelBind].contains(m.method) else {
      return error(.badRequest, m, to: client, key: nil)
    }
    // Long-term credentials (RFC 8489 §9.2.4).
    guard m.hasMessageIntegrity else {
      stats.challenges += 1
      return error(.unauthenticated, m, to: client, key: nil, nonce: issueNonce(at: now))
    }
    guard let user = try? m.get(Username.self)?.text, let realm = try? m.get(Realm.self)?.text,
      let nonce = try? m.get(Nonce.self)?.text
    else {
      return error(.badRequest, m, to: client, key: nil)
    }
    let chosen = try? m.get(PasswordAlgorithmAttribute.self)
    if configuration.offersSHA256 {
      // Bid-down protection: PASSWORD-ALGORITHMS must come back exactly as offered.
      let echoed = try? m.get(PasswordAlgorithms.self)
      if chosen != nil || echoed != nil {
        guard echoed == Self.offered, let c = chosen,
          Self.offered.algorithms.contains(where: { $0.algorithm == c.entry.algorithm })
        else {
          return error(.badRequest, m, to: client, key: nil)
        }
      }
    } else if chosen != nil {
      return error(.badRequest, m, to: client, key: nil)
    }
    let keyTable =
      chosen?.entry.algorithm == .sha256 ? configuration.sha256Keys : configuration.keys
    guard realm == configuration.realm, let key = keyTable[user] else {
      stats.authFailures += 1
      return error(.unauthenticated, m, to: client, key: nil, nonce: issueNonce(at: now))
    }
    guard let issued = nonces[nonce], now - issued < configuration.nonceLifetime else {
      stats.staleNonces += 1
      return error(.staleNonce, m, to: client, key: nil, nonce: issueNonce(at: now))
    }
    guard m.verifyMessageIntegrity(key: key) else {
      stats.authFailures += 1
      return error(.unauthenticated, m, to: client, key: nil, nonce: issueNonce(at: now))
    }
    let unknown = m.unknownComprehensionRequired
    if !unknown.isEmpty {
      return error(.unknownAttribute, m, to: client, key: key, unknown: unknown)
    }
    if m.method == .allocate { return allocate(m, from: client, user: user, key: key, at: now) }
    guard var a = allocations[client] else {
      return error(.allocationMismatch, m, to: client, key: key)
    }
    guard a.username == user else { return error(.wrongCredentials, m, to: client, key: key) }
    switch m.method {
    case .refresh:
      let asked = (try? m.get(Lifetime.self))?.seconds
      if asked == 0 {
        var out = success(m, to: client, key: key) { $0.add(Lifetime(seconds: 0)) }
        out += remove(client)
        return out
      }
      let granted = grant(asked)
      a.expiresAt = now + .seconds(Int64(granted))
      allocations[client] = a
      return success(m, to: client, key: key) { $0.add(Lifetime(seconds: granted)) }
    case .createPermission:
      guard let peers = try? m.getAll(XORPeerAddress.self), !peers.isEmpty else {
        return error(.badRequest, m, to: client, key: key)
      }
      for p in peers { a.permissions[p.address.ip] = now + Self.permissionLifetime }
      allocations[client] = a
      return success(m, to: client, key: key) { _ in }
    default:  // channelBind
      guard let number = try? m.get(ChannelNumber.self), number.isValid,
        let peer = try? m.get(XORPeerAddress.self)?.address
      else {
        return error(.badRequest, m, to: client, key: key)
      }
      if let existing = a.channels[number.number], existing.peer != peer {
        return error(.badRequest, m, to: client, key: key)
      }
      if let existing = a.channelOf[peer], existing != number.number {
        return error(.badRequest, m, to: client, key: key)
      }
      a.channels[number.number] = (peer, now + Self.channelLifetime)
      a.channelOf[peer] = number.number
      a.permissions[peer.ip] = now + Self.permissionLifetime
      allocations[client] = a
      return success(m, to: client, key: key) { _ in }
    }
  }

  private mutating func allocate(
    _ m: Message, from client: TransportAddress, user: String, key: IntegrityKey, at now: Instant
  ) -> [Output] {
    if let existing = allocations[client] {
      // A retransmission of the Allocate that made it gets the same answer.
      guard existing.allocateTransaction == m.transactionID else {
        return error(.allocationMismatch, m, to: client, key: key)
      }
      let granted = UInt32(max(0, (existing.expiresAt - now).nanoseconds / 1_000_000_000))
      return allocated(m, existing, granted: granted, key: key)
    }
    guard let transport = try? m.get(RequestedTransport.self) else {
      return error(.badRequest, m, to: client, key: key)
    }
    guard transport.protocolNumber == 17 else {
      return error(.unsupportedTransportProtocol, m, to: client, key: key)
    }
    let owned = allocations.values.filter { $0.username == user }.count
    guard owned < configuration.maximumAllocationsPerUser else {
      return error(.allocationQuotaReached, m, to: client, key: key)
    }
    guard allocations.count < configuration.maximumAllocations, let port = freePort() else {
      return error(.insufficientCapacity, m, to: client, key: key)
    }
    let granted = grant((try? m.get(Lifetime.self))?.seconds)
    let relay = TransportAddress(ip: configuration.relayIP, port: port)
    let a = Allocation(
      client: client, username: user, key: key, relay: relay,
      expiresAt: now + .seconds(Int64(granted)), allocateTransaction: m.transactionID)
    allocations[client] = a
    byRelay[relay] = client
    stats.allocations += 1
    return [.event(.openRelay(relay))] + allocated(m, a, granted: granted, key: key)
  }

  private func allocated(_ m: Message, _ a: Allocation, granted: UInt32, key: IntegrityKey)
    -> [Output]
  {
    success(m, to: a.client, key: key) {
      $0.add(XORRelayedAddress(a.relay))
      $0.add(Lifetime(seconds: granted))
      $0.add(XORMappedAddress(a.client))
    }
  }

  private mutating func sendIndication(_ m: Message, from client: TransportAddress, at now: Instant)
    -> [Output]
  {
    guard let a = allocations[client], let peer = try? m.get(XORPeerAddress.self)?.address,
      let data = m.attribute(.data), let until = a.permissions[peer.ip], until > now
    else {
      stats.droppedNoPermission += 1
      return []
    }
    stats.relayedToPeer += 1
    return [send(Array(data), from: a.relay, to: peer)]
  }

  // MARK: - Helpers

  private func grant(_ asked: UInt32?) -> UInt32 {
    guard let asked else { return configuration.defaultLifetime }
    return min(max(asked, configuration.defaultLifetime), configuration.maximumLifetime)
  }

  private mutating func freePort() -> UInt16? {
    let range = configuration.relayPorts
    for _ in 0..<min(range.count, 65536) {
      let p = nextPort
      nextPort = p >= range.upperBound ? range.lowerBound : p + 1
      if byRelay[TransportAddress(ip: configuration.relayIP, port: p)] == nil { return p }
    }
    return nil
  }

  private mutating func remove(_ client: TransportAddress) -> [Output] {
    guard let a = allocations.removeValue(forKey: client) else { return [] }
    byRelay[a.relay] = nil
    return [.event(.closeRelay(a.relay))]
  }

  private mutating func issueNonce(at now: Instant) -> String {
    let nonce = hexString(random.next()) + hexString(UInt64(bitPattern: now.nanoseconds))
    nonces[nonce] = now
    nonceOrder.append(nonce)
    // Bounded: forget the oldest nonces (those clients then get 438 and a new one).
    if nonceOrder.count > 4096 {
      for old in nonceOrder.prefix(1024) { nonces[old] = nil }
      nonceOrder.removeFirst(1024)
    }
    return nonce
  }

  private func hexString(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
  }

  private func success(
    _ m: Message, to client: TransportAddress, key: IntegrityKey,
    _ fill: (inout MessageBuilder) -> Void
  ) -> [Output] {
    var b = MessageBuilder(
      type: MessageType(method: m.method, class: .successResponse), transactionID: m.transactionID
    )
    fill(&b)
    if let s = configuration.software { b.add(Software(s)) }
    b.addMessageIntegrity(key: key)
    b.addFingerprint()
    return [send(b.bytes, from: configuration.listen, to: client, id: m.transactionID)]
  }

  private mutating func error(
    _ code: ErrorCode, _ m: Message, to client: TransportAddress, key: IntegrityKey?,
    nonce: String? = nil, unknown: [AttributeType] = []
  ) -> [Output] {
    stats.errorsSent += 1
    var b = MessageBuilder(
      type: MessageType(method: m.method, class: .errorResponse), transactionID: m.transactionID)
    b.add(ErrorCodeAttribute(code))
    if !unknown.isEmpty { b.add(UnknownAttributes(Array(unknown.prefix(16)))) }
    if let nonce {
      b.add(Realm(configuration.realm))
      b.add(Nonce(nonce))
      if configuration.offersSHA256 && code == .unauthenticated { b.add(Self.offered) }
    }
    if let s = configuration.software { b.add(Software(s)) }
    if let key { b.addMessageIntegrity(key: key) }
    b.addFingerprint()
    return [send(b.bytes, from: configuration.listen, to: client, id: m.transactionID)]
  }

  // Callers pass a local, never `finish(mutatingCall())` (see TURNClient.finish).
  private func finish(_ out: [Output]) -> [Output] {
    guard let next = nextWake else { return out }
    return out + [.timeout(next)]
  }

  private func send(
    _ bytes: [UInt8], from: TransportAddress, to: TransportAddress, id: TransactionID? = nil
  ) -> Output {
    .transmit(Transmit(bytes: bytes, from: from, to: to, transactionID: id))
  }
}

extension TURNServer: CustomReflectable {
  /// Configuration, counters and the number of allocations: never the users' keys.
  public var customMirror: Mirror {
    Mirror(
      self,
      children: [
        "configuration": configuration, "stats": stats, "allocationCount": allocationCount,
      ])
  }
}
