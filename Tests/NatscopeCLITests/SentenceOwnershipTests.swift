import Foundation
import Testing

/// Who may build sentences. Every sentence natscope says about what happened on the network
/// is a finding's, worded in `Sources/Report`; the console may word its chrome (titles, key
/// help, labels) and the CLI its usage (help, argument errors). Everything else that holds
/// prose is listed here with the kind of text it is, so a new sentence outside Report is a
/// decision someone makes and a reviewer sees, not an accident.
///
/// A string literal counts as prose when, with its interpolations taken out, it has three or
/// more words. The test fails when a file outside Report, Console and the CLI holds prose and
/// is not listed; when a listed file no longer holds any (take it off the list); and when a
/// literal outside Report, other than the CLI's help, makes one of the claims only a finding
/// may make ("probably", "likely", "blocked", "firewall", "should work", "works"), unless the
/// literal is a name listed in ``names``.
@Suite struct SentenceOwnershipTests {
  /// The kind of prose a file outside Report holds.
  enum Voice: Equatable {
    /// Why input cannot be used: a token, SDP line, URI, packet, file or argument that is
    /// malformed (one clear sentence for bad input).
    case inputError
    /// A value's own name: a test step, a NAT kind, an ICMP kind, an RFC 3489 name, a STUN
    /// reason phrase.
    case name
    /// Text that goes on the wire (SOAP bodies, HTTP headers, SERVER software).
    case wire
    /// A trace line for `--log-level` and `-v` (what was sent or received), not a verdict.
    case trace
    /// The simulated network's own description and errors (the demo's sites and devices).
    case simulation
    /// An operating-system or runtime error, as the runtime reports it.
    case runtimeError
    /// Another stack's own words, which a reader of `explain` looks for in its logs
    /// ("setting remote sdp", "handshake completed"): matched, never printed.
    case foreign
    /// Sentences about what happened that still have to move into Report as findings; the
    /// text says what is left.
    case toMove(String)
  }

