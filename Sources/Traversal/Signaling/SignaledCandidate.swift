import STUN

/// One ICE candidate as it travels between hosts in a token or an `a=candidate:` line
/// (RFC 8839 §5.1): wire-level, independent of the ICE agent's own candidate type.
///
/// Everything the line carries is kept, including extensions natscope does not use
/// (`network-id`, `network-cost`, `ufrag`, …), so a description can be re-emitted unchanged.
public struct SignaledCandidate: Hashable, Sendable {
  /// The candidate type (`typ`).
  public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
    case host, srflx, prflx, relay
  }

  /// The transport protocol of the candidate.
  public enum Transport: String, Codable, Sendable, Hashable, CaseIterable {
    case udp, tcp
  }

  /// RFC 6544 TCP candidate types (`tcptype`).
  public enum TCPType: String, Codable, Sendable, Hashable, CaseIterable {
    case active, passive, so
  }

  /// A connection address: an IP address, or a host name (browsers hide host addresses behind
  /// mDNS names such as `4a1b….local`).
  public enum Address: Hashable, Sendable, CustomStringConvertible {
    case ip(IPAddress)
    case hostname(String)

    /// Parses an IP address; anything else is kept as a host name.
    public init(_ text: some StringProtocol) {
      if let ip = IPAddress(text) { self = .ip(ip) } else { self = .hostname(String(text)) }
    }

    /// Parses an IP address or a host name (letters, digits, `-`, `_` and `.`, as DNS and
    /// mDNS names are written); nil for anything else.
    public init?(validating text: some StringProtocol) {
      if let ip = IPAddress(text) {
        self = .ip(ip)
        return
      }
      guard Self.isHostName(text) else { return nil }
      self = .hostname(String(text))
    }

    /// Whether `text` is 1 to 253 characters of letters, digits, `-`, `_` and `.`.
    public static func isHostName(_ text: some StringProtocol) -> Bool {
      (1...253).contains(text.count)
        && text.unicodeScalars.allSatisfy {
          ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
            || $0 == "-" || $0 == "_" || $0 == "."
        }
    }

    /// The IP address, if this is one.
    public var ip: IPAddress? { if case .ip(let ip) = self { ip } else { nil } }

    /// True for an mDNS name (ending in `.local`).
    public var isMDNS: Bool {
      if case .hostname(let name) = self {
        return name.lowercased().hasSuffix(".local") || name.lowercased().hasSuffix(".local.")
      }
      return false
    }

    /// The address as it appears in an `a=candidate:` line (IPv6 without brackets).
    public var description: String {
      switch self {
      case .ip(let ip): ip.description
      case .hostname(let name): name
      }
    }
  }

  /// An extension attribute (`<ext-name> <ext-value>`) natscope keeps but does not interpret.
  public struct Extension: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
      self.name = name
      self.value = value
    }
  }

  /// 1 to 32 `ice-char`s; candidates with the same foundation share a base and server.
  public var foundation: String
  /// 1 for RTP/data; natscope uses component 1 only.
  public var component: Int
  /// `udp` or `tcp` (TCP candidates are kept but natscope does not check them).
  public var transport: Transport
  /// The RFC 8445 §5.1.2 priority.
  public var priority: UInt32
  /// The connection address: an IP address or a host name (mDNS).
  public var address: Address
  /// The connection port (9 for TCP active candidates).
  public var port: UInt16
  /// `host`, `srflx`, `prflx` or `relay`.
  public var kind: Kind
  /// `raddr`, for srflx/prflx/relay candidates.
  public var relatedAddress: Address?
  /// `rport`.
  public var relatedPort: UInt16?
  /// `tcptype`, for TCP candidates.
  public var tcpType: TCPType?
  /// `generation` (a Chrome extension), when present.
  public var generation: UInt32?
  /// Every other extension, in order.
  public var extensions: [Extension]

  public init(
    foundation: String, component: Int = 1, transport: Transport = .udp, priority: UInt32,
    address: Address, port: UInt16, kind: Kind, relatedAddress: Address? = nil,
    relatedPort: UInt16? = nil, tcpType: TCPType? = nil, generation: UInt32? = nil,
    extensions: [Extension] = []
  ) {
    self.foundation = foundation
    self.component = component
    self.transport = transport
    self.priority = priority
    self.address = address
    self.port = port
    self.kind = kind
    self.relatedAddress = relatedAddress
    self.relatedPort = relatedPort
    self.tcpType = tcpType
    self.generation = generation
    self.extensions = extensions
  }

  /// The transport address, when the connection address is an IP address.
  public var transportAddress: TransportAddress? {
    address.ip.map { TransportAddress(ip: $0, port: port) }
  }

  /// Why natscope cannot check a candidate.
  public enum Unusable: String, Sendable, Hashable, Codable {
    /// A TCP candidate: natscope checks UDP paths only.
    case tcp
    /// An mDNS name (`….local`), which resolves only on the peer's own network.
    case mdnsName = "mdns-name"
    /// Another host name: natscope checks IP addresses only.
    case hostName = "host-name"
  }

  /// Why natscope cannot use this candidate for checks, or nil when it can. Such candidates
  /// are kept and listed, never silently dropped (the report module says why in words).
  public var unusable: Unusable? {
    if transport == .tcp { return .tcp }
    if address.isMDNS { return .mdnsName }
    if case .hostname = address { return .hostName }
    return nil
  }
}

extension SignaledCandidate: CustomStringConvertible {
  /// The candidate in `a=candidate:` attribute syntax (without the `a=` prefix).
  public var description: String { sdpAttribute }
}

