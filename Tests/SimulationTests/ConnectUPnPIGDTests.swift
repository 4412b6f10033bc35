import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// `connect`'s UPnP IGD mapping on the simulated network, against a scripted device: the
/// simulated router answers SSDP on its port 1900 (no PCP or NAT-PMP on it), and its HTTP is
/// played by a fake TCP connector that answers each request from a script and records the
/// SOAP actions it got.
@Suite struct ConnectUPnPIGDTests {
  /// The device: what it answers, and the actions it was asked, in order.
  final class ScriptedIGD {
    var actions: [String] = []
    var addFaults: [Int] = []
    let external = "198.51.100.1"

    static let description = """
      <?xml version="1.0"?>
      <root xmlns="urn:schemas-upnp-org:device-1-0">
      <specVersion><major>1</major><minor>0</minor></specVersion>
      <device>
      <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
      <friendlyName>Scripted IGD</friendlyName>
      <deviceList><device>
      <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
      <deviceList><device>
      <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
      <serviceList><service>
      <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
      <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
      <controlURL>/ctl/IPConn</controlURL>
      <SCPDURL>/WANIPCn.xml</SCPDURL>
      </service></serviceList>
      </device></deviceList>
      </device></deviceList>
      </device>
      </root>
      """

    func answer(_ request: String) -> [UInt8] {
      if request.hasPrefix("GET ") { return Self.http(200, Self.description) }
      guard let hash = request.firstRange(of: "#"),
        let end = request[hash.upperBound...].firstIndex(of: "\"")
      else { return Self.http(400, "") }
      let action = String(request[hash.upperBound..<end])
      actions.append(action)
      switch action {
      case "GetExternalIPAddress":
        return Self.soap(action, "<NewExternalIPAddress>\(external)</NewExternalIPAddress>")
      case "AddPortMapping" where !addFaults.isEmpty:
        let code = addFaults.removeFirst()
        return Self.http(
          500,
          "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(code)</errorCode><errorDescription>scripted</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"
        )
      default:
        return Self.soap(action, "")
      }
    }

    static func soap(_ action: String, _ inner: String) -> [UInt8] {
      http(
        200,
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:\(action)Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">\(inner)</u:\(action)Response></s:Body></s:Envelope>"
      )
    }

    static func http(_ status: Int, _ body: String) -> [UInt8] {
      let b = Array(body.utf8)
      let reason = status == 200 ? "OK" : "Error"
      return Array(
        "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: \(b.count)\r\n\r\n"
          .utf8) + b
    }
  }

  /// One HTTP exchange with the scripted device: the answer comes 2 ms after the request,
  /// then the device closes the connection.
  final class FakeStream: RawByteStream {
    var onBytes: (([UInt8]) -> Void)?
    var onEnd: ((StreamCloseReason) -> Void)?
    let runtime: any NetworkRuntime
    let igd: ScriptedIGD
    var closed = false

    init(runtime: any NetworkRuntime, igd: ScriptedIGD) {
      self.runtime = runtime
      self.igd = igd
    }

    func send(_ bytes: [UInt8]) {
      let reply = igd.answer(String(decoding: bytes, as: UTF8.self))
      runtime.schedule(at: runtime.now + .milliseconds(2)) { [weak self] in
        guard let self, !self.closed else { return }
        self.onBytes?(reply)
        if !self.closed { self.onEnd?(.closedByPeer) }
      }
    }

    func close() { closed = true }
  }

  struct Run {
    var lab: SimulatedLab
    var offer: ConnectSession
    var igd: ScriptedIGD
    var searches: Int
  }

