import NIOCore
import NIOPosix
import Runtime
import STUN
import Traversal

/// The real-socket driver: a `NetworkRuntime` on one SwiftNIO event loop.
///
/// Every callback (datagram receive, timer, TCP events) runs on that one loop, so session code
/// written against `NetworkRuntime` needs no locks. The runtime's own methods (`openUDP`,
/// `schedule`, `openTCP`, and the socket methods) must be called on the loop too: start a
/// session with ``run(timeout:_:)`` (or ``onLoop(_:)``), whose body runs there.
///
/// ```swift
/// let runtime = NIORuntime()
/// defer { runtime.shutdown() }
/// let reply: [UInt8] = try runtime.run(timeout: .seconds(5)) { rt, done in
///   let socket = try rt.openUDP(UDPSocketOptions(portRange: 40000...50000)) { datagram in
///     done.succeed(datagram.bytes)
///   }
///   socket.send(request, to: server)
///   rt.schedule(at: rt.now + .seconds(3)) { done.fail(RuntimeError.failed("no answer")) }
/// }
/// ```
public final class NIORuntime: NetworkRuntime, Sendable {
  /// The loop every callback runs on.
  public let eventLoop: any EventLoop
  private let group: MultiThreadedEventLoopGroup?
  private let origin: NIODeadline
  private let includeLoopback: Bool
  private let includeLinkLocal: Bool
  /// Open sockets and connections, kept alive until closed (as an open descriptor is) and
  /// closed by `closeAll`/`shutdown`. Keyed by object identity.
  private let registry: NIOLoopBoundBox<[ObjectIdentifier: any RuntimeResource]>
  /// Set by `shutdown()`: NIO drops tasks submitted to a stopped loop, so `run`/`onLoop` must
  /// refuse rather than wait forever.
  private let stopped = Latch()

  /// Creates a runtime with its own one-thread event loop group.
  /// - Parameters:
  ///   - includeLoopback: whether `localAddresses()` lists loopback addresses.
  ///   - includeLinkLocal: whether `localAddresses()` lists link-local addresses.
  public convenience init(includeLoopback: Bool = false, includeLinkLocal: Bool = false) {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    self.init(
      group: group, eventLoop: group.next(), includeLoopback: includeLoopback,
      includeLinkLocal: includeLinkLocal)
  }

  /// Creates a runtime on a loop someone else owns; `shutdown()` then closes the runtime's
  /// sockets but leaves the loop running.
  public convenience init(
    eventLoop: any EventLoop, includeLoopback: Bool = false, includeLinkLocal: Bool = false
  ) {
    self.init(
      group: nil, eventLoop: eventLoop, includeLoopback: includeLoopback,
      includeLinkLocal: includeLinkLocal)
  }

  private init(
    group: MultiThreadedEventLoopGroup?, eventLoop: any EventLoop, includeLoopback: Bool,
    includeLinkLocal: Bool
  ) {
    self.group = group
    self.eventLoop = eventLoop
    self.origin = .now()
    self.includeLoopback = includeLoopback
    self.includeLinkLocal = includeLinkLocal
    self.registry = .makeBoxSendingValue([:], eventLoop: eventLoop)
  }

  // MARK: Clock and timers

  /// Monotonic time since the runtime was created.
  public var now: Instant {
    Instant(
      nanoseconds: Int64(
        truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds &- origin.uptimeNanoseconds))
  }

  /// The NIO deadline of an instant on this runtime's clock.
  func deadline(_ instant: Instant) -> NIODeadline {
    if instant == .distantFuture { return .distantFuture }
    if instant.nanoseconds <= 0 { return origin }
    let (sum, overflow) = origin.uptimeNanoseconds.addingReportingOverflow(
      UInt64(instant.nanoseconds))
    return overflow ? .distantFuture : .uptimeNanoseconds(sum)
  }

