/// Whether a kind of ICE path should work between two hosts, and why.
public struct PathPrediction: Codable, Sendable, Hashable {
  public enum Outcome: String, Codable, Sendable, Hashable {
    case works, fails, unknown
  }

  public var outcome: Outcome
  /// One sentence a person can act on.
  public var reason: String

  public init(_ outcome: Outcome, _ reason: String) {
    self.outcome = outcome
    self.reason = reason
  }

  /// Predicts the "through the NATs" path: each side sends connectivity checks to the other's
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
  public static func reflexive(_ a: NATProfile, _ b: NATProfile) -> PathPrediction {
    if a.udpBlocked || b.udpBlocked {
      let who = a.udpBlocked && b.udpBlocked ? "both hosts" : (a.udpBlocked ? "host A" : "host B")
      return PathPrediction(
        .fails, "UDP is blocked for \(who), so no UDP path but a relay over TCP can work.")
    }
    guard let am = a.mapping, let af = a.filtering, let bm = b.mapping, let bf = b.filtering else {
      return PathPrediction(
        .unknown,
        "A NAT's mapping or filtering behaviour is unknown, so this path can only be tried.")
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
        return PathPrediction(
          .works, "Both hosts have public addresses, so they reach each other directly.")
      }
      if am == .endpointIndependent && bm == .endpointIndependent {
        return PathPrediction(
          .works,
          "Each side keeps one public address per socket, so each side's checks open a hole the other's can use."
        )
      }
      let (open, openProfile) = aToB ? ("B", b) : ("A", a)
      let what = openProfile.natDetected ? "Host \(open)'s NAT" : "Host \(open) has no NAT and"
      return PathPrediction(
        .works,
        "\(what) lets the other side's checks in even though the other NAT changes its port per destination."
      )
    }
    let dependent = [(am, "A"), (bm, "B")].filter { $0.0 != .endpointIndependent }.map(\.1)
    if dependent.isEmpty {
      return PathPrediction(
        .fails, "Both NATs filter too strictly for either side's checks to get in.")
    }
    let who = dependent.count == 2 ? "Both NATs pick" : "Host \(dependent[0])'s NAT picks"
    return PathPrediction(
      .fails,
      "\(who) a new public port for each destination, and the other side's NAT only accepts packets from the exact address it sent to, so only a relay can work."
    )
  }
}
