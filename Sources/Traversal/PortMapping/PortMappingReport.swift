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
/// JSON keys: `detected` (true, false, or null when the addresses could not be compared or
/// did not settle it), `likely` (true when the refusals make a NAT above the router likely;
/// absent otherwise), `routerAddress`, `serverSeenAddress`, `reason`.
public struct DoubleNATVerdict: Sendable, Hashable, Codable {
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
  /// Why, in one or two sentences.
  public var reason: String

  public init(
    detected: Bool?, likely: Bool? = nil, routerAddress: IPAddress?,
    serverSeenAddress: IPAddress?, reason: String
  ) {
    self.detected = detected
    self.likely = likely
    self.routerAddress = routerAddress
    self.serverSeenAddress = serverSeenAddress
    self.reason = reason
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
        detected: nil, routerAddress: nil, serverSeenAddress: serverSeen,
        reason:
          "Unknown: no router answered a port-mapping request with its own internet address, so there is nothing to compare with what servers see."
      )
    }
    guard let serverSeen else {
      return DoubleNATVerdict(
        detected: nil, routerAddress: router, serverSeenAddress: nil,
        reason:
          "Unknown: your router's own internet address is \(router), but no STUN server answered, so there is nothing to compare it with."
      )
    }
    guard router.family == serverSeen.family else {
      return DoubleNATVerdict(
        detected: nil, routerAddress: router, serverSeenAddress: serverSeen,
        reason:
          "Unknown: your router's own internet address (\(router)) and the address servers see (\(serverSeen)) are of different IP versions, so they cannot be compared."
      )
    }
    if router == serverSeen {
      if let likely = likelyFromRefusals(refusals, router: router) {
        return DoubleNATVerdict(
          detected: nil, likely: true, routerAddress: router, serverSeenAddress: serverSeen,
          reason: likely)
      }
      return DoubleNATVerdict(
        detected: false, routerAddress: router, serverSeenAddress: serverSeen,
        reason:
          "None seen: the internet address your router reports, \(router), is the address servers see. (A router that learns its address from a STUN server, as miniupnpd can, reports the outermost address even behind another NAT, so this does not rule one out.)"
      )
    }
    return DoubleNATVerdict(
      detected: true, routerAddress: router, serverSeenAddress: serverSeen,
      reason:
        "Your router's own internet address is \(router), but servers see \(serverSeen): there is another NAT above your router (carrier-grade NAT or a second router). A port opened on your router does not open one on the NAT above it, so peers cannot reach you through a port mapping; a direct connection needs hole punching through both NATs, or a relay."
    )
  }
}

extension DoubleNATVerdict {
  /// The "likely" sentence when a test mapping was refused by every protocol asked, each with
  /// an answer of ``PortMappingRefusal/cannotForward``; nil otherwise (no test, a mapping was
  /// made, a protocol gave no such answer, or one refused by policy).
  static func likelyFromRefusals(
    _ test: (created: Bool, attempted: [PortMappingResult.Method], refusals: [PortMappingRefusal])?,
    router: IPAddress
  ) -> String? {
    guard let test, !test.created, !test.refusals.isEmpty,
      test.refusals.allSatisfy(\.cannotForward),
      test.attempted.allSatisfy({ m in test.refusals.contains { $0.protocol == m } })
    else { return nil }
    let answers = list(test.refusals.map(\.phrase))
    let every = test.refusals.count == 1 ? "the one protocol asked" : "every protocol asked"
    return
      "Likely: your router reports the address servers see, \(router), yet it refused to open a port over \(every): \(answers). Those are the answers of a router that is up and allows the request but cannot forward from its own internet side; miniupnpd, for one, refuses so when its STUN test finds a NAT above it that would block what it forwards (it learns the outer address by STUN, so the addresses match). A router out of resources, or with forwarding broken, would answer the same, so this is not proof. If there is a NAT above your router, no port opened on your router opens one on it: a direct connection needs hole punching through both NATs, or a relay."
  }

  /// `a`, `a and b`, `a, b and c`.
  static func list(_ items: [String]) -> String {
    guard items.count > 1, let last = items.last else { return items.first ?? "" }
    return items.dropLast().joined(separator: ", ") + " and " + last
  }
}

extension ProbeReport {
  /// Adds the test mapping (`probe --port-mapping`) and weighs its refusals in the double-NAT
  /// verdict; when that makes a NAT above the router likely, the summary says so too.
  public mutating func attach(testMapping: PortMappingTestReport) {
    guard var pm = portMapping else { return }
    pm.testMapping = testMapping
    portMapping = pm
    let before = doubleNAT
    let verdict = DoubleNATVerdict.evaluate(
      portMapping: pm, serverSeen: udpBlocked ? nil : mappedAddress?.ip)
    doubleNAT = verdict
    if verdict.likely == true, before?.likely != true, before?.detected != true {
      summary += " " + verdict.reason
    }
  }

  /// Adds what the router said about port mapping, and the double-NAT verdict that follows
  /// from comparing its external address with the probe's mapped address; when a NAT above the
  /// router is detected, the summary says so too.
  public mutating func attach(portMapping: PortMappingReport) {
    self.portMapping = portMapping
    let verdict = DoubleNATVerdict.evaluate(
      portMapping: portMapping, serverSeen: udpBlocked ? nil : mappedAddress?.ip)
    doubleNAT = verdict
    if verdict.detected == true { summary += " " + verdict.reason }
  }
}
