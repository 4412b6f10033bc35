import Runtime
import STUN
import Traversal

/// The router side of UPnP IGD on a simulated ``NATBox``: an SSDP responder on UDP port 1900
/// of the box's inside address (it hears M-SEARCH multicast to 239.255.255.250:1900 from the
/// LAN) and an HTTP server on TCP port 5000 of the same address that serves the device
/// description (InternetGatewayDevice → WANDevice → WANConnectionDevice → WANIPConnection)
/// and SOAP control of WANIPConnection: GetExternalIPAddress, GetStatusInfo, AddPortMapping,
/// DeletePortMapping and, on an IGD:2 router, AddAnyPortMapping.
///
/// A granted UDP mapping becomes a port forward on the box with the lease as its lifetime
/// (``NATBox/addForward(externalPort:to:lifetime:)``), so a peer really gets in; TCP mappings
/// are kept in the router's table only (simulated TCP does not cross NAT boxes). Bad requests
/// get real SOAP faults: 401 Invalid Action, 402 Invalid Args, 606 (a mapping for another
/// host), 714 NoSuchEntryInArray, 716 (external port 0), 718 ConflictInMappingEntry, 726
/// (a remote host other than the wildcard).
///
/// The external address it reports is the box's own first public address: behind a
/// carrier-grade NAT that is the box's address on the carrier's network, as a real home router
/// reports it.
public final class RouterUPnPIGD {
  /// What the router offers.
  public struct Configuration: Sendable, Hashable {
    /// 1 (InternetGatewayDevice:1 with WANIPConnection:1) or 2 (InternetGatewayDevice:2 with
    /// WANIPConnection:2, which adds AddAnyPortMapping).
    public var version: Int
    /// The TCP port of the HTTP server.
    public var httpPort: UInt16
    /// The device's friendly name.
    public var friendlyName: String

    public init(
      version: Int = 1, httpPort: UInt16 = 5000, friendlyName: String = "natscope simulated router"
    ) {
      self.version = min(max(version, 1), 2)
      self.httpPort = httpPort == 0 ? 5000 : httpPort
      self.friendlyName = friendlyName
    }
  }

  /// One mapping in the router's table.
  public struct Entry: Hashable, Sendable {
    public var proto: PortMappingProtocol
    public var externalPort: UInt16
    public var internalAddress: TransportAddress
    public var description: String
    /// When it ends (nil: permanent).
    public var expires: Instant?
  }

  /// The UDP port SSDP listens on.
  public static let ssdpPort: UInt16 = 1900
  /// The path of the device description.
  public static let descriptionPath = "/rootDesc.xml"
  /// The control path of WANIPConnection.
  public static let controlPath = "/ctl/IPConn"

  /// The box it runs on.
  public let box: NATBox
  /// Settings.
  public let configuration: Configuration
  /// Every request it handled, one line each (for tests and traces).
  public private(set) var log: [String] = []

  private let network: VirtualNetwork
  private let started: Instant
  private var tcpTable: [UInt16: Entry] = [:]
  private var descriptions: [TransportAddress: String] = [:]
  private var connections: [ObjectIdentifier: HTTPConnection] = [:]

  /// Answers SSDP and HTTP on `box`.
  public init(box: NATBox, network: VirtualNetwork, configuration: Configuration = Configuration())
  {
    self.box = box
    self.network = network
    self.configuration = configuration
    self.started = network.now
    box.listen(port: Self.ssdpPort) { [weak self] bytes, from, reply in
      self?.ssdp(bytes, from: from, reply: reply)
    }
    box.listenTCP(port: configuration.httpPort) { [weak self] stream, from in
      self?.accept(stream, from: from)
    }
  }