  /// Calls `action` on the loop at `deadline` (at once if it has passed); timers with the same
  /// deadline fire in the order they were scheduled. Must be called on the loop.
  @discardableResult
  public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> any TimerHandle {
    let scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: self.deadline(deadline)) {
      action()
    }
    return NIOTimer(scheduled)
  }

  // MARK: Sockets

  /// Opens and binds a UDP socket, synchronously: the returned socket's `localAddress` holds
  /// the real port. IPv6 sockets are IPv6-only. Must be called on the loop. The runtime keeps
  /// the socket open (and its callbacks alive) until `close()`, `closeAll()` or `shutdown()`.
  ///
  /// - Throws: `RuntimeError.addressInUse` (the port, or every port of the range, is taken),
  ///   `.addressNotAvailable` (not this host's address), `.failed` (anything else, including a
  ///   call from off the loop).
  public func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void
  ) throws -> any DatagramSocket {
    try openUDPSocket(options, onReceive: onReceive, onError: onError)
  }

  /// `openUDP` returning the concrete socket type, which has counters.
  public func openUDPSocket(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void = { _ in }
  ) throws -> UDPSocket {
    guard eventLoop.inEventLoop else {
      throw RuntimeError.failed(
        "openUDP must be called on the runtime's event loop (inside run or onLoop)")
    }
    let (fd, local) = try POSIXSocket.openBoundUDP(options)
    let socket = UDPSocket(
      runtime: self, fd: fd, localAddress: local, onReceive: onReceive, onError: onError)
    do {
      try socket.attach()
    } catch {
      _ = systemClose(fd)
      throw error
    }
    register(socket)
    return socket
  }

  /// Opens a STUN-over-TCP connection to `remote`. Returns at once; `onConnect` runs when the
  /// connection is up, `onReceive` for every STUN message or ChannelData frame, `onClose` once
  /// when it ends other than by `close()` (refused, timed out, peer closed, bad bytes).
  /// Must be called on the loop.
  ///
  /// - Parameters:
  ///   - connectTimeout: how long to wait for the connection.
  ///   - maximumFrameLength: a frame announcing a larger size closes the connection.
  public func openTCP(
    to remote: TransportAddress, connectTimeout: Duration = .seconds(5),
    maximumFrameLength: Int = 20 + 65_535,
    onConnect: @escaping (TCPConnection) -> Void = { _ in },
    onReceive: @escaping (TCPConnection, StreamFrame) -> Void,
    onClose: @escaping (TCPConnection, TCPCloseReason) -> Void,
    tls: TLSClientSettings? = nil
  ) throws -> TCPConnection {
    guard eventLoop.inEventLoop else {
      throw RuntimeError.failed(
        "openTCP must be called on the runtime's event loop (inside run or onLoop)")
    }
    let tlsContext = try tls?.makeContext()
    let connection = TCPConnection(
      runtime: self, remoteAddress: remote, maximumFrameLength: maximumFrameLength,
      onConnect: onConnect, onReceive: onReceive, onClose: onClose)
    connection.tlsDiagnostics = tls.map(TLSDiagnostics.init(settings:))
    register(connection)
    let bound = NIOLoopBound(connection, eventLoop: eventLoop)
    let tlsBound = NIOLoopBound(
      tlsContext.flatMap { c in connection.tlsDiagnostics.map { (c, $0) } }, eventLoop: eventLoop)
    ClientBootstrap(group: eventLoop)
      // Clamped: NIO adds the timeout to "now" without overflow checks.
      .connectTimeout(.nanoseconds(min(max(connectTimeout.nanoseconds, 0), 86_400_000_000_000)))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture(
          Result<Void, any Error> {
            if let (context, diagnostics) = tlsBound.value {
              try channel.pipeline.syncOperations.addHandler(
                TLSHandlerFactory.make(diagnostics, context))
            }
            try channel.pipeline.syncOperations.addHandler(
              TCPConnectionHandler(owner: bound.value))
          })
      }
      .connect(to: remote.nioAddress)
      .assumeIsolated().whenFailure { connection.connectFailed($0) }
    return connection
  }

  /// Listens for STUN-over-TCP connections on `address` (port 0 for any); the listener's
  /// `localAddress` holds the real port on return. Callbacks as for `openTCP`, with `onAccept`
  /// for each new connection. Must be called on the loop.
  public func listenTCP(
    on address: TransportAddress, maximumFrameLength: Int = 20 + 65_535,
    onAccept: @escaping (TCPConnection) -> Void = { _ in },
    onReceive: @escaping (TCPConnection, StreamFrame) -> Void,
    onClose: @escaping (TCPConnection, TCPCloseReason) -> Void = { _, _ in }
  ) throws -> TCPListener {
    guard eventLoop.inEventLoop else {
      throw RuntimeError.failed(
        "listenTCP must be called on the runtime's event loop (inside run or onLoop)")
    }
    let (fd, local) = try POSIXSocket.openListeningTCP(address)
    let listener = TCPListener(
      runtime: self, localAddress: local, maximumFrameLength: maximumFrameLength,
      onAccept: onAccept, onReceive: onReceive, onClose: onClose)
    register(listener)
    listener.attach(fd: fd)
    return listener
  }

  func register(_ resource: any RuntimeResource) {
    registry.value[ObjectIdentifier(resource)] = resource
  }

  func unregister(_ object: AnyObject) {
    registry.value[ObjectIdentifier(object)] = nil
  }

  /// Closes every socket and connection this runtime opened. Must be called on the loop.
  public func closeAll() {
    let open = registry.value
    registry.value = [:]
    for resource in open.values { resource.close() }
  }

  /// The addresses of this host's interfaces that are up, IPv4 first (loopback and link-local
  /// only as configured at `init`).
  public func localAddresses() -> [IPAddress] {
    Interfaces.list(includeLoopback: includeLoopback, includeLinkLocal: includeLinkLocal).map(
      \.address)
  }

  // MARK: Running a session

  /// Runs `body` on the loop and blocks the caller until the body (or a callback it set up)
  /// completes `done`, or `timeout` passes. Do not call it on the loop itself.
  ///
  /// - Throws: `RunError.timedOut` after `timeout`; any error `body` throws or `done` fails with.
  public func run<Result: Sendable>(
    timeout: Duration,
    _ body: @escaping @Sendable (NIORuntime, RunCompletion<Result>) throws -> Void
  ) throws -> Result {
    guard !eventLoop.inEventLoop else { throw RunError.calledOnLoop }
    guard !stopped.isSet else { throw RunError.shutDown }
    let promise = eventLoop.makePromise(of: Result.self)
    let done = RunCompletion(promise: promise)
    eventLoop.execute {
      let timer = self.eventLoop.scheduleTask(deadline: self.deadline(self.now + timeout)) {
        promise.fail(RunError.timedOut(timeout))
      }
      promise.futureResult.whenComplete { _ in timer.cancel() }
      do {
        try body(self, done)
      } catch {
        promise.fail(error)
      }
    }
    return try promise.futureResult.wait()
  }

  /// Runs `body` on the loop and returns its result, blocking the caller. Do not call it on
  /// the loop itself.
  public func onLoop<Result: Sendable>(
    _ body: @escaping @Sendable (NIORuntime) throws -> Result
  ) throws -> Result {
    guard !eventLoop.inEventLoop else { throw RunError.calledOnLoop }
    guard !stopped.isSet else { throw RunError.shutDown }
    return try eventLoop.submit { try body(self) }.wait()
  }

  /// Closes every socket and connection and, when the runtime owns its loop, stops the loop.
  /// Call it off the loop (it blocks until done); on the loop it closes the sockets and stops
  /// an owned loop asynchronously. Calling it twice is harmless; `run` and `onLoop` throw
  /// `RunError.shutDown` afterwards. (A runtime on someone else's loop must be shut down
  /// before that loop is.)
  public func shutdown() {
    guard stopped.trySet() else { return }
    if eventLoop.inEventLoop {
      closeAll()
      group?.shutdownGracefully { _ in }
      return
    }
    _ = try? eventLoop.submit { self.closeAll() }.wait()
    try? group?.syncShutdownGracefully()
  }
}

