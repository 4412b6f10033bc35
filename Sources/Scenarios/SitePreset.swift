import Report
import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// What kind of network a simulated site is, named the way `natscope demo --a/--b` accepts it:
/// a preset (`open`, `full-cone`, `restricted`, `port-restricted`, `symmetric`, `cgnat`,
/// `udp-blocked`; `restricted-cone` and `port-restricted-cone` are accepted too) or a custom
/// NAT written `mapping/filtering` with the RFC 4787 abbreviations:
///
/// | mapping | meaning | filtering | meaning |
/// |---|---|---|---|
/// | `eim` | endpoint-independent | `eif` | endpoint-independent |
/// | `adm` | address-dependent | `adf` | address-dependent |
/// | `apdm` | address-and-port-dependent | `apdf` | address-and-port-dependent |
///
/// e.g. `eim/apdf` (a port-restricted cone), `apdm/eif`, `adm/adf`. Custom NATs preserve
/// ports when they map endpoint-independently and assign them sequentially otherwise, and
/// hairpin.
///
/// A suffix names the port-mapping protocols the site's router offers: `+pcp`, `+nat-pmp`,
/// `+upnp`, in any combination (`symmetric+upnp`, `eim/apdf+pcp+upnp`). The `cgnat` preset's
/// home router offers all three unless a suffix names fewer; `open` (no router) and
/// `udp-blocked` (a router that drops all UDP) take none.
public struct SitePreset: Hashable, Sendable {
  /// How the site attaches to the simulated internet.
  public enum Kind: Hashable, Sendable {
    /// A host with a public address and no NAT or firewall.
    case open
    /// A host behind one NAT box with this behaviour.
    case nat(NATBehavior)
    /// A host behind a home router (port-restricted cone) behind a carrier-grade NAT.
    case carrier
  }

  /// The canonical name (`port-restricted`, `eim/apdf`, `symmetric+pcp+upnp`, …).
  public var name: String
  public var kind: Kind
  /// The port-mapping protocols the site's router answers (see ``RouterPortMapping`` and
  /// ``RouterUPnPIGD``).
  public var portMapping: Set<PortMappingResult.Method>

  public init(name: String, kind: Kind, portMapping: Set<PortMappingResult.Method> = []) {
    self.name = name
    self.kind = kind
    self.portMapping = portMapping
  }

  /// Whether the site's firewall drops outgoing UDP (then TURN has to go over TCP).
  public var blocksOutgoingUDP: Bool {
    guard case .nat(let b) = kind else { return false }
    return b.firewall.blocks(inbound: false)
  }

  /// The presets, most to least permissive.
  public static let presets: [SitePreset] = [
    SitePreset(name: "open", kind: .open),
    SitePreset(name: "full-cone", kind: .nat(.fullCone)),
    SitePreset(name: "restricted", kind: .nat(.restrictedCone)),
    SitePreset(name: "port-restricted", kind: .nat(.portRestrictedCone)),
    SitePreset(name: "symmetric", kind: .nat(.symmetric)),
    SitePreset(name: "cgnat", kind: .carrier, portMapping: Set(PortMappingResult.Method.allCases)),
    SitePreset(name: "udp-blocked", kind: .nat(.udpBlocked)),
  ]

  /// Other accepted spellings of preset names.
  public static let aliases: [String: String] = [
    "restricted-cone": "restricted", "port-restricted-cone": "port-restricted",
    "fullcone": "full-cone", "none": "open", "blocked": "udp-blocked",
  ]

  /// The mapping abbreviations of the custom form.
  public static let mappingCodes: [(code: String, behavior: MappingBehavior)] = [
    ("eim", .endpointIndependent), ("adm", .addressDependent),
    ("apdm", .addressAndPortDependent),
  ]

  /// The filtering abbreviations of the custom form.
  public static let filteringCodes: [(code: String, behavior: FilteringBehavior)] = [
    ("eif", .endpointIndependent), ("adf", .addressDependent),
    ("apdf", .addressAndPortDependent),
  ]

  /// The suffixes of the port-mapping protocols, in canonical order (with other spellings).
  public static let portMappingCodes: [(code: String, method: PortMappingResult.Method)] = [
    ("pcp", .pcp), ("nat-pmp", .natPMP), ("natpmp", .natPMP), ("upnp", .upnpIGD),
    ("upnp-igd", .upnpIGD),
  ]

  /// The suffix of `method` in a canonical name.
  static func code(_ method: PortMappingResult.Method) -> String {
    portMappingCodes.first { $0.method == method }?.code ?? method.rawValue
  }

  /// The preset or custom NAT `text` names (case-insensitive), with an optional `+protocol`
  /// suffix, or an error sentence that says what is accepted.
  public static func parse(_ text: String) -> Result<SitePreset, SitePresetError> {
    let lowered = String(text.lowercased().prefix(64))
    let parts = lowered.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
    guard parts.count > 1 else { return parseBase(lowered, text: text) }
    var methods: Set<PortMappingResult.Method> = []
    for code in parts.dropFirst() {
      guard let m = portMappingCodes.first(where: { $0.code == code })?.method else {
        return .failure(SitePresetError(text: text, portMapping: code))
      }
      methods.insert(m)
    }
    switch parseBase(parts[0], text: text) {
    case .failure(let e): return .failure(e)
    case .success(var base):
      switch base.kind {
      case .open:
        return .failure(SitePresetError(text: text, noRouter: base.name))
      case .nat(let b) where b.firewall.blocks(inbound: false):
        return .failure(SitePresetError(text: text, noRouter: base.name))
      default:
        break
      }
      base.portMapping = methods
      base.name = base.canonicalName(base: base.baseName)
      return .success(base)
    }
  }

