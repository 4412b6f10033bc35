import Runtime
import STUN
import Traversal

/// A UDP socket on a `SimulatedHost`.
public final class SimulatedSocket: DatagramSocket {
  /// The bound address (the wildcard for a wildcard bind) and port.
  public let localAddress: TransportAddress
  private weak var host: SimulatedHost?
  private var onReceive: ((ReceivedDatagram) -> Void)?
  private var onError: ((SocketError) -> Void)?

  init(
    host: SimulatedHost, localAddress: TransportAddress,
    onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void = { _ in }
  ) {
    self.host = host
    self.localAddress = localAddress
    self.onReceive = onReceive
    self.onError = onError
  }

  /// True until `close()`.
  public var isOpen: Bool { onReceive != nil }

  /// Sends a datagram; it arrives (or is dropped) as the network's links and NATs decide.
  /// Sending on a closed socket does nothing.
  public func send(_ bytes: [UInt8], to destination: TransportAddress) {
    guard isOpen, let host else { return }
    host.send(bytes, from: self, to: destination)
  }

  /// Sends a datagram that no link fragments: one larger than a link's
  /// ``LinkConditions/largestDatagram`` is dropped there (a black hole: no ICMP comes back).
  /// Every simulated datagram crosses links whole, so the flag changes nothing else.
  public func send(_ bytes: [UInt8], to destination: TransportAddress, dontFragment: Bool) {
    send(bytes, to: destination)
  }

  /// Unbinds the socket; nothing is delivered to it afterwards.
  public func close() {
    guard isOpen else { return }
    onReceive = nil
    onError = nil
    host?.close(self)
  }

  func deliver(_ datagram: ReceivedDatagram) { onReceive?(datagram) }

  func deliverError(_ error: SocketError) { onError?(error) }
}
