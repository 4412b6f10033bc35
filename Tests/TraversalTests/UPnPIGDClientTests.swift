import Foundation
import Report
import STUN
import Testing
import Traversal

/// Plays a router: answers each request from a script (by SOAP action, or "GET"), delivering
/// the bytes in small pieces 2 ms after the request, and advances the manual clock to each wake
/// when nothing else is pending.
private struct ScriptedIGD {
  var client: UPnPIGDClient
  var replies: [String: [[UInt8]]]
  var pieceSize = 7
  var now = Instant.zero
  var events: [UPnPIGDEvent] = []
  var requests: [(id: Int, to: TransportAddress, key: String, text: String)] = []
  var closed: [Int] = []

  init(_ configuration: UPnPIGDClient.Configuration = .init(), replies: [String: [[UInt8]]]) {
    self.client = UPnPIGDClient(location: UPnPFixture.location, configuration: configuration)
    self.replies = replies
  }

  static func key(of text: String) -> String {
    if text.hasPrefix("GET ") { return "GET" }
    guard let hash = text.firstRange(of: "#"),
      let end = text[hash.upperBound...].firstIndex(of: "\"")
    else { return "?" }
    return String(text[hash.upperBound..<end])
  }

  mutating func run() {
    run(client.start(at: now))
  }

  mutating func run(_ first: [UPnPIGDClientOutput]) {
    var batch = first
    for _ in 0..<200 {
      var next: [UPnPIGDClientOutput] = []
      var wake: Instant?
      for o in batch {
        switch o {
        case .request(let id, let to, let bytes):
          let text = String(decoding: bytes, as: UTF8.self)
          let key = ScriptedIGD.key(of: text)
          requests.append((id, to, key, text))
          guard var queue = replies[key], !queue.isEmpty else { continue }
          let reply = queue.removeFirst()
          replies[key] = queue
          now = now + .milliseconds(2)
          var i = 0
          while i < reply.count {
            let end = min(i + pieceSize, reply.count)
            next += client.handleInput(id: id, bytes: Array(reply[i..<end]), at: now)
            i = end
          }
        case .close(let id):
          closed.append(id)
        case .timeout(let t):
          wake = t
        case .event(let e):
          events.append(e)
        }
      }
      if next.isEmpty {
        if events.contains(where: { if case .finished = $0 { true } else { false } }) { return }
        guard let wake else { return }
        now = wake
        next = client.handleTimeout(at: wake)
      }
      batch = next
    }
  }

  var result: PortMappingResult? {
    for case .finished(let r, let problem) in events {
      return PortMappingWords.result(r, problem: problem)
    }
    return nil
  }
}

private func reply(_ action: String, _ args: [(String, String)] = [], chunked: Bool = false)
  -> [UInt8]
{
  UPnPFixture.http(200, "OK", UPnPFixture.soapResponse(action, args), chunked: chunked)
}

private func fault(_ code: Int, _ text: String) -> [UInt8] {
  UPnPFixture.http(500, "Internal Server Error", UPnPFixture.soapFault(code, text))
}

private let mapping = UPnPPortMappingRequest(
  externalPort: 4000, proto: .udp, internalPort: 4000, internalClient: UPnPFixture.lanClient)

