import NIOCore
import NIOPosix
import Runtime
import STUN
import Traversal

/// A ``RawByteStream`` over a plain NIO TCP channel on a ``NIORuntime``'s loop (HTTP to a UPnP
/// IGD device): bytes pass through unframed in both directions.
///
/// All methods must be called on the runtime's loop; callbacks run there. After `close()`
/// returns no callback runs.
public final class RawTCPStream: RawByteStream, RuntimeResource {
  public var onBytes: (([UInt8]) -> Void)?
  public var onEnd: ((StreamCloseReason) -> Void)?
  /// The peer.
  public let remoteAddress: TransportAddress

  private enum State {
    case connecting(pending: [[UInt8]])
    case connected(any Channel)
    case closed
  }

  private let runtime: NIORuntime
  private var state: State = .connecting(pending: [])

  /// Connects to `remote` (returns at once; bytes queue until connected). Call on the loop.
  public init(runtime: NIORuntime, remote: TransportAddress, connectTimeout: Duration) throws {
    guard runtime.eventLoop.inEventLoop else {
      throw RuntimeError.failed(
        "RawTCPStream must be opened on the runtime's event loop (inside run or onLoop)")
    }
    self.runtime = runtime
    self.remoteAddress = remote
    runtime.register(self)
    let bound = NIOLoopBound(self, eventLoop: runtime.eventLoop)
    ClientBootstrap(group: runtime.eventLoop)
      .connectTimeout(.nanoseconds(min(max(connectTimeout.nanoseconds, 0), 86_400_000_000_000)))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture(
          Result<Void, any Error> {
            try channel.pipeline.syncOperations.addHandler(RawTCPHandler(owner: bound.value))
          })
      }
      .connect(to: remote.nioAddress)
      .assumeIsolated().whenFailure { [weak self] error in
        guard let self, case .connecting = self.state else { return }
        self.finish(closeReason(for: error))
      }
  }

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

  public func close() {
    let previous = state
    state = .closed
    onBytes = nil
    onEnd = nil
    runtime.unregister(self)
    if case .connected(let channel) = previous { channel.close(promise: nil) }
  }

  // MARK: Driven by the pipeline (on the loop)

  fileprivate func didConnect(_ channel: any Channel) {
    guard case .connecting(let pending) = state else {
      channel.close(promise: nil)
      return
    }
    state = .connected(channel)
    for bytes in pending { channel.write(ByteBuffer(bytes: bytes), promise: nil) }
    if !pending.isEmpty { channel.flush() }
  }

  fileprivate func received(_ buffer: ByteBuffer) {
    guard case .connected = state else { return }
    onBytes?(Array(buffer.readableBytesView))
  }

  fileprivate func ended(_ reason: StreamCloseReason) {
    guard !isClosed else { return }
    finish(reason)
  }

  private var isClosed: Bool { if case .closed = state { true } else { false } }

  private func finish(_ reason: StreamCloseReason) {
    let previous = state
    let callback = onEnd
    state = .closed
    onBytes = nil
    onEnd = nil
    runtime.unregister(self)
    if case .connected(let channel) = previous { channel.close(promise: nil) }
    callback?(reason)
  }
}

/// Feeds a raw TCP channel's events to its ``RawTCPStream``.
private final class RawTCPHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  /// Strong: released when the channel goes inactive or the handler is removed.
  private var owner: RawTCPStream?

  init(owner: RawTCPStream) { self.owner = owner }

  func channelActive(context: ChannelHandlerContext) {
    owner?.didConnect(context.channel)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    owner?.received(unwrapInboundIn(data))
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    owner?.ended(closeReason(for: error))
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    owner?.ended(.closedByPeer)
    owner = nil
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    owner = nil
  }
}

extension NIORuntime {
  /// A ``RawStreamConnector`` that opens plain TCP connections on this runtime (HTTP to a UPnP
  /// IGD device).
  public func rawStreamConnector(connectTimeout: Duration = .seconds(2)) -> RawStreamConnector {
    { [unowned self] address in
      try RawTCPStream(runtime: self, remote: address, connectTimeout: connectTimeout)
    }
  }
}
