import Runtime
import STUN
import Traversal

/// One end of a simulated TCP connection that carries bytes as they are (HTTP to a router's
/// UPnP IGD service): delivered reliably and in order, the first bytes only after the
/// handshake's round trip, each chunk after the path's one-way latency; no loss (TCP
/// retransmits) and no jitter (TCP delivers in order).
///
/// A host opens one with ``SimulatedHost/rawStreamConnector()``; the router's end goes to the
/// service registered with ``NATBox/listenTCP(port:_:)``. Each end is owned by whoever uses it,
/// and they refer to each other weakly.
public final class SimulatedRawStream: RawByteStream {
  public var onBytes: (([UInt8]) -> Void)?
  public var onEnd: ((StreamCloseReason) -> Void)?
  /// Bytes this end sent.
  public private(set) var bytesSent = 0

  private weak var peer: SimulatedRawStream?
  private weak var network: VirtualNetwork?
  private let oneWay: Duration
  /// No chunk from this end arrives before this instant (the handshake).
  private let firstArrival: Instant
  private var lastArrival: Instant
  private var closed = false

  init(network: VirtualNetwork, oneWay: Duration, firstArrival: Instant) {
    self.network = network
    self.oneWay = oneWay
    self.firstArrival = firstArrival
    self.lastArrival = firstArrival
  }

  /// Both ends of a connection whose packets take `oneWay` each way: the client's first chunk
  /// arrives after SYN, SYN-ACK and the chunk itself, the server's after the usual one.
  static func pair(network: VirtualNetwork, oneWay: Duration)
    -> (client: SimulatedRawStream, server: SimulatedRawStream)
  {
    let now = network.now
    let c = SimulatedRawStream(network: network, oneWay: oneWay, firstArrival: now + oneWay * 3)
    let s = SimulatedRawStream(network: network, oneWay: oneWay, firstArrival: now + oneWay * 2)
    c.peer = s
    s.peer = c
    return (c, s)
  }

  /// A connection attempt that fails after `after` with `reason` (a reset: nothing listens).
  static func refused(network: VirtualNetwork, after: Duration, reason: StreamCloseReason)
    -> SimulatedRawStream
  {
    let end = SimulatedRawStream(network: network, oneWay: after, firstArrival: network.now)
    network.schedule(at: network.now + after) {
      guard !end.closed else { return }
      end.closed = true
      let report = end.onEnd
      end.onBytes = nil
      end.onEnd = nil
      report?(reason)
    }
    return end
  }

  public func send(_ bytes: [UInt8]) {
    guard !closed, !bytes.isEmpty, let peer, let network else { return }
    bytesSent += bytes.count
    let at = Swift.max(network.now + oneWay, lastArrival, firstArrival)
    lastArrival = at
    network.schedule(at: at) { [weak peer] in
      guard let peer, !peer.closed else { return }
      peer.onBytes?(bytes)
    }
  }

  public func close() {
    guard !closed else { return }
    closed = true
    onBytes = nil
    onEnd = nil
    guard let network else { return }
    let at = Swift.max(network.now + oneWay, lastArrival)
    network.schedule(at: at) { [weak peer] in peer?.closedByPeer() }
  }

  private func closedByPeer() {
    guard !closed else { return }
    closed = true
    let report = onEnd
    onBytes = nil
    onEnd = nil
    report?(.closedByPeer)
  }
}

extension SimulatedHost {
  /// The NAT box that is the default gateway of this host's first interface (its home
  /// router), or nil for a host on a realm without one.
  public var router: NATBox? { interfaces.first?.realm?.gateway?.nat }

  /// A ``RawStreamConnector`` for HTTP to a router on this host's LAN: a connection to a TCP
  /// port a NAT box listens on (``NATBox/listenTCP(port:_:)``) on its inside address opens
  /// after the handshake; one to a port nothing listens on is refused (reset) after a round
  /// trip; one to an address no router on the host's networks has goes unanswered, so the
  /// caller's own timeout ends it, as a SYN into the void would.
  public func rawStreamConnector() -> RawStreamConnector {
    { [weak self] address in
      guard let self, let network = self.network else {
        throw RuntimeError.failed("the simulated host's network no longer exists")
      }
      guard
        let iface = self.interfaces.first(where: { $0.realm?.owners[address.ip] != nil }),
        let target = iface.realm?.owners[address.ip]
      else {
        // No event is scheduled: the caller's timeout ends the attempt.
        return SimulatedRawStream(network: network, oneWay: .zero, firstArrival: network.now)
      }
      let oneWay = iface.link.up.latency + target.link.down.latency
      guard let box = target.nat, target.isNATInside,
        let service = box.tcpService(port: address.port)
      else {
        // Nothing listens on that TCP port: a reset, as a real host sends.
        return SimulatedRawStream.refused(network: network, after: oneWay * 2, reason: .refused)
      }
      let ends = SimulatedRawStream.pair(network: network, oneWay: oneWay)
      // Client ports count up from the top of the ephemeral range (no draw from the network's
      // random generator, so adding HTTP does not change a seeded run's other ports).
      self.tcpConnections += 1
      let span = Int(self.ephemeralPorts.upperBound - self.ephemeralPorts.lowerBound) + 1
      let port = Int(self.ephemeralPorts.upperBound) - (self.tcpConnections - 1) % span
      service(ends.server, TransportAddress(ip: iface.address, port: UInt16(port)))
      return ends.client
    }
  }
}