  /// The live mappings, UDP (the box's forwards made by any protocol) then TCP, by port.
  public var mappings: [Entry] {
    let now = network.now
    let udp = box.forwards.map { f in
      Entry(
        proto: .udp, externalPort: f.external.port, internalAddress: f.internalAddress,
        description: descriptions[f.internalAddress] ?? "", expires: f.expires)
    }
    let tcp = tcpTable.values.filter { $0.expires.map { now < $0 } ?? true }
      .sorted { $0.externalPort < $1.externalPort }
    return udp + tcp
  }

  private var deviceType: String {
    "urn:schemas-upnp-org:device:InternetGatewayDevice:\(configuration.version)"
  }
  private var serviceType: String {
    "urn:schemas-upnp-org:service:WANIPConnection:\(configuration.version)"
  }
  private var location: String {
    "http://\(box.insideAddress):\(configuration.httpPort)\(Self.descriptionPath)"
  }

  /// A stable UUID for the device, from the box's name (FNV-1a), so runs are reproducible.
  private var uuid: String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in box.name.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    let tail = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    return "uuid:6e617473-636f-7065-8000-\(tail.suffix(12))"
  }

  // MARK: SSDP

  private func ssdp(
    _ bytes: [UInt8], from: TransportAddress, reply: @escaping ([UInt8], TransportAddress) -> Void
  ) {
    guard let request = HTTPRequestHead(bytes), request.method == "M-SEARCH",
      request.header("man")?.lowercased() == "\"ssdp:discover\"",
      let target = request.header("st")
    else { return }
    guard let answered = answersSearch(for: target) else {
      log.append("SSDP M-SEARCH from \(from) for \(WireText.display(target)): not this device")
      return
    }
    log.append("SSDP M-SEARCH from \(from) for \(answered)")
    let usn = answered == "upnp:rootdevice" || answered.hasPrefix("uuid:") ? "" : "::\(answered)"
    let text =
      "HTTP/1.1 200 OK\r\n"
      + "CACHE-CONTROL: max-age=120\r\n"
      + "EXT:\r\n"
      + "LOCATION: \(location)\r\n"
      + "SERVER: Linux/6.1 UPnP/1.1 natscope-simulated-router/1.0\r\n"
      + "ST: \(answered)\r\n"
      + "USN: \(uuid)\(usn)\r\n"
      + "\r\n"
    reply(Array(text.utf8), from)
  }

  /// The ST this device answers a search for `target` with, or nil when it is not a match: the
  /// root device, all devices, the IGD and the WAN connection service, at this version or
  /// below (a device answers searches for earlier versions with the version searched for).
  private func answersSearch(for target: String) -> String? {
    let t = target.trimmedSpaces
    switch t.lowercased() {
    case "ssdp:all": return deviceType
    case "upnp:rootdevice": return "upnp:rootdevice"
    case uuid.lowercased(): return uuid
    default: break
    }
    for prefix in [
      "urn:schemas-upnp-org:device:InternetGatewayDevice:",
      "urn:schemas-upnp-org:service:WANIPConnection:",
    ] where t.lowercased().hasPrefix(prefix.lowercased()) {
      guard let v = Int(t.dropFirst(prefix.count)), v >= 1, v <= configuration.version else {
        return nil
      }
      return prefix + "\(v)"
    }
    return nil
  }

  // MARK: HTTP

  /// One HTTP connection: reads one request (headers and a Content-Length body), answers it
  /// and closes, as `Connection: close` asks.
  private final class HTTPConnection {
    let stream: SimulatedRawStream
    let from: TransportAddress
    var buffer: [UInt8] = []
    var answered = false

    init(stream: SimulatedRawStream, from: TransportAddress) {
      self.stream = stream
      self.from = from
    }
  }

  /// The most bytes one request may have.
  static let maximumRequestBytes = 64 * 1024

  private func accept(_ stream: SimulatedRawStream, from: TransportAddress) {
    let connection = HTTPConnection(stream: stream, from: from)
    let key = ObjectIdentifier(connection)
    connections[key] = connection
    stream.onBytes = { [weak self, weak connection] chunk in
      guard let self, let connection else { return }
      self.received(chunk, on: connection)
    }
    stream.onEnd = { [weak self] _ in self?.connections[key] = nil }
  }

  private func received(_ chunk: [UInt8], on c: HTTPConnection) {
    guard !c.answered else { return }
    c.buffer += chunk
    guard c.buffer.count <= Self.maximumRequestBytes else {
      return respond(c, status: 413, reason: "Payload Too Large", body: [])
    }
    guard let end = Self.headEnd(c.buffer) else { return }
    guard let head = HTTPRequestHead(Array(c.buffer[..<end])) else {
      return respond(c, status: 400, reason: "Bad Request", body: [])
    }
    let length = head.header("content-length").map { Int($0.trimmedSpaces) } ?? 0
    guard let length, length >= 0 else {
      return respond(c, status: 400, reason: "Bad Request", body: [])
    }
    guard c.buffer.count - end >= length else { return }
    let body = Array(c.buffer[end..<end + length])
    handle(head, body: body, on: c)
  }

  /// The offset just past the blank line that ends the head, or nil while it is incomplete.
  private static func headEnd(_ b: [UInt8]) -> Int? {
    guard b.count >= 4 else { return nil }
    for i in 0...(b.count - 4)
    where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
      return i + 4
    }
    return nil
  }

  private func handle(_ head: HTTPRequestHead, body: [UInt8], on c: HTTPConnection) {
    switch (head.method, head.path) {
    case ("GET", Self.descriptionPath):
      log.append("HTTP GET \(Self.descriptionPath) from \(c.from.ip)")
      respond(c, status: 200, reason: "OK", body: Array(descriptionXML.utf8))
    case ("POST", Self.controlPath):
      control(body, from: c.from.ip, on: c)
    case (_, Self.descriptionPath), (_, Self.controlPath):
      log.append("HTTP \(WireText.display(head.method)) \(head.path) from \(c.from.ip): 405")
      respond(c, status: 405, reason: "Method Not Allowed", body: [])
    default:
      log.append(
        "HTTP \(WireText.display(head.method)) \(WireText.display(head.path)) from \(c.from.ip): 404"
      )
      respond(c, status: 404, reason: "Not Found", body: [])
    }
  }

  private func respond(_ c: HTTPConnection, status: Int, reason: String, body: [UInt8]) {
    guard !c.answered else { return }
    c.answered = true
    var head = "HTTP/1.1 \(status) \(reason)\r\n"
    if !body.isEmpty { head += "Content-Type: text/xml; charset=\"utf-8\"\r\n" }
    head +=
      "Content-Length: \(body.count)\r\n"
      + "Server: Linux/6.1 UPnP/1.1 natscope-simulated-router/1.0\r\n"
      + "Connection: close\r\n\r\n"
    c.stream.send(Array(head.utf8) + body)
    c.stream.close()
    connections[ObjectIdentifier(c)] = nil
  }

  // MARK: Device description

  private var descriptionXML: String {
    let v = configuration.version
    return """
      <?xml version="1.0"?>
      <root xmlns="urn:schemas-upnp-org:device-1-0">
      <specVersion><major>1</major><minor>\(v == 2 ? 1 : 0)</minor></specVersion>
      <device>
      <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:\(v)</deviceType>
      <friendlyName>\(UPnPSOAP.escape(configuration.friendlyName))</friendlyName>
      <manufacturer>natscope</manufacturer>
      <manufacturerURL>https://example.invalid/natscope</manufacturerURL>
      <modelDescription>Simulated home router</modelDescription>
      <modelName>natscope simulated router</modelName>
      <modelNumber>1</modelNumber>
      <serialNumber>\(UPnPSOAP.escape(box.name))</serialNumber>
      <UDN>\(uuid)</UDN>
      <serviceList>
      <service>
      <serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
      <serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId>
      <SCPDURL>/L3F.xml</SCPDURL>
      <controlURL>/ctl/L3F</controlURL>
      <eventSubURL>/evt/L3F</eventSubURL>
      </service>
      </serviceList>
      <deviceList>
      <device>
      <deviceType>urn:schemas-upnp-org:device:WANDevice:\(v)</deviceType>
      <friendlyName>WANDevice</friendlyName>
      <manufacturer>natscope</manufacturer>
      <modelName>WAN device</modelName>
      <UDN>\(uuid)-1</UDN>
      <serviceList>
      <service>
      <serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
      <serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>
      <SCPDURL>/WANCfg.xml</SCPDURL>
      <controlURL>/ctl/CmnIfCfg</controlURL>
      <eventSubURL>/evt/CmnIfCfg</eventSubURL>
      </service>
      </serviceList>
      <deviceList>
      <device>
      <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:\(v)</deviceType>
      <friendlyName>WANConnectionDevice</friendlyName>
      <manufacturer>natscope</manufacturer>
      <modelName>WAN connection device</modelName>
      <UDN>\(uuid)-2</UDN>
      <serviceList>
      <service>
      <serviceType>\(serviceType)</serviceType>
      <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
      <SCPDURL>/WANIPCn.xml</SCPDURL>
      <controlURL>\(Self.controlPath)</controlURL>
      <eventSubURL>/evt/IPConn</eventSubURL>
      </service>
      </serviceList>
      </device>
      </deviceList>
      </device>
      </deviceList>
      <presentationURL>http://\(box.insideAddress)/</presentationURL>
      </device>
      </root>

      """
  }

  // MARK: SOAP control

  /// A SOAP fault: the UPnP error code and the description the device sends with it.
  private struct Fault: Error {
    var code: UPnPErrorCode
    var text: String

    init(_ code: UPnPErrorCode, _ text: String? = nil) {
      self.code = code
      self.text = text ?? code.name ?? "Error"
    }
  }

  private func control(_ body: [UInt8], from client: IPAddress, on c: HTTPConnection) {
    let request: UPnPControlRequest
    do {
      request = try UPnPControlRequest(body: body)
    } catch {
      log.append("UPnP control request from \(client) unreadable: \(error)")
      return fault(Fault(.invalidAction, "Invalid Action"), action: "", on: c)
    }
    let action = request.action
    guard request.serviceType.lowercased() == serviceType.lowercased() else {
      log.append(
        "UPnP \(WireText.display(action)) from \(client) for \(WireText.display(request.serviceType)): 401"
      )
      return fault(Fault(.invalidAction), action: action, on: c)
    }
    do {
      let out = try perform(action, request.arguments, from: client)
      respondSOAP(action: action, arguments: out, on: c)
    } catch {
      log.append("UPnP \(WireText.display(action)) from \(client): fault \(error.code.rawValue)")
      fault(error, action: action, on: c)
    }
  }

  private func perform(_ action: String, _ args: [String: String], from client: IPAddress)
    throws(Fault) -> [(String, String)]
  {
    switch action {
    case "GetExternalIPAddress":
      log.append("UPnP GetExternalIPAddress from \(client)")
      let ip = box.publicIPs.first { $0.family == .ipv4 }
      return [("NewExternalIPAddress", ip?.description ?? "")]
    case "GetStatusInfo":
      log.append("UPnP GetStatusInfo from \(client)")
      let uptime = max(0, (network.now - started).components.seconds)
      return [
        ("NewConnectionStatus", "Connected"), ("NewLastConnectionError", "ERROR_NONE"),
        ("NewUptime", "\(uptime)"),
      ]
    case "AddPortMapping":
      return try add(args, from: client, any: false)
    case "AddAnyPortMapping" where configuration.version >= 2:
      return try add(args, from: client, any: true)
    case "DeletePortMapping":
      return try delete(args, from: client)
    default:
      throw Fault(.invalidAction)
    }
  }

  private static func argument(_ args: [String: String], _ name: String) throws(Fault) -> String {
    guard let value = args[name] else { throw Fault(.invalidArgs) }
    return value
  }

  private static func port(_ args: [String: String], _ name: String) throws(Fault) -> UInt16 {
    guard let port = UInt16(try argument(args, name)) else { throw Fault(.argumentValueInvalid) }
    return port
  }

  private static func proto(_ args: [String: String]) throws(Fault) -> PortMappingProtocol {
    switch try argument(args, "NewProtocol").uppercased() {
    case "UDP": return .udp
    case "TCP": return .tcp
    default: throw Fault(.argumentValueInvalid)
    }
  }

  private func add(_ args: [String: String], from client: IPAddress, any: Bool) throws(Fault)
    -> [(String, String)]
  {
    let name = any ? "AddAnyPortMapping" : "AddPortMapping"
    let remote = try Self.argument(args, "NewRemoteHost")
    let external = try Self.port(args, "NewExternalPort")
    let proto = try Self.proto(args)
    let internalPort = try Self.port(args, "NewInternalPort")
    let clientText = try Self.argument(args, "NewInternalClient")
    let enabled = try Self.argument(args, "NewEnabled")
    let label = try Self.argument(args, "NewPortMappingDescription")
    guard let lease = UInt32(try Self.argument(args, "NewLeaseDuration")) else {
      throw Fault(.argumentValueInvalid)
    }
    guard let internalClient = IPAddress(clientText), enabled == "1" || enabled == "0" else {
      throw Fault(.argumentValueInvalid)
    }
    guard remote.isEmpty else { throw Fault(.remoteHostOnlySupportsWildcard) }
    guard external != 0 else { throw Fault(.wildCardNotPermittedInExtPort) }
    guard internalPort != 0 else { throw Fault(.wildCardNotPermittedInIntPort) }
    // As miniupnpd in its secure mode: a host maps ports only to itself.
    guard internalClient == client else { throw Fault(.actionNotAuthorized) }
    // IGD:2 turns a lease of 0 into the longest one (7 days); IGD:1 makes it permanent.
    let seconds: UInt32 = lease == 0 && configuration.version >= 2 ? 604_800 : lease
    let lifetime: Duration? = seconds == 0 ? nil : .seconds(Int64(seconds))
    let inside = TransportAddress(ip: internalClient, port: internalPort)
    log.append(
      "UPnP \(name) \(proto.upnpName) \(inside), external port \(external), lease \(lease) s, from \(client)"
    )
    let granted: UInt16
    switch proto {
    case .udp:
      // AddPortMapping wants exactly the port (this host's already, or free: else 718);
      // AddAnyPortMapping takes another when it is taken.
      guard
        let f = box.addForward(
          externalPort: external, to: inside, lifetime: lifetime, exactPort: !any)
      else { throw Fault(any ? .noPortMapsAvailable : .conflictInMappingEntry) }
      descriptions[inside] = label
      granted = f.port
    default:
      granted = try addTCP(external, inside: inside, label: label, lifetime: lifetime, any: any)
    }
    return any ? [("NewReservedPort", "\(granted)")] : []
  }

  private func addTCP(
    _ external: UInt16, inside: TransportAddress, label: String, lifetime: Duration?, any: Bool
  ) throws(Fault) -> UInt16 {
    let now = network.now
    func free(_ port: UInt16) -> Bool {
      guard let e = tcpTable[port], e.expires.map({ now < $0 }) ?? true else { return true }
      return e.internalAddress == inside
    }
    var port = external
    if !free(port) {
      guard any else { throw Fault(.conflictInMappingEntry) }
      var found: UInt16?
      let start = Int(external) - 1024
      for step in 0..<64512 {
        let candidate = UInt16(1024 + (start + step + 64512) % 64512)
        if free(candidate) {
          found = candidate
          break
        }
      }
      guard let found else { throw Fault(.noPortMapsAvailable) }
      port = found
    }
    tcpTable[port] = Entry(
      proto: .tcp, externalPort: port, internalAddress: inside, description: label,
      expires: lifetime.map { now + $0 })
    return port
  }

  private func delete(_ args: [String: String], from client: IPAddress) throws(Fault)
    -> [(String, String)]
  {
    let remote = try Self.argument(args, "NewRemoteHost")
    let external = try Self.port(args, "NewExternalPort")
    let proto = try Self.proto(args)
    log.append("UPnP DeletePortMapping \(proto.upnpName) external port \(external), from \(client)")
    guard remote.isEmpty else { throw Fault(.noSuchEntryInArray) }
    switch proto {
    case .udp:
      guard let f = box.forward(externalPort: external) else { throw Fault(.noSuchEntryInArray) }
      guard f.internalAddress.ip == client else { throw Fault(.actionNotAuthorized) }
      box.removeForward(internal: f.internalAddress)
      descriptions[f.internalAddress] = nil
    default:
      let now = network.now
      guard let e = tcpTable[external], e.expires.map({ now < $0 }) ?? true else {
        throw Fault(.noSuchEntryInArray)
      }
      guard e.internalAddress.ip == client else { throw Fault(.actionNotAuthorized) }
      tcpTable[external] = nil
    }
    return []
  }

  private func respondSOAP(action: String, arguments: [(String, String)], on c: HTTPConnection) {
    var args = ""
    for (name, value) in arguments { args += "<\(name)>\(UPnPSOAP.escape(value))</\(name)>" }
    let xml =
      "<?xml version=\"1.0\"?>\r\n"
      + "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\""
      + " s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
      + "<u:\(action)Response xmlns:u=\"\(serviceType)\">\(args)</u:\(action)Response>"
      + "</s:Body></s:Envelope>\r\n"
    respond(c, status: 200, reason: "OK", body: Array(xml.utf8))
  }

  private func fault(_ f: Fault, action: String, on c: HTTPConnection) {
    let xml =
      "<?xml version=\"1.0\"?>\r\n"
      + "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\""
      + " s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><s:Fault>"
      + "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
      + "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\">"
      + "<errorCode>\(f.code.rawValue)</errorCode>"
      + "<errorDescription>\(UPnPSOAP.escape(f.text))</errorDescription>"
      + "</UPnPError></detail></s:Fault></s:Body></s:Envelope>\r\n"
    respond(c, status: 500, reason: "Internal Server Error", body: Array(xml.utf8))
  }
}

