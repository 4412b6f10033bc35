import STUN

/// A router's answer refusing a mapping request, with the code it gave: evidence for
/// ``DoubleNATVerdict``.
///
/// JSON keys: `protocol` (`"pcp"`, `"nat-pmp"`, `"upnp-igd"`), `code` (the PCP result code,
/// the NAT-PMP result code, or the UPnP error code), `name` (the specification's name for the
/// code, when natscope knows it).
public struct PortMappingRefusal: Sendable, Hashable, Codable {
  /// The protocol that was refused.
  public var `protocol`: PortMappingResult.Method
  /// The code in the answer.
  public var code: Int
  /// The specification's name for the code (`NO_RESOURCES`, `Network Failure`,
  /// `Action Failed`), when known.
  public var name: String?

  public init(protocol: PortMappingResult.Method, code: Int, name: String? = nil) {
    self.protocol = `protocol`
    self.code = code
    self.name = name
  }

  /// A PCP MAP answer with a result code other than success.
  public init(pcp code: PCPResultCode) {
    self.init(protocol: .pcp, code: Int(code.rawValue), name: code.name)
  }

  /// A NAT-PMP mapping answer with a result code other than success.
  public init(natPMP code: NATPMPResultCode) {
    self.init(protocol: .natPMP, code: Int(code.rawValue), name: code.name)
  }

  /// A UPnP IGD AddPortMapping fault.
  public init(upnp code: UPnPErrorCode) {
    self.init(protocol: .upnpIGD, code: Int(code.rawValue), name: code.name)
  }

  /// True for the answers a router gives when it is up and willing but cannot forward a port
  /// from its WAN side: PCP NETWORK_FAILURE (7), NO_RESOURCES (8) and CANNOT_PROVIDE_EXTERNAL
  /// (11), NAT-PMP Network Failure (3) and Out of resources (4), UPnP ActionFailed (501). A
  /// refusal by policy (NOT_AUTHORIZED, a conflict, a bad request) is not one of them.
  ///
  /// miniupnpd 2.3.1 answers exactly these (PCP 8, NAT-PMP 3, UPnP 501) when its STUN test
  /// found a NAT above it that would block what it forwards.
  public var cannotForward: Bool {
    switch `protocol` {
    case .pcp: return [7, 8, 11].contains(code)
    case .natPMP: return [3, 4].contains(code)
    case .upnpIGD: return code == 501
    }
  }

  /// `PCP result 8 (NO_RESOURCES)`, `NAT-PMP result 3 (Network Failure)`, `UPnP IGD error 501
  /// (Action Failed)`.
  public var phrase: String {
    let kind = `protocol` == .upnpIGD ? "error" : "result"
    return "\(`protocol`.displayName) \(kind) \(code)" + (name.map { " (\($0))" } ?? "")
  }
}
