import STUN

/// The one-line token users copy from one terminal to the other:
/// `natscope1.` + base64url (no padding) of a compact binary description and its CRC-32.
///
/// Binary layout (format 1): version byte `1`, body length (UInt16), body, CRC-32 (IEEE) of
/// everything before it. The body holds flags, tie-breaker, ufrag, password, NAT profile, the
/// DTLS parameters (flag 8: the 32-byte SHA-256 certificate fingerprint and a setup byte, 0
/// actpass, 1 active, 2 passive; tokens without it, as older builds wrote them, still read)
/// and candidates with varint lengths; a typical description with six candidates is about 330
/// characters. Decoding strips whitespace and line breaks first and never traps: anything else
/// is a `SignalingError` with one sentence for the user.
///
/// ```swift
/// let line = SessionToken.encode(description)
/// do {
///   let peer = try SessionToken.decode(pasted, expecting: .answer)
/// } catch {
///   print(error.message)
/// }
/// ```
public enum SessionToken {
  /// The prefix of format-1 tokens.
  public static let prefix = "natscope1."
  /// The format this build writes and reads.
  public static let formatVersion = 1
  /// Longer pasted text is rejected before decoding.
  public static let maximumLength = 16_384
  static let maximumCandidates = 64
  static let maximumBody = 8_192

  /// Encodes a description as a single token line.
  ///
  /// Descriptions within the limits `decode` enforces round-trip: at most 64 candidates,
  /// `ice-char` ufrag and password of at most 256 characters, foundations of 1 to 32
  /// `ice-char`s, host names of at most 253 bytes, at most 16 extensions per candidate.
  public static func encode(_ d: SessionDescription) -> String {
    var body = TokenWriter()
    var flags: UInt8 = 0
    if d.role == .answer { flags |= 1 }
    if d.endOfCandidates { flags |= 2 }
    if d.natProfile != nil { flags |= 4 }
    if d.dtls != nil { flags |= 8 }
    body.u8(flags)
    body.u64(d.tieBreaker)
    body.string(d.ufrag)
    body.string(d.password)
    body.u8(UInt8(LegacyNATType.allCases.firstIndex(of: d.legacyNATType) ?? 0))
    if let p = d.natProfile {
      var b: UInt8 = 0
      if p.udpBlocked { b |= 1 }
      if p.natDetected { b |= 2 }
      b |= code(p.mapping) << 2
      b |= code(p.filtering) << 4
      body.u8(b)
    }
    if let dtls = d.dtls {
      body.bytes += dtls.fingerprint.bytes
      body.u8(UInt8(DTLSSetupRole.allCases.firstIndex(of: dtls.setup) ?? 0))
    }
    body.varint(UInt64(d.candidates.count))
    for c in d.candidates { write(c, to: &body) }
    var wire = TokenWriter()
    wire.u8(UInt8(formatVersion))
    wire.u16(UInt16(truncatingIfNeeded: body.bytes.count))
    wire.bytes += body.bytes
    wire.u32(CRC32.checksum(wire.bytes))
    return prefix + SignalingBase64.encode(wire.bytes)
  }

  /// True when a line looks like the start of a token (so a reader should treat the input as a
  /// token rather than SDP).
  public static func looksLikeToken(_ line: some StringProtocol) -> Bool {
    let s = cleaned(line).lowercased()
    // A whole prefix, or the start of one cut by a line break ("nats" / "cope1.…").
    return s.hasPrefix("natscope") || (s.count >= 3 && "natscope".hasPrefix(s))
  }

  /// Decodes a pasted token.
  ///
  /// - Parameter expecting: the role the caller waits for; a token of the other role throws
  ///   `SignalingError.wrongRole`. nil accepts both.
  /// - Throws: `SignalingError`, whose `message` is one sentence for the user.
  public static func decode(
    _ text: some StringProtocol, expecting: SignalingRole? = nil
  ) throws(SignalingError) -> SessionDescription {
    let s = cleaned(text)
    guard !s.isEmpty else { throw .empty }
    guard s.count <= maximumLength else { throw .tooLong(characters: s.count) }
    let chars = Array(s.utf8)
    let lower = s.lowercased()
    // Prefix: "natscope" digits "."
    guard lower.hasPrefix("natscope") else {
      if "natscope1.".hasPrefix(lower) { throw .truncated(characters: s.count) }
      throw .notAToken
    }
    let afterName = chars.dropFirst(8)
    let digits = afterName.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    guard !digits.isEmpty else { throw .notAToken }
    guard digits.count <= 6 else { throw .notAToken }
    let rest = afterName.dropFirst(digits.count)
    guard rest.first == UInt8(ascii: ".") else {
      if rest.isEmpty { throw .truncated(characters: s.count) }
      throw .notAToken
    }
    let version = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    guard version == formatVersion else { throw .unsupportedVersion(version) }
    let b64 = Array(rest.dropFirst())
    let prefixLength = chars.count - b64.count
    let wire: [UInt8]
    do {
      wire = try SignalingBase64.decode(b64)
    } catch {
      switch error {
      case .invalidCharacter(let i): throw .invalidCharacter(position: prefixLength + i + 1)
      }
    }
    guard wire.count >= 3 else { throw .truncated(characters: s.count) }
    let bodyLength = Int(wire[1]) << 8 | Int(wire[2])
    guard bodyLength <= maximumBody else { throw .checksumMismatch }
    let total = 3 + bodyLength + 4
    guard wire.count >= total else { throw .truncated(characters: s.count) }
    let framed = Array(wire[0..<total - 4])
    let crc = wire[(total - 4)..<total].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    guard CRC32.checksum(framed) == crc else { throw .checksumMismatch }
    let expectedChars = (total * 8 + 5) / 6
    if b64.count > expectedChars { throw .trailingData(characters: b64.count - expectedChars) }
    guard wire[0] == UInt8(formatVersion) else { throw .unsupportedVersion(Int(wire[0])) }
    var r = TokenReader(Array(framed[3...]))
    let d = try read(&r)
    guard r.remaining == 0 else { throw .malformed("unexpected data after the candidates") }
    if let expecting, d.role != expecting { throw .wrongRole(got: d.role, expected: expecting) }
    return d
  }

