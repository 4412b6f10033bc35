import Report
import STUN
import TestSupport
import Testing
import Traversal

@Suite struct SignalingSDPTests {
  typealias F = SignalingFixtures

  @Test(arguments: [F.typical, F.everything])
  func roundTrip(_ d: SessionDescription) throws {
    let text = d.sdp
    #expect(text.hasSuffix("\n\n") || !d.endOfCandidates)
    let back = try SessionDescription(sdp: text, assumedRole: .offer)
    #expect(back == d)
  }

  @Test func writesRFC8839Lines() {
    let lines = F.typical.sdpLines
    #expect(lines.first == "a=ice-ufrag:aB3d")
    #expect(lines[1] == "a=ice-pwd:\(F.password)")
    #expect(lines.contains("a=candidate:1 1 udp 2130706431 192.168.1.23 50000 typ host"))
    #expect(
      lines.contains(
        "a=candidate:5 1 udp 1694498815 203.0.113.7 61665 typ srflx raddr 192.168.1.23 rport 50000"
      ))
    #expect(lines.suffix(2) == ["a=end-of-candidates", ""])
  }

  @Test func parsesBrowserLines() throws {
    let d = try SessionDescription(sdpLines: SignalingFixtures.browser, assumedRole: .answer)
    #expect(d.ufrag == "EsAw")
    #expect(d.password == "bP+XJMM09aR8AiX1jdukzR6Y")
    #expect(d.role == .answer)
    #expect(d.tieBreaker == 0)
    #expect(d.endOfCandidates)
    #expect(d.candidates.count == 5)
    let srflx = d.candidates[0]
    #expect(srflx.kind == .srflx)
    #expect(srflx.transportAddress == TransportAddress("203.0.113.7:61665"))
    #expect(srflx.relatedAddress == .ip(.anyV4))
    #expect(srflx.relatedPort == 0)
    #expect(srflx.generation == 0)
    #expect(srflx.extensions.map(\.name) == ["ufrag", "network-id", "network-cost"])
    #expect(d.candidates[2].transport == .tcp)
    #expect(d.candidates[2].tcpType == .active)
    #expect(d.candidates[3].address == .ip(IPAddress("2001:db8::5") ?? .anyV4))
    #expect(d.candidates[3].transport == .udp)
    #expect(d.candidates[4].kind == .relay)
    // mDNS and TCP are kept, each with a reason.
    let unusable = d.unusableCandidates
    #expect(unusable.count == 2)
    #expect(unusable[0].candidate.address.isMDNS)
    #expect(unusable[0].reason == .mdnsName)
    #expect(unusable[1].reason == .tcp)
    #expect(
      unusable[1].candidate.unusableReason?.hasPrefix(
        "TCP candidate 192.168.1.23 port 9 is not supported") == true)
    #expect(d.usableCandidates.count == 3)
  }

  @Test func browserTextWithCRLF() throws {
    let text = SignalingFixtures.browser.map { $0.dropLast() }.joined(separator: "\r\n") + "\r\n"
    let d = try SessionDescription(sdp: text, assumedRole: .offer)
    #expect(d.candidates.count == 5)
  }

  @Test func candidateErrorsNameTheProblem() {
    func reason(_ line: String) -> String? {
      do {
        _ = try SignaledCandidate(sdpAttribute: line, line: 3)
        return nil
      } catch { return error.message }
    }
    #expect(
      reason("a=candidate:1 1 udp 2130706431 192.168.1.23 50000 host")
        == "The candidate on line 3 cannot be read: it has 7 of the 8 required fields.")
    #expect(
      reason("a=candidate:1 1 sctp 1 1.2.3.4 5 typ host")?.contains("neither UDP nor TCP") == true)
    #expect(reason("a=candidate:1 1 udp 1 1.2.3.4 70000 typ host")?.contains("port") == true)
    #expect(reason("a=candidate:1 1 udp 1 1.2.3.4 7 typ peer")?.contains("host, srflx") == true)
    #expect(reason("a=candidate:1 1 udp 1 1.2.3.4 7 typ host raddr")?.contains("no value") == true)
    #expect(
      reason("a=candidate:1 1 udp 99999999999 1.2.3.4 7 typ host")?.contains("priority") == true)
    #expect(reason("a=candidate:1 1 udp 1 1.2.3.4 7 xyz host")?.contains("typ") == true)
  }

  /// Addresses must be IP addresses or host names: escape sequences in a pasted description
  /// never reach a report or the terminal, and neither do they through the error sentence.
  @Test func addressesAreIPsOrHostNames() {
    func reason(_ line: String) -> String? {
      do {
        _ = try SignaledCandidate(sdpAttribute: line, line: 1)
        return nil
      } catch { return error.message }
    }
    #expect(reason("a=candidate:1 1 udp 1 4a1b-c2.local 7 typ host") == nil)
    #expect(
      reason("a=candidate:1 1 udp 1 evil\u{1B}[2J.local 7 typ host")?.contains(
        "neither an IP address nor a host name") == true)
    #expect(
      reason("a=candidate:1 1 udp 1 1.2.3.4 7 typ srflx raddr x\u{7}y rport 9")?.contains(
        "raddr is neither") == true)
    // Whatever an error quotes from the pasted text is shown without control characters.
    let quoted = reason("a=candidate:1 1 \u{1B}]0;x 1 1.2.3.4 7 typ host") ?? ""
    #expect(quoted.contains("neither UDP nor TCP"))
    #expect(!quoted.unicodeScalars.contains { $0.value == 0x1B })
  }

  @Test func missingCredentials() {
    #expect(throws: SignalingError.missingAttribute("ice-ufrag")) {
      try SessionDescription(sdpLines: ["a=ice-pwd:abcdefabcdefabcdefabcdef"], assumedRole: .offer)
    }
    #expect(throws: SignalingError.missingAttribute("ice-pwd")) {
      try SessionDescription(sdpLines: ["ice-ufrag:abcd"], assumedRole: .offer)
    }
    #expect(
      SignalingError.missingAttribute("ice-pwd").message
        == "The SDP has no a=ice-pwd line: copy every line, from a=ice-ufrag down to a=end-of-candidates."
    )
  }

  @Test func badPasswordErrorDoesNotEchoIt() {
    do {
      _ = try SessionDescription(
        sdpLines: ["a=ice-ufrag:abcd", "a=ice-pwd:sec ret!pass"], assumedRole: .offer)
      Issue.record("expected an error")
    } catch {
      #expect(!error.message.contains("sec"))
      #expect(error.message.contains("ice-pwd"))
    }
  }

  @Test func seededMutationsOfSDPNeverTrap() {
    var rng = SeededGenerator(seed: 0x5D9)
    let pieces = [" ", "", ":", "typ", "raddr", "-1", "99999999999", "a=", "\r", "é", "::", "tcp"]
    var parsed = 0
    for _ in 0..<5_000 {
      var lines = SignalingFixtures.browser
      let i = Int.random(in: 0..<lines.count, using: &rng)
      var words = lines[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      let w = Int.random(in: 0..<words.count, using: &rng)
      switch Int.random(in: 0..<3, using: &rng) {
      case 0: words[w] = pieces.randomElement(using: &rng) ?? ""
      case 1: words.remove(at: w)
      default: words.insert(pieces.randomElement(using: &rng) ?? "", at: w)
      }
      lines[i] = words.joined(separator: " ")
      if (try? SessionDescription(sdpLines: lines, assumedRole: .offer)) != nil { parsed += 1 }
      _ = DescriptionReader.read(lines: lines, expecting: .offer)
    }
    #expect(parsed > 0)
  }
}
