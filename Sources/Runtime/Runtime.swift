import STUN
import Traversal

/// A datagram as a driver hands it to protocol code.
public struct ReceivedDatagram: Sendable {
  /// The payload, exactly as it arrived.
  public var bytes: [UInt8]
  /// Where it came from (after any NAT on the way).
  public var source: TransportAddress
  /// The local address and port it arrived on, when the driver can tell (IP_PKTINFO); for a
  /// socket bound to a specific address this is that address.
  public var destination: TransportAddress?
  /// When it arrived, on the runtime's clock.
  public var receivedAt: Instant

  public init(
    bytes: [UInt8], source: TransportAddress, destination: TransportAddress?, receivedAt: Instant
  ) {
    self.bytes = bytes
    self.source = source
    self.destination = destination
    self.receivedAt = receivedAt
  }
}

/// A bound UDP socket as protocol sessions see it. All calls happen on the runtime's one
/// serial context, and receive callbacks are delivered there too.
public protocol DatagramSocket: AnyObject {
  /// The address and port the socket is bound to. For a socket bound to the wildcard address
  /// this holds the wildcard and the real port.
  var localAddress: TransportAddress { get }
  /// Sends one datagram. Failures (unreachable, no route) are reported through the socket's
  /// error callback, never thrown: UDP sends are fire-and-forget.
  func send(_ bytes: [UInt8], to destination: TransportAddress)
  /// Closes the socket; no callbacks are delivered after this returns.
  func close()
}

/// A cancellable scheduled callback.
public protocol TimerHandle: AnyObject {
  func cancel()
}

/// Options for opening a UDP socket.
public struct UDPSocketOptions: Sendable {
  /// The local address to bind; `nil` means the IPv4 wildcard.
  public var address: IPAddress?
  /// A specific port, or `nil` for any (an ephemeral port, or one from `portRange`).
  public var port: UInt16?
  /// When set and `port` is nil, the socket binds to the first free port in this range
  /// (searched from a random starting point, like the gateway in the seed log).
  public var portRange: ClosedRange<UInt16>?

  public init(address: IPAddress? = nil, port: UInt16? = nil, portRange: ClosedRange<UInt16>? = nil)
  {
    self.address = address
    self.port = port
    self.portRange = portRange
  }
}

/// Errors a runtime raises when it cannot open a socket.
public enum RuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The requested address and port (or every port of the range) is in use.
  case addressInUse(String)
  /// The address is not one of this host's.
  case addressNotAvailable(String)
  /// Anything else the operating system or simulator refused, with its explanation.
  case failed(String)

  public var description: String {
    switch self {
    case .addressInUse(let s): return "address in use: \(s)"
    case .addressNotAvailable(let s): return "address not available on this host: \(s)"
    case .failed(let s): return s
    }
  }
}

/// What a protocol session needs from the world: a clock, timers and UDP sockets.
///
/// Two drivers implement it: real sockets (module `Network`) and the simulated network
/// (module `Simulation`). Every callback a runtime makes happens on one serial context, so
/// session code needs no locks; and a session written against this protocol runs unchanged on
/// both.
public protocol NetworkRuntime: AnyObject {
  /// The current time on this runtime's clock.
  var now: Instant { get }

  /// Opens and binds a UDP socket. `onReceive` is called for each arriving datagram.
  func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void
  ) throws -> any DatagramSocket

  /// Calls `action` once at `deadline` (or as soon as possible if it has passed).
  @discardableResult
  func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> any TimerHandle

  /// The addresses of this host's usable interfaces (up, not loopback or link-local unless the
  /// runtime was configured to include them).
  func localAddresses() -> [IPAddress]

  /// The default gateway of each interface (the router a packet to the internet goes to
  /// first), IPv4 first, without duplicates: where NAT-PMP, PCP and UPnP IGD requests go. The
  /// real runtime reads the host's routing table; the simulator answers from its topology.
  func defaultGateways() -> [IPAddress]
}
