import STUN

/// What `natscope probe` learned from the host's router about port mapping: which protocols
/// answered, and the external address the router claims for itself.
///
/// JSON keys: `gateway` (absent when the host has no default gateway), `protocols` (one
/// ``PortMappingResult`` each for PCP, NAT-PMP and UPnP IGD), `externalAddress` (the address
/// the router claims, absent when none answered with one), `testMapping` (a
/// ``PortMappingTestReport``, present only with `probe --port-mapping`).
public struct PortMappingReport: Sendable, Hashable, Codable {
  /// The default gateway asked; nil when the host has none.
  public var gateway: IPAddress?
  /// What each protocol said, in the order PCP, NAT-PMP, UPnP IGD.
  public var protocols: [PortMappingResult]
  /// The router's own external address: the first one a protocol claimed (PCP, then NAT-PMP,
  /// then UPnP IGD); nil when none did.
  public var externalAddress: IPAddress?
  /// The short-lived test mapping (`probe --port-mapping`); nil when none was asked for.
  public var testMapping: PortMappingTestReport? = nil

  public init(gateway: IPAddress?, protocols: [PortMappingResult]) {
    self.gateway = gateway
    self.protocols = protocols
    self.externalAddress = protocols.lazy.compactMap(\.externalAddress).first {
      !$0.isUnspecified
    }
  }
}

/// Whether there is a NAT above the host's router: the router's own external address (from
/// port mapping) compared with the address a STUN server saw. Never guessed from the address
/// range alone.
///
/// When the router claims the address servers see but refused every test mapping the way a
/// router refuses when a NAT above it would block what it forwards (see
/// ``PortMappingRefusal/cannotForward``), the verdict is `likely`, not `detected`: such answers
/// make a NAT above the router probable, they do not prove one.
///
/// The verdict is typed (``basis``); its sentence, ``reason``, is the report module's to word
/// (empty until it has).
///
/// JSON keys: `detected` (true, false, or null when the addresses could not be compared or
/// did not settle it), `likely` (true when the refusals make a NAT above the router likely;
/// absent otherwise), `routerAddress`, `serverSeenAddress`, `reason`.
public struct DoubleNATVerdict: Sendable, Hashable, Codable {
  /// What decided the verdict.
  public enum Basis: Sendable, Hashable {
    /// No router answered a port-mapping request with its own internet address.
    case noRouterAddress
    /// The router claimed an address but no STUN server answered.
    case noServerAnswer
    /// The two addresses are of different IP versions.
    case familiesDiffer
    /// The router claims the address servers see.
    case same
    /// The router claims the address servers see, yet every protocol asked refused the test
    /// mapping as a router that cannot forward from its internet side does.
    case refusedAsBehindAnotherNAT(refusals: [PortMappingRefusal], protocolsAsked: Int)
    /// The router's address differs from the one servers see.
    case differs
  }

  /// True when the two addresses differ; nil when there was nothing to compare, or when the
  /// addresses match but the router's refusals make a NAT above it likely.
  public var detected: Bool?
  /// True when the router claims the address servers see but refused every test mapping as a
  /// router behind another NAT does; nil otherwise.
  public var likely: Bool?
  /// The router's own external address, as it claimed over port mapping.
  public var routerAddress: IPAddress?
  /// The address the STUN server saw.
  public var serverSeenAddress: IPAddress?
  /// What decided (not encoded: ``reason`` says it).
  public var basis: Basis
  /// Why, in one or two sentences, as the report module words ``basis``.
  public var reason: String = ""

  public init(
    detected: Bool?, likely: Bool? = nil, routerAddress: IPAddress?,
    serverSeenAddress: IPAddress?, basis: Basis
  ) {
    self.detected = detected
    self.likely = likely
    self.routerAddress = routerAddress
    self.serverSeenAddress = serverSeenAddress
    self.basis = basis
  }

  private enum CodingKeys: String, CodingKey {
    case detected, likely, routerAddress, serverSeenAddress, reason
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    detected = try c.decodeIfPresent(Bool.self, forKey: .detected)
    likely = try c.decodeIfPresent(Bool.self, forKey: .likely)
    routerAddress = try c.decodeIfPresent(IPAddress.self, forKey: .routerAddress)
    serverSeenAddress = try c.decodeIfPresent(IPAddress.self, forKey: .serverSeenAddress)
    reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
    switch (detected, likely) {
    case (true?, _): basis = .differs
    case (false?, _): basis = .same
    case (nil, true?): basis = .refusedAsBehindAnotherNAT(refusals: [], protocolsAsked: 0)
    case (nil, _):
      basis =
        routerAddress == nil
        ? .noRouterAddress : (serverSeenAddress == nil ? .noServerAnswer : .familiesDiffer)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encodeIfPresent(detected, forKey: .detected)
    try c.encodeIfPresent(likely, forKey: .likely)
    try c.encodeIfPresent(routerAddress, forKey: .routerAddress)
    try c.encodeIfPresent(serverSeenAddress, forKey: .serverSeenAddress)
    try c.encode(reason, forKey: .reason)
  }

  /// Compares what the router claims (`portMapping.externalAddress`) with `serverSeen`, the
  /// STUN-reflexive address of the probe; when they match, weighs the refusals of the test
  /// mapping (`portMapping.testMapping?.refusals`), if one was tried.
  public static func evaluate(portMapping: PortMappingReport, serverSeen: IPAddress?)
    -> DoubleNATVerdict
  {
    let test = portMapping.testMapping
    return evaluate(
      router: portMapping.externalAddress, serverSeen: serverSeen,
      refusals: test.map { t in (t.created, t.attempted, t.refusals) })
  }

  /// Compares `router`, the address the router claims for itself, with `serverSeen`, the
  /// STUN-reflexive address; when they match, weighs `refusals`: whether a mapping was made,
  /// the protocols asked for one, and their refusals (nil when no mapping was asked for).
  public static func evaluate(
    router: IPAddress?, serverSeen: IPAddress?,
    refusals: (
      created: Bool, attempted: [PortMappingResult.Method], refusals: [PortMappingRefusal]
    )?
  ) -> DoubleNATVerdict {
    guard let router else {
      return DoubleNATVerdict(
        detected: nil, routerAddress: nil, serverSeenAddress: serverSeen, basis: .noRouterAddress)
    }
    guard let serverSeen else {
      return DoubleNATVerdict(
        detected: nil, routerAddress: router, serverSeenAddress: nil, basis: .noServerAnswer)
    }
    guard router.family == serverSeen.family else {
      return DoubleNATVerdict(
        detected: nil, routerAddress: router, serverSeenAddress: serverSeen,
        basis: .familiesDiffer)
    }
    if router == serverSeen {
      if let test = refusals, !test.created, !test.refusals.isEmpty,
        test.refusals.allSatisfy(\.cannotForward),
        test.attempted.allSatisfy({ m in test.refusals.contains { $0.protocol == m } })
      {
        return DoubleNATVerdict(
          detected: nil, likely: true, routerAddress: router, serverSeenAddress: serverSeen,
          basis: .refusedAsBehindAnotherNAT(
            refusals: test.refusals, protocolsAsked: test.attempted.count))
      }
      return DoubleNATVerdict(
        detected: false, routerAddress: router, serverSeenAddress: serverSeen, basis: .same)
    }
    return DoubleNATVerdict(
      detected: true, routerAddress: router, serverSeenAddress: serverSeen, basis: .differs)
  }
}
