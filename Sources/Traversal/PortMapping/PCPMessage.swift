import STUN

/// A PCP opcode (RFC 6887 §19.2): open, so unknown values survive decoding.
public struct PCPOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue & 0x7F }

  /// 0: the server's restart announcement (and the client's probe for it).
  public static let announce = PCPOpcode(rawValue: 0)
  /// 1: create, renew or delete an inbound mapping.
  public static let map = PCPOpcode(rawValue: 1)
  /// 2: create or learn an outbound mapping to one peer.
  public static let peer = PCPOpcode(rawValue: 2)

  /// `ANNOUNCE`, `MAP`, `PEER`, or the number.
  public var description: String {
    switch rawValue {
    case 0: return "ANNOUNCE"
    case 1: return "MAP"
    case 2: return "PEER"
    default: return "opcode \(rawValue)"
    }
  }
}

/// A PCP result code (RFC 6887 §7.4): open, so unknown values survive decoding.
public struct PCPResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let success = PCPResultCode(rawValue: 0)
  public static let unsupportedVersion = PCPResultCode(rawValue: 1)
  public static let notAuthorized = PCPResultCode(rawValue: 2)
  public static let malformedRequest = PCPResultCode(rawValue: 3)
  public static let unsupportedOpcode = PCPResultCode(rawValue: 4)
  public static let unsupportedOption = PCPResultCode(rawValue: 5)
  public static let malformedOption = PCPResultCode(rawValue: 6)
  public static let networkFailure = PCPResultCode(rawValue: 7)
  public static let noResources = PCPResultCode(rawValue: 8)
  public static let unsupportedProtocol = PCPResultCode(rawValue: 9)
  public static let userExceededQuota = PCPResultCode(rawValue: 10)
  public static let cannotProvideExternal = PCPResultCode(rawValue: 11)
  public static let addressMismatch = PCPResultCode(rawValue: 12)
  public static let excessiveRemotePeers = PCPResultCode(rawValue: 13)

  /// The RFC's name (`NOT_AUTHORIZED`, …), or nil for a code it does not define.
  public var name: String? {
    switch rawValue {
    case 0: return "SUCCESS"
    case 1: return "UNSUPP_VERSION"
    case 2: return "NOT_AUTHORIZED"
    case 3: return "MALFORMED_REQUEST"
    case 4: return "UNSUPP_OPCODE"
    case 5: return "UNSUPP_OPTION"
    case 6: return "MALFORMED_OPTION"
    case 7: return "NETWORK_FAILURE"
    case 8: return "NO_RESOURCES"
    case 9: return "UNSUPP_PROTOCOL"
    case 10: return "USER_EX_QUOTA"
    case 11: return "CANNOT_PROVIDE_EXTERNAL"
    case 12: return "ADDRESS_MISMATCH"
    case 13: return "EXCESSIVE_REMOTE_PEERS"
    default: return nil
    }
  }

  /// For example `2 NOT_AUTHORIZED`.
  public var description: String {
    name.map { "\(rawValue) \($0)" } ?? "\(rawValue)"
  }
}

/// Addresses in PCP are always 16 bytes: IPv4 travels as an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, RFC 6887 §5).
public enum PCPAddress {
  /// The 16-byte field for `ip`.
  public static func encode(_ ip: IPAddress) -> [UInt8] {
    switch ip {
    case .v4(let a): return IPAddress.v6(0, 0x0000_FFFF_0000_0000 | UInt64(a)).bytes
    case .v6: return ip.bytes
    }
  }

  /// The address in a 16-byte field; IPv4-mapped addresses come back as IPv4. Nil unless
  /// exactly 16 bytes are given.
  public static func decode(_ bytes: [UInt8]) -> IPAddress? {
    guard bytes.count == 16, let ip = IPAddress(bytes: bytes) else { return nil }
    if case .v6(0, let lo) = ip, lo >> 32 == 0xFFFF {
      return .v4(UInt32(truncatingIfNeeded: lo))
    }
    return ip
  }

  /// The "no preference" address of `ip`'s family: `::ffff:0.0.0.0` for IPv4, `::` for IPv6.
  public static func unspecified(like ip: IPAddress) -> IPAddress {
    if case .v4 = ip { return .anyV4 }
    return .anyV6
  }
}

/// A PCP option (RFC 6887 §7.3), kept as raw bytes.
public struct PCPOption: Sendable, Hashable {
  /// The option code; codes 0–127 are mandatory to process, 128–255 optional.
  public var code: UInt8
  /// The option data, without padding.
  public var data: [UInt8]

  public init(code: UInt8, data: [UInt8]) {
    self.code = code
    self.data = data
  }
}

/// A PCP request (RFC 6887 §7.1) with a MAP (§11.1) or ANNOUNCE (§14.1) body.
public struct PCPRequest: Sendable, Hashable {
  /// The MAP opcode's fields.
  public struct Map: Sendable, Hashable {
    /// 12 random bytes that tie responses and renewals to this mapping.
    public var nonce: [UInt8]
    /// UDP or TCP.
    public var proto: PortMappingProtocol
    /// The client's port.
    public var internalPort: UInt16
    /// The external port wanted (0: no preference).
    public var suggestedExternalPort: UInt16
    /// The external address wanted (the family's all-zeros address: no preference).
    public var suggestedExternalAddress: IPAddress

