import STUN

/// How a `STUNServer` is set up: its addresses, ports and limits.
public struct STUNServerConfiguration: Sendable, Hashable {
  /// The primary IP address.
  public var primary: IPAddress
  /// The alternate IP address; with it the server supports RFC 5780 (answers from another
  /// address on CHANGE-REQUEST and sends OTHER-ADDRESS); without it, it is a plain RFC 8489
  /// server.
  public var alternate: IPAddress?
  public var port: UInt16
  public var alternatePort: UInt16
  /// SOFTWARE sent in every response; nil to send none.
  public var software: String?
  /// Also send MAPPED-ADDRESS, so clients can detect ALGs that rewrite addresses they recognise.
  public var sendMappedAddress: Bool
  /// Requests per second allowed from one source IP (a token bucket of `rateBurst`).
  public var ratePerSecond: Int
  public var rateBurst: Int
  /// A response is never larger than this, nor larger than the request plus
  /// `STUNServer.maximumGrowth` bytes: the server cannot be used as an amplifier.
  public var maximumResponseSize: Int

  public init(
    primary: IPAddress, alternate: IPAddress? = nil, port: UInt16 = 3478,
    alternatePort: UInt16 = 3479, software: String? = "natscope", sendMappedAddress: Bool = false,
    ratePerSecond: Int = 100, rateBurst: Int = 200, maximumResponseSize: Int = 1280
  ) {
    self.primary = primary
    self.alternate = alternate
    self.port = port
    self.alternatePort = alternatePort
    self.software = software
    self.sendMappedAddress = sendMappedAddress
    self.ratePerSecond = max(1, ratePerSecond)
    self.rateBurst = max(1, rateBurst)
    self.maximumResponseSize = max(548, maximumResponseSize)
  }

  /// Whether the server can run RFC 5780 (has a distinct alternate IP).
  public var supportsBehaviorDiscovery: Bool { alternate != nil && alternate != primary }

  /// The transport addresses the server listens on: one without an alternate IP, four with.
  public var endpoints: [TransportAddress] {
    guard let alternate, supportsBehaviorDiscovery else {
      return [TransportAddress(ip: primary, port: port)]
    }
    return [
      TransportAddress(ip: primary, port: port),
      TransportAddress(ip: primary, port: alternatePort),
      TransportAddress(ip: alternate, port: port),
      TransportAddress(ip: alternate, port: alternatePort),
    ]
  }
}

/// Counters a server keeps; printed on SIGUSR1 and at exit by `natscope serve`.
public struct STUNServerStats: Sendable, Hashable, Codable {
  public var received = 0
  public var answered = 0
  public var errorsSent = 0
  /// Not STUN, or STUN that failed to decode or whose FINGERPRINT was wrong.
  public var malformed = 0
  /// Well-formed but not a request (indications, responses).
  public var ignored = 0
  public var rateLimited = 0
  /// Answers withheld because they would have exceeded the size bound.
  public var oversized = 0
  public var changeRequests = 0

  public init() {}
}

/// An RFC 8489 Binding server with the RFC 5780 behaviour-discovery extensions, sans-IO: give
/// it a datagram, the endpoint it arrived on and the time; it returns the reply to send as a
/// transmit (from one of `configuration.endpoints`, with the request's transaction ID). It
/// keeps no timers and has no events, so it never returns `.timeout` or `.event`.
public struct STUNServer: Sendable {
  /// What the server hands back: at most one transmit.
  public typealias Output = MachineOutput<Never>

  public let configuration: STUNServerConfiguration
  public private(set) var stats = STUNServerStats()

  /// How many bytes a response may exceed its request by (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS,
  /// RESPONSE-ORIGIN, OTHER-ADDRESS with IPv6 addresses, a short SOFTWARE and FINGERPRINT).
  public static let maximumGrowth = 160

  private var buckets: [IPAddress: (tokens: Double, at: Instant)] = [:]
  private static let maximumTrackedSources = 4096

  public init(configuration: STUNServerConfiguration) {
    self.configuration = configuration
  }

  /// Handles one datagram that arrived on `local` (one of the server's endpoints) from
  /// `source`. Returns the reply to send, or nothing when the datagram is dropped.
  public mutating func handleInput(
    _ bytes: [UInt8], from source: TransportAddress, on local: TransportAddress, at now: Instant
  ) -> [Output] {
    reply(bytes, from: source, on: local, at: now).map { [.transmit($0)] } ?? []
  }

