import STUN

/// A NAT-PMP opcode (RFC 6886 §3): open, so unknown values survive decoding.
public struct NATPMPOpcode: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// 0: ask for the gateway's external IPv4 address.
  public static let externalAddress = NATPMPOpcode(rawValue: 0)
  /// 1: create, renew or delete a UDP mapping.
  public static let mapUDP = NATPMPOpcode(rawValue: 1)
  /// 2: create, renew or delete a TCP mapping.
  public static let mapTCP = NATPMPOpcode(rawValue: 2)

  /// The map opcode for `proto`.
  public static func map(_ proto: PortMappingProtocol) -> NATPMPOpcode {
    proto == .udp ? .mapUDP : .mapTCP
  }

  /// The protocol of a map opcode; nil for any other opcode.
  public var mappedProtocol: PortMappingProtocol? {
    switch rawValue {
    case 1: return .udp
    case 2: return .tcp
    default: return nil
    }
  }
}

/// A NAT-PMP result code (RFC 6886 §3.5): open, so unknown values survive decoding.
public struct NATPMPResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  public static let success = NATPMPResultCode(rawValue: 0)
  public static let unsupportedVersion = NATPMPResultCode(rawValue: 1)
  public static let notAuthorized = NATPMPResultCode(rawValue: 2)
  public static let networkFailure = NATPMPResultCode(rawValue: 3)
  public static let outOfResources = NATPMPResultCode(rawValue: 4)
  public static let unsupportedOpcode = NATPMPResultCode(rawValue: 5)

  /// The RFC's name for the code, or nil for one it does not define.
  public var name: String? {
    switch rawValue {
    case 0: return "Success"
    case 1: return "Unsupported Version"
    case 2: return "Not Authorized/Refused"
    case 3: return "Network Failure"
    case 4: return "Out of resources"
    case 5: return "Unsupported opcode"
    default: return nil
    }
  }

  /// For example `2 Not Authorized/Refused`.
  public var description: String {
    name.map { "\(rawValue) \($0)" } ?? "\(rawValue)"
  }
}

/// A NAT-PMP request (RFC 6886 §3.2, §3.3), as a client sends it to the gateway's port 5351.
public enum NATPMPRequest: Sendable, Hashable {
  /// Ask for the external IPv4 address (2 bytes: version 0, opcode 0).
  case externalAddress
  /// Map `internalPort` for `proto`, suggesting `externalPort` (0: no preference), for
  /// `lifetime` seconds. A lifetime of 0 deletes the mapping (then the suggested port should be
  /// 0; an internal port of 0 as well deletes every mapping of the protocol for this client).
  case map(
    PortMappingProtocol, internalPort: UInt16, suggestedExternalPort: UInt16, lifetime: UInt32)

  /// The UDP port a NAT-PMP gateway listens on.
  public static let serverPort: UInt16 = 5351

  /// The request's opcode.
  public var opcode: NATPMPOpcode {
    switch self {
    case .externalAddress: return .externalAddress
    case .map(let p, _, _, _): return .map(p)
    }
  }

  /// The wire bytes: 2 for the external-address request, 12 for a map request.
  public var bytes: [UInt8] {
    switch self {
    case .externalAddress:
      return [0, 0]
    case .map(let proto, let internalPort, let external, let lifetime):
      var out: [UInt8] = [0, NATPMPOpcode.map(proto).rawValue, 0, 0]
      out.reserveCapacity(12)
      out.appendBigEndian(internalPort)
      out.appendBigEndian(external)
      out.appendBigEndian(lifetime)
      return out
    }
  }
}

/// A NAT-PMP response from the gateway (RFC 6886 §3.2, §3.3, §3.5).
public struct NATPMPResponse: Sendable, Hashable {
  /// What the response answers, with its payload.
  public enum Body: Sendable, Hashable {
    /// Opcode 128: the gateway's external IPv4 address (nil in an error response).
    case externalAddress(IPAddress?)
    /// Opcode 129 or 130: the mapping of `internalPort` (port and lifetime are 0 in an error
    /// response, or after a deletion).
    case map(
      PortMappingProtocol, internalPort: UInt16, externalPort: UInt16, lifetime: UInt32)
    /// An error response to an opcode this client does not send (only the header was read).
    case other(NATPMPOpcode)
  }

