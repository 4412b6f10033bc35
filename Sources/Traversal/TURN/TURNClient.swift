import STUN

/// A sans-IO TURN client (RFC 8656) for one UDP allocation on one server.
///
/// It never touches a socket or a clock: the driver calls ``start(at:)``, hands in every
/// datagram (or stream frame) from the server with ``handleInput(_:from:at:)``, calls
/// ``handleTimeout(at:)`` at the last `.timeout` instant, and carries out the returned
/// ``MachineOutput``s in order (data relayed from peers arrives as `.event(.data)`; every call
/// ends with `.timeout(nextWake)` when the client has a deadline).
///
/// It answers the 401 challenge with long-term credentials (MD5 key, or SHA-256 when the
/// server offers it in PASSWORD-ALGORITHMS), repeats a request after 438 Stale Nonce with the
/// new nonce, follows one 300 Try Alternate (UDP only), refreshes the allocation at 80% of its
/// lifetime, permissions every 240 s and channels every 540 s, and releases the allocation
/// (Refresh with LIFETIME 0) on ``close(at:)``. Responses to authenticated requests must carry
/// a valid MESSAGE-INTEGRITY; those that don't are dropped and counted.
///
/// ```swift
/// var client = TURNClient(server: server, credentials: .init(username: "u", password: "p"))
/// outputs = client.start(at: now)             // .event(.allocating), .transmit(Allocate), .timeout
/// outputs = client.handleInput(bytes, from: server, at: now)   // 401 → authenticated Allocate
/// outputs = client.send(payload, to: peer, at: now)       // CreatePermission, then Send
/// outputs = client.close(at: now)             // Refresh(LIFETIME 0) → .event(.released)
/// ```
public struct TURNClient: Sendable {
  /// What the client hands back.
  public typealias Output = MachineOutput<TURNClientEvent>

  /// Where the allocation stands.
  public enum State: Sendable, Hashable {
    /// Created; not started.
    case idle
    /// Allocate sent (perhaps after a challenge), waiting.
    case allocating
    /// The allocation exists.
    case allocated
    /// Refresh with LIFETIME 0 sent, waiting.
    case releasing
    /// Released or given up after close.
    case released
    /// Failed; nothing more happens.
    case failed(TURNFailure)
  }

  /// Counters for reports.
  public struct Stats: Sendable, Hashable, Codable {
    /// Server packets that did not decode (or bad FINGERPRINT, or ChannelData on an unknown
    /// channel, or from an address that is not the server).
    public var malformedDropped = 0
    /// Responses whose MESSAGE-INTEGRITY did not verify with our key.
    public var integrityFailures = 0
    /// Stale-nonce retries.
    public var staleNonceRetries = 0
    /// Data received from peers (Data indications, ChannelData).
    public var dataReceived = 0
    /// Data sent to peers (Send indications, ChannelData).
    public var dataSent = 0
    /// Data dropped because the permission queue was full or the allocation unusable.
    public var dataDropped = 0
    public init() {}
  }

  /// Lifetime, timing and sizing choices.
  public struct Configuration: Sendable, Hashable {
    /// LIFETIME asked for in Allocate and Refresh (the server may grant less); nil asks for
    /// the server's default.
    public var requestedLifetime: UInt32?
    /// Refresh the allocation at this fraction of the granted lifetime.
    public var refreshFraction: Double
    /// When to refresh a permission after it was installed (they last 300 s).
    public var permissionRefresh: Duration
    /// When to refresh a channel binding after it was made (they last 600 s).
    public var channelRefresh: Duration
    /// Bind a channel to each peer `send(_:to:at:)` is used with, and use ChannelData.
    public var useChannels: Bool
    /// How many packets per peer wait for a permission before the newest are dropped.
    public var queueLimit: Int
    /// How many 438 Stale Nonce answers in a row one request may get before it fails.
    public var maximumStaleRetries: Int
    /// SOFTWARE sent in Allocate; nil for none.
    public var software: String?
    /// While allocated over UDP, a STUN Binding indication goes to the server this often, so
    /// NAT mappings on the way stay open between refreshes (nil: none). Servers ignore it.
    public var keepaliveInterval: Duration?

