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

  /// The canonical name (`port-restricted`, `eim/apdf`, …).
  public var name: String
  public var kind: Kind

  public init(name: String, kind: Kind) {
    self.name = name
    self.kind = kind
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
    SitePreset(name: "cgnat", kind: .carrier),
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

  /// The preset or custom NAT `text` names (case-insensitive), or an error sentence that says
  /// what is accepted.
  public static func parse(_ text: String) -> Result<SitePreset, SitePresetError> {
    let key = String(text.lowercased().prefix(64))
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

  /// The classic name ("symmetric NAT", "no NAT", …) for people.
  public var summary: String {
    switch kind {
    case .open: return "no NAT (public address)"
    case .carrier: return "home router behind a carrier-grade NAT"
    case .nat(let b):
      if b.firewall == .blockAll { return "router that drops all UDP" }
      let s = b.summary
      return s.contains("mapping") ? s : "\(s) NAT"
    }
  }

  /// Adds a site for this preset to `lab` (see `SimulatedLab.addSite`).
  @discardableResult
  public func addSite(to lab: SimulatedLab, name: String, loss: Double = 0) throws
    -> SimulatedHost
  {
    switch kind {
    case .open: return try lab.addSite(name, behavior: nil, loss: loss)
    case .nat(let b): return try lab.addSite(name, behavior: b, loss: loss)
    case .carrier: return try lab.addCarrierSite(name, loss: loss)
    }
  }
}

/// A NAT name `SitePreset.parse` did not understand; `description` is one sentence.
public struct SitePresetError: Error, Hashable, Sendable, CustomStringConvertible {
  public var text: String
  public var mapping: String?
  public var filtering: String?

  public init(text: String, mapping: String? = nil, filtering: String? = nil) {
    self.text = text
    self.mapping = mapping
    self.filtering = filtering
  }

  public var description: String {
    let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
    let names = SitePreset.presets.map(\.name).joined(separator: ", ")
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