/// The head of an HTTP/1.1 request (or an SSDP M-SEARCH datagram): request line and headers.
struct HTTPRequestHead {
  var method: String
  var path: String
  var headers: [(name: String, value: String)]

  /// Reads a request line `METHOD target HTTP/1.x` and `Name: value` header lines (CRLF or LF),
  /// up to the first blank line; nil when the request line is malformed.
  init?(_ bytes: [UInt8]) {
    // Split on LF bytes (a String would keep CR LF together as one character).
    var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
      String(decoding: line.last == 13 ? line.dropLast() : line[...], as: UTF8.self)
    }
    guard !lines.isEmpty else { return nil }
    let start = lines.removeFirst().split(separator: " ")
    guard start.count == 3, start[2].hasPrefix("HTTP/1.") else { return nil }
    method = String(start[0])
    path = String(start[1])
    headers = []
    for line in lines {
      if line.isEmpty { break }
      guard let colon = line.firstIndex(of: ":") else { return nil }
      headers.append(
        (
          String(line[..<colon]).trimmedSpaces,
          String(line[line.index(after: colon)...]).trimmedSpaces
        ))
    }
  }

  /// The first header called `name` (case-insensitive).
  func header(_ name: String) -> String? {
    headers.first { $0.name.lowercased() == name.lowercased() }?.value
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces, tabs, CRs and LFs.
  fileprivate var trimmedSpaces: String {
    let space: Set<Character> = [" ", "\t", "\r", "\n"]
    guard let first = firstIndex(where: { !space.contains($0) }),
      let last = lastIndex(where: { !space.contains($0) })
    else { return "" }
    return String(self[first...last])
  }
}