    public init(
      requestedLifetime: UInt32? = nil, refreshFraction: Double = 0.8,
      permissionRefresh: Duration = .seconds(240), channelRefresh: Duration = .seconds(540),
      useChannels: Bool = true, queueLimit: Int = 64, maximumStaleRetries: Int = 3,
      software: String? = "natscope", keepaliveInterval: Duration? = .seconds(15)
    ) {
      self.keepaliveInterval = keepaliveInterval.map { max($0, .seconds(1)) }
      self.requestedLifetime = requestedLifetime
      self.refreshFraction = min(max(refreshFraction, 0.1), 0.95)
      self.permissionRefresh = permissionRefresh
      self.channelRefresh = channelRefresh
      self.useChannels = useChannels
      self.queueLimit = max(1, queueLimit)
      self.maximumStaleRetries = max(0, maximumStaleRetries)
      self.software = software
    }
  }

  private enum RequestKind: Sendable, Hashable {
    case allocate
    case refresh(lifetime: UInt32?)
    case createPermission([IPAddress])
    case channelBind(channel: UInt16, peer: TransportAddress)
    case release
  }

  private struct Pending: Sendable {
    var kind: RequestKind
    var staleRetries: Int
    var authenticated: Bool
  }

  private struct Auth: Sendable {
    var realm: String
    var nonce: String
    var key: IntegrityKey
    var algorithm: PasswordAlgorithm?
    var offered: PasswordAlgorithms?
  }

  /// The server currently used (changes after a 300 redirect).
  public private(set) var server: TransportAddress
  /// How the server is reached.
  public let transport: TURNTransport
  /// Settings.
  public let configuration: Configuration
  /// Where the allocation stands.
  public private(set) var state: State = .idle
  /// XOR-RELAYED-ADDRESS, once allocated.
  public private(set) var relayedAddress: TransportAddress?
  /// XOR-MAPPED-ADDRESS from the Allocate response.
  public private(set) var mappedAddress: TransportAddress?
  /// The lifetime the server granted last, in seconds.
  public private(set) var lifetime: UInt32 = 0
  /// When the allocation expires unless refreshed.
  public private(set) var expiresAt: Instant?
  /// Counters.
  public private(set) var stats = Stats()
  /// SOFTWARE from the server's latest answer to one of our requests (display-safe), if any.
  public private(set) var serverSoftware: String?

  private let credentials: TURNCredentials
  private var auth: Auth?
  private var redirected = false
  private var table: TransactionTable<Message>
  private var pending: [TransactionID: Pending] = [:]
  private var refreshAt: Instant?
  private var keepaliveAt: Instant?
  private var permissions: [IPAddress: Instant] = [:]  // refresh deadline
  private var permissionInFlight: Set<IPAddress> = []
  private var channels: [TransportAddress: UInt16] = [:]
  private var channelPeers: [UInt16: TransportAddress] = [:]
  private var channelRefreshAt: [UInt16: Instant] = [:]
  private var channelBound: Set<UInt16> = []
  private var channelInFlight: Set<UInt16> = []
  private var nextChannel: UInt16 = 0x4000
  private var queued: [IPAddress: [([UInt8], TransportAddress)]] = [:]

  /// A client for `server`, not yet started.
  public init(
    server: TransportAddress, credentials: TURNCredentials, transport: TURNTransport = .udp,
    configuration: Configuration = Configuration(), policy: RetransmissionPolicy? = nil
  ) {
    self.server = server
    self.credentials = credentials
    self.transport = transport
    self.configuration = configuration
    let chosen: RetransmissionPolicy
    switch transport {
    case .udp: chosen = policy ?? .rfc8489
    case .stream:
      // RFC 8489 §6.2.2: no retransmission over a reliable transport; fail after Ti = 39.5 s.
      chosen = RetransmissionPolicy(
        initialRTO: policy.map { $0.timeoutWindow() } ?? .milliseconds(39_500), maxRequests: 1,
        lastWaitMultiplier: 1)
    }
    self.table = TransactionTable(policy: chosen)
  }

