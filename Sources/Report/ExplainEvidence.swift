import STUN
import Traversal

/// What another stack's artifact (a chrome://webrtc-internals dump, a libnice or aioice log,
/// any log with SDP candidate lines) shows of one ICE session, as typed values: the readers of
/// the `Explain` module produce it, ``ExplainFindings`` derives the explanation from it.
///
/// Only what the input showed is here; what it did not show stays empty or nil, and the
/// findings say it was not measured. Credentials seen in the input are counted, never kept.
public struct ExplainEvidence: Codable, Sendable, Hashable {
  /// The kind of input the session was read from.
  public enum Format: String, Codable, Sendable, Hashable, CaseIterable {
    /// Any text log with SDP candidate lines, ufrag and state words (the generic reader).
    case text
    /// A libnice debug log (`NICE_DEBUG=all`, `G_MESSAGES_DEBUG=all`).
    case libnice
    /// A chrome://webrtc-internals dump (Chrome, Edge, Electron).
    case webrtcInternals = "webrtc-internals"
    /// An aioice log (Python logging at DEBUG).
    case aioice
    /// A pion/ice log (`PION_LOG_TRACE=ice`, `PION_LOG_DEBUG=ice`).
    case pion
    /// A packet capture (pcap or pcapng): STUN checks matched by transaction ID.
    case pcap
  }

  /// The input's format.
  public var format: Format
  /// The session's name in the input (a PeerConnection ID, `Connection(0)`, a log's `id:`).
  public var label: String?
  /// This host's candidates (the side whose log or dump this is).
  public var local: [ObservedCandidate] = []
  /// The peer's candidates, as this side received them.
  public var remote: [ObservedCandidate] = []
  /// The check list, when the input shows it.
  public var pairs: [ObservedPair] = []
  /// What happened, in order.
  public var timeline: [TimelineEvent] = []
  /// The pair the agent selected, when the input names it.
  public var selected: SelectedPair?
  /// The STUN and TURN servers the session was configured with, when the input shows them
  /// (never their credentials).
  public var servers: [ConfiguredServer] = []
  /// Whether the input shows the configured servers at all (a dump's `rtcConfiguration`, a
  /// log's "stun server" line): without it, "no TURN server" cannot be told from "not shown".
  public var serversKnown = false
  /// Errors servers answered with while gathering (TURN 401/403/437/486, Chrome's 701).
  public var serverErrors: [ServerError] = []
  /// Error responses to connectivity checks (487 role conflict, 401).
  public var checkErrors: [CheckError] = []
  /// The local port range the agent was configured with (`min_port`/`max_port`).
  public var portRange: PortRange?
  /// Whether the input shows the check list (pair states or checks); the generic reader of a
  /// log with candidate lines only does not.
  public var checksShown = false
  /// How many credentials (ICE passwords, TURN passwords, REST secrets) the input held: none
  /// of them is kept or shown.
  public var credentialsSeen = 0
  /// The lines or records read, and those the reader understood.
  public var linesRead = 0
  public var linesUnderstood = 0
  /// Set when the input held more than the reader keeps (candidates, pairs, events): the
  /// rest was counted but not kept.
  public var truncated = false

  public init(format: Format, label: String? = nil) {
    self.format = format
    self.label = label
  }

  /// The candidate of `side` at `address`, if one was seen.
  public func candidate(_ address: TransportAddress, local side: Bool) -> ObservedCandidate? {
    (side ? local : remote).first { $0.transportAddress == address }
  }
}

/// A candidate as the input showed it.
public struct ObservedCandidate: Codable, Sendable, Hashable {
  /// host, srflx, prflx or relay.
  public var kind: SignaledCandidate.Kind
  public var transport: SignaledCandidate.Transport
  /// An IP address, or a host name (an mDNS `….local` name).
  public var address: String
  public var port: Int
  /// `raddr` / `rport`: the base a reflexive or relayed candidate came from.
  public var relatedAddress: String?
  public var relatedPort: Int?
  /// RFC 6544 `tcptype`.
  public var tcpType: SignaledCandidate.TCPType?
  /// The relay's transport to the TURN server (Chrome's `relayProtocol`).
  public var relayProtocol: String?
  /// The interface type (Chrome's `networkType`: ethernet, wifi, vpn, …).
  public var networkType: String?
  /// The server the candidate came from (without credentials).
  public var server: String?
  /// Milliseconds from the input's first timestamp, when it has timestamps.
  public var atMs: Double?
  /// The agent did not take the candidate (a TCP candidate an UDP-only agent dropped).
  public var ignored = false