  /// Removes whitespace and line breaks anywhere (terminals wrap long lines) and surrounding
  /// quotes or backticks.
  static func cleaned(_ text: some StringProtocol) -> String {
    var s = String(
      String.UnicodeScalarView(text.unicodeScalars.filter { !$0.properties.isWhitespace }))
    let quotes: Set<Character> = ["\"", "'", "`"]
    while let f = s.first, quotes.contains(f) { s.removeFirst() }
    while let l = s.last, quotes.contains(l) { s.removeLast() }
    return s
  }

  private static func code<B: CaseIterable & Equatable>(_ b: B?) -> UInt8 {
    guard let b, let i = Array(B.allCases).firstIndex(of: b) else { return 0 }
    return UInt8(i + 1)
  }

  private static func behavior<B: CaseIterable>(_ code: UInt8) -> B? {
    let all = Array(B.allCases)
    return code == 0 || Int(code) > all.count ? nil : all[Int(code) - 1]
  }

  private static func writeAddress(_ a: SignaledCandidate.Address, to w: inout TokenWriter) {
    switch a {
    case .ip(let ip): w.bytes += ip.bytes
    case .hostname(let name): w.string(name)
    }
  }

  private static func addressKind(_ a: SignaledCandidate.Address) -> UInt8 {
    switch a {
    case .ip(.v4): 0
    case .ip(.v6): 1
    case .hostname: 2
    }
  }

  private static func readAddress(_ kind: UInt8, _ r: inout TokenReader, _ what: String)
    throws(SignalingError) -> SignaledCandidate.Address
  {
    switch kind {
    case 0: return .ip(IPAddress(bytes: try r.take(4, what)) ?? .anyV4)
    case 1: return .ip(IPAddress(bytes: try r.take(16, what)) ?? .anyV6)
    case 2:
      let name = try r.string(what, max: 253)
      guard SignaledCandidate.Address.isHostName(name) else {
        throw .malformed("\(what) is not a name")
      }
      return .hostname(name)
    default: throw .malformed("\(what) has an unknown kind")
    }
  }

  private static func write(_ c: SignaledCandidate, to w: inout TokenWriter) {
    var h1 = UInt8(SignaledCandidate.Kind.allCases.firstIndex(of: c.kind) ?? 0)
    if c.transport == .tcp { h1 |= 1 << 2 }
    h1 |= addressKind(c.address) << 3
    if c.relatedAddress != nil { h1 |= 1 << 5 }
    if c.relatedPort != nil { h1 |= 1 << 6 }
    var h2: UInt8 = 0
    if c.generation != nil { h2 |= 1 }
    if !c.extensions.isEmpty { h2 |= 2 }
    h2 |= code(c.tcpType) << 2
    if c.component != 1 { h2 |= 1 << 4 }
    if let ra = c.relatedAddress { h2 |= addressKind(ra) << 5 }
    w.u8(h1)
    w.u8(h2)
    w.string(c.foundation)
    if c.component != 1 { w.u8(UInt8(truncatingIfNeeded: c.component - 1)) }
    w.u32(c.priority)
    writeAddress(c.address, to: &w)
    w.u16(c.port)
    if let ra = c.relatedAddress { writeAddress(ra, to: &w) }
    if let rp = c.relatedPort { w.u16(rp) }
    if let g = c.generation { w.varint(UInt64(g)) }
    if !c.extensions.isEmpty {
      w.varint(UInt64(c.extensions.count))
      for e in c.extensions {
        w.string(e.name)
        w.string(e.value)
      }
    }
  }