extension SignaledCandidate {
  /// The RFC 8839 attribute value, starting with `candidate:`.
  public var sdpAttribute: String {
    var parts = [
      "candidate:\(foundation)", "\(component)", transport.rawValue, "\(priority)",
      address.description, "\(port)", "typ", kind.rawValue,
    ]
    if let relatedAddress { parts += ["raddr", relatedAddress.description] }
    if let relatedPort { parts += ["rport", "\(relatedPort)"] }
    if let tcpType { parts += ["tcptype", tcpType.rawValue] }
    if let generation { parts += ["generation", "\(generation)"] }
    for e in extensions { parts += [e.name, e.value] }
    return parts.joined(separator: " ")
  }

  /// Parses a candidate attribute with or without the `a=` prefix
  /// (`candidate:<foundation> <component-id> <transport> <priority> <connection-address> <port>
  /// typ <cand-type> [raddr <addr>] [rport <port>] *(<ext-name> <ext-value>)`).
  ///
  /// - Throws: `SignalingError.badCandidate` naming what is wrong, in one sentence.
  public init(sdpAttribute text: some StringProtocol, line: Int = 0) throws(SignalingError) {
    func fail(_ reason: String) -> SignalingError { .badCandidate(line: line, reason: reason) }
    var s = Substring(text).trimmingSignalingWhitespace()
    if s.hasPrefix("a=") { s = s.dropFirst(2) }
    guard s.lowercased().hasPrefix("candidate:") else {
      throw fail("it does not start with \"candidate:\"")
    }
    s = s.dropFirst("candidate:".count)
    let f = s.split(whereSeparator: { $0 == " " || $0 == "\t" })
    guard f.count >= 8 else { throw fail("it has \(f.count) of the 8 required fields") }
    let foundation = String(f[0])
    guard (1...32).contains(foundation.count), foundation.allSatisfy(\.isSignalingICEChar) else {
      throw fail("the foundation \"\(foundation.prefix(40))\" is not 1 to 32 letters or digits")
    }
    guard f[1].count <= 3, let component = Int(f[1]), (1...256).contains(component) else {
      throw fail("the component \"\(f[1].prefix(12))\" is not a number from 1 to 256")
    }
    guard let transport = Transport(rawValue: f[2].lowercased()) else {
      throw fail("the transport \"\(f[2].prefix(12))\" is neither UDP nor TCP")
    }
    guard f[3].count <= 10, let priority = UInt32(f[3]) else {
      throw fail("the priority \"\(f[3].prefix(12))\" is not a 32-bit number")
    }
    guard f[4].count <= 253 else { throw fail("the address is longer than any host name") }
    guard let address = Address(validating: f[4]) else {
      throw fail("the address is neither an IP address nor a host name")
    }
    guard let port = UInt16(f[5]) else {
      throw fail("the port \"\(f[5].prefix(12))\" is not a number from 0 to 65535")
    }
    guard f[6] == "typ" else { throw fail("\"typ\" is missing after the port") }
    guard let kind = Kind(rawValue: f[7].lowercased()) else {
      throw fail("the type \"\(f[7].prefix(12))\" is not host, srflx, prflx or relay")
    }
    var c = SignaledCandidate(
      foundation: foundation, component: component, transport: transport, priority: priority,
      address: address, port: port, kind: kind)
    var i = 8
    while i < f.count {
      guard i + 1 < f.count else { throw fail("the extension \"\(f[i].prefix(20))\" has no value") }
      let name = String(f[i])
      let value = f[i + 1]
      switch name {
      case "raddr":
        guard let related = Address(validating: value) else {
          throw fail("raddr is neither an IP address nor a host name")
        }
        c.relatedAddress = related
      case "rport":
        guard let p = UInt16(value) else {
          throw fail("rport \"\(value.prefix(12))\" is not a port")
        }
        c.relatedPort = p
      case "tcptype":
        guard let t = TCPType(rawValue: value.lowercased()) else {
          throw fail("tcptype \"\(value.prefix(12))\" is not active, passive or so")
        }
        c.tcpType = t
      case "generation":
        guard let g = UInt32(value) else {
          throw fail("generation \"\(value.prefix(12))\" is not a number")
        }
        c.generation = g
      default:
        guard name.count <= 64, value.count <= 256 else {
          throw fail("an extension is longer than natscope accepts")
        }
        // An SDP line holds no control characters (CR and LF end it, NUL is not text); one in
        // an extension would not survive being written out again (found by
        // `scripts/fuzz candidate`).
        let control: (Unicode.Scalar) -> Bool = { $0.value < 0x20 || $0.value == 0x7F }
        guard !name.unicodeScalars.contains(where: control),
          !value.unicodeScalars.contains(where: control)
        else { throw fail("an extension contains a control character") }
        c.extensions.append(Extension(name, String(value)))
      }
      i += 2
    }
    self = c
  }
}

extension Character {
  /// RFC 8839 `ice-char`: ALPHA / DIGIT / "+" / "/".
  var isSignalingICEChar: Bool {
    isASCII && (isLetter || isNumber || self == "+" || self == "/")
  }
}

extension Substring {
  /// Drops leading and trailing spaces, tabs, CR and LF.
  func trimmingSignalingWhitespace() -> Substring {
    var s = self
    while let c = s.first, c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" {
      s = s.dropFirst()
    }
    while let c = s.last, c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" {
      s = s.dropLast()
    }
    return s
  }
}
