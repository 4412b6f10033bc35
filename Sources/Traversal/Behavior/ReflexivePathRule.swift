/// Whether a kind of ICE path should work between two hosts.
public enum PathOutcome: String, Codable, Sendable, Hashable {
  case works, fails, unknown
}

/// The model's rule for the "through the NATs" path between two profiled hosts: the outcome
/// and the rule that decided (and about which host). It says nothing in words: the report
/// module words it for its readers ("this host" and "the peer", or "host A" and "host B").
public struct ReflexivePathRule: Sendable, Hashable {
  /// One of the two hosts of ``decide(_:_:)``, or both.
  public enum Host: String, Codable, Sendable, Hashable {
    case a, b, both
  }

  /// The rule of ``decide(_:_:)`` that decided.
  public enum Basis: Codable, Sendable, Hashable {
    /// UDP does not get out of the named host's network.
    case udpBlocked(Host)
    /// A NAT's mapping or filtering behaviour is unknown.
    case behaviourUnknown
    /// Neither host is behind a NAT.
    case bothPublic
    /// Both NATs map endpoint-independently.
    case bothKeepOneAddress
    /// The named host's NAT (or, without a NAT, the host itself) lets the other's checks in.
    case letsIn(Host, natDetected: Bool)
    /// Both NATs map endpoint-independently but filter too strictly.
    case filtersTooStrictly
    /// The named NAT(s) pick a new port per destination and the other filters by port.
    case portPerDestination(Host)
  }

  public var outcome: PathOutcome
  public var basis: Basis

  public init(_ outcome: PathOutcome, basis: Basis) {
    self.outcome = outcome
    self.basis = basis
  }

  /// Decides the "through the NATs" path: each side sends connectivity checks to the other's
  /// server-reflexive address, and answers (or triggered checks) go back to the peer-reflexive
  /// address the check arrived from.
  ///
  /// The model, per RFC 4787: a check from A to B's server-reflexive address leaves A's NAT
  /// through A's mapping for that destination and arrives on the mapping B opened towards the
  /// STUN server. B's NAT lets it in if B filters endpoint-independently; or if B maps
  /// endpoint-independently (so B's own checks towards A left through that same mapping) and
  /// B filters by address (A's NAT uses one public IP), or by address and port and A maps
  /// endpoint-independently (so the check comes from the very address B sent to). B's answer
  /// gets back into A's NAT if B maps endpoint-independently (it comes from the address A sent
  /// to), or if A filters endpoint-independently or by address only. The path works when one
  /// direction gets both the check in and the answer back.
  public static func decide(_ a: NATProfile, _ b: NATProfile) -> ReflexivePathRule {
    if a.udpBlocked || b.udpBlocked {
      let who: Host = a.udpBlocked && b.udpBlocked ? .both : (a.udpBlocked ? .a : .b)
      return ReflexivePathRule(.fails, basis: .udpBlocked(who))
    }
    guard let am = a.mapping, let af = a.filtering, let bm = b.mapping, let bf = b.filtering else {
      return ReflexivePathRule(.unknown, basis: .behaviourUnknown)
    }
    func checkGetsIn(from xm: MappingBehavior, to ym: MappingBehavior, _ yf: FilteringBehavior)
      -> Bool
    {
      switch yf {
      case .endpointIndependent: return true
      case .addressDependent: return ym == .endpointIndependent
      case .addressAndPortDependent: return ym == .endpointIndependent && xm == .endpointIndependent
      }
    }
    func answerGetsBack(from ym: MappingBehavior, to xf: FilteringBehavior) -> Bool {
      ym == .endpointIndependent || xf != .addressAndPortDependent
    }
    let aToB = checkGetsIn(from: am, to: bm, bf) && answerGetsBack(from: bm, to: af)
    let bToA = checkGetsIn(from: bm, to: am, af) && answerGetsBack(from: am, to: bf)
    if aToB || bToA {
      if !a.natDetected && !b.natDetected {
        return ReflexivePathRule(.works, basis: .bothPublic)
      }
      if am == .endpointIndependent && bm == .endpointIndependent {
        return ReflexivePathRule(.works, basis: .bothKeepOneAddress)
      }
      let (open, openProfile): (Host, NATProfile) = aToB ? (.b, b) : (.a, a)
      return ReflexivePathRule(.works, basis: .letsIn(open, natDetected: openProfile.natDetected))
    }
    let dependent = [(am, Host.a), (bm, Host.b)].filter { $0.0 != .endpointIndependent }.map(\.1)
    if dependent.isEmpty {
      return ReflexivePathRule(.fails, basis: .filtersTooStrictly)
    }
    let who: Host = dependent.count == 2 ? .both : dependent[0]
    return ReflexivePathRule(.fails, basis: .portPerDestination(who))
  }
}
