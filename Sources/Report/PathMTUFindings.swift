import STUN
import Traversal

extension FindingCode {
  /// A direction's search ended with a largest size that crossed (and maybe a smallest that
  /// did not).
  public static let mtuMeasured: FindingCode = "mtu.measured"
  /// What a measured size under 1200 (or 1280) bytes means for WebRTC traffic.
  public static let mtuTooSmall: FindingCode = "mtu.too-small"
  /// The DTLS handshake sent datagrams larger than the path carried forward.
  public static let mtuDTLSLarger: FindingCode = "mtu.dtls-larger"
  /// Not even the smallest padded probe was answered.
  public static let mtuBaselineUnanswered: FindingCode = "mtu.baseline-unanswered"
  /// The peer answers without the padding asked for: the reverse direction is not measured.
  public static let mtuPeerDoesNotPad: FindingCode = "mtu.peer-does-not-pad"
  /// The search ran out of time (or the session ended) before it finished.
  public static let mtuUnfinished: FindingCode = "mtu.unfinished"
  /// `--no-path-mtu`.
  public static let mtuOff: FindingCode = "mtu.off"
}

extension FindingAspect {
  /// The largest datagram the selected pair carries.
  public static let pathMTU: FindingAspect = "path-mtu"
}

/// What natscope says about the largest datagram the selected pair carried: codes, the pure
/// ``derive(_:dtls:)`` and the vocabulary.
public enum PathMTUFindings {
  /// Every code of this domain.
  public static let codes: Set<FindingCode> = [
    .mtuMeasured, .mtuTooSmall, .mtuDTLSLarger, .mtuBaselineUnanswered, .mtuPeerDoesNotPad,
    .mtuUnfinished, .mtuOff,
  ]

  /// The size WebRTC stacks keep their datagrams under (DTLS flights, RTP packets).
  static let webRTCSize = 1200
  /// The smallest MTU IPv6 allows a link (RFC 8200 §5).
  static let ipv6Minimum = 1280

  /// The findings of one search; `dtls` (the handshake on the same pair) adds whether its
  /// datagrams were larger than the path carried.
  public static func derive(_ r: PathMTUResult, dtls: ConnectReport.DTLS? = nil) -> FindingSet {
    var all: [Finding] = []
    if let reverse = r.reverse, r.forward.outcome == .measured, reverse.outcome == .measured,
      r.forward.smallestLost == nil, reverse.smallestLost == nil,
      r.forward.largestAnswered == reverse.largestAnswered
    {
      // The largest size crossed both ways: one sentence.
      var both = r.forward
      both.probes += reverse.probes
      all += derive(both, r, direction: "both")
    } else {
      for leg in [r.forward] + (r.reverse.map { [$0] } ?? []) {
        all += derive(leg, r, direction: leg.direction.rawValue)
      }
    }
    let forward = r.forward
    if let largest = forward.largestAnswered, let lost = forward.smallestLost,
      let d = dtls, d.largestDatagramSent + r.headerBytes >= lost
    {
      all.append(
        Finding(
          .mtuDTLSLarger, about: .network, .measured, aspect: .pathMTU,
          parameters: [
            "dtlsLargest": .int(d.largestDatagramSent + r.headerBytes), "largest": .int(largest),
            "state": .text(d.state.rawValue),
          ],
          evidence: [EvidenceItem(.traffic, step: "dtls", count: d.datagramsSent)]))
    }
    return FindingSet(all)
  }