  /// True while the allocation can relay data.
  public var isAllocated: Bool { state == .allocated }

  /// Peers with a permission installed (by IP).
  public var permittedPeers: Set<IPAddress> { Set(permissions.keys) }

  /// The channel bound to `peer`, if the binding succeeded.
  public func channel(for peer: TransportAddress) -> UInt16? {
    guard let c = channels[peer], channelBound.contains(c) else { return nil }
    return c
  }

  /// The earliest instant the client wants ``handleTimeout(at:)``.
  public var nextWake: Instant? {
    var all: [Instant] = []
    if let t = table.nextWake { all.append(t) }
    if state == .allocated {
      if let r = refreshAt { all.append(r) }
      if let e = expiresAt { all.append(e) }
      if let k = keepaliveAt { all.append(k) }
      all += permissions.values
      all += channelRefreshAt.values
    }
    return all.min()
  }

  // MARK: - Inputs

  /// Sends the first (unauthenticated) Allocate.
  public mutating func start(at now: Instant) -> [Output] {
    guard state == .idle else { return finish([]) }
    state = .allocating
    var out: [Output] = [.event(.allocating(server: server))]
    out += request(.allocate, staleRetries: 0, at: now)
    return finish(out)
  }

  /// Handles one datagram or stream frame from `source` (expected to be the server).
  public mutating func handleInput(_ bytes: [UInt8], from source: TransportAddress, at now: Instant)
    -> [Output]
  {
    guard source == server else {
      stats.malformedDropped += 1
      return finish([])
    }
    switch PacketKind.classify(bytes) {
    case .stun:
      guard let message = try? Message(bytes: bytes),
        !message.hasFingerprint || message.verifyFingerprint()
      else {
        stats.malformedDropped += 1
        return finish([])
      }
      return handleInput(message, from: source, at: now)
    case .channelData:
      let result = channelData(bytes)
      return finish(result)
    default:
      stats.malformedDropped += 1
      return finish([])
    }
  }

  /// Handles one decoded STUN message from `source`.
  public mutating func handleInput(
    _ message: Message, from source: TransportAddress, at now: Instant
  )
    -> [Output]
  {
    guard source == server else {
      stats.malformedDropped += 1
      return finish([])
    }
    switch message.messageClass {
    case .successResponse, .errorResponse:
      let result = response(message, from: source, at: now)
      return finish(result)
    case .indication where message.method == .data:
      let result = dataIndication(message)
      return finish(result)
    default:
      stats.malformedDropped += 1
      return finish([])
    }
  }

  /// An ICMP error (or a refused send) for a datagram sent to the server. While allocating it
  /// ends the allocation at once instead of waiting out the retransmissions: ICMP port
  /// unreachable means no TURN server listens at that address. Errors about other
  /// destinations (peers are reached through the relay, never directly) and errors after the
  /// allocation exists (the next request or refresh decides then) are ignored.
  public mutating func handleUnreachable(_ unreachable: Unreachable, at now: Instant) -> [Output] {
    guard state == .allocating, transport == .udp, unreachable.destination == server else {
      return finish([])
    }
    return finish(fail(.unreachable(unreachable)))
  }

