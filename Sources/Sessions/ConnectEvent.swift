import DTLS
import Report
import Runtime
import STUN
import Traversal

/// Something a ``ConnectSession`` did or saw. Codable for `--json` and logs; no event carries
/// the ICE or TURN password (`localDescriptionReady` encodes the description without it).
public enum ConnectEvent: Sendable, Hashable {
  /// The phase changed.
  case phaseChanged(ConnectPhase)
  /// The quick NAT probe started against these servers.
  case probeStarted(servers: [TransportAddress])
  /// The quick NAT probe ended: the profile, or nil with the reason it is unknown.
  case probeFinished(profile: NATProfile?, reason: ConnectProbeGap?)
  /// An ICE agent's event (candidates gathered, pairs, checks, states).
  case ice(ICEEvent)
  /// What the ICE session met while gathering (a silent STUN server, a socket or relay it
  /// could not open, the gathering deadline, a keepalive to a STUN server).
  case gathering(ICEGatheringEvent)
  /// A TURN allocation event of one server.
  case relay(server: TransportAddress, event: TURNClientEvent)
  /// A TURN server could not be used at all (socket, connection).
  case relayUnavailable(server: TransportAddress, reason: RelayUnavailable)
  /// A `turns:` server's TLS handshake succeeded and it presented this certificate (its leaf).
  case relayCertificate(server: TransportAddress, certificate: TLSPeerCertificate)
  /// Our description, to give to the peer (token or SDP).
  case localDescriptionReady(SessionDescription)
  /// The peer's description was set and checks started; `usable` candidates were added.
  case remoteDescriptionSet(candidates: Int, usable: Int)
  /// The verdict.
  case finished(ConnectReport)
  /// Waiting for the person at the other end (once when the wait starts, then every
  /// ``ConnectSessionConfiguration/peerWaitReportInterval``): for the answer to be pasted, or
  /// (answerer) for the offerer's first check, which comes once the answer is pasted there.
  case waitingForPeer(ConnectPeerWait, waitedMs: Double, limitMs: Double)
  /// The wait ended: the answer was set, or the offerer's first check arrived.
  case peerWaitEnded(ConnectPeerWait, waitedMs: Double)
  /// The router's port mapping changed: granted (or refused), renewed, lost or deleted.
  case portMapping(ConnectReport.PortMapping)
  /// The DTLS handshake on the selected pair started (`handshaking`) or ended.
  case dtls(ConnectReport.DTLS)
}

extension ConnectEvent: Codable {
  private enum Key: String, CodingKey {
    case kind, phase, servers, profile, reason, event, server, description, candidates, usable
    case report, waitingFor, waitedMs, limitMs, portMapping, certificate, dtls
  }

  /// A description without its password, for events.
  private struct PublicDescription: Codable {
    var role: SignalingRole
    var ufrag: String
    var tieBreaker: UInt64
    var candidates: [String]
    var endOfCandidates: Bool
    var natProfile: NATProfile?
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    switch self {
    case .phaseChanged(let p):
      try c.encode("phaseChanged", forKey: .kind)
      try c.encode(p, forKey: .phase)
    case .probeStarted(let s):
      try c.encode("probeStarted", forKey: .kind)
      try c.encode(s, forKey: .servers)
    case .probeFinished(let p, let r):
      try c.encode("probeFinished", forKey: .kind)
      try c.encode(p, forKey: .profile)
      try c.encode(r, forKey: .reason)
    case .ice(let e):
      try c.encode("ice", forKey: .kind)
      try c.encode(e, forKey: .event)
    case .gathering(let e):
      try c.encode("gathering", forKey: .kind)
      try c.encode(e, forKey: .event)
    case .relay(let s, let e):
      try c.encode("relay", forKey: .kind)
      try c.encode(s, forKey: .server)
      try c.encode(e, forKey: .event)
    case .relayUnavailable(let s, let r):
      try c.encode("relayUnavailable", forKey: .kind)
      try c.encode(s, forKey: .server)
      try c.encode(r, forKey: .reason)
    case .relayCertificate(let s, let certificate):
      try c.encode("relayCertificate", forKey: .kind)
      try c.encode(s, forKey: .server)
      try c.encode(certificate, forKey: .certificate)
    case .localDescriptionReady(let d):
      try c.encode("localDescriptionReady", forKey: .kind)
      try c.encode(
        PublicDescription(
          role: d.role, ufrag: d.ufrag, tieBreaker: d.tieBreaker,
          candidates: d.candidates.map(\.sdpAttribute), endOfCandidates: d.endOfCandidates,
          natProfile: d.natProfile), forKey: .description)
    case .remoteDescriptionSet(let n, let u):
      try c.encode("remoteDescriptionSet", forKey: .kind)
      try c.encode(n, forKey: .candidates)
      try c.encode(u, forKey: .usable)
    case .finished(let r):
      try c.encode("finished", forKey: .kind)
      try c.encode(r, forKey: .report)
    case .waitingForPeer(let w, let waited, let limit):
      try c.encode("waitingForPeer", forKey: .kind)
      try c.encode(w, forKey: .waitingFor)
      try c.encode(waited, forKey: .waitedMs)
      try c.encode(limit, forKey: .limitMs)
    case .peerWaitEnded(let w, let waited):
      try c.encode("peerWaitEnded", forKey: .kind)
      try c.encode(w, forKey: .waitingFor)
      try c.encode(waited, forKey: .waitedMs)
    case .portMapping(let m):
      try c.encode("portMapping", forKey: .kind)
      try c.encode(m, forKey: .portMapping)
    case .dtls(let d):
      try c.encode("dtls", forKey: .kind)
      try c.encode(d, forKey: .dtls)
    }
  }

