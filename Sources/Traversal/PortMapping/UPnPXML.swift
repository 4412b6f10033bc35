// The only PortMapping file that needs Foundation: XMLParser (from FoundationXML on Linux),
// with the NSObject and Data its delegate API uses.
import Foundation

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A parsed XML element: its local name (any `prefix:` removed), attributes, text and children.
/// Small on purpose: device descriptions and SOAP bodies are a few kilobytes.
struct XMLNode: Sendable, Hashable {
  var name: String
  var attributes: [String: String] = [:]
  var text: String = ""
  var children: [XMLNode] = []

  /// The first child called `name` (local name, case-sensitive as XML is).
  func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

  /// The trimmed text of the first child called `name`.
  func value(_ name: String) -> String? { child(name).map { $0.text.trimmingWhitespace } }

  /// Every descendant (depth first, document order) called `name`.
  func descendants(_ name: String) -> [XMLNode] {
    var out: [XMLNode] = []
    for c in children {
      if c.name == name { out.append(c) }
      out += c.descendants(name)
    }
    return out
  }

  /// The first descendant called `name`.
  func firstDescendant(_ name: String) -> XMLNode? {
    for c in children {
      if c.name == name { return c }
      if let d = c.firstDescendant(name) { return d }
    }
    return nil
  }
}

/// Why an XML document could not be read.
public struct UPnPXMLError: Error, Sendable, Hashable, CustomStringConvertible {
  /// What was being read: "device description", "SOAP response".
  public var document: String
  /// What went wrong, with the line when the parser gave one.
  public var reason: String

  public init(document: String, reason: String) {
    self.document = document
    self.reason = reason
  }

  public var description: String { "\(document): \(reason)" }
}

enum XMLTree {
  /// The most bytes of XML natscope reads.
  static let maximumBytes = 512 * 1024
  /// The deepest nesting natscope accepts.
  static let maximumDepth = 48

  /// Parses `bytes` into a tree of local names. External entities are not resolved.
  static func parse(_ bytes: [UInt8], document: String) throws(UPnPXMLError) -> XMLNode {
    guard bytes.count <= maximumBytes else {
      throw UPnPXMLError(
        document: document, reason: "\(bytes.count) bytes is more than natscope reads")
    }
    guard !bytes.isEmpty else { throw UPnPXMLError(document: document, reason: "empty") }
    // UPnP documents are UTF-8 (the UPnP Device Architecture says so). Foundation's XMLParser traps on an element
    // name that is not (found by `scripts/fuzz http`), so such a document is refused here.
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw UPnPXMLError(document: document, reason: "not UTF-8 text")
    }
    let builder = TreeBuilder()
    let parser = XMLParser(data: Data(bytes))
    parser.shouldProcessNamespaces = false
    parser.shouldResolveExternalEntities = false
    parser.delegate = builder
    let ok = parser.parse()
    if let reason = builder.failure {
      throw UPnPXMLError(document: document, reason: reason)
    }
    guard ok, let root = builder.root else {
      let line = parser.lineNumber
      let detail = parser.parserError.map { " (\($0.localizedDescription))" } ?? ""
      throw UPnPXMLError(
        document: document, reason: "not well-formed XML near line \(line)\(detail)")
    }
    return root
  }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
  var stack: [XMLNode] = []
  var root: XMLNode?
  var failure: String?

  static func localName(_ qualified: String) -> String {
    guard let colon = qualified.lastIndex(of: ":") else { return qualified }
    return String(qualified[qualified.index(after: colon)...])
  }

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
  ) {
    guard failure == nil else { return }
    if stack.count >= XMLTree.maximumDepth {
      failure = "elements nested more than \(XMLTree.maximumDepth) deep"
      parser.abortParsing()
      return
    }
    stack.append(XMLNode(name: TreeBuilder.localName(elementName), attributes: attributeDict))
  }

  func parser(
    _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?
  ) {
    guard failure == nil, let done = stack.popLast() else { return }
    if stack.isEmpty {
      root = done
    } else {
      stack[stack.count - 1].children.append(done)
    }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    guard failure == nil, !stack.isEmpty else { return }
    if stack[stack.count - 1].text.utf8.count + string.utf8.count > 64 * 1024 {
      failure = "an element's text is longer than 64 KiB"
      parser.abortParsing()
      return
    }
    stack[stack.count - 1].text += string
  }

  func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
    self.parser(parser, foundCharacters: String(decoding: CDATABlock, as: UTF8.self))
  }
}

// MARK: - Device description

/// A service listed in a UPnP device description.
public struct UPnPService: Sendable, Hashable {
  /// For example `urn:schemas-upnp-org:service:WANIPConnection:1`.
  public var serviceType: String
  /// For example `urn:upnp-org:serviceId:WANIPConn1`.
  public var serviceId: String
  /// The control URL as written in the description.
  public var controlPath: String
  /// The control URL resolved against URLBase or the description's location; nil if it does
  /// not resolve to an `http://` URL.
  public var controlURL: HTTPURL?
  /// The device type of the device that lists the service.
  public var deviceType: String

  public init(
    serviceType: String, serviceId: String, controlPath: String, controlURL: HTTPURL?,
    deviceType: String
  ) {
    self.serviceType = serviceType
    self.serviceId = serviceId
    self.controlPath = controlPath
    self.controlURL = controlURL
    self.deviceType = deviceType
  }
}