  private mutating func reply(
    _ bytes: [UInt8], from source: TransportAddress, on local: TransportAddress, at now: Instant
  ) -> Transmit? {
    stats.received += 1
    guard PacketKind.classify(bytes) == .stun, let request = try? Message(bytes: bytes) else {
      stats.malformed += 1
      return nil
    }
    if request.hasFingerprint && !request.verifyFingerprint() {
      stats.malformed += 1
      return nil
    }
    guard request.messageClass == .request else {
      stats.ignored += 1
      return nil
    }
    guard allow(source.ip, at: now) else {
      stats.rateLimited += 1
      return nil
    }
    let unknown = request.unknownComprehensionRequired
    if !unknown.isEmpty {
      return error(.unknownAttribute, unknown: unknown, for: request, from: local, to: source)
    }
    guard request.method == .binding else {
      return error(
        .badRequest, reason: "This server answers Binding requests only", for: request, from: local,
        to: source)
    }
    let change: ChangeRequest?
    let responsePort: ResponsePort?
    let padding: Padding?
    do {
      change = try request.get(ChangeRequest.self)
      responsePort = try request.get(ResponsePort.self)
      padding = try request.get(Padding.self)
    } catch {
      return self.error(
        .badRequest, reason: "Malformed attribute", for: request, from: local, to: source)
    }
    var replyFrom = local
    if let change, change.changeIP || change.changePort {
      stats.changeRequests += 1
      guard configuration.supportsBehaviorDiscovery, let alternate = configuration.alternate else {
        return error(
          .unknownAttribute, unknown: [.changeRequest], for: request, from: local, to: source)
      }
      if change.changeIP {
        replyFrom.ip = local.ip == configuration.primary ? alternate : configuration.primary
      }
      if change.changePort {
        replyFrom.port =
          local.port == configuration.port ? configuration.alternatePort : configuration.port
      }
    }
    if responsePort != nil && !configuration.supportsBehaviorDiscovery {
      return error(
        .unknownAttribute, unknown: [.responsePort], for: request, from: local, to: source)
    }
    let destination = TransportAddress(ip: source.ip, port: responsePort?.port ?? source.port)

    var b = MessageBuilder(
      type: .bindingSuccess, transactionID: request.transactionID,
      capacity: 128 + (padding?.bytes.count ?? 0))
    b.add(XORMappedAddress(source))
    if configuration.sendMappedAddress { b.add(MappedAddress(source)) }
    b.add(ResponseOrigin(replyFrom))
    if configuration.supportsBehaviorDiscovery, let alternate = configuration.alternate {
      let otherIP = local.ip == configuration.primary ? alternate : configuration.primary
      let otherPort =
        local.port == configuration.port ? configuration.alternatePort : configuration.port
      b.add(OtherAddress(TransportAddress(ip: otherIP, port: otherPort)))
    }
    if let software = configuration.software { b.add(Software(software)) }
    if let padding, !padding.bytes.isEmpty {
      // RFC 5780 §7.6: pad the response like the request, within the size bound.
      let room = limit(for: bytes.count) - b.bytes.count - 4 - 8
      if room > 0 { b.add(Padding(count: min(padding.bytes.count, room) & ~3)) }
    }
    b.addFingerprint()
    guard b.bytes.count <= limit(for: bytes.count) else {
      stats.oversized += 1
      return nil
    }
    stats.answered += 1
    return Transmit(
      bytes: b.bytes, from: replyFrom, to: destination, transactionID: request.transactionID)
  }

  /// The largest response allowed for a request of `requestSize` bytes.
  private func limit(for requestSize: Int) -> Int {
    min(configuration.maximumResponseSize, requestSize + Self.maximumGrowth)
  }

  private mutating func error(
    _ code: ErrorCode, reason: String? = nil, unknown: [AttributeType] = [], for request: Message,
    from local: TransportAddress, to source: TransportAddress
  ) -> Transmit? {
    var b = MessageBuilder(
      type: MessageType(method: request.method, class: .errorResponse),
      transactionID: request.transactionID)
    b.add(ErrorCodeAttribute(code, reason: reason))
    if !unknown.isEmpty { b.add(UnknownAttributes(Array(unknown.prefix(16)))) }
    if let software = configuration.software { b.add(Software(software)) }
    b.addFingerprint()
    guard b.bytes.count <= limit(for: request.bytes.count) else {
      stats.oversized += 1
      return nil
    }
    stats.errorsSent += 1
    return Transmit(
      bytes: b.bytes, from: local, to: source, transactionID: request.transactionID)
  }

  /// Token bucket per source IP; memory is bounded by forgetting every source when the table
  /// fills (a flood of spoofed sources then only resets everyone's budget).
  private mutating func allow(_ ip: IPAddress, at now: Instant) -> Bool {
    let rate = Double(configuration.ratePerSecond)
    let burst = Double(configuration.rateBurst)
    var bucket = buckets[ip] ?? (burst, now)
    let elapsed = max(0, (now - bucket.at).milliseconds / 1000)
    bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
    bucket.at = now
    let allowed = bucket.tokens >= 1
    if allowed { bucket.tokens -= 1 }
    if buckets[ip] == nil && buckets.count >= Self.maximumTrackedSources { buckets.removeAll() }
    buckets[ip] = bucket
    return allowed
  }
}
