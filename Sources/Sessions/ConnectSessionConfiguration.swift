import DTLS
import Report
import Runtime
import STUN
import Traversal

/// A TURN server a ``ConnectSession`` allocates a relayed candidate on.
public struct ConnectTURNServer: Sendable, Hashable, CustomStringConvertible {
  /// The server's address.
  public var address: TransportAddress
  /// Long-term credentials (the password never appears in events, logs or reports).
  public var credentials: TURNCredentials
  /// How the client reaches the server: `udp`, or `tcp` (needs a ``StreamConnector``).
  public var transport: SignaledCandidate.Transport
  /// Set for `turns:` (TLS over TCP; `transport` is `tcp`): how to verify the server (the
  /// runtime's TLS connector reads it).
  public var tls: TLSClientSettings?

  public init(
    address: TransportAddress, credentials: TURNCredentials,
    transport: SignaledCandidate.Transport = .udp, tls: TLSClientSettings? = nil
  ) {
    self.address = address
    self.credentials = credentials
    self.transport = tls == nil ? transport : .tcp
    self.tls = tls
  }

  /// How the report names the way natscope reaches it.
  public var relayTransport: ConnectReport.RelayTransport {
    tls != nil ? .tls : transport == .tcp ? .tcp : .udp
  }

  /// `turn 203.0.113.10:3478 over tcp as user (password hidden)`, `turns … over tls …`.
  public var description: String {
    tls == nil
      ? "turn \(address) over \(transport.rawValue) as \(credentials)"
      : "turns \(address) over tls as \(credentials)"
  }
}

/// How a ``ConnectSession`` runs: role, servers, sockets, timing.
public struct ConnectSessionConfiguration: Sendable {
  /// Offer (ICE controlling) or answer (controlled).
  public var role: SignalingRole
  /// STUN servers for server-reflexive candidates (and the quick NAT probe).
  public var stunServers: [TransportAddress]
  /// TURN servers, one relayed candidate each.
  public var turnServers: [ConnectTURNServer]
  /// Host sockets bind in this range when set.
  public var portRange: ClosedRange<UInt16>?
  /// Whether loopback addresses give host candidates.
  public var includeLoopback: Bool
  /// The addresses to gather on; nil means the runtime's.
  public var localAddresses: [IPAddress]?
  /// Gathering (STUN answers and TURN allocations) ends after this long.
  public var gatheringTimeout: Duration
  /// The quick RFC 5780 probe against the STUN servers, bounded by this long (its profile goes
  /// into the description); nil skips it.
  public var probeTimeout: Duration?
  /// Once this side holds both descriptions (and, for an answerer still waiting for the
  /// offerer, once the offerer's first check arrived), a verdict is forced after this long
  /// (failed unless a pair was selected by then).
  public var checkTimeout: Duration
  /// How long a person may take: the offerer waits this long for the answer after its offer
  /// is ready, and an answerer whose answer was handed to a person waits this long for the
  /// offerer's first check. Then the verdict is failed, saying what did not come.
  public var peerWaitTimeout: Duration
  /// While waiting for the peer, a ``ConnectEvent/waitingForPeer(_:waitedMs:limitMs:)`` comes
  /// this often (and once when the wait starts).
  public var peerWaitReportInterval: Duration
  /// STUN keepalives from each host socket to the server its server-reflexive candidate came
  /// from, this often, while the session is open (nil: none).
  public var serverKeepaliveInterval: Duration?
  /// How long the selected pair is kept alive (answering checks and consent) after the
  /// verdict, so the peer can finish its own nomination, before everything is closed.
  public var holdTime: Duration
  /// The ICE agent's settings.
  public var agent: ICEConfiguration
  /// The port mapping asked of the router for the host candidate's port (PCP, else NAT-PMP),
  /// offered as a server-reflexive candidate, renewed while the session lives and deleted when
  /// it closes; nil asks for none (`--no-port-mapping`).
  public var portMapping: ConnectPortMappingConfiguration?
  /// DTLS after ICE (the fingerprint goes in the description; the handshake runs on the
  /// selected pair); nil runs none.
  public var dtls: ConnectDTLSSettings?
  /// Whether DTLS is off because the person asked (`--no-dtls`): the report then says so.
  /// Without it, a session with no `dtls` reports nothing about DTLS (the simulated labs).
  public var dtlsTurnedOff = false
  /// The search for the largest datagram the selected pair carries, after DTLS (or at once
  /// when there is none); nil runs none.
  public var pathMTU: PathMTUConfiguration?
  /// Whether the search is off because the person asked (`--no-path-mtu`): the report then
  /// says so.
  public var pathMTUTurnedOff = false

  public init(
    role: SignalingRole, stunServers: [TransportAddress] = [],
    turnServers: [ConnectTURNServer] = [], portRange: ClosedRange<UInt16>? = nil,
    includeLoopback: Bool = false, localAddresses: [IPAddress]? = nil,
    gatheringTimeout: Duration = .seconds(3), probeTimeout: Duration? = .milliseconds(1200),
    checkTimeout: Duration = .seconds(15), holdTime: Duration = .seconds(1),
    agent: ICEConfiguration = ICEConfiguration(), peerWaitTimeout: Duration = .seconds(300),
    peerWaitReportInterval: Duration = .seconds(15),
    serverKeepaliveInterval: Duration? = .seconds(15),
    portMapping: ConnectPortMappingConfiguration? = nil
  ) {
    self.portMapping = portMapping
    self.serverKeepaliveInterval = serverKeepaliveInterval
    self.peerWaitTimeout = peerWaitTimeout
    self.peerWaitReportInterval = max(peerWaitReportInterval, .seconds(1))
    self.role = role
    self.stunServers = stunServers
    self.turnServers = turnServers
    self.portRange = portRange
    self.includeLoopback = includeLoopback
    self.localAddresses = localAddresses
    self.gatheringTimeout = gatheringTimeout
    self.probeTimeout = probeTimeout
    self.checkTimeout = checkTimeout
    self.holdTime = holdTime
    self.agent = agent
  }
}

/// Where a ``ConnectSession`` is.
public enum ConnectPhase: String, Codable, Sendable, Hashable {
  /// Not started.
  case new
  /// Gathering candidates (and probing the NAT).
  case gathering
  /// The local description is ready; waiting for the peer's.
  case waitingForRemote
  /// Connectivity checks are running.
  case checking
  /// The verdict is in; the selected pair is kept alive for ``ConnectSessionConfiguration/holdTime``.
  case finished
  /// Everything is closed (sockets, timers, TURN allocations released).
  case closed
}