  public init(
    kind: SignaledCandidate.Kind, transport: SignaledCandidate.Transport = .udp,
    address: String, port: Int, relatedAddress: String? = nil, relatedPort: Int? = nil,
    atMs: Double? = nil
  ) {
    self.kind = kind
    self.transport = transport
    self.address = address
    self.port = port
    self.relatedAddress = relatedAddress
    self.relatedPort = relatedPort
    self.atMs = atMs
  }

  /// The candidate from an `a=candidate:` line.
  public init(_ c: SignaledCandidate, atMs: Double?) {
    self.init(
      kind: c.kind, transport: c.transport, address: c.address.description, port: Int(c.port),
      relatedAddress: c.relatedAddress?.description, relatedPort: c.relatedPort.map(Int.init),
      atMs: atMs)
    tcpType = c.tcpType
  }

  /// The IP address and port, when the address is an IP address.
  public var transportAddress: TransportAddress? {
    guard let ip = IPAddress(address), let p = UInt16(exactly: port) else { return nil }
    return TransportAddress(ip: ip, port: p)
  }

  /// The base (raddr:rport) as an IP address and port.
  public var relatedTransportAddress: TransportAddress? {
    // Chrome hides the base as 0.0.0.0 port 0.
    guard let a = relatedAddress, let ip = IPAddress(a), !ip.isUnspecified,
      let rp = relatedPort, rp != 0, let p = UInt16(exactly: rp)
    else { return nil }
    return TransportAddress(ip: ip, port: p)
  }

  /// What the address is.
  public var addressClass: AddressClass { AddressClass(address) }

  /// The address and port as text (`[v6]:port` for IPv6, `name:port` for a host name).
  public var endpointText: String {
    transportAddress?.description ?? "\(address):\(port)"
  }
}

/// What an address is, for a person reading a candidate list.
public enum AddressClass: String, Codable, Sendable, Hashable {
  case loopback
  case linkLocal = "link-local"
  /// RFC 1918 and fc00::/7.
  case `private`
  /// RFC 6598 100.64.0.0/10, a carrier-grade NAT's inside.
  case cgnat
  /// An mDNS name (`….local`) that only resolves on the peer's own network.
  case mdns
  case `public`
  /// 0.0.0.0 or ::.
  case unspecified
  /// A host name that is not an mDNS name.
  case hostname

  /// The class of `address` (an IP address or a host name).
  public init(_ address: String) {
    guard let ip = IPAddress(address) else {
      let lower = address.lowercased()
      self = lower.hasSuffix(".local") || lower.hasSuffix(".local.") ? .mdns : .hostname
      return
    }
    if ip.isUnspecified {
      self = .unspecified
    } else if ip.isLoopback {
      self = .loopback
    } else if ip.isLinkLocal {
      self = .linkLocal
    } else if case .v4(let a) = ip, a >> 22 == 0x191 {
      self = .cgnat
    } else if ip.isPrivate {
      self = .private
    } else {
      self = .public
    }
  }

  /// Whether a peer on another network could ever reach this address.
  public var reachableFromElsewhere: Bool { self == .public }
}

/// One end of a pair.
public struct PairEnd: Codable, Sendable, Hashable {
  public var address: String
  public var port: Int
  /// The candidate type, when the input says it.
  public var kind: SignaledCandidate.Kind?

  public init(address: String, port: Int, kind: SignaledCandidate.Kind? = nil) {
    self.address = address
    self.port = port
    self.kind = kind
  }

  /// The address and port as text.
  public var text: String {
    if let ip = IPAddress(address), let p = UInt16(exactly: port) {
      return TransportAddress(ip: ip, port: p).description
    }
    return "\(address):\(port)"
  }
}

/// One candidate pair of the check list, as the input showed it.
public struct ObservedPair: Codable, Sendable, Hashable {
  /// The input's name for the pair (a stats ID, a libnice pointer), when it has one.
  public var id: String?
  public var local: PairEnd
  public var remote: PairEnd
  /// Every state the pair went through, in order (lowercase: frozen, waiting, in-progress,
  /// succeeded, failed).
  public var states: [StateChange] = []
  public var requestsSent: Int?
  public var responsesReceived: Int?
  public var requestsReceived: Int?
  public var responsesSent: Int?
  public var consentRequestsSent: Int?
  public var nominated: Bool?
  public var rttMs: Double?