@Suite struct UPnPIGDClientTests {
  @Test func fullSequenceEndToEnd() throws {
    var igd = ScriptedIGD(
      .init(mapping: mapping),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc, chunked: true)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [reply("AddPortMapping")],
        "DeletePortMapping": [reply("DeletePortMapping", chunked: true)],
      ])
    igd.run()
    #expect(
      igd.requests.map(\.key) == [
        "GET", "GetExternalIPAddress", "AddPortMapping", "DeletePortMapping",
      ])
    #expect(igd.requests.map(\.id) == [1, 2, 3, 4])
    #expect(igd.requests.allSatisfy { $0.to == UPnPFixture.controlAddress })
    #expect(igd.closed == [1, 2, 3, 4])
    #expect(
      igd.requests[2].text.hasPrefix("POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.1.1:5000\r\n"))
    #expect(igd.requests[2].text.contains("<NewInternalClient>192.168.1.10</NewInternalClient>"))
    #expect(
      igd.requests[3].text.contains(
        "<NewExternalPort>4000</NewExternalPort><NewProtocol>UDP</NewProtocol>"))
    let service = try #require(igd.client.service)
    let result = PortMappingResult(
      name: .upnpIGD, gateway: UPnPFixture.controlAddress, answered: true, rtt: .milliseconds(2),
      externalAddress: PM.externalIP, externalPort: 4000, lifetime: 3600)
    #expect(
      igd.events == [
        .described(
          deviceType: "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
          friendlyName: "Home Router", service: service),
        .externalAddress(PM.externalIP, rtt: .milliseconds(2)),
        .mapped(externalPort: 4000, leaseDuration: 3600, step: .addPortMapping),
        .deleted(externalPort: 4000),
        .finished(result, problem: nil),
      ])
    #expect(igd.client.state == .finished && igd.client.nextWake == nil)
    #expect(igd.client.stats.ignoredInputs == 0 && igd.client.stats.requests == 4)
  }

  @Test func onlyPermanentLeasesRetriesWithLeaseZero() {
    var igd = ScriptedIGD(
      .init(mapping: mapping),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [fault(725, "OnlyPermanentLeasesSupported"), reply("AddPortMapping")],
        "DeletePortMapping": [reply("DeletePortMapping")],
      ])
    igd.run()
    #expect(igd.events.contains(.retrying(.addPortMapping, because: .onlyPermanentLeasesSupported)))
    #expect(
      igd.events.contains(.mapped(externalPort: 4000, leaseDuration: 0, step: .addPortMapping)))
    let adds = igd.requests.filter { $0.key == "AddPortMapping" }
    #expect(adds.count == 2)
    #expect(adds.first?.text.contains("<NewLeaseDuration>3600</NewLeaseDuration>") == true)
    #expect(adds.last?.text.contains("<NewLeaseDuration>0</NewLeaseDuration>") == true)
    #expect(igd.result?.lifetime == 0 && igd.result?.error == nil)
  }

  @Test func conflictOnIGD2FallsBackToAddAnyPortMapping() {
    var igd = ScriptedIGD(
      .init(mapping: mapping),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDescIGD2)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [fault(718, "ConflictInMappingEntry")],
        "AddAnyPortMapping": [reply("AddAnyPortMapping", [("NewReservedPort", "50123")])],
        "DeletePortMapping": [reply("DeletePortMapping")],
      ])
    igd.run()
    #expect(igd.events.contains(.retrying(.addAnyPortMapping, because: .conflictInMappingEntry)))
    #expect(
      igd.events.contains(
        .mapped(externalPort: 50123, leaseDuration: 3600, step: .addAnyPortMapping)))
    #expect(igd.requests.last?.text.contains("<NewExternalPort>50123</NewExternalPort>") == true)
    #expect(igd.requests.last?.text.contains("WANIPConnection:2#DeletePortMapping") == true)
    #expect(igd.result?.externalPort == 50123)
  }

  @Test func conflictOnIGD1FailsWithTheExplanation() throws {
    var igd = ScriptedIGD(
      .init(mapping: mapping),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [fault(718, "ConflictInMappingEntry")],
      ])
    igd.run()
    let failure = try #require(
      igd.events.compactMap { if case .failed(let f) = $0 { f } else { nil } }.first)
    #expect(failure.step == .addPortMapping && failure.errorCode == .conflictInMappingEntry)
    #expect(
      failure.sentence
        == "UPnP IGD AddPortMapping at http://192.168.1.1:5000/ctl/IPConn: UPnP error 718 (ConflictInMappingEntry): The external port is already mapped to another host or port on this device."
    )
    let result = try #require(igd.result)
    #expect(
      result.answered && result.externalAddress == PM.externalIP && result.externalPort == nil)
    #expect(result.error == failure.sentence)
    #expect(!igd.requests.contains { $0.key == "DeletePortMapping" })
  }

  @Test func stepTimeoutOnTheManualClock() throws {
    var igd = ScriptedIGD(
      .init(requestTimeout: .seconds(5)),
      replies: ["GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)]])
    igd.run()
    // The description came at 2 ms; GetExternalIPAddress went out then and never got an answer.
    #expect(igd.now == PM.t(2) + .seconds(5))
    #expect(igd.closed == [1, 2])
    let failure = try #require(
      igd.events.compactMap { if case .failed(let f) = $0 { f } else { nil } }.first)
    #expect(failure.step == .getExternalIPAddress)
    #expect(failure.reason == .timeout(.seconds(5)))
    #expect(failure.reason.clause == "no complete HTTP response within 5 s")
    #expect(igd.result?.answered == true && igd.result?.rtt == nil)
  }

  @Test func connectionFailureAndStaleInput() {
    var c = UPnPIGDClient(location: UPnPFixture.location)
    let start = c.start(at: .zero)
    #expect(
      start.first
        == .request(
          id: 1, to: UPnPFixture.controlAddress, bytes: UPnPSOAP.get(UPnPFixture.location)))
    #expect(start.last == .timeout(PM.s(5)))
    let out = c.handleConnectionFailed(id: 1, reason: .refused, at: PM.t(1))
    guard case .event(.failed(let f)) = out.dropFirst().first else {
      Issue.record("no failure: \(out)")
      return
    }
    #expect(
      f.sentence
        == "UPnP IGD fetching the device description at http://192.168.1.1:5000/rootDesc.xml: the connection to 192.168.1.1:5000 failed: refused: a TCP reset came back, so the host was reached but nothing accepts connections on that port (or a firewall rejects them)"
    )
    let late = c.handleInput(id: 1, bytes: [0x48], at: PM.t(2))
    #expect(late.isEmpty)
    let closed = c.handleClosed(id: 7, at: PM.t(2))
    #expect(closed.isEmpty)
    #expect(c.stats.ignoredInputs == 2)
    #expect(c.result.answered == false)
  }

  @Test func badDescriptionsAndHostsFailWithASentence() throws {
    var named = UPnPIGDClient(location: HTTPURL(host: "router.lan", port: 80, path: "/d.xml"))
    let out = named.start(at: .zero)
    #expect(out.contains { if case .request = $0 { true } else { false } } == false)
    #expect(named.result.error == nil)
    #expect(named.problem?.sentence.contains("is not an IP address") == true)

    var igd = ScriptedIGD(
      replies: [
        "GET": [
          UPnPFixture.http(
            200, "OK", "<root><device><deviceType>urn:x</deviceType></device></root>")
        ]
      ])
    igd.run()
    #expect(igd.result?.error?.contains("lists no WANIPConnection or WANPPPConnection") == true)

    var notFound = ScriptedIGD(replies: ["GET": [UPnPFixture.http(404, "Not Found", "")]])
    notFound.run()
    #expect(
      notFound.result?.error
        == "UPnP IGD fetching the device description at http://192.168.1.1:5000/rootDesc.xml: HTTP 404 Not Found"
    )

    var garbage = ScriptedIGD(replies: ["GET": [Array("SSH-2.0-dropbear\r\n\r\n".utf8)]])
    garbage.run()
    #expect(garbage.result?.error?.contains("status line") == true)
  }

  @Test func holdsTheMappingUntilAskedToDelete() {
    var igd = ScriptedIGD(
      .init(mapping: mapping, deleteAfterMapping: false),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "0.0.0.0")])
        ],
        "AddPortMapping": [reply("AddPortMapping")],
        "DeletePortMapping": [reply("DeletePortMapping")],
      ])
    igd.run()
    #expect(igd.client.state == .holdingMapping)
    #expect(igd.events.contains(.externalAddress(nil, rtt: .milliseconds(2))))
    #expect(igd.client.problem?.sentence.contains("reports no external address") == true)
    igd.run(igd.client.deleteMapping(at: igd.now))
    #expect(igd.events.contains(.deleted(externalPort: 4000)))
    #expect(igd.client.state == .finished)
  }

  @Test func renewsWithAddPortMappingAgainAndKeepsTheMappingWhenARenewalFails() throws {
    var igd = ScriptedIGD(
      .init(mapping: mapping, deleteAfterMapping: false, requestTimeout: .seconds(2)),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [
          reply("AddPortMapping"), reply("AddPortMapping"), fault(501, "ActionFailed"),
        ],
        "DeletePortMapping": [reply("DeletePortMapping")],
      ])
    igd.run()
    #expect(igd.client.state == .holdingMapping)
    // The first renewal: the same AddPortMapping again, answered: mapped again, still held.
    igd.events.removeAll()
    igd.run(igd.client.renewMapping(at: igd.now))
    #expect(igd.events == [.mapped(externalPort: 4000, leaseDuration: 3600, step: .addPortMapping)])
    #expect(igd.client.state == .holdingMapping)
    let renewals = igd.requests.filter { $0.key == "AddPortMapping" }
    #expect(renewals.count == 2)
    #expect(renewals.last?.text.contains("<NewExternalPort>4000</NewExternalPort>") == true)
    // A failed renewal reports the fault but leaves the mapping held, so it can be deleted.
    igd.events.removeAll()
    igd.run(igd.client.renewMapping(at: igd.now))
    let failure = try #require(
      igd.events.compactMap { e -> UPnPIGDFailure? in
        if case .failed(let f) = e { return f }
        return nil
      }.first)
    #expect(failure.errorCode == UPnPErrorCode(rawValue: 501))
    #expect(!igd.events.contains { if case .finished = $0 { true } else { false } })
    #expect(igd.client.state == .holdingMapping)
    igd.run(igd.client.deleteMapping(at: igd.now))
    #expect(igd.events.contains(.deleted(externalPort: 4000)))
    #expect(igd.client.state == .finished)
  }

  @Test func aRenewalThatTimesOutStillHoldsTheMapping() {
    var igd = ScriptedIGD(
      .init(mapping: mapping, deleteAfterMapping: false, requestTimeout: .seconds(2)),
      replies: [
        "GET": [UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)],
        "GetExternalIPAddress": [
          reply("GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")])
        ],
        "AddPortMapping": [reply("AddPortMapping")],
      ])
    igd.run()
    let before = igd.now
    igd.events.removeAll()
    igd.run(igd.client.renewMapping(at: igd.now))
    #expect(igd.now == before + .seconds(2))
    #expect(igd.events.count == 1)
    #expect(igd.client.state == .holdingMapping)
    // Renewing is only possible while a mapping is held.
    var idle = UPnPIGDClient(location: UPnPFixture.location)
    #expect(idle.renewMapping(at: .zero).isEmpty)
  }
}