  private static func readCandidate(_ r: inout TokenReader) throws(SignalingError)
    -> SignaledCandidate
  {
    let h1 = try r.u8("a candidate header")
    let h2 = try r.u8("a candidate header")
    guard h1 & 0x80 == 0, h2 & 0x80 == 0 else { throw .malformed("a candidate has unknown flags") }
    let kind = SignaledCandidate.Kind.allCases[Int(h1 & 3)]
    let foundation = try r.string("a candidate foundation", max: 32)
    guard !foundation.isEmpty, foundation.allSatisfy(\.isSignalingICEChar) else {
      throw .malformed("a candidate foundation is not valid")
    }
    let component = h2 & (1 << 4) != 0 ? Int(try r.u8("a candidate component")) + 1 : 1
    let priority = try r.u32("a candidate priority")
    let address = try readAddress((h1 >> 3) & 3, &r, "a candidate address")
    let port = try r.u16("a candidate port")
    var c = SignaledCandidate(
      foundation: foundation, component: component, transport: h1 & 4 != 0 ? .tcp : .udp,
      priority: priority, address: address, port: port, kind: kind)
    if h1 & (1 << 5) != 0 {
      c.relatedAddress = try readAddress((h2 >> 5) & 3, &r, "a related address")
    }
    if h1 & (1 << 6) != 0 { c.relatedPort = try r.u16("a related port") }
    c.tcpType = behavior((h2 >> 2) & 3)
    if h2 & 1 != 0 {
      let g = try r.varint("a candidate generation")
      guard g <= UInt64(UInt32.max) else { throw .malformed("a candidate generation is too big") }
      c.generation = UInt32(g)
    }
    if h2 & 2 != 0 {
      let n = try r.varint("a candidate's extensions")
      guard n <= 16 else { throw .malformed("a candidate has too many extensions") }
      for _ in 0..<n {
        let name = try r.string("an extension name", max: 64)
        let value = try r.string("an extension value", max: 256)
        guard !name.isEmpty, !value.isEmpty, !name.contains(" "), !value.contains(" ") else {
          throw .malformed("an extension is not valid")
        }
        c.extensions.append(.init(name, value))
      }
    }
    return c
  }

  private static func read(_ r: inout TokenReader) throws(SignalingError) -> SessionDescription {
    let flags = try r.u8("the flags")
    guard flags & 0xF0 == 0 else { throw .malformed("the flags are unknown") }
    let tieBreaker = try r.u64("the tie-breaker")
    let ufrag = try r.string("the user name fragment", max: 256)
    let password = try r.string("the password", max: 256)
    guard !ufrag.isEmpty, ufrag.allSatisfy(\.isSignalingICEChar) else {
      throw .malformed("the user name fragment is not valid")
    }
    guard !password.isEmpty, password.allSatisfy(\.isSignalingICEChar) else {
      throw .malformed("the password is not valid")
    }
    let legacyIndex = Int(try r.u8("the NAT type"))
    guard legacyIndex < LegacyNATType.allCases.count else {
      throw .malformed("the NAT type is unknown")
    }
    var profile: NATProfile?
    if flags & 4 != 0 {
      let b = try r.u8("the NAT profile")
      guard b & 0xC0 == 0 else { throw .malformed("the NAT profile is unknown") }
      profile = NATProfile(
        udpBlocked: b & 1 != 0, natDetected: b & 2 != 0, mapping: behavior((b >> 2) & 3),
        filtering: behavior((b >> 4) & 3))
    }
    var dtls: DTLSParameters?
    if flags & 8 != 0 {
      guard let fingerprint = DTLSFingerprint(bytes: Array(try r.take(32, "the DTLS fingerprint")))
      else {
        throw .malformed("the DTLS fingerprint is not 32 bytes")
      }
      let setup = Int(try r.u8("the DTLS setup role"))
      guard setup < DTLSSetupRole.allCases.count else {
        throw .malformed("the DTLS setup role is unknown")
      }
      dtls = DTLSParameters(fingerprint: fingerprint, setup: DTLSSetupRole.allCases[setup])
    }
    let count = try r.varint("the candidate count")
    guard count <= UInt64(maximumCandidates), count <= UInt64(r.remaining) else {
      throw .malformed("the candidate count is impossible")
    }
    var candidates: [SignaledCandidate] = []
    for _ in 0..<count { candidates.append(try readCandidate(&r)) }
    return SessionDescription(
      ufrag: ufrag, password: password, role: flags & 1 != 0 ? .answer : .offer,
      tieBreaker: tieBreaker, candidates: candidates, endOfCandidates: flags & 2 != 0,
      natProfile: profile, legacyNATType: LegacyNATType.allCases[legacyIndex], dtls: dtls)
  }
}

extension SessionDescription {
  /// This description as a one-line token (`natscope1.…`).
  public var token: String { SessionToken.encode(self) }

  /// Decodes a pasted token; see `SessionToken.decode(_:expecting:)`.
  public init(token: some StringProtocol, expecting: SignalingRole? = nil) throws(SignalingError) {
    self = try SessionToken.decode(token, expecting: expecting)
  }
}
