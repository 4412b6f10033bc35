extension SessionDescription {
  /// The description as SDP attribute lines (RFC 8839), ending with an empty line:
  /// `a=ice-ufrag`, `a=ice-pwd`, natscope's own `a=x-natscope-*` lines (role, tie-breaker,
  /// NAT profile; other agents ignore them), `a=fingerprint:sha-256 …` and `a=setup:` (RFC 8122,
  /// RFC 8842) when DTLS is offered, one `a=candidate:` per candidate, and
  /// `a=end-of-candidates` when gathering is complete (else `a=ice-options:trickle`, so the
  /// reader knows more may come). Lines end in LF.
  public var sdp: String { sdpLines.joined(separator: "\n") + "\n" }

  /// The lines of `sdp`, the last one empty.
  public var sdpLines: [String] {
    var lines = ["a=ice-ufrag:\(ufrag)", "a=ice-pwd:\(password)"]
    lines.append("a=x-natscope-role:\(role.rawValue)")
    lines.append("a=x-natscope-tie-breaker:\(tieBreaker)")
    if let p = natProfile {
      lines.append(
        "a=x-natscope-nat:\(p.udpBlocked ? "udp-blocked" : (p.natDetected ? "nat" : "no-nat")) "
          + "\(p.mapping?.rawValue ?? "unknown") \(p.filtering?.rawValue ?? "unknown")")
    }
    if let dtls {
      lines.append("a=fingerprint:sha-256 \(dtls.fingerprint.text)")
      lines.append("a=setup:\(dtls.setup.rawValue)")
    }
    // RFC 8838 §3: without ice-options:trickle a description is complete.
    if !endOfCandidates { lines.append("a=ice-options:trickle") }
    lines += candidates.map { "a=" + $0.sdpAttribute }
    if endOfCandidates { lines.append("a=end-of-candidates") }
    lines.append("")
    return lines
  }

  /// Parses SDP text (LF or CRLF line ends); see `init(sdpLines:assumedRole:)`.
  public init(sdp text: String, assumedRole: SignalingRole) throws(SignalingError) {
    try self.init(sdpLines: SessionDescription.splitLines(text), assumedRole: assumedRole)
  }

  /// Parses SDP lines. Lines may carry the `a=` prefix or not; other SDP lines (`v=`, `m=`,
  /// `c=`, …) and attributes natscope does not use are ignored; `a=fingerprint:sha-256` (other
  /// hash functions are ignored) and `a=setup:` give `dtls` (a missing `a=setup` reads as
  /// `actpass` in an offer and `active` in an answer, RFC 8842 §5.3); without a fingerprint
  /// `dtls` is nil (the peer offers no DTLS); TCP and mDNS candidates are kept (see `SignaledCandidate.unusableReason`).
  ///
  /// - Parameter assumedRole: the role when no `a=x-natscope-role` line says otherwise (SDP from
  ///   other agents: the role the reader is waiting for).
  /// - Throws: `SignalingError` for a missing `ice-ufrag`/`ice-pwd` or an unreadable candidate.
  public init(sdpLines: [some StringProtocol], assumedRole: SignalingRole) throws(SignalingError) {
    var ufrag: String?
    var password: String?
    var role = assumedRole
    var tieBreaker: UInt64 = 0
    var profile: NATProfile?
    var candidates: [SignaledCandidate] = []
    var end = false
    var trickle = false
    var fingerprint: DTLSFingerprint?
    var setup: DTLSSetupRole?
    for (index, raw) in sdpLines.enumerated() {
      let number = index + 1
      var line = Substring(raw).trimmingSignalingWhitespace()
      if line.isEmpty { continue }
      if line.hasPrefix("a=") {
        line = line.dropFirst(2)
      } else if line.count >= 2, line.dropFirst().first == "=" {
        continue  // v=, o=, s=, t=, m=, c=, …
      }
      let name: Substring
      let value: Substring
      if let colon = line.firstIndex(of: ":") {
        name = line[..<colon]
        value = line[line.index(after: colon)...].trimmingSignalingWhitespace()
      } else {
        name = line
        value = ""
      }
      switch name.lowercased() {
      case "ice-ufrag":
        guard (1...256).contains(value.count), value.allSatisfy(\.isSignalingICEChar) else {
          throw .badAttribute(
            line: number, reason: "the ice-ufrag is not 1 to 256 letters or digits")
        }
        if ufrag == nil { ufrag = String(value) }
      case "ice-pwd":
        guard (1...256).contains(value.count), value.allSatisfy(\.isSignalingICEChar) else {
          throw .badAttribute(line: number, reason: "the ice-pwd is not 1 to 256 letters or digits")
        }
        if password == nil { password = String(value) }
      case "candidate":
        candidates.append(try SignaledCandidate(sdpAttribute: line, line: number))
      case "fingerprint":
        let f = value.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count == 2 else {
          throw .badAttribute(line: number, reason: "the fingerprint is not 'hash digest'")
        }
        guard f[0].lowercased() == "sha-256" else { continue }
        guard let parsed = DTLSFingerprint(text: f[1]) else {
          throw .badAttribute(
            line: number, reason: "the sha-256 fingerprint is not 32 hexadecimal bytes")
        }
        if fingerprint == nil { fingerprint = parsed }
      case "setup":
        guard let s = DTLSSetupRole(rawValue: value.lowercased()) else {
          throw .badAttribute(
            line: number, reason: "the setup role is not actpass, active or passive")
        }
        setup = s
      case "end-of-candidates":
        end = true
      case "ice-options":
        if value.split(separator: " ").contains(where: { $0.lowercased() == "trickle" }) {
          trickle = true
        }
      case "x-natscope-role":
        guard let r = SignalingRole(rawValue: value.lowercased()) else {
          throw .badAttribute(line: number, reason: "the role is neither offer nor answer")
        }
        role = r
      case "x-natscope-tie-breaker":
        guard let t = UInt64(value) else {
          throw .badAttribute(line: number, reason: "the tie-breaker is not a 64-bit number")
        }
        tieBreaker = t
      case "x-natscope-nat":
        let f = value.split(separator: " ")
        guard f.count == 3, ["udp-blocked", "nat", "no-nat"].contains(f[0]) else {
          throw .badAttribute(line: number, reason: "the NAT profile is not readable")
        }
        profile = NATProfile(
          udpBlocked: f[0] == "udp-blocked", natDetected: f[0] == "nat",
          mapping: MappingBehavior(rawValue: String(f[1])),
          filtering: FilteringBehavior(rawValue: String(f[2])))
      default:
        continue
      }
    }
    guard let ufrag else { throw .missingAttribute("ice-ufrag") }
    guard let password else { throw .missingAttribute("ice-pwd") }
    self.init(
      ufrag: ufrag, password: password, role: role, tieBreaker: tieBreaker,
      candidates: candidates, endOfCandidates: end || !trickle, natProfile: profile,
      dtls: fingerprint.map {
        DTLSParameters(fingerprint: $0, setup: setup ?? (role == .offer ? .actpass : .active))
      })
  }

  /// Splits on LF, dropping a CR before it (CRLF is one Character in Swift).
  static func splitLines(_ text: String) -> [Substring] {
    text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
      .map { $0.last == "\r" ? $0.dropLast() : $0 }
  }
}
