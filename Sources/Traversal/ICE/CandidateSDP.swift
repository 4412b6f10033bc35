import STUN

/// Why an `a=candidate` attribute could not be used.
public enum CandidateParseError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
  /// The line does not follow RFC 8839 §5.1 (`what` says where).
  case malformed(String)
  /// The connection address is an mDNS name (`….local`, RFC 8839 / draft-ietf-mmusic-mdns-ice)
  /// that natscope cannot resolve, so the candidate cannot be checked.
  case unresolvableHostname(String)
  /// A transport other than UDP (e.g. TCP candidates, RFC 6544), not supported.
  case unsupportedTransport(String)

  public var description: String {
    switch self {
    case .malformed(let what): return "malformed candidate: \(what)"
    case .unresolvableHostname(let name):
      return
        "candidate address \(name) is an mDNS name that cannot be resolved here; ask the peer to disable mDNS candidate obfuscation or to send its real address"
    case .unsupportedTransport(let t): return "unsupported candidate transport \(t) (only UDP)"
    }
  }
}

extension Candidate {
  /// The RFC 8839 §5.1 attribute value, without `a=`:
  /// `candidate:<foundation> <component> udp <priority> <address> <port> typ <type>
  /// [raddr <a> rport <p>] [<extension name> <value>]…`.
  public var sdpAttribute: String {
    var s =
      "candidate:\(foundation) \(component) \(transport) \(priority) \(address.ip) \(address.port) typ \(type.rawValue)"
    if let r = relatedAddress { s += " raddr \(r.ip) rport \(r.port)" }
    for e in extensions { s += " \(e.name) \(e.value)" }
    return s
  }

  /// Parses an `a=candidate` attribute (with or without `a=`, with or without `candidate:`).
  ///
  /// Throws ``CandidateParseError/unresolvableHostname(_:)`` for an mDNS `.local` address,
  /// ``CandidateParseError/unsupportedTransport(_:)`` for anything but UDP, and
  /// ``CandidateParseError/malformed(_:)`` otherwise.
  public init(sdpAttribute text: String) throws(CandidateParseError) {
    var line = Substring(text)
    while let last = line.last, last == "\r" || last == "\n" || last == " " { line.removeLast() }
    if line.hasPrefix("a=") { line = line.dropFirst(2) }
    if line.hasPrefix("candidate:") { line = line.dropFirst("candidate:".count) }
    let f = line.split(separator: " ", omittingEmptySubsequences: true)
    guard f.count >= 8 else { throw .malformed("expected at least 8 fields, found \(f.count)") }
    let foundation = String(f[0])
    guard (1...32).contains(foundation.count), foundation.allSatisfy(Self.isICEChar) else {
      throw .malformed("foundation \"\(foundation)\" is not 1-32 ICE characters")
    }
    guard let component = Int(f[1]), (1...256).contains(component) else {
      throw .malformed("component \"\(f[1])\" is not 1-256")
    }
    let transport = f[2].lowercased()
    guard transport == "udp" else { throw .unsupportedTransport(String(f[2])) }
    guard let priority = UInt32(f[3]), priority > 0 else {
      throw .malformed("priority \"\(f[3])\" is not 1-4294967295")
    }
    let host = f[4]
    guard let port = UInt16(f[5]) else { throw .malformed("port \"\(f[5])\" is not 0-65535") }
    guard f[6] == "typ" else { throw .malformed("expected \"typ\", found \"\(f[6])\"") }
    guard let type = CandidateType(rawValue: String(f[7])) else {
      throw .malformed("unknown candidate type \"\(f[7])\"")
    }
    guard let ip = IPAddress(host) else {
      if host.lowercased().hasSuffix(".local") { throw .unresolvableHostname(String(host)) }
      throw .malformed("address \"\(host)\" is not an IP address")
    }
    var related: (ip: IPAddress?, port: UInt16?) = (nil, nil)
    var extensions: [CandidateExtension] = []
    var k = 8
    while k < f.count {
      guard k + 1 < f.count else { throw .malformed("\"\(f[k])\" has no value") }
      let name = f[k]
      let value = f[k + 1]
      switch name {
      case "raddr":
        guard let rip = IPAddress(value) else {
          if value.lowercased().hasSuffix(".local") { throw .unresolvableHostname(String(value)) }
          throw .malformed("raddr \"\(value)\" is not an IP address")
        }
        related.ip = rip
      case "rport":
        guard let p = UInt16(value) else { throw .malformed("rport \"\(value)\" is not a port") }
        related.port = p
      default:
        extensions.append(CandidateExtension(name: String(name), value: String(value)))
      }
      k += 2
    }
    var relatedAddress: TransportAddress?
    switch related {
    case (let rip?, let rport?): relatedAddress = TransportAddress(ip: rip, port: rport)
    case (nil, nil): relatedAddress = nil
    default: throw .malformed("raddr and rport must come together")
    }
    self.init(
      foundation: foundation, component: component, transport: transport, priority: priority,
      address: TransportAddress(ip: ip, port: port), type: type, relatedAddress: relatedAddress,
      extensions: extensions)
  }

  /// ICE-CHAR (RFC 8839): ALPHA / DIGIT / "+" / "/".
  static func isICEChar(_ c: Character) -> Bool {
    guard let a = c.asciiValue else { return false }
    return (a >= 0x41 && a <= 0x5A) || (a >= 0x61 && a <= 0x7A) || (a >= 0x30 && a <= 0x39)
      || a == 0x2B || a == 0x2F
  }
}
