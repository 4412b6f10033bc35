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
/// JSON keys: `detected` (true, false, or null when the addresses could not be compared),
/// `routerAddress`, `serverSeenAddress`, `reason`.
public struct DoubleNATVerdict: Sendable, Hashable, Codable {
  /// True when the two addresses differ; nil when there was nothing to compare.
  public var detected: Bool?
  /// The router's own external address, as it claimed over port mapping.
  public var routerAddress: IPAddress?
  /// The address the STUN server saw.
  public var serverSeenAddress: IPAddress?
  /// Why, in one or two sentences.
  public var reason: String

  public init(
    detected: Bool?, routerAddress: IPAddress?, serverSeenAddress: IPAddress?, reason: String
  ) {
    self.detected = detected
    self.routerAddress = routerAddress
    self.serverSeenAddress = serverSeenAddress
    self.reason = reason
  }

  /// Compares what the router claims (`portMapping.externalAddress`) with `serverSeen`, the
  /// STUN-reflexive address of the probe.
  public static func evaluate(portMapping: PortMappingReport, serverSeen: IPAddress?)
    -> DoubleNATVerdict
  {
    let router = portMapping.externalAddress
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

extension ProbeReport {
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