  private static func derive(_ leg: PathMTUResult.Leg, _ r: PathMTUResult, direction: String)
    -> [Finding]
  {
    var p: FindingParameters = [
      "direction": .text(direction), "smallest": .int(r.smallest),
      "largestTried": .int(r.largest), "relay": .flag(r.viaRelay),
    ]
    if let a = leg.largestAnswered { p["largest"] = .int(a) }
    if let l = leg.smallestLost { p["lost"] = .int(l) }
    if let m = leg.icmpMTU { p["icmpMTU"] = .int(m) }
    if let who = leg.icmpReporter { p["reporter"] = .ip(who) }
    let answered = leg.probes.filter(\.answered)
    let unanswered = leg.probes.filter { !$0.answered }
    var evidence = [
      EvidenceItem(.answered, step: "mtu \(leg.direction.rawValue)", count: answered.count)
    ]
    if !unanswered.isEmpty {
      evidence.append(
        EvidenceItem(
          .noAnswer, step: "mtu \(leg.direction.rawValue)",
          count: unanswered.reduce(0) { $0 + $1.attempts }))
    }
    if leg.icmpMTU != nil { evidence.append(EvidenceItem(.icmp, step: "fragmentation needed")) }
    switch leg.outcome {
    case .measured:
      var out = [
        Finding(
          .mtuMeasured, about: .network, .measured, aspect: .pathMTU, parameters: p,
          evidence: evidence)
      ]
      if let largest = leg.largestAnswered, leg.smallestLost != nil {
        let threshold = r.headerBytes == 48 ? ipv6Minimum : webRTCSize + r.headerBytes
        if largest < threshold {
          var q = p
          q["threshold"] = .int(threshold)
          out.append(
            Finding(
              .mtuTooSmall, about: .network, .inferred, aspect: .pathMTU, parameters: q,
              evidence: evidence))
        }
      }
      return out
    case .baselineUnanswered:
      return [
        Finding(
          .mtuBaselineUnanswered, about: .peer, .notMeasured, aspect: .pathMTU, parameters: p,
          evidence: evidence)
      ]
    case .peerDoesNotPad:
      return [
        Finding(
          .mtuPeerDoesNotPad, about: .peer, .notMeasured, aspect: .pathMTU, parameters: p,
          evidence: [EvidenceItem(.traffic, step: "mtu reverse")])
      ]
    case .unfinished:
      var q = p
      q["ms"] = .milliseconds(r.durationMs)
      return [
        Finding(
          .mtuUnfinished, about: .session, .notMeasured, aspect: .pathMTU, parameters: q,
          evidence: evidence)
      ]
    }
  }

  /// "from this host to the peer" / "from the peer to this host" / "both ways".
  private static func way(_ p: FindingParameters) -> String {
    switch p.text("direction") {
    case "both": "both ways"
    case PathMTUResult.Direction.reverse.rawValue: "from the peer to this host"
    default: "from this host to the peer"
    }
  }

  /// The sentences of this domain (registered in ``FindingText``).
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let relay = p.flag("relay") == true ? " through the relay" : ""
    switch f.code {
    case .mtuMeasured:
      let largest = p.int("largest") ?? 0
      guard let lost = p.int("lost") else {
        return
          "Datagrams of \(largest) bytes, the largest tried, cross \(way(p))\(relay) whole."
      }
      let why: String
      if let mtu = p.int("icmpMTU") {
        let who = p.ip("reporter").map { "router \($0)" } ?? "the network"
        why =
          "; \(lost) bytes did not: \(who) said its link takes \(mtu) (ICMP fragmentation needed)"
      } else {
        why =
          "; \(lost) bytes did not, and no ICMP error came back (a path MTU black hole drops them silently)"
      }
      return "Datagrams up to \(largest) bytes cross \(way(p))\(relay)\(why)."
    case .mtuTooSmall:
      let largest = p.int("largest") ?? 0
      let threshold = p.int("threshold") ?? webRTCSize
      if threshold == ipv6Minimum {
        return
          "That is under the 1280 bytes every IPv6 link must carry: packets sized for IPv6's minimum will not cross \(way(p))."
      }
      return
        "Datagrams over \(largest) bytes do not cross \(way(p)), and WebRTC stacks send up to 1200 bytes of UDP payload (\(threshold) with headers): a DTLS flight with a large certificate chain, and full-size video packets, will not cross this path."
    case .mtuDTLSLarger:
      let dtls = p.int("dtlsLargest") ?? 0
      let largest = p.int("largest") ?? 0
      return
        "The DTLS handshake sent datagrams of \(dtls) bytes, more than the \(largest) this path carried from this host to the peer."
    case .mtuBaselineUnanswered:
      let smallest = p.int("smallest") ?? 576
      return
        "The peer answered no padded check \(way(p)), not even of \(smallest) bytes, so the largest datagram this path carries was not measured."
    case .mtuPeerDoesNotPad:
      return
        "The peer answers without the padding natscope asks for (it is not natscope), so the largest datagram from the peer to this host was not measured."
    case .mtuUnfinished:
      var sofar: [String] = []
      if let a = p.int("largest") { sofar.append("\(a) bytes crossed") }
      if let l = p.int("lost") { sofar.append("\(l) did not") }
      let known = sofar.isEmpty ? "" : " (so far \(sofar.joined(separator: ", ")))"
      return
        "The search for the largest datagram \(way(p)) did not finish\(known), so it is not measured."
    case .mtuOff:
      return "The largest datagram on the selected pair was not measured (--no-path-mtu)."
    default:
      return nil
    }
  }
}
