/// Which half of the copy-and-paste exchange a description is: the host that runs
/// `natscope connect` first prints an offer; the other host reads it and prints an answer.
/// The offerer takes the ICE controlling role.
public enum SignalingRole: String, Codable, Sendable, Hashable, CaseIterable {
  case offer, answer
}

/// Everything an ICE peer needs to start connectivity checks with this host: credentials,
/// role, tie-breaker, candidates, and what this host knows about its NAT.
///
/// The ICE password is carried because the peer needs it, but it never appears in
/// `description`, `debugDescription` or any error message.
public struct SessionDescription: Hashable, Sendable {
  /// `ice-ufrag`: 4 to 256 `ice-char`s.
  public var ufrag: String
  /// `ice-pwd`: 22 to 256 `ice-char`s. Secret: never printed.
  public var password: String
  /// Offer or answer; the offerer controls.
  public var role: SignalingRole
  /// The ICE tie-breaker (RFC 8445 §7.1.1); 0 when the description came from SDP without one.
  public var tieBreaker: UInt64
  public var candidates: [SignaledCandidate]
  /// True when this host has finished gathering: `a=end-of-candidates`, or SDP without
  /// `a=ice-options:trickle` (RFC 8838 §3: a peer that does not trickle sends complete
  /// descriptions, as libnice and aioice do). natscope tokens are always complete.
  public var endOfCandidates: Bool
  /// This host's NAT behaviour, when it ran a probe.
  public var natProfile: NATProfile?
  /// The RFC 3489 name for this host's NAT (`unknown` without a probe).
  public var legacyNATType: LegacyNATType
  /// The DTLS certificate fingerprint and setup role (`a=fingerprint:` / `a=setup:`); nil when
  /// the sender offers no DTLS (an SDP from an agent without it, or `connect --no-dtls`).
  public var dtls: DTLSParameters?

  /// - Parameter legacyNATType: defaults to the profile's legacy name, or `unknown`.
  public init(
    ufrag: String, password: String, role: SignalingRole, tieBreaker: UInt64,
    candidates: [SignaledCandidate], endOfCandidates: Bool = true, natProfile: NATProfile? = nil,
    legacyNATType: LegacyNATType? = nil, dtls: DTLSParameters? = nil
  ) {
    self.ufrag = ufrag
    self.password = password
    self.role = role
    self.tieBreaker = tieBreaker
    self.candidates = candidates
    self.endOfCandidates = endOfCandidates
    self.natProfile = natProfile
    self.legacyNATType = legacyNATType ?? natProfile?.legacyType ?? .unknown
    self.dtls = dtls
  }

  /// Candidates natscope can check.
  public var usableCandidates: [SignaledCandidate] {
    candidates.filter { $0.unusable == nil }
  }

  /// Candidates natscope keeps but cannot check (TCP, mDNS names), each with why.
  public var unusableCandidates:
    [(candidate: SignaledCandidate, reason: SignaledCandidate.Unusable)]
  {
    candidates.compactMap { c in c.unusable.map { (c, $0) } }
  }
}

extension SessionDescription: CustomStringConvertible, CustomDebugStringConvertible {
  /// A one-line summary; the password is redacted.
  public var description: String {
    var kinds: [String] = []
    for k in SignaledCandidate.Kind.allCases {
      let n = candidates.filter { $0.kind == k }.count
      if n > 0 { kinds.append("\(n) \(k.rawValue)") }
    }
    return
      "\(role.rawValue) ufrag=\(ufrag) pwd=<redacted> candidates=[\(kinds.joined(separator: ", "))]"
      + "\(endOfCandidates ? " complete" : "") nat=\(legacyNATType.rawValue)"
  }

  /// The summary plus every candidate line; the password is redacted.
  public var debugDescription: String {
    ([description] + candidates.map { "  " + $0.sdpAttribute }).joined(separator: "\n")
  }
}
