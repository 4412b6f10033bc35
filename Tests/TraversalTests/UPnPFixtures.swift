import STUN
import Traversal

/// Test documents modelled on what a miniupnpd-based router serves (written for these tests).
enum UPnPFixture {
  static let location = HTTPURL(host: "192.168.1.1", port: 5000, path: "/rootDesc.xml")
  static let controlAddress = TransportAddress(ip: .v4(0xC0A8_0101), port: 5000)
  static let lanClient = IPAddress.v4(0xC0A8_010A)

  /// An M-SEARCH answer as miniupnpd sends it (CRLF, upper-case names, empty EXT).
  static let ssdpResponse =
    "HTTP/1.1 200 OK\r\n"
    + "CACHE-CONTROL: max-age=120\r\n"
    + "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    + "USN: uuid:5a1c7e52-0000-4000-8000-00254bc1a7e0::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    + "EXT:\r\n"
    + "SERVER: OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.4\r\n"
    + "LOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n"
    + "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
    + "01-NLS: 1717171717\r\n"
    + "BOOTID.UPNP.ORG: 1717171717\r\n"
    + "CONFIGID.UPNP.ORG: 1337\r\n"
    + "\r\n"

  /// The root description: IGD:1 → WANDevice:1 → WANConnectionDevice:1 → WANIPConnection:1,
  /// with absolute-path control URLs and no URLBase.
  static let rootDesc = """
    <?xml version="1.0"?>
    <root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">
    <specVersion><major>1</major><minor>1</minor></specVersion>
    <device>
    <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
    <friendlyName>Home Router</friendlyName>
    <manufacturer>Example Networks</manufacturer>
    <manufacturerURL>http://example.invalid/</manufacturerURL>
    <modelDescription>Home router with a UPnP daemon</modelDescription>
    <modelName>HR-1</modelName>
    <modelNumber>23.05</modelNumber>
    <modelURL>http://example.invalid/hr-1</modelURL>
    <serialNumber>00000001</serialNumber>
    <UDN>uuid:5a1c7e52-0000-4000-8000-00254bc1a7e0</UDN>
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
    <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
    <friendlyName>WANDevice</friendlyName>
    <manufacturer>Example Networks</manufacturer>
    <modelName>WAN Device</modelName>
    <UDN>uuid:5a1c7e52-0000-4000-8001-00254bc1a7e0</UDN>
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
    <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
    <friendlyName>WANConnectionDevice</friendlyName>
    <manufacturer>Example Networks</manufacturer>
    <modelName>WAN Connection</modelName>
    <UDN>uuid:5a1c7e52-0000-4000-8002-00254bc1a7e0</UDN>
    <serviceList>
    <service>
    <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
    <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
    <SCPDURL>/WANIPCn.xml</SCPDURL>
    <controlURL>/ctl/IPConn</controlURL>
    <eventSubURL>/evt/IPConn</eventSubURL>
    </service>
    </serviceList>
    </device>
    </deviceList>
    </device>
    </deviceList>
    <presentationURL>http://192.168.1.1/</presentationURL>
    </device>
    </root>
    """

  /// The same device offering WANIPConnection:2 (IGD:2).
  static var rootDescIGD2: String {
    rootDesc.replacingEvery("InternetGatewayDevice:1", with: "InternetGatewayDevice:2")
      .replacingEvery("WANIPConnection:1", with: "WANIPConnection:2")
  }

  /// A UPnP 1.0 style description: URLBase, relative control URLs, a namespace prefix, and
  /// only WANPPPConnection:1.
  static let pppDesc = """
    <?xml version="1.0" encoding="utf-8"?>
    <d:root xmlns:d="urn:schemas-upnp-org:device-1-0">
    <d:specVersion><d:major>1</d:major><d:minor>0</d:minor></d:specVersion>
    <d:URLBase>http://192.168.0.254:49000/igd/</d:URLBase>
    <d:device>
    <d:deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</d:deviceType>
    <d:friendlyName>DSL &amp; Fibre Box</d:friendlyName>
    <d:deviceList><d:device>
    <d:deviceType>urn:schemas-upnp-org:device:WANDevice:1</d:deviceType>
    <d:deviceList><d:device>
    <d:deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</d:deviceType>
    <d:serviceList><d:service>
    <d:serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</d:serviceType>
    <d:serviceId>urn:upnp-org:serviceId:WANPPPConn1</d:serviceId>
    <d:controlURL>upnp/control/WANPPPConn1</d:controlURL>
    </d:service></d:serviceList>
    </d:device></d:deviceList>
    </d:device></d:deviceList>
    </d:device>
    </d:root>
    """

  static func soapResponse(_ action: String, _ args: [(String, String)]) -> String {
    let inner = args.map { "<\($0.0)>\($0.1)</\($0.0)>" }.joined()
    return "<?xml version=\"1.0\"?>\r\n"
      + "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
      + "<s:Body><u:\(action)Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
      + inner + "</u:\(action)Response></s:Body></s:Envelope>\r\n"
  }

  static func soapFault(_ code: Int, _ text: String) -> String {
    "<?xml version=\"1.0\"?>\r\n"
      + "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
      + "<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>"
      + "<detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(code)</errorCode>"
      + "<errorDescription>\(text)</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>\r\n"
  }

  /// An HTTP response with Content-Length, or chunked in 50-byte chunks.
  static func http(_ status: Int, _ reason: String, _ body: String, chunked: Bool = false)
    -> [UInt8]
  {
    let b = Array(body.utf8)
    var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n"
    head += "Server: OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.4\r\nConnection: close\r\n"
    guard chunked else {
      return Array((head + "Content-Length: \(b.count)\r\n\r\n").utf8) + b
    }
    var out = Array((head + "Transfer-Encoding: chunked\r\n\r\n").utf8)
    var i = 0
    while i < b.count {
      let n = min(50, b.count - i)
      out += Array((String(n, radix: 16) + "\r\n").utf8) + b[i..<i + n] + Array("\r\n".utf8)
      i += n
    }
    return out + Array("0\r\n\r\n".utf8)
  }
}

extension String {
  func replacingEvery(_ a: String, with b: String) -> String {
    var out = ""
    var rest = self[...]
    while let r = rest.firstRange(of: a) {
      out += rest[..<r.lowerBound]
      out += b
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}