  public init(id: String? = nil, local: PairEnd, remote: PairEnd) {
    self.id = id
    self.local = local
    self.remote = remote
  }

  /// The last state, when one was seen.
  public var state: String? { states.last?.state }

  /// The kind of path the pair is: `relay` when an end is relayed, `reflexive` when an end is
  /// server- or peer-reflexive, else `direct`.
  public var path: String { ExplainEvidence.path(local.kind, remote.kind) }
}

extension ExplainEvidence {
  /// The kind of path between two candidate types.
  /// `unknown` when an end's type is not known and the other does not decide it (aioice logs
  /// name the addresses of a pair, not their types).
  public static func path(_ a: SignaledCandidate.Kind?, _ b: SignaledCandidate.Kind?) -> String {
    if a == .relay || b == .relay { return "relay" }
    if a == .srflx || a == .prflx || b == .srflx || b == .prflx { return "reflexive" }
    if a == nil || b == nil { return "unknown" }
    return "direct"
  }
}

/// A state and when it was entered.
public struct StateChange: Codable, Sendable, Hashable {
  public var state: String
  public var atMs: Double?

  public init(_ state: String, atMs: Double?) {
    self.state = state
    self.atMs = atMs
  }
}

/// The pair the agent selected.
public struct SelectedPair: Codable, Sendable, Hashable {
  public var local: PairEnd
  public var remote: PairEnd
  public var atMs: Double?

  public init(local: PairEnd, remote: PairEnd, atMs: Double?) {
    self.local = local
    self.remote = remote
    self.atMs = atMs
  }
}

/// One thing that happened in the session.
public struct TimelineEvent: Codable, Sendable, Hashable {
  public enum Kind: String, Codable, Sendable, Hashable {
    case gatheringStarted = "gathering-started"
    case gatheringDone = "gathering-done"
    case localCandidate = "local-candidate"
    case remoteDescription = "remote-description"
    case remoteCandidate = "remote-candidate"
    case checking
    case connected
    case completed
    case disconnected
    case failed
    case closed
    case selectedPair = "selected-pair"
    case consentExpired = "consent-expired"
    case dtlsStarted = "dtls-started"
    case dtlsConnected = "dtls-connected"
    case dtlsFailed = "dtls-failed"
    case candidateError = "candidate-error"
    /// Another state the input names (`new`, Licode's `cand_received`): `detail` is the word.
    case state
  }

  public var kind: Kind
  /// Milliseconds from the input's first timestamp; nil when the input has none.
  public var atMs: Double?
  /// The state word as the input wrote it, or the address the event is about.
  public var detail: String?

  public init(_ kind: Kind, atMs: Double?, detail: String? = nil) {
    self.kind = kind
    self.atMs = atMs
    self.detail = detail
  }
}

/// A STUN or TURN server the session was configured with.
public struct ConfiguredServer: Codable, Sendable, Hashable {
  public enum Kind: String, Codable, Sendable, Hashable { case stun, turn }
  public var kind: Kind
  /// `host:port` or the URI, without credentials.
  public var uri: String

  public init(_ kind: Kind, uri: String) {
    self.kind = kind
    self.uri = uri
  }
}

/// An error a STUN or TURN server answered with (or Chrome's 701: no answer).
public struct ServerError: Codable, Sendable, Hashable {
  /// The server's URI, without credentials, when known.
  public var uri: String?
  public var code: Int
  public var atMs: Double?

  public init(uri: String?, code: Int, atMs: Double?) {
    self.uri = uri
    self.code = code
    self.atMs = atMs
  }
}

/// An error response to a connectivity check.
public struct CheckError: Codable, Sendable, Hashable {
  public var code: Int
  /// The peer's address that sent it, when known.
  public var remote: String?
  public var count: Int

  public init(code: Int, remote: String?, count: Int = 1) {
    self.code = code
    self.remote = remote
    self.count = count
  }
}

/// A configured port range.
public struct PortRange: Codable, Sendable, Hashable {
  public var low: Int
  public var high: Int

  public init(low: Int, high: Int) {
    self.low = low
    self.high = high
  }

  public func contains(_ port: Int) -> Bool { (low...high).contains(port) }
}