    public init(
      nonce: [UInt8], proto: PortMappingProtocol, internalPort: UInt16,
      suggestedExternalPort: UInt16 = 0, suggestedExternalAddress: IPAddress = .anyV4
    ) {
      self.nonce = nonce
      self.proto = proto
      self.internalPort = internalPort
      self.suggestedExternalPort = suggestedExternalPort
      self.suggestedExternalAddress = suggestedExternalAddress
    }
  }

  /// The only version natscope speaks.
  public static let version: UInt8 = 2
  /// The UDP port PCP servers listen on.
  public static let serverPort: UInt16 = 5351
  /// The UDP port clients listen on for ANNOUNCE multicasts (sent to 224.0.0.1 / ff02::1).
  public static let clientAnnouncePort: UInt16 = 5350

  /// The opcode: `.map` when ``map`` is set, otherwise `.announce`.
  public var opcode: PCPOpcode { map == nil ? .announce : .map }
  /// Seconds wanted (0 deletes a mapping; ANNOUNCE sends 0).
  public var lifetime: UInt32
  /// The client's own address as it sends the request.
  public var clientAddress: IPAddress
  /// The MAP body; nil for ANNOUNCE.
  public var map: Map?

  /// A MAP request.
  public init(map: Map, lifetime: UInt32, clientAddress: IPAddress) {
    self.map = map
    self.lifetime = lifetime
    self.clientAddress = clientAddress
  }

  /// An ANNOUNCE request (header only, lifetime 0).
  public init(announceFrom clientAddress: IPAddress) {
    self.map = nil
    self.lifetime = 0
    self.clientAddress = clientAddress
  }

  /// The wire bytes: 24 for ANNOUNCE, 60 for MAP. A nonce of the wrong length is padded or
  /// cut to 12 bytes.
  public var bytes: [UInt8] {
    var out: [UInt8] = [PCPRequest.version, opcode.rawValue, 0, 0]
    out.reserveCapacity(60)
    out.appendBigEndian(lifetime)
    out += PCPAddress.encode(clientAddress)
    if let map {
      var nonce = Array(map.nonce.prefix(12))
      nonce += [UInt8](repeating: 0, count: 12 - nonce.count)
      out += nonce
      out += [map.proto.ianaNumber, 0, 0, 0]
      out.appendBigEndian(map.internalPort)
      out.appendBigEndian(map.suggestedExternalPort)
      out += PCPAddress.encode(map.suggestedExternalAddress)
    }
    return out
  }
}

/// A PCP response (RFC 6887 §7.2).
public struct PCPResponse: Sendable, Hashable {
  /// The MAP response body (§11.1).
  public struct Map: Sendable, Hashable {
    /// The nonce of the request answered.
    public var nonce: [UInt8]
    /// The IANA protocol number (17 UDP, 6 TCP; 0 for all protocols).
    public var protocolNumber: UInt8
    /// The client's port.
    public var internalPort: UInt16
    /// The external port assigned.
    public var assignedExternalPort: UInt16
    /// The external address assigned.
    public var assignedExternalAddress: IPAddress

    public init(
      nonce: [UInt8], protocolNumber: UInt8, internalPort: UInt16, assignedExternalPort: UInt16,
      assignedExternalAddress: IPAddress
    ) {
      self.nonce = nonce
      self.protocolNumber = protocolNumber
      self.internalPort = internalPort
      self.assignedExternalPort = assignedExternalPort
      self.assignedExternalAddress = assignedExternalAddress
    }
  }

  /// The opcode answered.
  public var opcode: PCPOpcode
  /// The result code.
  public var result: PCPResultCode
  /// On success, the lifetime granted; on error, how long the error is expected to last.
  public var lifetime: UInt32
  /// The server's epoch time: seconds since its mapping state began.
  public var epochTime: UInt32
  /// The MAP body, when the opcode is MAP and the body is present.
  public var map: Map?
  /// The options after the body.
  public var options: [PCPOption]

  public init(
    opcode: PCPOpcode, result: PCPResultCode, lifetime: UInt32, epochTime: UInt32,
    map: Map? = nil, options: [PCPOption] = []
  ) {
    self.opcode = opcode
    self.result = result
    self.lifetime = lifetime
    self.epochTime = epochTime
    self.map = map
    self.options = options
  }

  /// The largest PCP message (RFC 6887 §7).
  public static let maximumLength = 1100