  /// Advances time: retransmissions, timeouts and scheduled refreshes.
  public mutating func handleTimeout(at now: Instant) -> [Output] {
    var out = process(table.handleTimeout(at: now), at: now)
    guard state == .allocated else { return finish(out) }
    if let e = expiresAt, now >= e {
      out += fail(TURNFailure(cause: .allocationExpired))
      return finish(out)
    }
    if let k = keepaliveAt, k <= now, let interval = configuration.keepaliveInterval {
      keepaliveAt = now + interval
      var b = MessageBuilder(type: .bindingIndication, transactionID: .random(), capacity: 28)
      b.addFingerprint()
      out.append(toServer(b.bytes))
    }
    if let r = refreshAt, r <= now {
      refreshAt = nil
      out += request(.refresh(lifetime: configuration.requestedLifetime), staleRetries: 0, at: now)
    }
    let duePermissions = permissions.filter { $0.value <= now }.map(\.key)
      .filter { !permissionInFlight.contains($0) }
    if !duePermissions.isEmpty {
      for ip in duePermissions { permissions[ip] = .distantFuture }
      out += startPermission(duePermissions.sorted { $0.description < $1.description }, at: now)
    }
    for (channel, at) in channelRefreshAt where at <= now {
      channelRefreshAt[channel] = nil
      if let peer = channelPeers[channel], !channelInFlight.contains(channel) {
        channelInFlight.insert(channel)
        out += request(.channelBind(channel: channel, peer: peer), staleRetries: 0, at: now)
      }
    }
    return finish(out)
  }

  /// Refreshes the allocation now (it is also refreshed on schedule by itself).
  public mutating func refresh(at now: Instant) -> [Output] {
    guard state == .allocated else { return finish([]) }
    refreshAt = nil
    let result = request(
      .refresh(lifetime: configuration.requestedLifetime), staleRetries: 0, at: now)
    return finish(result)
  }

  /// Installs permissions for `peers` (one CreatePermission request).
  public mutating func createPermission(for peers: [IPAddress], at now: Instant)
    -> [Output]
  {
    guard state == .allocated else { return finish([]) }
    let fresh = peers.filter { !permissionInFlight.contains($0) }
    guard !fresh.isEmpty else { return finish([]) }
    let result = startPermission(fresh, at: now)
    return finish(result)
  }

  /// Binds a channel to `peer` (which also installs a permission for its IP).
  public mutating func bindChannel(to peer: TransportAddress, at now: Instant)
    -> [Output]
  {
    guard state == .allocated else { return finish([]) }
    let result = startChannel(to: peer, at: now)
    return finish(result)
  }

  /// Sends `bytes` to `peer` through the relay: as ChannelData when a channel is bound, as a
  /// Send indication when a permission exists, otherwise queued behind a CreatePermission.
  public mutating func send(_ bytes: [UInt8], to peer: TransportAddress, at now: Instant)
    -> [Output]
  {
    guard state == .allocated else {
      stats.dataDropped += 1
      return finish([])
    }
    var out: [Output] = []
    if let channel = channel(for: peer) {
      stats.dataSent += 1
      let frame = ChannelData(channel: channel, payload: bytes[...])
      return finish([toServer(frame.encoded(padded: transport == .stream))])
    }
    if permissions[peer.ip] != nil {
      stats.dataSent += 1
      out.append(toServer(sendIndication(bytes, to: peer)))
      if configuration.useChannels && channels[peer] == nil {
        out += startChannel(to: peer, at: now)
      }
      return finish(out)
    }
    var q = queued[peer.ip, default: []]
    if q.count >= configuration.queueLimit {
      stats.dataDropped += 1
    } else {
      q.append((bytes, peer))
    }
    queued[peer.ip] = q
    if !permissionInFlight.contains(peer.ip) {
      if configuration.useChannels && channels[peer] == nil {
        out += startChannel(to: peer, at: now)
      } else {
        out += startPermission([peer.ip], at: now)
      }
    }
    return finish(out)
  }

  /// Releases the allocation (Refresh with LIFETIME 0). Before allocation completes it just
  /// stops. Ends with `.event(.released)` when the server answers or the request times out.
  public mutating func close(at now: Instant) -> [Output] {
    switch state {
    case .allocated:
      cancelAll()
      state = .releasing
      let result = request(.release, staleRetries: 0, at: now)
      return finish(result)
    case .idle, .allocating:
      cancelAll()
      state = .released
      return finish([.event(.released)])
    case .releasing, .released, .failed:
      return finish([])
    }
  }