  /// An offerer behind a symmetric NAT whose router answers SSDP; nobody answers the offer.
  static func run(
    lifetime: UInt32, faults: [Int] = [], ssdp: Bool = true, for duration: Duration
  ) throws -> Run {
    let lab = try SimulatedLab(seed: 51)
    let host = try lab.addSite("a", behavior: .symmetric)
    let box = try #require(lab.network.nats.first { $0.name == "a-nat" })
    let igd = ScriptedIGD()
    igd.addFaults = faults
    let gateway = box.insideAddress
    var searches = 0
    box.listen(port: 1900) { bytes, from, reply in
      guard ssdp, String(decoding: bytes, as: UTF8.self).hasPrefix("M-SEARCH") else { return }
      searches += 1
      reply(
        Array(
          ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
            + "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
            + "USN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\n"
            + "LOCATION: http://\(gateway):5000/rootDesc.xml\r\n\r\n").utf8), from)
    }
    let offer = ConnectSession(
      runtime: host,
      configuration: ConnectSessionConfiguration(
        role: .offer, stunServers: [lab.stunServerAddress],
        portMapping: ConnectPortMappingConfiguration(lifetime: lifetime)),
      rawStreamConnector: { _ in FakeStream(runtime: host, igd: igd) },
      generator: SeededGenerator(seed: 52))
    offer.start()
    lab.network.run(for: duration)
    return Run(lab: lab, offer: offer, igd: igd, searches: searches)
  }

  static func mappings(_ offer: ConnectSession) -> [ConnectReport.PortMapping] {
    offer.log.compactMap { e -> ConnectReport.PortMapping? in
      if case .portMapping(let p) = e.event { return p }
      return nil
    }
  }

  @Test func theUPnPMappingIsOfferedRenewedWhileWaitingAndDeletedOnClose() throws {
    // Lease 20 s: renewed every 10 s while nobody answers the offer.
    let run = try Self.run(lifetime: 20, for: .seconds(45))
    let gateway = try #require(run.lab.network.nats.first { $0.name == "a-nat" }?.insideAddress)
    #expect(run.searches >= 1, "the unicast search reached the gateway's port 1900")
    let m = try #require(Self.mappings(run.offer).last)
    #expect(m.protocol == "upnp-igd")
    #expect(m.gateway == "\(gateway):5000")
    #expect(m.externalAddress == "198.51.100.1")
    #expect(m.lifetime == 20)
    #expect(m.renewals >= 3, "renewals: \(m.renewals)")
    let port = try #require(m.externalPort)
    let offered = run.offer.localDescription?.candidates.contains {
      $0.kind == .srflx && $0.port == port && $0.address.ip.map { "\($0)" } == "198.51.100.1"
    }
    #expect(offered == true)
    #expect(
      run.igd.actions == ["GetExternalIPAddress"]
        + Array(repeating: "AddPortMapping", count: 1 + m.renewals))
    // Closed while waiting for the person (Ctrl-C): DeletePortMapping before the session closes.
    run.offer.close()
    #expect(run.offer.phase != .closed, "closing waits for the device's answer")
    run.lab.network.run(for: .seconds(2))
    #expect(run.offer.phase == .closed)
    #expect(run.igd.actions.last == "DeletePortMapping")
    #expect(Self.mappings(run.offer).last?.deleted == true)
  }

  @Test func aPermanentLeaseAfterError725IsNotRenewedButStillDeleted() throws {
    let run = try Self.run(lifetime: 20, faults: [725], for: .seconds(45))
    let m = try #require(Self.mappings(run.offer).last)
    #expect(m.protocol == "upnp-igd" && m.lifetime == 0 && m.renewals == 0)
    #expect(run.igd.actions == ["GetExternalIPAddress", "AddPortMapping", "AddPortMapping"])
    #expect(run.igd.actions.count == 3)
    run.offer.close()
    run.lab.network.run(for: .seconds(2))
    #expect(run.offer.phase == .closed)
    #expect(run.igd.actions.last == "DeletePortMapping")
  }

  @Test func aRefusedMappingSaysWhyAndGatheringGoesOn() throws {
    let run = try Self.run(lifetime: 20, faults: [501], for: .seconds(5))
    let m = try #require(Self.mappings(run.offer).last)
    #expect(m.protocol == "upnp-igd" && !m.granted)
    let error = try #require(m.error)
    #expect(error.hasPrefix("no port mapping: "))
    #expect(error.contains("UPnP error 501"), Comment(rawValue: error))
    #expect(run.offer.localDescription != nil)
    #expect(run.igd.actions == ["GetExternalIPAddress", "AddPortMapping"])
    // The refusal is kept as evidence; with PCP unanswered (not refused) and the router's
    // address the one STUN saw, it makes no NAT above likely.
    #expect(m.refusals == [PortMappingRefusal(upnp: .actionFailed)])
    #expect(m.doubleNAT?.likely == nil)
    #expect(m.doubleNAT?.routerAddress == IPAddress("198.51.100.1"))
  }

  @Test func aRouterSilentToPCPAndSSDPHoldsGatheringForTheBoundAndSaysBoth() throws {
    let run = try Self.run(lifetime: 20, ssdp: false, for: .seconds(5))
    let m = try #require(Self.mappings(run.offer).last)
    #expect(!m.granted && m.protocol == "pcp")
    let error = try #require(m.error)
    #expect(
      error.hasSuffix(
        "did not answer PCP within 1000 ms; no UPnP IGD device answered the SSDP search within 1000 ms"
      ), Comment(rawValue: error))
    #expect(run.igd.actions.isEmpty)
    let gathered = try #require(
      run.offer.log.first {
        if case .localDescriptionReady = $0.event { return true }
        return false
      }?.at)
    #expect(gathered - Instant.zero < .milliseconds(1600))
  }
}
