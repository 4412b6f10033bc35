import Report
import Runtime
import STUN
import Scenarios
import Sessions
import Simulation
import Testing
import Traversal

/// The simulated UPnP IGD (``RouterUPnPIGD``): SSDP over the LAN's multicast, the device
/// description and SOAP control over simulated TCP, run against natscope's own clients
/// (`PortMappingSession`, `PortMappingTestSession`) and against hand-made SOAP requests for
/// the faults.
@Suite struct RouterUPnPIGDTests {
  struct Site {
    let lab: SimulatedLab
    let box: NATBox
    let lan: Simulation.Realm
    let host: SimulatedHost
    let igd: RouterUPnPIGD

    /// A host behind a symmetric NAT whose router offers UPnP IGD `version`.
    init(version: Int = 1, seed: UInt64 = 5) throws {
      lab = try SimulatedLab(seed: seed)
      lan = try lab.network.addRealm("lan", prefix: "192.168.7.0/24")
      box = try lab.network.addNAT(
        "home", behavior: .symmetric, outside: lab.internet, publicIPs: [ip("198.51.100.77")],
        inside: lan, insideAddress: ip("192.168.7.1"))
      host = try lab.network.addHost("laptop", in: lan, address: ip("192.168.7.10"))
      igd = RouterUPnPIGD(
        box: box, network: lab.network, configuration: .init(version: version))
    }
  }