  // MARK: - Requests

  private mutating func cancelAll() {
    for id in pending.keys { table.cancel(id: id) }
    pending.removeAll()
    _ = table.removeFinished()
    refreshAt = nil
    keepaliveAt = nil
    permissions.removeAll()
    channelRefreshAt.removeAll()
    queued.removeAll()
  }

  private mutating func startPermission(_ ips: [IPAddress], at now: Instant) -> [Output] {
    for ip in ips { permissionInFlight.insert(ip) }
    return request(.createPermission(ips), staleRetries: 0, at: now)
  }

  private mutating func startChannel(to peer: TransportAddress, at now: Instant)
    -> [Output]
  {
    let channel: UInt16
    if let c = channels[peer] {
      channel = c
    } else {
      guard nextChannel <= 0x4FFF else { return startPermission([peer.ip], at: now) }
      channel = nextChannel
      nextChannel += 1
      channels[peer] = channel
      channelPeers[channel] = peer
    }
    guard !channelInFlight.contains(channel) else { return [] }
    channelInFlight.insert(channel)
    permissionInFlight.insert(peer.ip)
    return request(.channelBind(channel: channel, peer: peer), staleRetries: 0, at: now)
  }

  private mutating func request(_ kind: RequestKind, staleRetries: Int, at now: Instant)
    -> [Output]
  {
    let id = TransactionID.random()
    let method: Method
    switch kind {
    case .allocate: method = .allocate
    case .refresh, .release: method = .refresh
    case .createPermission: method = .createPermission
    case .channelBind: method = .channelBind
    }
    var b = MessageBuilder(type: MessageType(method: method, class: .request), transactionID: id)
    switch kind {
    case .allocate:
      b.add(RequestedTransport.udp)
      if let l = configuration.requestedLifetime { b.add(Lifetime(seconds: l)) }
      if let s = configuration.software { b.add(Software(s)) }
    case .refresh(let lifetime):
      if let lifetime { b.add(Lifetime(seconds: lifetime)) }
    case .release:
      b.add(Lifetime(seconds: 0))
    case .createPermission(let ips):
      for ip in ips { b.add(XORPeerAddress(TransportAddress(ip: ip, port: 0))) }
    case .channelBind(let channel, let peer):
      b.add(ChannelNumber(channel))
      b.add(XORPeerAddress(peer))
    }
    if let auth {
      b.add(Username(credentials.username))
      b.add(Realm(auth.realm))
      b.add(Nonce(auth.nonce))
      if let algorithm = auth.algorithm, let offered = auth.offered {
        b.add(PasswordAlgorithms(offered.algorithms))
        b.add(PasswordAlgorithmAttribute(algorithm))
      }
      b.addMessageIntegrity(key: auth.key)
    }
    b.addFingerprint()
    pending[id] = Pending(kind: kind, staleRetries: staleRetries, authenticated: auth != nil)
    return process(table.start(id: id, request: b.bytes, to: server, at: now), at: now)
  }

  private func sendIndication(_ bytes: [UInt8], to peer: TransportAddress) -> [UInt8] {
    var b = MessageBuilder(
      type: MessageType(method: .send, class: .indication), transactionID: .random(),
      capacity: bytes.count + 64)
    b.add(XORPeerAddress(peer))
    b.add(DataAttribute(bytes))
    b.addFingerprint()
    return b.bytes
  }

  // MARK: - Responses