/// How a `run` ends; pass it to callbacks, call `succeed` or `fail` once (later calls are
/// ignored). Safe to use from any thread.
public struct RunCompletion<Result: Sendable>: Sendable {
  let promise: EventLoopPromise<Result>

  /// Ends the run with `value`.
  public func succeed(_ value: Result) { promise.succeed(value) }

  /// Ends the run with `error`, which `run` throws.
  public func fail(_ error: any Error) { promise.fail(error) }
}

extension RunCompletion where Result == Void {
  /// Ends the run.
  public func succeed() { promise.succeed(()) }
}

/// Why `run` or `onLoop` failed by itself.
public enum RunError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The session did not finish within the given time.
  case timedOut(Duration)
  /// `run`/`onLoop` was called on the runtime's own loop, where it would deadlock.
  case calledOnLoop
  /// The runtime was shut down.
  case shutDown

  /// One sentence.
  public var description: String {
    switch self {
    case .timedOut(let d): return "the session did not finish within \(d)"
    case .calledOnLoop:
      return "run and onLoop block, so they cannot be called on the runtime's own event loop"
    case .shutDown: return "the network runtime has been shut down"
    }
  }
}

/// Something the runtime keeps open until it is closed.
protocol RuntimeResource: AnyObject {
  func close()
}

/// A timer scheduled on the runtime's loop.
final class NIOTimer: TimerHandle {
  private let scheduled: Scheduled<Void>

  init(_ scheduled: Scheduled<Void>) { self.scheduled = scheduled }

  func cancel() { scheduled.cancel() }
}
