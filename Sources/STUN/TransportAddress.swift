/// An IP address and a port: one end of a UDP or TCP flow.
public struct TransportAddress: Hashable, Sendable {
  public var ip: IPAddress
  public var port: UInt16

  public init(ip: IPAddress, port: UInt16) {
    self.ip = ip
    self.port = port
  }

  /// Parses `1.2.3.4:5678`, `[2001:db8::1]:5678`; nil for anything else.
  public init?(_ text: some StringProtocol) {
    let s = Substring(text)
    if s.hasPrefix("[") {
      guard let close = s.firstIndex(of: "]"),
        let ip = IPAddress(s[s.index(after: s.startIndex)..<close])
      else { return nil }
      let rest = s[s.index(after: close)...]
      guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
      self.init(ip: ip, port: port)
    } else {
      guard let colon = s.lastIndex(of: ":"), let ip = IPAddress(s[..<colon]), case .v4 = ip,
        let port = UInt16(s[s.index(after: colon)...])
      else { return nil }
      self.init(ip: ip, port: port)
    }
  }
}

extension TransportAddress: CustomStringConvertible {
  /// `1.2.3.4:5678` or `[2001:db8::1]:5678`.
  public var description: String {
    switch ip {
    case .v4: return "\(ip):\(port)"
    case .v6: return "[\(ip)]:\(port)"
    }
  }
}

extension TransportAddress: Codable {
  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let value = TransportAddress(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not an address:port: \(text)"))
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(description)
  }
}

extension IPAddress: Codable {
  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let value = IPAddress(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(description)
  }
}