  private mutating func response(_ message: Message, from source: TransportAddress, at now: Instant)
    -> [Output]
  {
    if pending[message.transactionID] != nil, let software = try? message.get(Software.self) {
      serverSoftware = WireText.display(software.text)
    }
    guard let p = pending[message.transactionID] else {
      // Not ours (or already finished): let the table count it.
      return process(
        table.handleInput(
          id: message.transactionID, from: source, at: now, response: message), at: now)
    }
    if p.authenticated, let auth {
      let isChallenge: Bool
      if message.messageClass == .errorResponse,
        let code = (try? message.get(ErrorCodeAttribute.self))?.code,
        code == .unauthenticated || code == .staleNonce
      {
        isChallenge = true
      } else {
        isChallenge = false
      }
      if message.hasMessageIntegrity {
        guard message.verifyMessageIntegrity(key: auth.key) else {
          stats.integrityFailures += 1
          return []
        }
      } else if message.hasMessageIntegritySHA256 {
        guard message.verifyMessageIntegritySHA256(key: auth.key) else {
          stats.integrityFailures += 1
          return []
        }
      } else if message.messageClass == .successResponse && !isChallenge {
        stats.integrityFailures += 1
        return []
      }
    }
    return process(
      table.handleInput(id: message.transactionID, from: source, at: now, response: message),
      at: now)
  }

  private mutating func process(_ outputs: [TransactionTable<Message>.Output], at now: Instant)
    -> [Output]
  {
    var out: [Output] = []
    for o in outputs {
      switch o {
      case .transmit(let t): out.append(.transmit(t))
      case .timeout: break
      case .event(.completed(let id, let message, _, _)):
        guard let p = pending.removeValue(forKey: id) else { continue }
        out += completed(p, message, at: now)
      case .event(.failed(let id, let failure)):
        guard let p = pending.removeValue(forKey: id) else { continue }
        guard case .timedOut = failure else { continue }
        let window = table[id]?.evidence.timeoutWindow ?? table.timeoutWindow(for: server)
        out += failed(p, .timedOut(after: window), at: now)
      }
    }
    _ = table.removeFinished()
    return out
  }

  private mutating func completed(_ p: Pending, _ m: Message, at now: Instant)
    -> [Output]
  {
    if m.messageClass == .errorResponse {
      return errorResponse(p, m, at: now)
    }
    switch p.kind {
    case .allocate:
      guard state == .allocating,
        let relayed = try? m.get(XORRelayedAddress.self)?.address
      else {
        return fail(TURNFailure(cause: .noRelayedAddress))
      }
      relayedAddress = relayed
      mappedAddress = try? m.get(XORMappedAddress.self)?.address
      let granted = (try? m.get(Lifetime.self))?.seconds ?? 600
      setLifetime(granted, at: now)
      state = .allocated
      if transport == .udp, let interval = configuration.keepaliveInterval {
        keepaliveAt = now + interval
      }
      return [
        .event(.allocated(relayed: relayed, mapped: mappedAddress, lifetime: Int(granted)))
      ]
    case .refresh:
      guard state == .allocated else { return [] }
      let granted = (try? m.get(Lifetime.self))?.seconds ?? lifetime
      setLifetime(granted, at: now)
      return [.event(.refreshed(lifetime: Int(granted)))]
    case .release:
      state = .released
      return [.event(.released)]
    case .createPermission(let ips):
      guard state == .allocated else { return [] }
      var out: [Output] = []
      for ip in ips {
        permissionInFlight.remove(ip)
        permissions[ip] = now + configuration.permissionRefresh
        // Queued data first: an event handler that sends must not overtake it.
        out += flush(ip, at: now)
        out.append(.event(.permissionCreated(peer: ip)))
      }
      return out
    case .channelBind(let channel, let peer):
      guard state == .allocated else { return [] }
      channelInFlight.remove(channel)
      permissionInFlight.remove(peer.ip)
      channelBound.insert(channel)
      channelRefreshAt[channel] = now + configuration.channelRefresh
      // A channel binding installs or refreshes the permission for the peer's IP too.
      if permissions[peer.ip] == nil || permissions[peer.ip] == .distantFuture {
        permissions[peer.ip] = now + configuration.permissionRefresh
      }
      return flush(peer.ip, at: now) + [.event(.channelBound(peer: peer, channel: channel))]
    }
  }