/// What natscope reads from an Internet Gateway Device's description (the XML at the SSDP
/// LOCATION): who made it, and every service with its resolved control URL.
public struct UPnPDeviceDescription: Sendable, Hashable {
  /// The root device's type, for example `urn:schemas-upnp-org:device:InternetGatewayDevice:1`.
  public var deviceType: String
  /// The root device's friendly name.
  public var friendlyName: String?
  /// Manufacturer, model name and model number, for reports.
  public var manufacturer: String?
  public var modelName: String?
  public var modelNumber: String?
  /// URLBase when the description has one (UPnP 1.0); relative URLs resolve against it.
  public var urlBase: HTTPURL?
  /// Every service of every embedded device, in document order.
  public var services: [UPnPService]

  /// The connection service types natscope can drive, in order of preference.
  public static let connectionServiceTypes = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
  ]

  /// Parses the description fetched from `location`. Throws ``UPnPXMLError``.
  public init(xml: [UInt8], location: HTTPURL) throws(UPnPXMLError) {
    let root = try XMLTree.parse(xml, document: "UPnP device description from \(location)")
    guard root.name == "root", let device = root.child("device") else {
      throw UPnPXMLError(
        document: "UPnP device description from \(location)",
        reason: "no <root><device> element")
    }
    let baseText = root.value("URLBase") ?? ""
    let base = baseText.isEmpty ? nil : HTTPURL(baseText)
    let resolveAgainst = base ?? location
    self.urlBase = base
    self.deviceType = device.value("deviceType") ?? ""
    self.friendlyName = device.value("friendlyName")
    self.manufacturer = device.value("manufacturer")
    self.modelName = device.value("modelName")
    self.modelNumber = device.value("modelNumber")
    var services: [UPnPService] = []
    func walk(_ d: XMLNode) {
      let type = d.value("deviceType") ?? ""
      for s in d.child("serviceList")?.children ?? [] where s.name == "service" {
        let path = s.value("controlURL") ?? ""
        services.append(
          UPnPService(
            serviceType: s.value("serviceType") ?? "", serviceId: s.value("serviceId") ?? "",
            controlPath: path, controlURL: path.isEmpty ? nil : resolveAgainst.resolving(path),
            deviceType: type))
      }
      for sub in d.child("deviceList")?.children ?? [] where sub.name == "device" { walk(sub) }
    }
    walk(device)
    self.services = services
  }

  /// The WAN connection service to drive: WANIPConnection:2, else :1, else WANPPPConnection:1
  /// (service types compared case-insensitively), with a resolvable control URL.
  public var connectionService: UPnPService? {
    for wanted in UPnPDeviceDescription.connectionServiceTypes {
      if let s = services.first(where: {
        $0.serviceType.lowercased() == wanted.lowercased() && $0.controlURL != nil
      }) {
        return s
      }
    }
    return nil
  }
}

// MARK: - SOAP responses

/// A SOAP fault from a UPnP control point request (UPnP Device Architecture §3.2.2).
public struct UPnPSOAPFault: Error, Sendable, Hashable, CustomStringConvertible {
  /// `s:Client` normally.
  public var faultCode: String
  /// `UPnPError` normally.
  public var faultString: String
  /// The UPnP error code in the detail, if any.
  public var errorCode: UPnPErrorCode?
  /// The device's own description of the error, as sent (not yet made safe for a terminal).
  public var errorDescription: String?

  public init(
    faultCode: String, faultString: String, errorCode: UPnPErrorCode?, errorDescription: String?
  ) {
    self.faultCode = faultCode
    self.faultString = faultString
    self.errorCode = errorCode
    self.errorDescription = errorDescription
  }

  /// One sentence: the code, the device's text, and what it means.
  public var description: String {
    guard let code = errorCode else {
      return "SOAP fault \(WireText.display(faultCode)): \(WireText.display(faultString))"
    }
    let said = errorDescription.map { " (\(WireText.display($0)))" } ?? ""
    return "UPnP error \(code.rawValue)\(said): \(code.explanation)"
  }
}

/// The outcome of a SOAP action: its output arguments, or a fault.
public enum UPnPSOAPResult: Sendable, Hashable {
  /// The `<u:ActionResponse>` arguments by name.
  case success([String: String])
  /// The device answered with a SOAP fault.
  case fault(UPnPSOAPFault)
}

extension UPnPSOAPResult {
  /// Reads the HTTP response to `action`: a 200 with `<ActionResponse>`, or (normally a 500) a
  /// body with `<Fault>`. Throws ``UPnPXMLError`` for anything else.
  public init(response: HTTPResponse, action: String) throws(UPnPXMLError) {
    let document = "SOAP response to \(action)"
    let root: XMLNode
    do {
      root = try XMLTree.parse(response.body, document: document)
    } catch {
      if response.status != 200 {
        throw UPnPXMLError(
          document: document,
          reason:
            "HTTP \(response.status) \(WireText.display(response.reason)) without a SOAP fault")
      }
      throw error
    }
    if let fault = root.firstDescendant("Fault") {
      let upnp = fault.firstDescendant("UPnPError")
      let code = upnp?.value("errorCode").flatMap { Int($0) }.map(UPnPErrorCode.init(rawValue:))
      self = .fault(
        UPnPSOAPFault(
          faultCode: fault.value("faultcode") ?? "", faultString: fault.value("faultstring") ?? "",
          errorCode: code, errorDescription: upnp?.value("errorDescription")))
      return
    }
    guard response.status == 200 else {
      throw UPnPXMLError(
        document: document,
        reason: "HTTP \(response.status) \(WireText.display(response.reason)) without a SOAP fault")
    }
    guard let body = root.firstDescendant("Body"),
      let reply = body.children.first(where: {
        $0.name.lowercased() == (action + "Response").lowercased()
      })
    else {
      throw UPnPXMLError(document: document, reason: "no <\(action)Response> in the SOAP body")
    }
    var args: [String: String] = [:]
    for c in reply.children where args[c.name] == nil { args[c.name] = c.text.trimmingWhitespace }
    self = .success(args)
  }
}