  /// Decodes an event; a decoded `localDescriptionReady` has an empty password (it was never
  /// encoded).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    switch try c.decode(String.self, forKey: .kind) {
    case "phaseChanged": self = .phaseChanged(try c.decode(ConnectPhase.self, forKey: .phase))
    case "probeStarted":
      self = .probeStarted(servers: try c.decode([TransportAddress].self, forKey: .servers))
    case "probeFinished":
      self = .probeFinished(
        profile: try c.decodeIfPresent(NATProfile.self, forKey: .profile),
        reason: try c.decodeIfPresent(ConnectProbeGap.self, forKey: .reason))
    case "ice": self = .ice(try c.decode(ICEEvent.self, forKey: .event))
    case "gathering": self = .gathering(try c.decode(ICEGatheringEvent.self, forKey: .event))
    case "relay":
      self = .relay(
        server: try c.decode(TransportAddress.self, forKey: .server),
        event: try c.decode(TURNClientEvent.self, forKey: .event))
    case "relayUnavailable":
      self = .relayUnavailable(
        server: try c.decode(TransportAddress.self, forKey: .server),
        reason: try c.decode(RelayUnavailable.self, forKey: .reason))
    case "relayCertificate":
      self = .relayCertificate(
        server: try c.decode(TransportAddress.self, forKey: .server),
        certificate: try c.decode(TLSPeerCertificate.self, forKey: .certificate))
    case "localDescriptionReady":
      let p = try c.decode(PublicDescription.self, forKey: .description)
      var candidates: [SignaledCandidate] = []
      for line in p.candidates {
        do {
          candidates.append(try SignaledCandidate(sdpAttribute: line))
        } catch {
          throw DecodingError.dataCorruptedError(
            forKey: .description, in: c, debugDescription: error.message)
        }
      }
      self = .localDescriptionReady(
        SessionDescription(
          ufrag: p.ufrag, password: "", role: p.role, tieBreaker: p.tieBreaker,
          candidates: candidates, endOfCandidates: p.endOfCandidates, natProfile: p.natProfile))
    case "remoteDescriptionSet":
      self = .remoteDescriptionSet(
        candidates: try c.decode(Int.self, forKey: .candidates),
        usable: try c.decode(Int.self, forKey: .usable))
    case "finished": self = .finished(try c.decode(ConnectReport.self, forKey: .report))
    case "waitingForPeer":
      self = .waitingForPeer(
        try c.decode(ConnectPeerWait.self, forKey: .waitingFor),
        waitedMs: try c.decode(Double.self, forKey: .waitedMs),
        limitMs: try c.decode(Double.self, forKey: .limitMs))
    case "peerWaitEnded":
      self = .peerWaitEnded(
        try c.decode(ConnectPeerWait.self, forKey: .waitingFor),
        waitedMs: try c.decode(Double.self, forKey: .waitedMs))
    case "portMapping":
      self = .portMapping(try c.decode(ConnectReport.PortMapping.self, forKey: .portMapping))
    case "dtls":
      self = .dtls(try c.decode(ConnectReport.DTLS.self, forKey: .dtls))
    case let other:
      throw DecodingError.dataCorruptedError(
        forKey: .kind, in: c, debugDescription: "unknown connect event \(other)")
    }
  }
}

/// One event with the runtime time it happened at.
public struct ConnectLogEntry: Codable, Sendable, Hashable {
  public var at: Instant
  public var event: ConnectEvent

  public init(at: Instant, event: ConnectEvent) {
    self.at = at
    self.event = event
  }
}