  /// Every file outside Report, Console and the CLI that holds prose, and what it is.
  static let voices: [String: Voice] = [
    // Explain: why an input cannot be read, and the other stacks' log phrases it matches.
    "Explain/ByteSource.swift": .inputError,
    "Explain/Explainer.swift": .inputError,
    "Explain/PcapReader.swift": .inputError,
    "Explain/WebRTCInternalsReader.swift": .inputError,
    "Explain/TextLogReader.swift": .foreign,
    // STUN: the codec's errors and names.
    "STUN/Credentials.swift": .inputError,
    "STUN/ErrorCode.swift": .name,
    "STUN/STUNError.swift": .inputError,
    "STUN/StreamFraming.swift": .inputError,
    "STUN/Integrity.swift": .inputError,
    "STUN/Attributes/TURNAttributes.swift": .inputError,
    "STUN/Attributes/CredentialAttributes.swift": .inputError,
    "STUN/TransportAddress.swift": .inputError,
    // DTLS: OpenSSL's errors setting up a certificate or an endpoint (the handshake's outcomes
    // are typed and worded by Report's DTLS vocabulary).
    "DTLS/DTLSCertificate.swift": .runtimeError,
    "DTLS/DTLSEndpoint.swift": .runtimeError,
    // Traversal: input errors, names, trace.
    "Traversal/Signaling/SignaledCandidate.swift": .inputError,
    "Traversal/Signaling/SessionToken.swift": .inputError,
    "Traversal/Signaling/SessionDescription+SDP.swift": .inputError,
    "Traversal/Signaling/SessionDescription.swift": .trace,
    "Traversal/Signaling/TokenBytes.swift": .inputError,
    "Traversal/Signaling/SignalingError.swift": .inputError,
    "Traversal/Signaling/WHIPOffer.swift": .wire,
    "Traversal/PortMapping/UPnPSOAP.swift": .wire,
    "Traversal/PortMapping/UPnPControlRequest.swift": .wire,
    "Traversal/PortMapping/UPnPXML.swift": .inputError,
    "Traversal/PortMapping/HTTPResponseParser.swift": .inputError,
    "Traversal/PortMapping/SSDP.swift": .inputError,
    // The codecs' decode errors (and the RFCs' names of result codes); what a code means and a
    // request's failure are worded in Report (PortMappingCodeWords).
    "Traversal/PortMapping/NATPMPMessage.swift": .inputError,
    "Traversal/PortMapping/PCPMessage.swift": .inputError,
    "Traversal/Probe/ProbeTest.swift": .name,
    "Traversal/Behavior/NATProfile.swift": .name,
    "Traversal/Behavior/LegacyNATType.swift": .name,
    "Traversal/Unreachable.swift": .name,
    "Traversal/TransactionEvidence.swift": .inputError,
    "Traversal/TransactionOutput.swift": .trace,
    // The agent's event reasons (a refused candidate or message, a state change) are for the
    // event log and `-v`; reports and the check list use the typed states and reasons.
    "Traversal/ICE/ICEAgent.swift": .trace,
    "Traversal/ICE/ICECredentials.swift": .trace,
    "Traversal/ICE/ICEEvent+Description.swift": .trace,
    "Sessions/ICESessionEvent.swift": .trace,
    "Traversal/TURN/TURNClientEvent+Description.swift": .trace,
    "Traversal/TURN/TURNServer.swift": .trace,
    "Traversal/TURN/TURNClient.swift": .trace,
    "Traversal/Server/STUNServer.swift": .wire,
    // Runtime and Network: the operating system's errors.
    "Runtime/Runtime.swift": .runtimeError,
    "Runtime/LoggingRuntime.swift": .trace,
    "Network/POSIXSocket.swift": .runtimeError,
    "Network/UDPSocket.swift": .runtimeError,
    "Network/NIORuntime.swift": .runtimeError,
    "Network/Resolver.swift": .runtimeError,
    "Network/SocketAddressConversion.swift": .runtimeError,
    "Network/StreamFramer.swift": .inputError,
    "Network/ServerAddress.swift": .inputError,
    "Network/STUNServerURI.swift": .inputError,
    "Network/TURNServerURI.swift": .inputError,
    "Network/RawTCPStream.swift": .runtimeError,
    "Network/TLSClientSettings.swift": .inputError,
    // BoringSSL's error phrases, matched to type a TLS failure, never printed.
    "Network/WHIPHTTPClient.swift": .foreign,
    // Simulation and the demo's labs.
    "Simulation/NATBehavior.swift": .simulation,
    "Simulation/RouterUPnPIGD.swift": .simulation,
    "Simulation/RouterPortMapping.swift": .simulation,
    "Simulation/VirtualNetwork.swift": .simulation,
    "Simulation/SimulatedHost.swift": .simulation,
    "Simulation/SimulatedRawStream.swift": .simulation,
    "Simulation/Realm.swift": .simulation,
    "Simulation/TextAddresses.swift": .simulation,
    "Simulation/SimulationError.swift": .simulation,
    "Scenarios/SitePreset.swift": .simulation,
    "Scenarios/SimulatedTURNRelay.swift": .simulation,
    // Sessions.
    "Sessions/ConnectEvent+Line.swift": .trace,
    "Sessions/STUNClient.swift": .runtimeError,
    "Sessions/TURNCheckSession.swift": .runtimeError,
    // The relay's failure handed to the ICE session's trace (`relayFailed`); the report's
    // relay rows come from typed evidence (Report's ConnectRelayEvidence).
    "Sessions/ConnectRelays.swift": .trace,
    "Sessions/ConnectEvent.swift": .inputError,
    "Sessions/ConnectSessionConfiguration.swift": .trace,
    // The port-mapping sessions' outcomes are a PortMapper's typed events worded in Report;
    // what is left is the runtime's error when a socket or a connection cannot be had.
    "Sessions/PortMappingTestSession.swift": .runtimeError,
    "Sessions/PortMappingSockets.swift": .runtimeError,
    // Exporter: a config file or a /probe query that cannot be used, metric HELP texts and
    // HTTP response bodies (on the wire), and the scheduler's log line.
    "Exporter/ExporterConfig.swift": .inputError,
    "Exporter/ProbeQuery.swift": .inputError,
    "Exporter/ExporterMetrics.swift": .wire,
    "Exporter/ProcessMetrics.swift": .wire,
    "Exporter/ExporterServer.swift": .wire,
    "Exporter/CheckScheduler.swift": .trace,
  ]

  /// Literals outside Report that contain a claim word but are names, not claims: the RFC 3489
  /// types, the demo's site names, the ICMP kind for "administratively prohibited", and the
  /// console's labels for a verdict that Report made, and the exporter's metric name for the
  /// relay result (its value is the TURN findings' measurement).
  static let names: Set<String> = [
    "natscope_turn_relay_works",
    "Symmetric UDP Firewall", "UDP Blocked", "udp-blocked", "blocked", "no NAT, UDP firewall",
    "refused by this host's firewall", "Sym UDP Firewall", "[firewall]", "should work",
    "X blocked", "UDP blocked",
  ]

  /// Words that make a claim a finding must carry.
  static let claimWords = ["probably", "likely", "blocked", "firewall", "should work", "works"]

  static let sources: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources")

  /// Every Swift file under Sources, as a path relative to it.
  static func files() throws -> [String] {
    let e = FileManager.default.enumerator(atPath: sources.path)
    var out: [String] = []
    while let p = e?.nextObject() as? String {
      if p.hasSuffix(".swift") { out.append(p) }
    }
    return out.sorted()
  }

  static func module(_ path: String) -> String {
    String(path.split(separator: "/").first ?? "")
  }

  @Test func onlyReportTheConsoleAndTheCLIBuildSentencesElseTheyAreListed() throws {
    var problems: [String] = []
    let all = try Self.files()
    for path in all where !["Report", "Console", "natscope"].contains(Self.module(path)) {
      let text = try String(
        contentsOf: Self.sources.appendingPathComponent(path), encoding: .utf8)
      let prose = SwiftLiterals.literals(in: text).filter(SwiftLiterals.isProse)
      switch (prose.isEmpty, Self.voices[path]) {
      case (false, nil):
        problems.append(
          "\(path) builds sentences (\"\(prose[0].text.prefix(60))\" on line \(prose[0].line)): make them findings worded in Report, or list the file here with the kind of text it is"
        )
      case (true, _?):
        problems.append("\(path) holds no prose any more: take it off the list")
      default: break
      }
    }
    for path in Self.voices.keys where !all.contains(path) {
      problems.append("\(path) is listed but does not exist")
    }
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }

  @Test func noLiteralOutsideReportMakesAClaimOnlyAFindingMay() throws {
    var problems: [String] = []
    for path in try Self.files() where Self.module(path) != "Report" {
      if case .toMove? = Self.voices[path] { continue }
      let text = try String(
        contentsOf: Self.sources.appendingPathComponent(path), encoding: .utf8)
      // The CLI's help and abstracts describe what a command does, not what happened.
      let help = Self.module(path) == "natscope"
      for literal in SwiftLiterals.literals(in: text) where !Self.names.contains(literal.text) {
        let lower = literal.text.lowercased()
        guard let word = Self.claimWords.first(where: { SwiftLiterals.has(word: $0, in: lower) })
        else { continue }
        if help && (literal.text.contains("\n") || literal.text.hasPrefix("--")) { continue }
        problems.append(
          "\(path):\(literal.line) claims \"\(word)\" outside Report: \"\(literal.text.prefix(80))\""
        )
      }
    }
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }

  /// The scanner itself: it finds prose, skips comments, and reads interpolations through.
  @Test func theScannerReadsSwiftLiterals() {
    let source = #"""
      // "a comment with many words"
      let a = "one two three"
      let b = "x \(f("inner literal here")) y"
      /* "another comment with words" */
      let c = "id-like"
      """#
    let found = SwiftLiterals.literals(in: source).map(\.text)
    #expect(found.contains("one two three"))
    #expect(!found.contains { $0.contains("comment") })
    #expect(found.contains("id-like"))
    #expect(SwiftLiterals.literals(in: source).filter(SwiftLiterals.isProse).count == 1)
  }
}

/// String literals of Swift source, roughly but well enough for this test: comments are
/// skipped, multi-line literals read whole, interpolations skipped.
enum SwiftLiterals {
  struct Literal {
    var line: Int
    var text: String
  }

  static func literals(in source: String) -> [Literal] {
    let s = Array(source.unicodeScalars)
    var out: [Literal] = []
    var i = 0
    var line = 1
    func at(_ k: Int, _ text: String) -> Bool {
      let t = Array(text.unicodeScalars)
      return k + t.count <= s.count && Array(s[k..<k + t.count]) == t
    }
    while i < s.count {
      if s[i] == "\n" {
        line += 1
        i += 1
      } else if at(i, "//") {
        while i < s.count, s[i] != "\n" { i += 1 }
      } else if at(i, "/*") {
        i += 2
        while i < s.count, !at(i, "*/") {
          if s[i] == "\n" { line += 1 }
          i += 1
        }
        i += 2
      } else if at(i, "\"\"\"") {
        let start = line
        i += 3
        var text = String.UnicodeScalarView()
        while i < s.count, !at(i, "\"\"\"") {
          if s[i] == "\n" { line += 1 }
          text.append(s[i])
          i += 1
        }
        i += 3
        out.append(Literal(line: start, text: String(text)))
      } else if s[i] == "\"" {
        i += 1
        var text = String.UnicodeScalarView()
        var depth = 0
        while i < s.count, s[i] != "\n" {
          if depth == 0, s[i] == "\"" { break }
          if s[i] == "\\", i + 1 < s.count {
            if s[i + 1] == "(" {
              depth += 1
              text.append("X")
              i += 2
              continue
            }
            i += 2
            continue
          }
          if depth > 0 {
            if s[i] == "(" { depth += 1 }
            if s[i] == ")" { depth -= 1 }
            // Skip a literal inside the interpolation.
            if s[i] == "\"" {
              i += 1
              while i < s.count, s[i] != "\"", s[i] != "\n" { i += 1 }
            }
            i += 1
            continue
          }
          text.append(s[i])
          i += 1
        }
        i += 1
        out.append(Literal(line: line, text: String(text)))
      } else {
        i += 1
      }
    }
    return out
  }

  /// Three or more words of letters, with a space between.
  static func isProse(_ literal: Literal) -> Bool {
    let words = literal.text.split { !$0.isLetter && $0 != "'" }.filter { w in
      w.count >= 2 && w.first?.isLetter == true
    }
    return literal.text.contains(" ") && words.count >= 3
  }

  /// Whether `word` appears in `text` as a whole word (or phrase).
  static func has(word: String, in text: String) -> Bool {
    var search = text[...]
    while let r = search.range(of: word) {
      let before = r.lowerBound == text.startIndex ? nil : text[text.index(before: r.lowerBound)]
      let after = r.upperBound == text.endIndex ? nil : text[r.upperBound]
      if !(before?.isLetter ?? false) && !(after?.isLetter ?? false) { return true }
      search = text[r.upperBound...]
    }
    return false
  }
}
