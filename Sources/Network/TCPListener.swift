import NIOCore
import NIOPosix
import Runtime
import STUN

/// A listening TCP socket on a `NIORuntime`'s loop; every accepted connection is a
/// `TCPConnection` framing STUN and ChannelData. For STUN-over-TCP servers and for tests.
public final class TCPListener: RuntimeResource {
  /// The bound address with the real port.
  public let localAddress: TransportAddress
  /// Connections accepted so far.
  public private(set) var acceptedCount = 0
  /// Whether `close()` was called.
  public private(set) var isClosed = false

  private let runtime: NIORuntime
  private let maximumFrameLength: Int
  private let onAccept: (TCPConnection) -> Void
  private let onReceive: (TCPConnection, StreamFrame) -> Void
  private let onClose: (TCPConnection, TCPCloseReason) -> Void
  private var channel: (any Channel)?

  init(
    runtime: NIORuntime, localAddress: TransportAddress, maximumFrameLength: Int,
    onAccept: @escaping (TCPConnection) -> Void,
    onReceive: @escaping (TCPConnection, StreamFrame) -> Void,
    onClose: @escaping (TCPConnection, TCPCloseReason) -> Void
  ) {
    self.runtime = runtime
    self.localAddress = localAddress
    self.maximumFrameLength = maximumFrameLength
    self.onAccept = onAccept
    self.onReceive = onReceive
    self.onClose = onClose
  }

  /// Hands the listening descriptor to NIO; on the loop this completes synchronously.
  func attach(fd: Int32) {
    let bound = NIOLoopBound(self, eventLoop: runtime.eventLoop)
    let future = ServerBootstrap(group: runtime.eventLoop)
      .childChannelInitializer { child in
        child.eventLoop.makeCompletedFuture(
          Result<Void, any Error> {
            let connection = bound.value.accept(child)
            try child.pipeline.syncOperations.addHandler(TCPConnectionHandler(owner: connection))
          })
      }
      .withBoundSocket(fd)
    future.assumeIsolated().whenComplete { result in
      switch result {
      case .success(let channel):
        if self.isClosed { channel.close(promise: nil) } else { self.channel = channel }
      case .failure:
        self.isClosed = true
        self.runtime.unregister(self)
      }
    }
  }

  private func accept(_ child: any Channel) -> TCPConnection {
    let remote = child.remoteAddress.flatMap(TransportAddress.init) ?? localAddress
    let connection = TCPConnection(
      runtime: runtime, remoteAddress: remote, maximumFrameLength: maximumFrameLength,
      onConnect: { [onAccept] in onAccept($0) }, onReceive: onReceive, onClose: onClose)
    runtime.register(connection)
    acceptedCount += 1
    return connection
  }

  /// Stops listening. Connections already accepted stay open.
  public func close() {
    guard !isClosed else { return }
    isClosed = true
    runtime.unregister(self)
    channel?.close(promise: nil)
    channel = nil
  }
}