  /// Decodes a response. Throws ``PCPDecodeError``, never traps. A server that does not speak
  /// version 2 (including a NAT-PMP-only gateway, which answers with version 0 and result 1)
  /// produces `.versionNotSupported(serverVersion:)`.
  public init(bytes: [UInt8]) throws(PCPDecodeError) {
    let r = PortMappingReader(bytes)
    guard let version = r.u8(0), let second = r.u8(1) else {
      throw .tooShort(length: bytes.count, needed: 2)
    }
    if version != PCPRequest.version {
      // A NAT-PMP gateway answers [0, 128 + op, 0, 1, epoch]; a PCP server of another version
      // answers with its own version and UNSUPP_VERSION in the same byte.
      if second & 0x80 != 0, r.u8(3) == PCPResultCode.unsupportedVersion.rawValue {
        throw .versionNotSupported(serverVersion: version)
      }
      throw .wrongVersion(version)
    }
    guard second & 0x80 != 0 else { throw .notAResponse }
    guard bytes.count >= 24 else { throw .tooShort(length: bytes.count, needed: 24) }
    guard bytes.count <= PCPResponse.maximumLength else { throw .tooLong(length: bytes.count) }
    guard bytes.count % 4 == 0 else { throw .notMultipleOfFour(length: bytes.count) }
    let opcode = PCPOpcode(rawValue: second)
    let result = PCPResultCode(rawValue: r.u8(3) ?? 0)
    let lifetime = r.u32(4) ?? 0
    let epoch = r.u32(8) ?? 0
    var offset = 24
    var map: Map?
    if opcode == .map {
      if let nonce = r.slice(24, 12), let proto = r.u8(36), let internalPort = r.u16(40),
        let ext = r.u16(42), let addrBytes = r.slice(44, 16),
        let addr = PCPAddress.decode(addrBytes)
      {
        map = Map(
          nonce: nonce, protocolNumber: proto, internalPort: internalPort,
          assignedExternalPort: ext, assignedExternalAddress: addr)
        offset = 60
      } else if result == .success {
        throw .tooShort(length: bytes.count, needed: 60)
      } else {
        offset = bytes.count
      }
    }
    var options: [PCPOption] = []
    while offset < bytes.count {
      guard let code = r.u8(offset), let length = r.u16(offset + 2) else {
        throw .badOption(offset: offset)
      }
      let padded = (Int(length) + 3) / 4 * 4
      guard let data = r.slice(offset + 4, Int(length)), offset + 4 + padded <= bytes.count else {
        throw .badOption(offset: offset)
      }
      options.append(PCPOption(code: code, data: data))
      offset += 4 + padded
    }
    self.init(
      opcode: opcode, result: result, lifetime: lifetime, epochTime: epoch, map: map,
      options: options)
  }

  /// The wire bytes (for tests and the simulated gateway).
  public var bytes: [UInt8] {
    var out: [UInt8] = [PCPRequest.version, 0x80 | opcode.rawValue, 0, result.rawValue]
    out.appendBigEndian(lifetime)
    out.appendBigEndian(epochTime)
    out += [UInt8](repeating: 0, count: 12)
    if let map {
      var nonce = Array(map.nonce.prefix(12))
      nonce += [UInt8](repeating: 0, count: 12 - nonce.count)
      out += nonce
      out += [map.protocolNumber, 0, 0, 0]
      out.appendBigEndian(map.internalPort)
      out.appendBigEndian(map.assignedExternalPort)
      out += PCPAddress.encode(map.assignedExternalAddress)
    }
    for o in options {
      out += [o.code, 0]
      out.appendBigEndian(UInt16(truncatingIfNeeded: o.data.count))
      out += o.data
      out += [UInt8](repeating: 0, count: (4 - o.data.count % 4) % 4)
    }
    return out
  }
}

/// Why bytes from a server are not a usable PCP response.
public enum PCPDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The packet ended before the field that was needed.
  case tooShort(length: Int, needed: Int)
  /// Longer than the 1100 bytes PCP allows.
  case tooLong(length: Int)
  /// PCP messages are a multiple of 4 bytes long.
  case notMultipleOfFour(length: Int)
  /// The server answered "unsupported version" and speaks `serverVersion` (0: NAT-PMP).
  case versionNotSupported(serverVersion: UInt8)
  /// A version other than 2, without the unsupported-version result.
  case wrongVersion(UInt8)
  /// The R bit is clear: this is a request.
  case notAResponse
  /// An option header or its data runs past the end of the packet.
  case badOption(offset: Int)

  public var description: String {
    switch self {
    case .tooShort(let n, let needed):
      return "PCP response: \(n) bytes, but at least \(needed) are needed"
    case .tooLong(let n):
      return "PCP response: \(n) bytes, more than the 1100 PCP allows"
    case .notMultipleOfFour(let n):
      return "PCP response: \(n) bytes, not a multiple of 4"
    case .versionNotSupported(let v):
      return v == 0
        ? "PCP response: the gateway answered in NAT-PMP (version 0) that it does not support PCP"
        : "PCP response: the server does not support PCP version 2; it speaks version \(v)"
    case .wrongVersion(let v):
      return "PCP response: version byte is \(v), expected 2"
    case .notAResponse:
      return "PCP response: the R bit is clear, so this is a request"
    case .badOption(let offset):
      return "PCP response: the option at byte \(offset) runs past the end of the packet"
    }
  }
}
