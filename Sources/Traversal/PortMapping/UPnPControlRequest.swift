import STUN

/// A SOAP control request as a device reads it (the simulated Internet Gateway Device of the
/// demo and the tests): the action, the service type it was addressed to, and its arguments.
///
/// It is the device-side counterpart of ``UPnPSOAP/request(_:serviceType:controlURL:)`` and is
/// read with the same XML parser as the client's answers (Foundation's `XMLParser`).
public struct UPnPControlRequest: Sendable, Hashable {
  /// The action's element name, for example `AddPortMapping`.
  public var action: String
  /// The namespace of the action element (the service type), for example
  /// `urn:schemas-upnp-org:service:WANIPConnection:1`; empty when it has none.
  public var serviceType: String
  /// The arguments by name (trimmed text); the first of a repeated name wins.
  public var arguments: [String: String]

  public init(action: String, serviceType: String, arguments: [String: String]) {
    self.action = action
    self.serviceType = serviceType
    self.arguments = arguments
  }

  /// Reads a SOAP envelope: `<Envelope><Body><u:Action xmlns:u="…">args</u:Action></Body>`.
  /// Throws ``UPnPXMLError`` when it is not well-formed or has no action in its body.
  public init(body: [UInt8]) throws(UPnPXMLError) {
    let document = "SOAP control request"
    let root = try XMLTree.parse(body, document: document)
    guard root.name == "Envelope", let soapBody = root.child("Body"),
      let element = soapBody.children.first
    else {
      throw UPnPXMLError(document: document, reason: "no action inside <Envelope><Body>")
    }
    var arguments: [String: String] = [:]
    for child in element.children where arguments[child.name] == nil {
      arguments[child.name] = child.text.trimmingWhitespace
    }
    // The element's own namespace declaration; a service type when there are several.
    let declared = element.attributes.filter { key, _ in key == "xmlns" || key.hasPrefix("xmlns:") }
      .sorted { $0.key < $1.key }.map(\.value)
    let namespace = declared.first { $0.contains(":service:") } ?? declared.first
    self.init(action: element.name, serviceType: namespace ?? "", arguments: arguments)
  }
}
