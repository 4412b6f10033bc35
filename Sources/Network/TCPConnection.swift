import NIOCore
import NIOPosix
import Runtime
import STUN
import Traversal

/// Why a TCP connection ended.
public enum TCPCloseReason: Equatable, Sendable, CustomStringConvertible {
  /// The peer closed the connection.
  case closedByPeer
  /// The connection could not be established (refused, timed out, unreachable).
  case connectFailed(StreamCloseReason)
  /// The peer sent bytes that are neither STUN nor ChannelData; we closed the connection.
  case framingError(StreamFramingError)
  /// The connection failed after it was established.
  case failed(StreamCloseReason)

  /// The reason as a stream reports it.
  public var stream: StreamCloseReason {
    switch self {
    case .closedByPeer: .closedByPeer
    case .connectFailed(let r), .failed(let r): r
    case .framingError(let e): .framing("\(e)")
    }
  }

  /// For trace lines: the case and its detail, not a sentence.
  public var description: String { "\(stream)" }
}

/// A STUN-over-TCP connection (RFC 8489 §6.2.2) on a `NIORuntime`'s loop: bytes sent go out as
/// they are; bytes received are cut into STUN messages and ChannelData frames.
///
/// All methods must be called on the runtime's loop; callbacks run there. After `close()`
/// returns no callback runs.
public final class TCPConnection: RuntimeResource {
  /// The peer.
  public let remoteAddress: TransportAddress
  /// Our end, once connected.
  public private(set) var localAddress: TransportAddress?
  /// Frames received.
  public private(set) var receivedCount = 0
  /// Whether the connection is closed (by either side, or failed).
  public var isClosed: Bool { if case .closed = state { true } else { false } }

  private enum State {
    case connecting(pending: [[UInt8]])
    case connected(any Channel)
    case closed
  }

  /// Set for TLS connections: explains a handshake failure in one sentence.
  var tlsDiagnostics: TLSDiagnostics?
  /// For TLS connections, the server's certificate once the handshake succeeded.
  public var tlsPeerCertificate: TLSPeerCertificate? { tlsDiagnostics?.peerCertificate() }
  private let runtime: NIORuntime
  private var state: State = .connecting(pending: [])
  private var framer: StreamFramer
  private let onConnect: (TCPConnection) -> Void
  private let onReceive: (TCPConnection, StreamFrame) -> Void
  private let onClose: (TCPConnection, TCPCloseReason) -> Void

  init(
    runtime: NIORuntime, remoteAddress: TransportAddress, maximumFrameLength: Int,
    onConnect: @escaping (TCPConnection) -> Void,
    onReceive: @escaping (TCPConnection, StreamFrame) -> Void,
    onClose: @escaping (TCPConnection, TCPCloseReason) -> Void
  ) {
    self.runtime = runtime
    self.remoteAddress = remoteAddress
    self.framer = StreamFramer(maximumFrameLength: maximumFrameLength)
    self.onConnect = onConnect
    self.onReceive = onReceive
    self.onClose = onClose
  }

  /// Sends bytes (one or more whole frames, or any part of the stream). Before the connection is
  /// up they are queued; after it closed they are dropped.
  public func send(_ bytes: [UInt8]) {
    switch state {
    case .connecting(var pending):
      pending.append(bytes)
      state = .connecting(pending: pending)
    case .connected(let channel):
      channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    case .closed:
      break
    }
  }

  /// Closes the connection; no callbacks run after this returns.
  public func close() {
    let previous = state
    state = .closed
    runtime.unregister(self)
    if case .connected(let channel) = previous { channel.close(promise: nil) }
  }

  // MARK: Driven by the runtime and the pipeline (on the loop)

  func didConnect(_ channel: any Channel) {
    guard case .connecting(let pending) = state else {
      channel.close(promise: nil)
      return
    }
    state = .connected(channel)
    localAddress = channel.localAddress.flatMap(TransportAddress.init)
    for bytes in pending { channel.write(ByteBuffer(bytes: bytes), promise: nil) }
    if !pending.isEmpty { channel.flush() }
    onConnect(self)
  }

  func connectFailed(_ error: any Error) {
    guard case .connecting = state else { return }
    finish(.connectFailed(closeReason(for: error)))
  }

  func received(_ buffer: ByteBuffer) {
    guard !isClosed else { return }
    framer.append(buffer.readableBytesView)
    do {
      while !isClosed, let frame = try framer.next() {
        receivedCount += 1
        onReceive(self, frame)
      }
    } catch {
      finish(.framingError(error))
    }
  }

  func channelClosed() {
    guard !isClosed else { return }
    finish(.closedByPeer)
  }

  func failed(_ error: any Error) {
    guard !isClosed else { return }
    if let problem = tlsDiagnostics?.explain(error, server: remoteAddress.ip.description) {
      finish(.failed(.tls(problem)))
      return
    }
    finish(.failed(closeReason(for: error)))
  }

  private func finish(_ reason: TCPCloseReason) {
    let previous = state
    state = .closed
    runtime.unregister(self)
    if case .connected(let channel) = previous { channel.close(promise: nil) }
    onClose(self, reason)
  }
}

/// Feeds a TCP channel's events to its `TCPConnection`.
final class TCPConnectionHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  /// Strong: released when the channel goes inactive or the handler is removed.
  private var owner: TCPConnection?

  init(owner: TCPConnection) { self.owner = owner }

  func channelActive(context: ChannelHandlerContext) {
    owner?.didConnect(context.channel)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    owner?.received(unwrapInboundIn(data))
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    owner?.failed(error)
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    owner?.channelClosed()
    owner = nil
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    owner = nil
  }
}
