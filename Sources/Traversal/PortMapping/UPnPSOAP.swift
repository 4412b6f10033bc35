import STUN

/// A UPnP error code from a SOAP fault's `<UPnPError>` (UPnP Device Architecture and the IGD
/// WANIPConnection specifications): open, so unknown codes survive.
public struct UPnPErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  public static let invalidAction = UPnPErrorCode(rawValue: 401)
  public static let invalidArgs = UPnPErrorCode(rawValue: 402)
  public static let actionFailed = UPnPErrorCode(rawValue: 501)
  public static let argumentValueInvalid = UPnPErrorCode(rawValue: 600)
  public static let argumentValueOutOfRange = UPnPErrorCode(rawValue: 601)
  public static let optionalActionNotImplemented = UPnPErrorCode(rawValue: 602)
  public static let actionNotAuthorized = UPnPErrorCode(rawValue: 606)
  public static let noSuchEntryInArray = UPnPErrorCode(rawValue: 714)
  public static let wildCardNotPermittedInSrcIP = UPnPErrorCode(rawValue: 715)
  public static let wildCardNotPermittedInExtPort = UPnPErrorCode(rawValue: 716)
  public static let conflictInMappingEntry = UPnPErrorCode(rawValue: 718)
  public static let samePortValuesRequired = UPnPErrorCode(rawValue: 724)
  public static let onlyPermanentLeasesSupported = UPnPErrorCode(rawValue: 725)
  public static let remoteHostOnlySupportsWildcard = UPnPErrorCode(rawValue: 726)
  public static let externalPortOnlySupportsWildcard = UPnPErrorCode(rawValue: 727)
  public static let noPortMapsAvailable = UPnPErrorCode(rawValue: 728)
  public static let conflictWithOtherMechanisms = UPnPErrorCode(rawValue: 729)
  public static let wildCardNotPermittedInIntPort = UPnPErrorCode(rawValue: 732)

  /// The specification's name for the code, or nil for one natscope does not know.
  public var name: String? {
    switch rawValue {
    case 401: return "Invalid Action"
    case 402: return "Invalid Args"
    case 501: return "Action Failed"
    case 600: return "Argument Value Invalid"
    case 601: return "Argument Value Out of Range"
    case 602: return "Optional Action Not Implemented"
    case 606: return "Action not authorized"
    case 714: return "NoSuchEntryInArray"
    case 715: return "WildCardNotPermittedInSrcIP"
    case 716: return "WildCardNotPermittedInExtPort"
    case 718: return "ConflictInMappingEntry"
    case 724: return "SamePortValuesRequired"
    case 725: return "OnlyPermanentLeasesSupported"
    case 726: return "RemoteHostOnlySupportsWildcard"
    case 727: return "ExternalPortOnlySupportsWildcard"
    case 728: return "NoPortMapsAvailable"
    case 729: return "ConflictWithOtherMechanisms"
    case 732: return "WildCardNotPermittedInIntPort"
    default: return nil
    }
  }

  /// One sentence saying what the device meant.
  public var explanation: String {
    switch rawValue {
    case 401: return "The device does not offer this action on this service."
    case 402: return "The device rejected the request's arguments (missing, extra or misnamed)."
    case 501:
      return
        "The device tried the action and failed, often because UPnP port mapping is disabled in its settings."
    case 600: return "One argument's value is not acceptable to the device."
    case 601: return "One argument's value is outside the range the device accepts."
    case 602: return "The device does not implement this optional action."
    case 606:
      return
        "The device refuses this action from this host (for example, mapping for another host's address)."
    case 714: return "There is no such port mapping to delete or read."
    case 715: return "The device needs a specific remote host; the wildcard is not allowed."
    case 716: return "The device needs a specific external port; the wildcard 0 is not allowed."
    case 718:
      return "The external port is already mapped to another host or port on this device."
    case 724: return "The device only maps an external port to the same internal port number."
    case 725:
      return "The device only supports permanent mappings: the lease duration must be 0."
    case 726: return "The device only accepts the wildcard (empty) remote host."
    case 727: return "The device only accepts the wildcard external port."
    case 728: return "The device has no free external ports left to map."
    case 729:
      return
        "The mapping conflicts with one made by another mechanism, such as PCP or static rules."
    case 732: return "The device needs a specific internal port; the wildcard is not allowed."
    default:
      return "The device returned UPnP error \(rawValue), which natscope does not know."
    }
  }

  /// For example `718 ConflictInMappingEntry`.
  public var description: String {
    name.map { "\(rawValue) \($0)" } ?? "\(rawValue)"
  }
}

/// A port mapping to ask an Internet Gateway Device for.
public struct UPnPPortMappingRequest: Sendable, Hashable {
  /// The remote host the mapping is limited to; empty for any (the usual choice).
  public var remoteHost: String
  /// The external port wanted.
  public var externalPort: UInt16
  /// UDP or TCP.
  public var proto: PortMappingProtocol
  /// The port on this host.
  public var internalPort: UInt16
  /// This host's LAN address.
  public var internalClient: IPAddress
  /// A label shown in the router's table.
  public var description: String
  /// Seconds; 0 asks for a permanent mapping.
  public var leaseDuration: UInt32

