import STUN

/// An SSDP search target (ST header): open, so any URN can be searched for.
public struct SSDPSearchTarget: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }

  public static let internetGatewayDevice1 = SSDPSearchTarget(
    rawValue: "urn:schemas-upnp-org:device:InternetGatewayDevice:1")
  public static let internetGatewayDevice2 = SSDPSearchTarget(
    rawValue: "urn:schemas-upnp-org:device:InternetGatewayDevice:2")
  public static let wanIPConnection1 = SSDPSearchTarget(
    rawValue: "urn:schemas-upnp-org:service:WANIPConnection:1")
  public static let wanIPConnection2 = SSDPSearchTarget(
    rawValue: "urn:schemas-upnp-org:service:WANIPConnection:2")
  public static let wanPPPConnection1 = SSDPSearchTarget(
    rawValue: "urn:schemas-upnp-org:service:WANPPPConnection:1")
  public static let all = SSDPSearchTarget(rawValue: "ssdp:all")

  public var description: String { rawValue }
}

/// SSDP discovery (UPnP Device Architecture §1.3): the M-SEARCH request a control point
/// multicasts, and the unicast responses devices send back.
public enum SSDP {
  /// 239.255.255.250:1900, where M-SEARCH requests go.
  public static let multicastAddress = TransportAddress(ip: .v4(0xEFFF_FFFA), port: 1900)

  /// The M-SEARCH request for `target`. `maxWait` (MX, 1–5 s) is how long devices may delay
  /// their answer; `userAgent`, if given, should read `OS/version UPnP/1.1 product/version`.
  public static func searchRequest(
    for target: SSDPSearchTarget, maxWait: Int = 2, userAgent: String? = nil
  ) -> [UInt8] {
    var text =
      "M-SEARCH * HTTP/1.1\r\n"
      + "HOST: 239.255.255.250:1900\r\n"
      + "MAN: \"ssdp:discover\"\r\n"
      + "MX: \(min(max(maxWait, 1), 5))\r\n"
      + "ST: \(target.rawValue)\r\n"
    if let userAgent { text += "USER-AGENT: \(userAgent)\r\n" }
    text += "\r\n"
    return Array(text.utf8)
  }

  /// The unicast M-SEARCH request for `target`, sent to one device at `host` (UDA 1.1
  /// section 1.3.2): its HOST is that address and it has no MX, since the device answers at
  /// once.
  public static func unicastSearchRequest(for target: SSDPSearchTarget, host: TransportAddress)
    -> [UInt8]
  {
    let text =
      "M-SEARCH * HTTP/1.1\r\n"
      + "HOST: \(host)\r\n"
      + "MAN: \"ssdp:discover\"\r\n"
      + "ST: \(target.rawValue)\r\n"
      + "\r\n"
    return Array(text.utf8)
  }
}

/// A device's answer to M-SEARCH (or a NOTIFY alive announcement): where its description is.
public struct SSDPResponse: Sendable, Hashable {
  /// The description URL (LOCATION).
  public var location: HTTPURL
  /// ST (or NT for a NOTIFY): what matched.
  public var searchTarget: String
  /// USN: the device's unique service name.
  public var usn: String
  /// SERVER: `OS/version UPnP/x product/version`, as sent (not yet made safe for a terminal).
  public var server: String?
  /// CACHE-CONTROL max-age, in seconds.
  public var maxAge: Int?
  /// Every header, names as sent.
  public var headers: [HTTPHeader]

  /// Parses a datagram: `HTTP/1.x 200` with LOCATION, or `NOTIFY * HTTP/1.1` with NTS
  /// `ssdp:alive`. Header names are matched case-insensitively and lines may end in CRLF or LF.
  /// Throws ``SSDPParseError``.
  public init(bytes: [UInt8]) throws(SSDPParseError) {
    guard bytes.count <= 8192 else { throw .tooLong(bytes.count) }
    var lines = httpLines(bytes)
    while let first = lines.first, first.isEmpty { lines.removeFirst() }
    guard let start = lines.first else { throw .notAResponse("") }
    let isNotify = start.uppercased().hasPrefix("NOTIFY ")
    if !isNotify {
      let parts = start.split(separator: " ", maxSplits: 2)
      guard parts.count >= 2, parts[0].uppercased().hasPrefix("HTTP/1.") else {
        throw .notAResponse(start)
      }
      guard parts[1] == "200" else { throw .notOK(start) }
    }
    var headers: [HTTPHeader] = []
    for line in lines.dropFirst() {
      if line.isEmpty { break }
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers.append(
        HTTPHeader(
          name: String(line[..<colon]).trimmingWhitespace,
          value: String(line[line.index(after: colon)...]).trimmingWhitespace))
    }
    func header(_ name: String) -> String? {
      headers.first { $0.name.lowercased() == name }?.value
    }
    if isNotify, let nts = header("nts"), nts.lowercased() != "ssdp:alive" {
      throw .notAlive(nts)
    }
    guard let locationText = header("location") else { throw .missingHeader("LOCATION") }
    guard let location = HTTPURL(locationText) else { throw .badLocation(locationText) }
    guard let target = header(isNotify ? "nt" : "st") else {
      throw .missingHeader(isNotify ? "NT" : "ST")
    }
    self.location = location
    self.searchTarget = target
    self.usn = header("usn") ?? ""
    self.server = header("server")
    self.headers = headers
    self.maxAge = header("cache-control").flatMap { value in
      value.split(separator: ",").lazy.compactMap { part -> Int? in
        let kv = part.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, String(kv[0]).trimmingWhitespace.lowercased() == "max-age" else {
          return nil
        }
        return Int(String(kv[1]).trimmingWhitespace)
      }.first
    }
  }

  /// True when the target is an Internet Gateway Device or one of its WAN connection services.
  public var isInternetGateway: Bool {
    let t = searchTarget.lowercased()
    return t.contains(":device:internetgatewaydevice:") || t.contains(":service:wanipconnection:")
      || t.contains(":service:wanpppconnection:")
  }
}

/// Why a datagram is not a usable SSDP response.
public enum SSDPParseError: Error, Sendable, Hashable, CustomStringConvertible {
  case tooLong(Int)
  /// The first line is neither `HTTP/1.x …` nor `NOTIFY …`.
  case notAResponse(String)
  /// A status other than 200.
  case notOK(String)
  /// A NOTIFY that is not `ssdp:alive` (a byebye or update).
  case notAlive(String)
  case missingHeader(String)
  /// LOCATION is not an `http://` URL.
  case badLocation(String)

  public var description: String {
    switch self {
    case .tooLong(let n): return "SSDP response: \(n) bytes is more than natscope reads"
    case .notAResponse(let l):
      return "SSDP response: first line \"\(WireText.display(l))\" is not an HTTP status line"
    case .notOK(let l): return "SSDP response: status line \"\(WireText.display(l))\" is not 200"
    case .notAlive(let nts):
      return "SSDP NOTIFY: NTS is \"\(WireText.display(nts))\", not ssdp:alive"
    case .missingHeader(let h): return "SSDP response: no \(h) header"
    case .badLocation(let l):
      return "SSDP response: LOCATION \"\(WireText.display(l))\" is not an http:// URL"
    }
  }
}
