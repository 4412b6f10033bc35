import Runtime
import STUN
import Traversal

/// One end of a simulated TCP connection, with what TURN over TCP needs from one: whole frames,
/// delivered reliably and in order, the first only after the handshake's round trip, each after
/// the path's one-way latency. There is no loss (TCP retransmits) and no jitter (TCP delivers in
/// order). UDP firewalls do not apply: they drop UDP only, which is why a host behind
/// `udp-blocked` can still reach a TURN server this way.
///
/// Make the two ends with ``SimulatedStreamEnd/connect(client:server:oneWay:)``; each end is
/// owned by whoever uses it, and they refer to each other weakly.
public final class SimulatedStreamEnd: StreamTransport {
  public var onFrame: (([UInt8]) -> Void)?
  public var onClose: ((StreamCloseReason) -> Void)?
  /// Frames this end sent.
  public private(set) var framesSent = 0

  private weak var peer: SimulatedStreamEnd?
  private let host: SimulatedHost
  private let oneWay: Duration
  /// No frame from this end arrives before this instant (the handshake).
  private let firstArrival: Instant
  private var lastArrival: Instant
  private var closed = false

  private init(host: SimulatedHost, oneWay: Duration, firstArrival: Instant) {
    self.host = host
    self.oneWay = oneWay
    self.firstArrival = firstArrival
    self.lastArrival = firstArrival
  }

  /// A connection from `client` to `server` whose packets take `oneWay` each way: the
  /// client's first frame arrives after SYN, SYN-ACK and the frame itself (three one-way
  /// trips), the server's frames after the usual one.
  public static func connect(client: SimulatedHost, server: SimulatedHost, oneWay: Duration)
    -> (client: SimulatedStreamEnd, server: SimulatedStreamEnd)
  {
    let now = client.now
    let c = SimulatedStreamEnd(host: client, oneWay: oneWay, firstArrival: now + oneWay * 3)
    let s = SimulatedStreamEnd(host: server, oneWay: oneWay, firstArrival: now + oneWay * 2)
    c.peer = s
    s.peer = c
    return (c, s)
  }

  public func send(_ bytes: [UInt8]) {
    guard !closed, let peer else { return }
    framesSent += 1
    let at = Swift.max(host.now + oneWay, lastArrival, firstArrival)
    lastArrival = at
    _ = host.schedule(at: at) { [weak peer] in
      guard let peer, !peer.closed else { return }
      peer.onFrame?(bytes)
    }
  }

  public func close() {
    guard !closed else { return }
    closed = true
    onFrame = nil
    onClose = nil
    let at = Swift.max(host.now + oneWay, lastArrival)
    _ = host.schedule(at: at) { [weak peer] in peer?.closedByPeer() }
  }

  private func closedByPeer() {
    guard !closed else { return }
    closed = true
    let report = onClose
    onFrame = nil
    onClose = nil
    report?(.closedByPeer)
  }
}

extension SimulatedHost {
  /// Where this host's connections appear on the internet and how long their packets take to
  /// get there: follows the gateways of the first interface's realm through every NAT box,
  /// adding each hop's latency. Returns the outermost public address and the one-way latency
  /// up to (not including) the internet's far side.
  public func routeToInternet() -> (publicIP: IPAddress, latency: Duration) {
    guard var iface = interfaces.first else { return (.anyV4, .zero) }
    var ip = iface.address
    var latency = iface.link.up.latency
    var hops = 0
    while let gateway = iface.realm?.gateway, let nat = gateway.nat,
      let outside = nat.firstOutsideInterface, hops < VirtualNetwork.hopLimit
    {
      latency = latency + gateway.link.down.latency + outside.link.up.latency
      ip = outside.address
      iface = outside
      hops += 1
    }
    return (ip, latency)
  }

  /// The one-way latency of this host's first interface from the realm.
  public var downLatency: Duration { interfaces.first?.link.down.latency ?? .zero }
}
