import NIOCore
import NIOPosix
import Runtime
import STUN
import Traversal

/// A bound UDP socket on a `NIORuntime`'s loop.
///
/// Sends go straight to the socket with a non-blocking `sendto` on the loop, so a failure
/// (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, a full send buffer) is known at once: it is counted
/// and reported to ``onError``; it never closes the socket. Receives come through SwiftNIO with
/// `IP_PKTINFO` / `IPV6_RECVPKTINFO` on, which tells each datagram's local destination address.
///
/// All methods must be called on the runtime's loop; callbacks run there.
///
/// - Note: Linux reports ICMP errors (port unreachable) to an unconnected UDP socket only when
///   `IP_RECVERR` is on. natscope leaves it off: SwiftNIO does not read the error queue, and on
///   the `EPOLLERR` such an error raises it closes the channel for any pending error other than
///   ECONNREFUSED (an ICMP host unreachable would take the socket down). So a send to a closed
///   port is found by timeout here. Errors the kernel returns from `sendto` itself are reported.
public final class UDPSocket: DatagramSocket, RuntimeResource {
  /// The largest datagram received whole (the largest UDP payload); longer ones cannot exist.
  public static let maximumDatagramSize = 65_536

  /// The bound address (wildcard or specific) with the real port.
  public let localAddress: TransportAddress
  /// Called on the loop for every send or receive error; the socket stays open.
  public var onError: ((UDPSocketError) -> Void)?
  /// Datagrams handed to the kernel.
  public private(set) var sentCount = 0
  /// Datagrams delivered to `onReceive`.
  public private(set) var receivedCount = 0
  /// Send and receive errors (each also reported to `onError`).
  public private(set) var errorCount = 0
  /// Whether `close()` was called or the channel went away.
  public private(set) var isClosed = false

  private let runtime: NIORuntime
  private let fd: Int32
  private let onReceive: (ReceivedDatagram) -> Void
  private var channel: (any Channel)?
  private var fdOwnedByNIO = false

  init(
    runtime: NIORuntime, fd: Int32, localAddress: TransportAddress,
    onReceive: @escaping (ReceivedDatagram) -> Void
  ) {
    self.runtime = runtime
    self.fd = fd
    self.localAddress = localAddress
    self.onReceive = onReceive
  }

  /// Hands the bound descriptor to NIO. On the loop, `withBoundSocket` sets the channel up
  /// synchronously, so reads never arrive before the handler is in place.
  func attach() {
    let loop = runtime.eventLoop
    // NIO's default receive buffer (2048 bytes) would truncate larger datagrams (TURN data).
    let bootstrap = DatagramBootstrap(group: loop)
      .channelOption(.receivePacketInfo, value: true)
      .channelOption(
        .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.maximumDatagramSize))
    let future = bootstrap.withBoundSocket(fd)
    fdOwnedByNIO = true
    future.assumeIsolated().whenComplete { result in
      switch result {
      case .success(let channel):
        if self.isClosed {
          channel.close(promise: nil)
          return
        }
        self.channel = channel
        do {
          try channel.pipeline.syncOperations.addHandler(DatagramReadHandler(owner: self))
        } catch {
          self.report(UDPSocketError(operation: .receive, destination: nil, message: "\(error)"))
          self.close()
        }
      case .failure(let error):
        // NIO closed the descriptor when it could not adopt it.
        self.report(UDPSocketError(operation: .receive, destination: nil, message: "\(error)"))
        self.markClosed()
      }
    }
  }

  /// Sends one datagram now. Errors are counted and reported to `onError`, never thrown.
  public func send(_ bytes: [UInt8], to destination: TransportAddress) {
    guard !isClosed else {
      report(UDPSocketError(operation: .send, destination: destination, message: "socket closed"))
      return
    }
    guard destination.ip.family == localAddress.ip.family else {
      report(
        UDPSocketError(
          operation: .send, destination: destination,
          message: "cannot send to \(destination) from a socket bound to \(localAddress)"))
      return
    }
    let code = POSIXSocket.sendTo(fd, bytes, destination)
    if code == 0 {
      sentCount += 1
    } else {
      report(
        UDPSocketError(
          operation: .send, destination: destination, code: code,
          message: "cannot send to \(destination): \(errnoText(code))"))
    }
  }

  /// Closes the socket; no callbacks run after this returns.
  public func close() {
    guard !isClosed else { return }
    markClosed()
    if let channel {
      channel.close(promise: nil)
      self.channel = nil
    } else if !fdOwnedByNIO {
      _ = systemClose(fd)
    }
  }

  func markClosed() {
    isClosed = true
    runtime.unregister(self)
  }

  func report(_ error: UDPSocketError) {
    errorCount += 1
    onError?(error)
  }

  func deliver(_ envelope: AddressedEnvelope<ByteBuffer>) {
    guard !isClosed, let source = TransportAddress(envelope.remoteAddress) else { return }
    var destination: TransportAddress?
    if let info = envelope.metadata?.packetInfo,
      let arrivedOn = TransportAddress(info.destinationAddress)
    {
      destination = TransportAddress(ip: arrivedOn.ip, port: localAddress.port)
    } else if !localAddress.ip.isUnspecified {
      destination = localAddress
    }
    let bytes = Array(envelope.data.readableBytesView)
    receivedCount += 1
    onReceive(
      ReceivedDatagram(
        bytes: bytes, source: source, destination: destination, receivedAt: runtime.now))
  }

  func channelWentAway() {
    guard !isClosed else { return }
    channel = nil
    markClosed()
    report(
      UDPSocketError(operation: .receive, destination: nil, message: "socket closed by the system"))
  }
}

/// A send or receive failure on a UDP socket.
public struct UDPSocketError: Error, Sendable, CustomStringConvertible {
  /// What failed.
  public enum Operation: Sendable { case send, receive }

  /// Whether a send or a receive failed.
  public var operation: Operation
  /// Where the failed datagram was going, for sends.
  public var destination: TransportAddress?
  /// The `errno` value, when the system gave one.
  public var code: Int32?
  /// One sentence saying what happened.
  public var message: String

  /// Creates an error.
  public init(
    operation: Operation, destination: TransportAddress?, code: Int32? = nil, message: String
  ) {
    self.operation = operation
    self.destination = destination
    self.code = code
    self.message = message
  }

  /// The message.
  public var description: String { message }
}

/// Delivers datagrams and read errors from the NIO pipeline to the socket.
final class DatagramReadHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>

  /// Strong: the socket lives while its channel does; closing the channel breaks the cycle.
  private var owner: UDPSocket?

  init(owner: UDPSocket) { self.owner = owner }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    owner?.deliver(unwrapInboundIn(data))
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    owner?.report(
      UDPSocketError(
        operation: .receive, destination: nil, code: (error as? IOError)?.errnoCode,
        message: "receive error: \(error)"))
  }

  func channelInactive(context: ChannelHandlerContext) {
    owner?.channelWentAway()
    owner = nil
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    owner = nil
  }
}