  /// One SOAP exchange over a simulated TCP connection from `host`: the parsed result.
  static func soap(
    _ action: UPnPAction, version: Int = 1, from host: SimulatedHost, net: VirtualNetwork
  ) throws -> UPnPSOAPResult? {
    let url = try #require(HTTPURL("http://192.168.7.1:5000/ctl/IPConn"))
    let stream = try host.rawStreamConnector()(try #require(url.address))
    var parser = HTTPResponseParser(maximumBodyBytes: 64 * 1024)
    var response: HTTPResponse?
    var ended = false
    stream.onBytes = { response = (try? parser.feed($0)) ?? response }
    stream.onEnd = { _ in ended = true }
    stream.send(
      UPnPSOAP.request(
        action, serviceType: "urn:schemas-upnp-org:service:WANIPConnection:\(version)",
        controlURL: url))
    net.run(for: .seconds(1))
    #expect(ended, "the router closes the connection after its answer")
    stream.close()
    return try response.map { try UPnPSOAPResult(response: $0, action: action.name) }
  }

  @Test func theProbeFindsUPnPAndTheRoutersExternalAddress() throws {
    let site = try Site()
    let session = PortMappingSession(runtime: site.host, connector: site.host.rawStreamConnector())
    var report: PortMappingReport?
    session.start { report = $0 }
    site.lab.network.run(for: .seconds(5))
    let r = try #require(report)
    let upnp = try #require(r.protocols.first { $0.name == .upnpIGD })
    #expect(upnp.answered && upnp.error == nil, Comment(rawValue: upnp.error ?? ""))
    #expect(upnp.externalAddress == ip("198.51.100.77"))
    #expect(upnp.gateway == ep("192.168.7.1:5000"))
    #expect(r.externalAddress == ip("198.51.100.77"))
    // PCP and NAT-PMP are not offered: asked, unanswered.
    #expect(r.protocols.filter { $0.name != .upnpIGD }.allSatisfy { !$0.answered })
    // Read-only: the search, the description and GetExternalIPAddress; nothing mapped.
    #expect(site.igd.log.contains { $0.hasPrefix("SSDP M-SEARCH from 192.168.7.10") })
    #expect(site.igd.log.contains("HTTP GET /rootDesc.xml from 192.168.7.10"))
    #expect(site.igd.log.contains("UPnP GetExternalIPAddress from 192.168.7.10"))
    #expect(!site.igd.log.contains { $0.contains("AddPortMapping") })
    #expect(site.box.forwards.isEmpty)
  }

  @Test func theSearchStaysOnTheLANAndARouterWithoutUPnPIsSilent() throws {
    let lab = try SimulatedLab(seed: 3)
    let host = try lab.addSite("plain", behavior: .portRestrictedCone)
    let session = PortMappingSession(runtime: host, connector: host.rawStreamConnector())
    var report: PortMappingReport?
    session.start { report = $0 }
    lab.network.run(for: .seconds(5))
    let upnp = try #require(report?.protocols.first { $0.name == .upnpIGD })
    #expect(!upnp.answered)
    #expect(upnp.error?.contains("no UPnP IGD device answered") == true)
    // The two M-SEARCH datagrams reached the router and went no further.
    #expect(lab.network.counters(at: "plain-nat").dropped[.noRoute, default: 0] >= 2)
    #expect(lab.network.counters(at: "stun-server").delivered == 0)
  }

  @Test func theTestMappingIsCreatedVerifiedAndDeletedWithNothingLeft() throws {
    let site = try Site()
    let session = PortMappingTestSession(
      runtime: site.host,
      configuration: .init(
        protocols: [.upnpIGD], stunServer: site.lab.stunServerAddress,
        serverSupportsChange: true),
      connector: site.host.rawStreamConnector())
    var report: PortMappingTestReport?
    session.start { report = $0 }
    site.lab.network.run(for: .seconds(30))
    let r = try #require(report)
    #expect(r.protocol == .upnpIGD)
    #expect(r.created && r.externalAddress == ip("198.51.100.77"))
    #expect(r.externalPort == r.internalPort)
    #expect(r.verified == true, Comment(rawValue: r.verification ?? ""))
    #expect(r.deleted && r.error == nil, Comment(rawValue: r.error ?? ""))
    #expect(site.box.forwards.isEmpty, "no forward is left on the router")
    #expect(site.igd.mappings.isEmpty)
    #expect(site.igd.log.contains { $0.hasPrefix("UPnP AddPortMapping UDP 192.168.7.10:") })
    #expect(site.igd.log.contains { $0.hasPrefix("UPnP DeletePortMapping UDP") })
    #expect(r.sent.contains { $0.contains("AddPortMapping at http://192.168.7.1:5000/ctl/IPConn") })
  }

  @Test func aConflictIsAFaultOnIGD1AndAnotherPortOnIGD2() throws {
    for version in [1, 2] {
      let site = try Site(version: version)
      // Another LAN host holds both external ports the test may ask for (the test's two
      // sockets, for the mapping and for SSDP, take the laptop's only two ephemeral ports).
      _ = try site.lab.network.addHost("tv", in: site.lan, address: ip("192.168.7.20"))
      site.host.ephemeralPorts = 40000...40001
      let held = [ep("192.168.7.20:40000"), ep("192.168.7.20:40001")]
      for (port, inside) in zip([UInt16(40000), 40001], held) {
        #expect(
          site.box.addForward(externalPort: port, to: inside, lifetime: nil)?.port == port)
      }
      let session = PortMappingTestSession(
        runtime: site.host,
        configuration: .init(
          protocols: [.upnpIGD], stunServer: site.lab.stunServerAddress,
          serverSupportsChange: true),
        connector: site.host.rawStreamConnector())
      var report: PortMappingTestReport?
      session.start { report = $0 }
      site.lab.network.run(for: .seconds(30))
      let r = try #require(report)
      if version == 1 {
        #expect(!r.created)
        #expect(
          r.error?.contains("UPnP error 718 (ConflictInMappingEntry)") == true,
          Comment(rawValue: r.error ?? ""))
        #expect(r.error?.contains("already mapped to another host") == true)
      } else {
        #expect(
          r.created && r.externalPort.map { $0 < 40000 || $0 > 40001 } == true,
          "AddAnyPortMapping chose another port")
        #expect(r.verified == true && r.deleted)
        #expect(site.igd.log.contains { $0.hasPrefix("UPnP AddAnyPortMapping UDP") })
      }
      #expect(
        site.box.forwards.map(\.internalAddress) == held,
        "the other host's forwards are untouched, and the test's own is gone")
    }
  }

  @Test func faultsForBadRequestsAreRealSOAPFaults() throws {
    let site = try Site()
    let net = site.lab.network
    func code(_ action: UPnPAction) throws -> Int? {
      guard case .fault(let f) = try Self.soap(action, from: site.host, net: net) else {
        return nil
      }
      return f.errorCode?.rawValue
    }
    // Nothing to delete.
    #expect(try code(.deletePortMapping(externalPort: 4000, proto: .udp, remoteHost: "")) == 714)
    // For another host.
    let forOther = UPnPPortMappingRequest(
      externalPort: 4000, proto: .udp, internalPort: 4000, internalClient: ip("192.168.7.99"))
    #expect(try code(.addPortMapping(forOther)) == 606)
    // External port 0.
    let wildcard = UPnPPortMappingRequest(
      externalPort: 0, proto: .udp, internalPort: 4000, internalClient: ip("192.168.7.10"))
    #expect(try code(.addPortMapping(wildcard)) == 716)
    // AddAnyPortMapping is IGD:2 only.
    let good = UPnPPortMappingRequest(
      externalPort: 4000, proto: .udp, internalPort: 4000, internalClient: ip("192.168.7.10"),
      leaseDuration: 30)
    #expect(try code(.addAnyPortMapping(good)) == 401)
    // The sentence a fault becomes.
    guard
      case .fault(let f) = try Self.soap(
        .deletePortMapping(externalPort: 4000, proto: .udp, remoteHost: ""), from: site.host,
        net: net)
    else {
      Issue.record("no fault")
      return
    }
    #expect(
      f.description
        == "UPnP error 714 (NoSuchEntryInArray): There is no such port mapping to delete or read.")
    #expect(site.box.forwards.isEmpty)
  }

  @Test func aMappingLivesForItsLeaseAndStatusIsReported() throws {
    let site = try Site()
    let net = site.lab.network
    let m = UPnPPortMappingRequest(
      externalPort: 4000, proto: .udp, internalPort: 4100, internalClient: ip("192.168.7.10"),
      leaseDuration: 30)
    #expect(try Self.soap(.addPortMapping(m), from: site.host, net: net) == .success([:]))
    #expect(site.box.forwards.map(\.external) == [ep("198.51.100.77:4000")])
    #expect(site.box.forwards.first?.internalAddress == ep("192.168.7.10:4100"))
    // The same mapping again is a renewal, not a conflict.
    #expect(try Self.soap(.addPortMapping(m), from: site.host, net: net) == .success([:]))
    #expect(site.igd.mappings.count == 1)
    let status = try Self.soap(.getStatusInfo, from: site.host, net: net)
    guard case .success(let args) = status else {
      Issue.record("GetStatusInfo failed: \(String(describing: status))")
      return
    }
    #expect(args["NewConnectionStatus"] == "Connected")
    #expect(args["NewLastConnectionError"] == "ERROR_NONE")
    // The lease ends 30 s after the renewal.
    net.run(for: .seconds(27))
    #expect(site.box.forwards.count == 1)
    net.run(for: .seconds(3))
    #expect(site.box.forwards.isEmpty, "the lease ran out")
    #expect(
      try Self.soap(
        .deletePortMapping(externalPort: 4000, proto: .udp, remoteHost: ""),
        from: site.host, net: net)
        == .fault(
          UPnPSOAPFault(
            faultCode: "s:Client", faultString: "UPnPError", errorCode: .noSuchEntryInArray,
            errorDescription: "NoSuchEntryInArray")))
  }

  @Test func behindACarrierGradeNATTheRouterReportsItsCarrierAddress() throws {
    let lab = try SimulatedLab(seed: 9)
    let chain = try lab.network.addCGNATChain(
      outside: lab.internet, carrierPublicIPs: [ip("198.51.100.90")])
    let host = try lab.network.addHost("laptop", in: chain.lan, address: ip("192.168.1.10"))
    let igd = RouterUPnPIGD(box: chain.home, network: lab.network)
    let session = PortMappingSession(runtime: host, connector: host.rawStreamConnector())
    var report: PortMappingReport?
    session.start { report = $0 }
    lab.network.run(for: .seconds(5))
    let r = try #require(report)
    #expect(r.externalAddress == ip("100.64.0.2"))
    let verdict = DoubleNATVerdict.evaluate(portMapping: r, serverSeen: ip("198.51.100.90"))
    #expect(verdict.detected == true)
    #expect(igd.log.contains("UPnP GetExternalIPAddress from 192.168.1.10"))
  }

  /// A host whose traffic already went out asks for a mapping: the forward takes the external
  /// port its NAT mapping had (RFC 6887 §11.3), so what a server saw stays true; UPnP's
  /// AddPortMapping of exactly that port is this host's own, not a conflict.
  @Test func aForwardTakesTheEndpointsOwnMappingPort() throws {
    let site = try Site()
    let net = site.lab.network
    let socket = try site.host.openUDP(UDPSocketOptions(address: ip("192.168.7.10"))) { _ in }
    socket.send([1, 2, 3], to: site.lab.stunServerAddress)
    net.run(for: .milliseconds(100))
    let mapped = try #require(site.box.mappings.first)
    #expect(mapped.internalAddress == socket.localAddress)
    let own = UPnPPortMappingRequest(
      externalPort: mapped.externalAddress.port, proto: .udp,
      internalPort: socket.localAddress.port, internalClient: ip("192.168.7.10"),
      leaseDuration: 60)
    #expect(try Self.soap(.addPortMapping(own), from: site.host, net: net) == .success([:]))
    #expect(site.box.forwards.map(\.external) == [mapped.externalAddress])
    #expect(site.box.mappings.isEmpty, "the NAT mapping became the forward")
    // Exactly another endpoint's port: a conflict, and nothing changes.
    let other = UPnPPortMappingRequest(
      externalPort: mapped.externalAddress.port, proto: .udp, internalPort: 4200,
      internalClient: ip("192.168.7.10"))
    guard case .fault(let f) = try Self.soap(.addPortMapping(other), from: site.host, net: net)
    else {
      Issue.record("no fault")
      return
    }
    #expect(f.errorCode == .conflictInMappingEntry)
    #expect(site.box.forwards.map(\.internalAddress) == [socket.localAddress])
    socket.close()
  }

  /// One raw HTTP exchange (any bytes) with the router's HTTP server: the response.
  static func raw(_ bytes: [UInt8], from host: SimulatedHost, net: VirtualNetwork) throws
    -> HTTPResponse?
  {
    let stream = try host.rawStreamConnector()(ep("192.168.7.1:5000"))
    var parser = HTTPResponseParser(maximumBodyBytes: 64 * 1024)
    var response: HTTPResponse?
    stream.onBytes = { response = (try? parser.feed($0)) ?? response }
    stream.send(bytes)
    net.run(for: .seconds(1))
    stream.close()
    return response
  }

  @Test func malformedRequestsGetInvalidArgsInvalidActionOrAnHTTPError() throws {
    let site = try Site()
    let net = site.lab.network
    func post(_ action: String, service: String, args: String) -> [UInt8] {
      let body = Array(
        ("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
          + "<s:Body><u:\(action) xmlns:u=\"\(service)\">\(args)</u:\(action)></s:Body></s:Envelope>")
          .utf8)
      let head =
        "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.7.1:5000\r\nContent-Type: text/xml\r\n"
        + "SOAPAction: \"\(service)#\(action)\"\r\nContent-Length: \(body.count)\r\n\r\n"
      return Array(head.utf8) + body
    }
    func code(_ bytes: [UInt8], action: String) throws -> Int? {
      let response = try #require(try Self.raw(bytes, from: site.host, net: net))
      #expect(response.status == 500)
      guard case .fault(let f) = try UPnPSOAPResult(response: response, action: action) else {
        return nil
      }
      return f.errorCode?.rawValue
    }
    let service = "urn:schemas-upnp-org:service:WANIPConnection:1"
    // AddPortMapping without NewLeaseDuration.
    let missing =
      "<NewRemoteHost></NewRemoteHost><NewExternalPort>4000</NewExternalPort><NewProtocol>UDP</NewProtocol>"
      + "<NewInternalPort>4000</NewInternalPort><NewInternalClient>192.168.7.10</NewInternalClient>"
      + "<NewEnabled>1</NewEnabled><NewPortMappingDescription>x</NewPortMappingDescription>"
    #expect(
      try code(post("AddPortMapping", service: service, args: missing), action: "AddPortMapping")
        == 402)
    // An action the service does not have, and a service the router does not offer.
    #expect(
      try code(post("GetGenericPortMappingEntry", service: service, args: ""), action: "x") == 401)
    #expect(
      try code(
        post(
          "GetExternalIPAddress", service: "urn:schemas-upnp-org:service:WANPPPConnection:1",
          args: ""),
        action: "GetExternalIPAddress") == 401)
    // Not HTTP, and a path that does not exist.
    #expect(try Self.raw(Array("hello\r\n\r\n".utf8), from: site.host, net: net)?.status == 400)
    #expect(
      try Self.raw(
        Array("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n".utf8), from: site.host, net: net)?
        .status == 404)
    #expect(site.box.forwards.isEmpty)
  }

  @Test func aConnectionToAPortNothingListensOnIsRefused() throws {
    let site = try Site()
    let stream = try site.host.rawStreamConnector()(ep("192.168.7.1:80"))
    var reason: StreamCloseReason?
    stream.onEnd = { reason = $0 }
    site.lab.network.run(for: .seconds(1))
    #expect(reason == .refused)
  }
}