  public init(
    externalPort: UInt16, proto: PortMappingProtocol, internalPort: UInt16,
    internalClient: IPAddress, description: String = "natscope", leaseDuration: UInt32 = 3600,
    remoteHost: String = ""
  ) {
    self.remoteHost = remoteHost
    self.externalPort = externalPort
    self.proto = proto
    self.internalPort = internalPort
    self.internalClient = internalClient
    self.description = description
    self.leaseDuration = leaseDuration
  }
}

/// A SOAP action on a WANIPConnection or WANPPPConnection service.
public enum UPnPAction: Sendable, Hashable {
  /// Output: `NewExternalIPAddress`.
  case getExternalIPAddress
  /// Output: `NewConnectionStatus`, `NewLastConnectionError`, `NewUptime`.
  case getStatusInfo
  /// Maps exactly the requested external port.
  case addPortMapping(UPnPPortMappingRequest)
  /// (IGD:2 only) maps the requested external port or another; output `NewReservedPort`.
  case addAnyPortMapping(UPnPPortMappingRequest)
  /// Removes the mapping of `externalPort`.
  case deletePortMapping(externalPort: UInt16, proto: PortMappingProtocol, remoteHost: String)

  /// The action name, for example `AddPortMapping`.
  public var name: String {
    switch self {
    case .getExternalIPAddress: return "GetExternalIPAddress"
    case .getStatusInfo: return "GetStatusInfo"
    case .addPortMapping: return "AddPortMapping"
    case .addAnyPortMapping: return "AddAnyPortMapping"
    case .deletePortMapping: return "DeletePortMapping"
    }
  }

  /// The input arguments, in the order the specification lists them.
  public var arguments: [(name: String, value: String)] {
    switch self {
    case .getExternalIPAddress, .getStatusInfo:
      return []
    case .addPortMapping(let m), .addAnyPortMapping(let m):
      return [
        ("NewRemoteHost", m.remoteHost), ("NewExternalPort", "\(m.externalPort)"),
        ("NewProtocol", m.proto.upnpName), ("NewInternalPort", "\(m.internalPort)"),
        ("NewInternalClient", "\(m.internalClient)"), ("NewEnabled", "1"),
        ("NewPortMappingDescription", m.description), ("NewLeaseDuration", "\(m.leaseDuration)"),
      ]
    case .deletePortMapping(let port, let proto, let remoteHost):
      return [
        ("NewRemoteHost", remoteHost), ("NewExternalPort", "\(port)"),
        ("NewProtocol", proto.upnpName),
      ]
    }
  }
}

/// Builds UPnP SOAP control requests.
public enum UPnPSOAP {
  /// The SOAP envelope for `action` on `serviceType`.
  public static func envelope(_ action: UPnPAction, serviceType: String) -> String {
    var args = ""
    for (name, value) in action.arguments { args += "<\(name)>\(escape(value))</\(name)>" }
    return "<?xml version=\"1.0\"?>\r\n"
      + "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\""
      + " s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
      + "<s:Body><u:\(action.name) xmlns:u=\"\(escape(serviceType))\">\(args)</u:\(action.name)>"
      + "</s:Body></s:Envelope>\r\n"
  }

  /// The complete HTTP/1.1 request: POST to the control URL's path with Host, Content-Type,
  /// SOAPAction, Content-Length and `Connection: close`.
  public static func request(_ action: UPnPAction, serviceType: String, controlURL: HTTPURL)
    -> [UInt8]
  {
    let body = Array(envelope(action, serviceType: serviceType).utf8)
    let head =
      "POST \(controlURL.path) HTTP/1.1\r\n"
      + "Host: \(controlURL.hostHeader)\r\n"
      + "Content-Type: text/xml; charset=\"utf-8\"\r\n"
      + "SOAPAction: \"\(serviceType)#\(action.name)\"\r\n"
      + "Content-Length: \(body.count)\r\n"
      + "Connection: close\r\n"
      + "\r\n"
    return Array(head.utf8) + body
  }

  /// A plain GET (for the device description), with `Connection: close`.
  public static func get(_ url: HTTPURL) -> [UInt8] {
    Array(
      ("GET \(url.path) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nAccept: text/xml, application/xml\r\n"
        + "Connection: close\r\n\r\n").utf8)
  }

  /// `text` with `&`, `<`, `>`, `"` and `'` escaped, and control characters other than tab,
  /// CR and LF dropped (XML 1.0 cannot carry them).
  public static func escape(_ text: String) -> String {
    var out = ""
    for s in text.unicodeScalars {
      switch s {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\t", "\r", "\n": out.unicodeScalars.append(s)
      default:
        if s.value >= 0x20 { out.unicodeScalars.append(s) }
      }
    }
    return out
  }
}
