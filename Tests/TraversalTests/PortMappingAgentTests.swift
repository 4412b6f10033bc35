import Report
import STUN
import Testing
import Traversal

/// The port-mapping agent (the probe's read-only questions) on a manual clock.
struct PortMappingAgentTests {
  static let ssdpUnicast = TransportAddress(ip: PM.gatewayIP, port: 1900)

  static func agent(askUPnP: Bool = true) -> PortMappingAgent {
    PortMappingAgent(gateway: PM.gatewayIP, localAddress: PM.clientIP, askUPnP: askUPnP)
  }

  /// Runs the agent's timeouts until it finishes or `limit` passes; returns the survey and when.
  static func runTimeouts(_ a: inout PortMappingAgent, limit: Instant) -> (
    PortMappingSurvey?, Instant?, [PortMappingAgentOutput]
  ) {
    var all: [PortMappingAgentOutput] = []
    for _ in 0..<50 {
      guard let t = a.nextDeadline, t <= limit else { break }
      let out = a.handleTimeout(at: t)
      all += out
      for case .finished(let s) in out { return (s, t, all) }
    }
    return (nil, nil, all)
  }

  static func sends(_ out: [PortMappingAgentOutput], _ channel: PortMappingChannel) -> [(
    [UInt8], TransportAddress
  )] {
    out.compactMap {
      if case .send(let c, let b, let to) = $0, c == channel { (b, to) } else { nil }
    }
  }