  private mutating func setLifetime(_ seconds: UInt32, at now: Instant) {
    lifetime = seconds
    expiresAt = now + .seconds(Int64(seconds))
    let ms = Int64(Double(seconds) * 1000 * configuration.refreshFraction)
    refreshAt = seconds == 0 ? nil : now + .milliseconds(ms)
  }

  private mutating func flush(_ ip: IPAddress, at now: Instant) -> [Output] {
    guard let q = queued.removeValue(forKey: ip) else { return [] }
    var out: [Output] = []
    for (bytes, peer) in q {
      out += send(bytes, to: peer, at: now).filter {
        if case .timeout = $0 { return false }
        return true
      }
    }
    return out
  }

  private mutating func errorResponse(_ p: Pending, _ m: Message, at now: Instant)
    -> [Output]
  {
    let error = try? m.get(ErrorCodeAttribute.self)
    let code = error?.code ?? ErrorCode(0)
    let method: Method
    switch p.kind {
    case .allocate: method = .allocate
    case .refresh, .release: method = .refresh
    case .createPermission: method = .createPermission
    case .channelBind: method = .channelBind
    }
    // 401 challenge: only for an unauthenticated request, or when the server changed its realm.
    if code == .unauthenticated, let realm = try? m.get(Realm.self)?.text,
      let nonce = try? m.get(Nonce.self)?.text
    {
      if !p.authenticated || (auth.map { $0.realm != realm } ?? true) {
        let offered = try? m.get(PasswordAlgorithms.self)
        let algorithm: PasswordAlgorithm? =
          offered.flatMap { o in
            o.algorithms.contains { $0.algorithm == .sha256 }
              ? .sha256 : o.algorithms.contains { $0.algorithm == .md5 } ? .md5 : nil
          }
        if offered != nil && algorithm == nil {
          return fail(TURNFailure(code: 401, cause: .noSupportedPasswordAlgorithm))
        }
        let key: IntegrityKey
        do {
          key = try IntegrityKey.longTerm(
            username: credentials.username, realm: realm, password: credentials.password,
            algorithm: algorithm ?? .md5)
        } catch {
          return fail(TURNFailure(cause: .unusableCredentials(error.problem)))
        }
        auth = Auth(realm: realm, nonce: nonce, key: key, algorithm: algorithm, offered: offered)
        var out: [Output] = [
          .event(
            .challenged(
              realm: WireText.display(realm), algorithm: algorithm == .sha256 ? "SHA-256" : "MD5"))
        ]
        out += request(p.kind, staleRetries: p.staleRetries, at: now)
        return out
      }
      // Authenticated and still 401 with a fresh nonce: some servers (coturn) answer a stale
      // nonce this way; retry once with the new nonce before calling the credentials wrong.
      if let current = auth?.nonce, current != nonce, p.staleRetries < 1 {
        auth?.nonce = nonce
        stats.staleNonceRetries += 1
        return request(p.kind, staleRetries: p.staleRetries + 1, at: now)
      }
    }
    if code == .staleNonce, let nonce = try? m.get(Nonce.self)?.text, auth != nil {
      guard p.staleRetries < configuration.maximumStaleRetries else {
        return failed(p, .explaining(code, reason: error?.reason, method: method), at: now)
      }
      auth?.nonce = nonce
      if let realm = try? m.get(Realm.self)?.text { auth?.realm = realm }
      stats.staleNonceRetries += 1
      var out: [Output] = [.event(.staleNonce(method: method.name))]
      out += request(p.kind, staleRetries: p.staleRetries + 1, at: now)
      return out
    }
    if code == .tryAlternate, case .allocate = p.kind,
      let alternate = try? m.get(AlternateServer.self)?.address
    {
      guard !redirected, transport == .udp, alternate != server else {
        var f = TURNFailure.explaining(code, reason: error?.reason)
        f.cause = .alternateNotFollowed(alternate: alternate, twice: redirected)
        return fail(f)
      }
      redirected = true
      server = alternate
      auth = nil
      var out: [Output] = [
        .event(.redirected(alternate: alternate)), .event(.allocating(server: alternate)),
      ]
      out += request(.allocate, staleRetries: 0, at: now)
      return out
    }
    return failed(p, .explaining(code, reason: error?.reason, method: method), at: now)
  }

