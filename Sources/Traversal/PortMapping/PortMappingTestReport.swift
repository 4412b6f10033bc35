import STUN

/// What `natscope probe --port-mapping` did with its short-lived test mapping: which protocol
/// made it, what was sent to the router, whether an unsolicited answer got in through it, and
/// whether it was deleted again.
///
/// JSON keys: `protocol` (`"pcp"`, `"nat-pmp"`, `"upnp-igd"`; absent when no protocol could be
/// asked), `gateway`, `internalAddress`, `internalPort`, `requestedLifetime`, `created`,
/// `externalAddress`, `externalPort`, `lifetime`, `verified` (true, false, or null when it could
/// not be tested), `verification` (the sentence saying how), `deleted`, `sent` (each request to
/// the router, one sentence each), `error`, `refusals` (each protocol's answer refusing the
/// mapping, with its code: ``PortMappingRefusal``; absent when none refused); absent values are
/// left out.
public struct PortMappingTestReport: Sendable, Hashable, Codable {
  /// The protocol used; nil when none could be asked.
  public var `protocol`: PortMappingResult.Method?
  /// The router asked (its port-mapping port, or the UPnP control URL's host and port).
  public var gateway: TransportAddress?
  /// This host's address toward the router.
  public var internalAddress: IPAddress?
  /// The UDP port on this host the mapping was for: the test's own socket.
  public var internalPort: UInt16?
  /// The lifetime asked for, in seconds.
  public var requestedLifetime: UInt32
  /// True when the router granted the mapping.
  public var created: Bool
  /// The external address of the mapping (the router's own address).
  public var externalAddress: IPAddress?
  /// The external port the router assigned.
  public var externalPort: UInt16?
  /// The lifetime the router granted, in seconds (0: permanent, UPnP only).
  public var lifetime: UInt32?
  /// True when an answer from an address and port the socket never sent to reached it through
  /// the mapped external port; false when none did; nil when it could not be tried.
  public var verified: Bool?
  /// How the mapping was tested, and what that shows, in one or two sentences.
  public var verification: String?
  /// True when the router confirmed the deletion.
  public var deleted: Bool
  /// Every request sent to the router, in order, one sentence each.
  public var sent: [String]
  /// What went wrong, as one sentence; nil when nothing did.
  public var error: String?
  /// The protocols asked for the mapping, in order (not in JSON: `sent` says so in words).
  public var attempted: [PortMappingResult.Method] = []
  /// Each protocol's answer refusing the mapping, in order.
  public var refusals: [PortMappingRefusal] = []

  public init(
    protocol: PortMappingResult.Method? = nil, gateway: TransportAddress? = nil,
    internalAddress: IPAddress? = nil, internalPort: UInt16? = nil, requestedLifetime: UInt32,
    created: Bool = false, externalAddress: IPAddress? = nil, externalPort: UInt16? = nil,
    lifetime: UInt32? = nil, verified: Bool? = nil, verification: String? = nil,
    deleted: Bool = false, sent: [String] = [], error: String? = nil
  ) {
    self.protocol = `protocol`
    self.gateway = gateway
    self.internalAddress = internalAddress
    self.internalPort = internalPort
    self.requestedLifetime = requestedLifetime
    self.created = created
    self.externalAddress = externalAddress
    self.externalPort = externalPort
    self.lifetime = lifetime
    self.verified = verified
    self.verification = verification
    self.deleted = deleted
    self.sent = sent
    self.error = error
  }

  private enum CodingKeys: String, CodingKey {
    case `protocol`, gateway, internalAddress, internalPort, requestedLifetime, created
    case externalAddress, externalPort, lifetime, verified, verification, deleted, sent, error
    case refusals
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      protocol: try c.decodeIfPresent(PortMappingResult.Method.self, forKey: .protocol),
      gateway: try c.decodeIfPresent(TransportAddress.self, forKey: .gateway),
      internalAddress: try c.decodeIfPresent(IPAddress.self, forKey: .internalAddress),
      internalPort: try c.decodeIfPresent(UInt16.self, forKey: .internalPort),
      requestedLifetime: try c.decode(UInt32.self, forKey: .requestedLifetime),
      created: try c.decode(Bool.self, forKey: .created),
      externalAddress: try c.decodeIfPresent(IPAddress.self, forKey: .externalAddress),
      externalPort: try c.decodeIfPresent(UInt16.self, forKey: .externalPort),
      lifetime: try c.decodeIfPresent(UInt32.self, forKey: .lifetime),
      verified: try c.decodeIfPresent(Bool.self, forKey: .verified),
      verification: try c.decodeIfPresent(String.self, forKey: .verification),
      deleted: try c.decode(Bool.self, forKey: .deleted),
      sent: try c.decodeIfPresent([String].self, forKey: .sent) ?? [],
      error: try c.decodeIfPresent(String.self, forKey: .error))
    refusals = try c.decodeIfPresent([PortMappingRefusal].self, forKey: .refusals) ?? []
    attempted = refusals.map(\.protocol)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encodeIfPresent(`protocol`, forKey: .protocol)
    try c.encodeIfPresent(gateway, forKey: .gateway)
    try c.encodeIfPresent(internalAddress, forKey: .internalAddress)
    try c.encodeIfPresent(internalPort, forKey: .internalPort)
    try c.encode(requestedLifetime, forKey: .requestedLifetime)
    try c.encode(created, forKey: .created)
    try c.encodeIfPresent(externalAddress, forKey: .externalAddress)
    try c.encodeIfPresent(externalPort, forKey: .externalPort)
    try c.encodeIfPresent(lifetime, forKey: .lifetime)
    // Always present: null means "could not be tried".
    try c.encode(verified, forKey: .verified)
    try c.encodeIfPresent(verification, forKey: .verification)
    try c.encode(deleted, forKey: .deleted)
    try c.encode(sent, forKey: .sent)
    try c.encodeIfPresent(error, forKey: .error)
    if !refusals.isEmpty { try c.encode(refusals, forKey: .refusals) }
  }
}
