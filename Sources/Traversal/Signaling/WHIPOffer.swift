import STUN

/// Which of the two HTTP signalling protocols a `connect` speaks to a media server: WHIP
/// (RFC 9725, ingest: natscope offers to send) or WHEP (egress: natscope offers to receive).
public enum WHIPKind: String, Codable, Sendable, Hashable, CaseIterable {
  case whip, whep

  /// The media direction of the offer's m-sections (RFC 9725 §4.2: `sendonly` for ingest).
  public var direction: String { self == .whip ? "sendonly" : "recvonly" }
}

/// The SDP offer natscope POSTs to a WHIP or WHEP endpoint: a complete session description
/// (RFC 8866) with one BUNDLEd (RFC 8843) audio and one video m-section in the protocol's
/// direction, the codecs every server takes (Opus; VP8 and H.264 constrained baseline), the
/// ICE credentials and candidates of `local`, its DTLS fingerprint and `a=setup:actpass`
/// (RFC 8842), and `a=rtcp-mux`. No media is ever sent: the offer only has to be accepted.
public enum WHIPOffer {
  /// The offer's SDP, lines ending in CRLF.
  /// - Parameters:
  ///   - local: this host's description (gathered; its candidates go in both m-sections,
  ///     which share one transport under BUNDLE).
  ///   - sessionID: the `o=` line's session id (a random number; not a secret).
  public static func sdp(_ local: SessionDescription, kind: WHIPKind, sessionID: UInt64) -> String {
    var lines = [
      "v=0",
      "o=natscope \(sessionID) 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      "a=group:BUNDLE 0 1",
      "a=extmap-allow-mixed",
      "a=msid-semantic: WMS",
    ]
    func transport(mid: String) -> [String] {
      var t = [
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:\(local.ufrag)",
        "a=ice-pwd:\(local.password)",
      ]
      if let dtls = local.dtls {
        t.append("a=fingerprint:sha-256 \(dtls.fingerprint.text)")
      }
      t.append("a=setup:actpass")
      t.append("a=mid:\(mid)")
      t.append("a=\(kind.direction)")
      if kind == .whip {
        t.append("a=msid:natscope natscope-\(mid)")
      }
      t.append("a=rtcp-mux")
      return t
    }
    lines.append("m=audio 9 UDP/TLS/RTP/SAVPF 111")
    lines += transport(mid: "0")
    lines += [
      "a=rtpmap:111 opus/48000/2",
      "a=rtcp-fb:111 transport-cc",
      "a=fmtp:111 minptime=10;useinbandfec=1",
    ]
    if kind == .whip { lines.append("a=ssrc:\(ssrc(sessionID, 1)) cname:natscope") }
    lines += candidateLines(local)
    lines.append("m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103")
    lines += transport(mid: "1")
    lines += [
      "a=rtcp-rsize",
      "a=rtpmap:96 VP8/90000",
      "a=rtcp-fb:96 goog-remb",
      "a=rtcp-fb:96 transport-cc",
      "a=rtcp-fb:96 ccm fir",
      "a=rtcp-fb:96 nack",
      "a=rtcp-fb:96 nack pli",
      "a=rtpmap:97 rtx/90000",
      "a=fmtp:97 apt=96",
      "a=rtpmap:102 H264/90000",
      "a=rtcp-fb:102 goog-remb",
      "a=rtcp-fb:102 transport-cc",
      "a=rtcp-fb:102 ccm fir",
      "a=rtcp-fb:102 nack",
      "a=rtcp-fb:102 nack pli",
      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
      "a=rtpmap:103 rtx/90000",
      "a=fmtp:103 apt=102",
    ]
    if kind == .whip { lines.append("a=ssrc:\(ssrc(sessionID, 2)) cname:natscope") }
    lines += candidateLines(local)
    return lines.joined(separator: "\r\n") + "\r\n"
  }

  /// The payload types the offer names: what a test checks the answer against.
  public static let audioPayloadTypes: [Int] = [111]
  public static let videoPayloadTypes: [Int] = [96, 97, 102, 103]

  static func candidateLines(_ d: SessionDescription) -> [String] {
    var lines = d.candidates.map { "a=" + $0.sdpAttribute }
    if d.endOfCandidates { lines.append("a=end-of-candidates") }
    return lines
  }

  /// A stable nonzero SSRC per m-section (some servers want one in a sendonly offer).
  static func ssrc(_ session: UInt64, _ index: UInt64) -> UInt32 {
    let mixed = (session &* 0x9E37_79B9_7F4A_7C15) &+ index &* 0xBF58_476D_1CE4_E5B9
    return UInt32(truncatingIfNeeded: mixed >> 17) | 1
  }
}

/// A WHIP or WHEP server's answer (the body of its `201 Created`), read for what ICE and DTLS
/// need: the ICE description (credentials, candidates, fingerprint and setup role) and
/// whether the server is ICE-lite (RFC 8445 §2.5: it answers checks and sends none, which is
/// expected of a media server, not a failure).
public struct WHIPAnswer: Sendable, Hashable {
  public var description: SessionDescription
  /// `a=ice-lite` at session level.
  public var iceLite: Bool
  /// The number of m-sections in the answer, and how many the server rejected (port 0).
  public var mediaSections: Int
  public var rejectedSections: Int

  /// Reads an answer. Candidates that repeat (one per m-section under BUNDLE) or belong to
  /// component 2 (RTCP, which `a=rtcp-mux` makes unused) are dropped.
  public init(sdp text: String) throws(SignalingError) {
    let lines = SessionDescription.splitLines(text)
    var d = try SessionDescription(sdpLines: lines, assumedRole: .answer)
    var seen = Set<String>()
    d.candidates = d.candidates.filter { c in
      guard c.component == 1 else { return false }
      let key = "\(c.transport.rawValue) \(c.address) \(c.port)"
      return seen.insert(key).inserted
    }
    // WHIP has no way for the server to trickle: its answer holds every candidate it has.
    d.endOfCandidates = true
    var lite = false
    var sections = 0
    var rejected = 0
    for raw in lines {
      let line = raw.trimmingSignalingWhitespace()
      if line.lowercased() == "a=ice-lite" { lite = true }
      if line.hasPrefix("m=") {
        sections += 1
        let f = line.split(separator: " ")
        if f.count > 1, f[1] == "0" { rejected += 1 }
      }
    }
    self.description = d
    self.iceLite = lite
    self.mediaSections = sections
    self.rejectedSections = rejected
  }
}