  private mutating func failed(_ p: Pending, _ failure: TURNFailure, at now: Instant)
    -> [Output]
  {
    switch p.kind {
    case .allocate:
      return fail(failure)
    case .release:
      state = .released
      return [.event(.released)]
    case .refresh:
      if failure.code == 437 { return fail(failure) }
      // Try again at the next wake if the allocation still has time left.
      if let expiresAt, now + .seconds(5) < expiresAt { refreshAt = now + .seconds(5) }
      return [.event(.requestFailed(method: "Refresh", failure: failure))]
    case .createPermission(let ips):
      for ip in ips {
        permissionInFlight.remove(ip)
        if permissions[ip] == .distantFuture { permissions[ip] = nil }
        if let q = queued.removeValue(forKey: ip) { stats.dataDropped += q.count }
      }
      if failure.code == 437 { return fail(failure) }
      return [.event(.requestFailed(method: "CreatePermission", failure: failure))]
    case .channelBind(let channel, let peer):
      channelInFlight.remove(channel)
      permissionInFlight.remove(peer.ip)
      channelBound.remove(channel)
      if let q = queued.removeValue(forKey: peer.ip) { stats.dataDropped += q.count }
      if failure.code == 437 { return fail(failure) }
      return [.event(.requestFailed(method: "ChannelBind", failure: failure))]
    }
  }

  private mutating func fail(_ failure: TURNFailure) -> [Output] {
    cancelAll()
    state = .failed(failure)
    return [.event(.failed(failure))]
  }

  // MARK: - Data from the server

  private mutating func dataIndication(_ m: Message) -> [Output] {
    guard state == .allocated || state == .releasing,
      let peer = try? m.get(XORPeerAddress.self)?.address,
      let data = m.attribute(.data)
    else {
      stats.malformedDropped += 1
      return []
    }
    stats.dataReceived += 1
    return [.event(.data(Array(data), from: peer))]
  }

  private mutating func channelData(_ bytes: [UInt8]) -> [Output] {
    guard let frame = try? ChannelData(bytes: bytes), let peer = channelPeers[frame.channel],
      channelBound.contains(frame.channel)
    else {
      stats.malformedDropped += 1
      return []
    }
    stats.dataReceived += 1
    return [.event(.data(Array(frame.payload), from: peer))]
  }

  // Callers pass a local, never `finish(mutatingCall())`: the base `self` of a non-mutating
  // call is read before its arguments run, so it would see the state before the mutation.
  private func finish(_ out: [Output]) -> [Output] {
    guard let next = nextWake else { return out }
    return out + [.timeout(next)]
  }

  /// Bytes for the server outside any transaction (indications, ChannelData).
  private func toServer(_ bytes: [UInt8]) -> Output {
    .transmit(Transmit(bytes: bytes, to: server))
  }
}

extension TURNClient: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  /// A one-line summary without secrets, e.g. `TURN client to 203.0.113.10:3478 (udp): allocated`.
  public var description: String {
    var text = "TURN client to \(server) (\(transport.rawValue)): \(state)"
    if let relayedAddress { text += ", relayed \(relayedAddress)" }
    return text
  }
  public var debugDescription: String { description }
  /// Only public, non-secret state: `dump` and debuggers never see the key or password.
  public var customMirror: Mirror {
    Mirror(
      self,
      children: [
        "server": server, "transport": transport, "state": state,
        "relayedAddress": relayedAddress as Any, "mappedAddress": mappedAddress as Any,
        "lifetime": lifetime, "stats": stats,
      ])
  }
}