  /// The opcode of the request answered (the wire opcode minus 128).
  public var requestOpcode: NATPMPOpcode
  /// The result code.
  public var result: NATPMPResultCode
  /// Seconds since the gateway's port-mapping state began (its epoch).
  public var secondsSinceEpoch: UInt32
  /// The payload.
  public var body: Body

  /// A response with these fields.
  public init(
    requestOpcode: NATPMPOpcode, result: NATPMPResultCode, secondsSinceEpoch: UInt32, body: Body
  ) {
    self.requestOpcode = requestOpcode
    self.result = result
    self.secondsSinceEpoch = secondsSinceEpoch
    self.body = body
  }

  /// Decodes a response. Error responses may stop after the epoch field (8 bytes); success
  /// responses must be complete (12 bytes for the address, 16 for a mapping). Extra bytes are
  /// ignored. Throws ``NATPMPDecodeError``; never traps.
  public init(bytes: [UInt8]) throws(NATPMPDecodeError) {
    let r = PortMappingReader(bytes)
    guard let version = r.u8(0), let op = r.u8(1) else {
      throw .tooShort(length: bytes.count, needed: 2)
    }
    guard version == 0 else { throw .wrongVersion(version) }
    guard op >= 128 else { throw .notAResponse(opcode: op) }
    guard let code = r.u16(2), let epoch = r.u32(4) else {
      throw .tooShort(length: bytes.count, needed: 8)
    }
    let opcode = NATPMPOpcode(rawValue: op - 128)
    let result = NATPMPResultCode(rawValue: code)
    let body: Body
    if opcode == .externalAddress {
      if let a = r.u32(8) {
        body = .externalAddress(.v4(a))
      } else if result != .success {
        body = .externalAddress(nil)
      } else {
        throw .tooShort(length: bytes.count, needed: 12)
      }
    } else if let proto = opcode.mappedProtocol {
      if let internalPort = r.u16(8), let ext = r.u16(10), let life = r.u32(12) {
        body = .map(proto, internalPort: internalPort, externalPort: ext, lifetime: life)
      } else if result != .success {
        body = .map(proto, internalPort: r.u16(8) ?? 0, externalPort: 0, lifetime: 0)
      } else {
        throw .tooShort(length: bytes.count, needed: 16)
      }
    } else {
      body = .other(opcode)
    }
    self.init(requestOpcode: opcode, result: result, secondsSinceEpoch: epoch, body: body)
  }

  /// The wire bytes (for tests and the simulated gateway).
  public var bytes: [UInt8] {
    var out: [UInt8] = [0, requestOpcode.rawValue &+ 128]
    out.appendBigEndian(result.rawValue)
    out.appendBigEndian(secondsSinceEpoch)
    switch body {
    case .externalAddress(let ip):
      // An error response without an address ends after the epoch, as the decoder reads it.
      if case .v4(let a)? = ip { out.appendBigEndian(a) }
    case .map(_, let internalPort, let ext, let life):
      out.appendBigEndian(internalPort)
      out.appendBigEndian(ext)
      out.appendBigEndian(life)
    case .other:
      break
    }
    return out
  }
}

/// Why bytes from a gateway are not a NAT-PMP response.
public enum NATPMPDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The packet ended before the field that was needed.
  case tooShort(length: Int, needed: Int)
  /// The version byte is not 0.
  case wrongVersion(UInt8)
  /// The opcode byte is below 128: a request, not a response.
  case notAResponse(opcode: UInt8)

  public var description: String {
    switch self {
    case .tooShort(let n, let needed):
      return "NAT-PMP response: \(n) bytes, but at least \(needed) are needed"
    case .wrongVersion(let v):
      return "NAT-PMP response: version byte is \(v), expected 0"
    case .notAResponse(let op):
      return
        "NAT-PMP response: opcode byte is \(op), which is a request (responses are 128 or more)"
    }
  }
}