  /// The name without its port-mapping suffix.
  public var baseName: String {
    String(name.split(separator: "+", maxSplits: 1).first ?? Substring(name))
  }

  /// `base` with the suffix of the protocols offered, none for the cgnat preset's default (all
  /// three).
  func canonicalName(base: String) -> String {
    if case .carrier = kind, portMapping == Set(PortMappingResult.Method.allCases) { return base }
    let suffix = PortMappingResult.Method.allCases.filter(portMapping.contains).map {
      "+" + Self.code($0)
    }
    return base + suffix.joined()
  }

  private static func parseBase(_ key: String, text: String) -> Result<SitePreset, SitePresetError>
  {
    let canonical = aliases[key] ?? key
    if let preset = presets.first(where: { $0.name == canonical }) { return .success(preset) }
    let parts = key.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2 else { return .failure(SitePresetError(text: text)) }
    guard let m = mappingCodes.first(where: { $0.code == parts[0] })?.behavior else {
      return .failure(SitePresetError(text: text, mapping: String(parts[0])))
    }
    guard let f = filteringCodes.first(where: { $0.code == parts[1] })?.behavior else {
      return .failure(SitePresetError(text: text, filtering: String(parts[1])))
    }
    let behavior = NATBehavior(
      mapping: m, filtering: f, portPreservation: m == .endpointIndependent)
    return .success(SitePreset(name: "\(parts[0])/\(parts[1])", kind: .nat(behavior)))
  }

  /// The classic name ("symmetric NAT", "no NAT", …) for people, with the port-mapping
  /// protocols the router offers ("symmetric NAT whose router offers PCP and UPnP IGD").
  public var summary: String {
    switch kind {
    case .open: return "no NAT (public address)"
    case .carrier:
      guard let offers = offersText else { return "home router behind a carrier-grade NAT" }
      return "home router (offers \(offers)) behind a carrier-grade NAT"
    case .nat(let b):
      if b.firewall == .blockAll { return "router that drops all UDP" }
      let s = b.summary
      let base = s.contains("mapping") ? s : "\(s) NAT"
      return offersText.map { "\(base) whose router offers \($0)" } ?? base
    }
  }

  /// "PCP", "PCP and UPnP IGD", "PCP, NAT-PMP and UPnP IGD"; nil when none.
  var offersText: String? {
    let names = PortMappingResult.Method.allCases.filter(portMapping.contains).map(\.displayName)
    guard let last = names.last else { return nil }
    return names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " and " + last
  }

  /// Adds a site for this preset to `lab` (see `SimulatedLab.addSite`).
  @discardableResult
  public func addSite(
    to lab: SimulatedLab, name: String, loss: Double = 0, largestDatagram: Int? = nil
  ) throws -> SimulatedHost {
    let host: SimulatedHost
    switch kind {
    case .open:
      return try lab.addSite(
        name, behavior: nil, loss: loss, largestDatagram: largestDatagram)
    case .nat(let b):
      host = try lab.addSite(name, behavior: b, loss: loss, largestDatagram: largestDatagram)
    case .carrier: host = try lab.addCarrierSite(name, loss: loss)
    }
    if !portMapping.isEmpty, let box = lab.router(of: host) {
      lab.offerPortMapping(portMapping, on: box)
    }
    return host
  }
}

/// A NAT name `SitePreset.parse` did not understand; `description` is one sentence.
public struct SitePresetError: Error, Hashable, Sendable, CustomStringConvertible {
  public var text: String
  public var mapping: String?
  public var filtering: String?
  /// A port-mapping suffix that is not pcp, nat-pmp or upnp.
  public var portMapping: String?
  /// The base preset that has no router that could offer port mapping (`open`, `udp-blocked`).
  public var noRouter: String?

  public init(
    text: String, mapping: String? = nil, filtering: String? = nil, portMapping: String? = nil,
    noRouter: String? = nil
  ) {
    self.text = text
    self.mapping = mapping
    self.filtering = filtering
    self.portMapping = portMapping
    self.noRouter = noRouter
  }

  public var description: String {
    let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
    let names = SitePreset.presets.map(\.name).joined(separator: ", ")
    if let portMapping {
      let code = portMapping.count > 20 ? String(portMapping.prefix(20)) + "…" : portMapping
      return
        "\"\(shown)\": \"+\(code)\" is not a port-mapping protocol the simulated router offers (use +pcp, +nat-pmp or +upnp, e.g. symmetric+upnp)."
    }
    if let noRouter {
      return noRouter == "open"
        ? "\"\(shown)\": open has no router, so nothing can offer port mapping (add +pcp, +nat-pmp or +upnp to a NAT, e.g. symmetric+upnp)."
        : "\"\(shown)\": \(noRouter)'s router drops all UDP, so it cannot answer port-mapping requests (add +pcp, +nat-pmp or +upnp to another NAT)."
    }
    if let mapping {
      return
        "\"\(shown)\": the mapping \"\(mapping)\" is not eim, adm or apdm (write mapping/filtering, e.g. eim/apdf)."
    }
    if let filtering {
      return
        "\"\(shown)\": the filtering \"\(filtering)\" is not eif, adf or apdf (write mapping/filtering, e.g. eim/apdf)."
    }
    return
      "\"\(shown)\" is not a NAT natscope can simulate: use one of \(names), or mapping/filtering such as eim/apdf."
  }
}