  @Test func aSilentGatewayIsSettledWithin750msAndNothingIsMapped() throws {
    var a = Self.agent()
    let first = a.start(at: PM.t(0))
    #expect(Self.sends(first, .pcp).count == 1)
    #expect(Self.sends(first, .natPMP).map(\.0) == [[0, 0]])
    // The search goes to the gateway itself (no MX) and to the group (MX 1), for IGD:1 and :2.
    let ssdp = Self.sends(first, .ssdp)
    #expect(ssdp.filter { $0.1 == Self.ssdpUnicast }.count == 2)
    #expect(ssdp.filter { $0.1 == SSDP.multicastAddress }.count == 2)
    for (bytes, to) in ssdp {
      let text = String(decoding: bytes, as: UTF8.self)
      #expect(text.contains(to == Self.ssdpUnicast ? "HOST: 192.168.1.1:1900" : "MX: 1\r\n"))
    }
    #expect(try #require(a.nextDeadline) <= PM.t(250))
    let (survey, at, rest) = Self.runTimeouts(&a, limit: PM.s(5))
    let s = try #require(survey)
    #expect(try #require(at) <= PM.t(750))
    #expect(s.questions.map(\.method) == [.pcp, .natPMP, .upnpIGD])
    #expect(s.questions.allSatisfy { !$0.answer.answered })
    // PCP's retransmissions carry RFC 6887's random factor: its give-up is at most 750 ms.
    guard case .silent(2, let pcpWait) = s.questions[0].answer else {
      Issue.record("PCP: \(s.questions[0].answer)")
      return
    }
    #expect(pcpWait <= .milliseconds(750) && pcpWait >= .milliseconds(580))
    #expect(s.questions[1].answer == .silent(requests: 2, within: .milliseconds(750)))
    #expect(s.questions[2].answer == .silent(requests: 4, within: .milliseconds(750)))
    // One retransmission each, never a mapping request; every socket closed.
    #expect(Self.sends(rest, .natPMP).map(\.0) == [[0, 0]])
    #expect(Self.sends(rest, .pcp).count == 1)
    for channel in PortMappingChannel.allCases { #expect(rest.contains(.close(channel))) }
    #expect(a.nextDeadline == nil && a.isFinished)
    #expect(a.handleTimeout(at: PM.s(10)).isEmpty)
  }

  @Test func icmpPortUnreachableSettlesEveryQuestionAtOnce() throws {
    var a = Self.agent()
    _ = a.start(at: PM.t(0))
    #expect(
      a.handleInput(.unreachable(.pcp, .portUnreachable, destination: PM.gateway), at: PM.t(2)) == [
        .close(.pcp)
      ])
    _ = a.handleInput(.unreachable(.natPMP, .portUnreachable, destination: PM.gateway), at: PM.t(2))
    // An error for another destination settles nothing.
    let stray = TransportAddress(ip: PM.stranger.ip, port: 1900)
    #expect(
      a.handleInput(.unreachable(.ssdp, .portUnreachable, destination: stray), at: PM.t(3)).isEmpty)
    let out = a.handleInput(
      .unreachable(.ssdp, .portUnreachable, destination: Self.ssdpUnicast), at: PM.t(3))
    let survey = try #require(
      out.compactMap { if case .finished(let s) = $0 { s } else { nil } }.first)
    #expect(survey.questions[0].answer == .unreachable(.portUnreachable, after: .milliseconds(2)))
    #expect(survey.questions[2].answer == .unreachable(.portUnreachable, after: .milliseconds(3)))
    let words = PortMappingWords.report(survey).protocols.compactMap(\.error)
    #expect(words.count == 3)
    #expect(
      words.allSatisfy { $0.contains("ICMP port unreachable") && $0.contains("nothing listens") })
  }

  @Test func answersAreTypedAndTheDeviceIsAskedOverHTTP() throws {
    var a = Self.agent()
    _ = a.start(at: PM.t(0))
    // NAT-PMP: version 0, opcode 128, result 0, epoch 7, 203.0.113.7.
    let natpmp: [UInt8] = [0, 128, 0, 0, 0, 0, 0, 7, 203, 0, 113, 7]
    _ = a.handleInput(.datagram(.natPMP, bytes: natpmp, from: PM.gateway), at: PM.t(4))
    _ = a.handleInput(.unreachable(.pcp, .portUnreachable, destination: PM.gateway), at: PM.t(4))
    // Noise on the SSDP socket is ignored; the device's answer starts the HTTP exchanges.
    #expect(
      a.handleInput(.datagram(.ssdp, bytes: [1, 2, 3], from: Self.ssdpUnicast), at: PM.t(5)).isEmpty
    )
    #expect(a.ignoredSSDPAnswers == 1)
    var out = a.handleInput(
      .datagram(.ssdp, bytes: Array(UPnPFixture.ssdpResponse.utf8), from: Self.ssdpUnicast),
      at: PM.t(60))
    #expect(out.first == .close(.ssdp))
    var survey: PortMappingSurvey?
    for step in 0..<4 {
      guard
        let (id, to) = out.compactMap({
          if case .http(.request(let id, let to, _)) = $0 { (id, to) } else { nil }
        }).first
      else { break }
      #expect(to == UPnPFixture.controlAddress)
      let body =
        step == 0
        ? UPnPFixture.http(200, "OK", UPnPFixture.rootDesc)
        : UPnPFixture.http(
          200, "OK",
          UPnPFixture.soapResponse(
            "GetExternalIPAddress", [("NewExternalIPAddress", "203.0.113.7")]))
      out = a.handleInput(.httpBytes(id: id, bytes: body), at: PM.t(70 + Int64(step)))
      survey = out.compactMap { if case .finished(let s) = $0 { s } else { nil } }.first ?? survey
    }
    let s = try #require(survey)
    #expect(s.questions[1].answer == .natpmpAddress(PM.externalIP, rtt: .milliseconds(4)))
    guard case .upnp(let upnp, _) = s.questions[2].answer else {
      Issue.record("UPnP IGD: \(s.questions[2].answer)")
      return
    }
    #expect(upnp.answered && upnp.externalAddress == PM.externalIP)
    let report = PortMappingWords.report(s)
    #expect(report.externalAddress == PM.externalIP)
    #expect(report.protocols[1].error == nil && report.protocols[1].answered)
  }

  @Test func withoutAGatewayOrAConnectorTheQuestionsAreNotAsked() throws {
    var none = PortMappingAgent(gateway: nil, localAddress: nil, askUPnP: true)
    let out = none.start(at: PM.t(0))
    let s = try #require(out.compactMap { if case .finished(let s) = $0 { s } else { nil } }.first)
    #expect(s.questions.allSatisfy { $0.answer == .notAsked(.noGateway) })
    #expect(
      PortMappingWords.report(s).protocols.allSatisfy {
        $0.error == "not asked: this host has no IPv4 default gateway"
      })
    var noTCP = Self.agent(askUPnP: false)
    let first = noTCP.start(at: PM.t(0))
    #expect(Self.sends(first, .ssdp).isEmpty)
    #expect(noTCP.answers[.upnpIGD]?.answer == .notAsked(.noConnector))
  }

  @Test func silenceIsWordedAsWhatItWasNeverAsAGuess() {
    let survey = PortMappingSurvey(
      gateway: PM.gatewayIP,
      questions: [
        .init(
          method: .pcp, server: PM.gateway, answer: .silent(requests: 2, within: .milliseconds(900))
        ),
        .init(
          method: .natPMP, server: PM.gateway,
          answer: .silent(requests: 2, within: .milliseconds(901))),
        .init(
          method: .upnpIGD, server: nil, answer: .silent(requests: 4, within: .milliseconds(900))),
      ])
    let words = PortMappingWords.report(survey).protocols.compactMap(\.error)
    #expect(
      words[0] == "the gateway 192.168.1.1:5351 did not answer PCP within 900 ms (2 requests)")
    #expect(words[1].contains("did not answer NAT-PMP within 901 ms"))
    #expect(words[2].hasPrefix("no UPnP IGD device answered the SSDP search within 900 ms"))
    for w in words {
      #expect(!w.contains("support") && !w.contains("blocked") && !w.contains("probably"), "\(w)")
    }
  }
}

/// The clients' failures, worded in Report: a refusal with its code's meaning, silence as
/// silence.
struct PortMappingFailureWordsTests {
  @Test func silenceIsCountedAndNeverCalledUnsupported() {
    let pcp = PCPFailure(
      server: PM.gateway, opcode: .map, mapping: PortMappingKey(.udp, internalPort: 4000),
      reason: .noAnswer(attempts: 4))
    #expect(pcp.sentence == "PCP MAP of UDP port 4000 at 192.168.1.1:5351: no answer to 4 requests")
    let natpmp = NATPMPFailure(
      gateway: PM.gateway, opcode: .externalAddress, mapping: nil, reason: .noAnswer(attempts: 1))
    #expect(
      natpmp.sentence
        == "NAT-PMP external address request at 192.168.1.1:5351: no answer to 1 request")
    for s in [pcp.sentence, natpmp.sentence] {
      #expect(!s.contains("support") && !s.contains("probably"), "\(s)")
    }
    let refused = NATPMPFailure(
      gateway: PM.gateway, opcode: .externalAddress, mapping: nil, reason: .result(.notAuthorized))
    #expect(
      refused.sentence.hasSuffix(
        "result 2 Not Authorized/Refused. \(NATPMPResultCode.notAuthorized.explanation)"))
  }
}
