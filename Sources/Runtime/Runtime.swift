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
  /// error callback (`onError` of ``NetworkRuntime/openUDP(_:onReceive:onError:)``), never
  /// thrown: UDP sends are fire-and-forget.
  func send(_ bytes: [UInt8], to destination: TransportAddress)
  /// Sends one datagram with the don't-fragment bit set and no local fragmentation (a path
  /// MTU probe): a datagram too large for a link on the way is dropped there, and the router
  /// may say so with an ICMP error (reported as ``SocketError/Kind/tooBig(mtu:)``).
  func send(_ bytes: [UInt8], to destination: TransportAddress, dontFragment: Bool)
  /// Closes the socket; no callbacks are delivered after this returns.
  func close()
}

/// An error a UDP socket learned about something it sent: an ICMP destination unreachable that
/// came back for it, or a send the local system refused. Delivered to the socket's owner on the
/// runtime's serial context.
public struct SocketError: Error, Sendable, Hashable, CustomStringConvertible {
  /// What went wrong.
  public enum Kind: Sendable, Hashable {
    /// The network said the destination cannot be reached (ICMP, or no route from here).
    case unreachable(Unreachable.Kind)
    /// The local system refused the send for another reason (a full buffer, a closed socket,
    /// a destination of the other address family); `code` is the errno when there is one.
    case sendFailed(code: Int32?)
    /// The datagram was too large for a link on the way and not fragmented (ICMP
    /// fragmentation needed, ICMPv6 packet too big, or this host's own interface); `mtu` is the
    /// largest IP datagram that link takes, when the error said. Not a reason to give up on
    /// the destination.
    case tooBig(mtu: Int?)
  }

  /// What went wrong.
  public var kind: Kind
  /// The remote address the failed datagram was sent to.
  public var destination: TransportAddress
  /// The address that sent the ICMP error; nil for a send the local system refused.
  public var reporter: IPAddress?
  /// When the error was learned, on the runtime's clock.
  public var at: Instant
  /// One sentence for logs.
  public var message: String

  public init(
    kind: Kind, destination: TransportAddress, reporter: IPAddress?, at: Instant, message: String
  ) {
    self.kind = kind
    self.destination = destination
    self.reporter = reporter
    self.at = at
    self.message = message
  }

  /// The evidence a protocol machine takes when this is an unreachable error; nil for other
  /// send failures (which say nothing about the destination).
  public var unreachable: Unreachable? {
    guard case .unreachable(let k) = kind else { return nil }
    return Unreachable(kind: k, destination: destination, reporter: reporter, at: at)
  }

  public var description: String { message }
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

  /// Opens and binds a UDP socket. `onReceive` is called for each arriving datagram, `onError`
  /// for each ICMP error that comes back for a datagram it sent (port, host or network
  /// unreachable, naming the destination) and each send the system refused.
  func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void
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

extension NetworkRuntime {
  /// Opens and binds a UDP socket whose owner does not listen for socket errors.
  public func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void
  ) throws -> any DatagramSocket {
    try openUDP(options, onReceive: onReceive, onError: { _ in })
  }
}