@Suite struct PortMappingResultTests {
  @Test func jsonShape() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let full = PortMappingResult(
      name: .natPMP, gateway: PM.gateway, answered: true, rtt: .microseconds(2500),
      externalAddress: PM.externalIP, externalPort: 50000, lifetime: 7200)
    let json = String(decoding: try encoder.encode(full), as: UTF8.self)
    #expect(
      json
        == #"{"answered":true,"externalAddress":"203.0.113.7","externalPort":50000,"gateway":"192.168.1.1:5351","lifetime":7200,"name":"nat-pmp","rttMilliseconds":2.5}"#
    )
    #expect(try JSONDecoder().decode(PortMappingResult.self, from: Data(json.utf8)) == full)
    let none = PortMappingResult(name: .pcp, answered: false, error: "no answer")
    #expect(
      String(decoding: try encoder.encode(none), as: UTF8.self)
        == #"{"answered":false,"error":"no answer","name":"pcp"}"#)
    #expect(PortMappingResult.Method.allCases.map(\.rawValue) == ["pcp", "nat-pmp", "upnp-igd"])
    #expect(
      full.description == "NAT-PMP: answered in 2.5 ms; external 203.0.113.7; port 50000 for 7200 s"
    )
    #expect(none.description == "PCP: no answer — no answer")
  }
}
