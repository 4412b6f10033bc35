import Runtime
import STUN
import Traversal

/// Runs a ``TURNClient`` over a `NetworkRuntime`: a UDP socket to the server (or a
/// ``StreamTransport`` for TCP), timers for retransmission and refreshes, and the
/// ``RelayChannel`` seam the ICE sessions use.
///
/// ```swift
/// let relay = try TURNAllocationSession(
///   runtime: runtime, server: server,
///   credentials: TURNCredentials(username: "natscope", password: "secret"))
/// relay.onEvent = { event in print(event) }          // .allocating, .challenged, .allocated…
/// relay.onReceive = { bytes, peer in … }
/// relay.start()
/// // after .allocated:
/// relay.send(Array("hello".utf8), to: peer)          // permission (and channel) first
/// relay.close()                                      // Refresh LIFETIME 0, then .released
/// ```
///
/// A started session keeps itself alive until it is released or fails. All calls and
/// callbacks happen on the runtime's serial context; events and received data are delivered
/// after the client machine's call has returned, one at a time, so a handler may call back in.
public final class TURNAllocationSession: RelayChannel {
  /// The runtime the session runs on.
  public let runtime: any NetworkRuntime
  /// The client machine (read it for stats and state).
  public private(set) var client: TURNClient
  /// Called for every allocation state change; on the runtime's context. Contains no secrets.
  public var onEvent: ((TURNClientEvent) -> Void)?
  /// Data that arrived from a peer through the relay.
  public var onReceive: ((_ bytes: [UInt8], _ from: TransportAddress) -> Void)?
  /// Every event so far, oldest first (the last 1,000).
  public private(set) var events: [TURNClientEvent] = []
  /// How long ``close()`` waits for the release to be answered before closing the socket.
  public var releaseTimeout: Duration = .seconds(5)

  private var socket: (any DatagramSocket)?
  private var stream: (any StreamTransport)?
  private var closeTimer: (any TimerHandle)?
  /// Holds a started session until it is released or fails: runtime callbacks hold it only
  /// weakly, and a caller may start it and let go.
  private var keepAlive: TURNAllocationSession?
  private var finished = false
  private lazy var driver = MachineDriver<TURNClientEvent>(
    runtime: runtime,
    transmit: { [weak self] t in
      guard let self else { return }
      if let stream = self.stream {
        stream.send(t.bytes)
      } else {
        self.socket?.send(t.bytes, to: t.to)
      }
    },
    timeout: { [weak self] now in
      guard let self, !self.finished else { return }
      self.apply(self.client.handleTimeout(at: now))
    })
  private lazy var drain = EventDrain<TURNClientEvent> { [weak self] e in self?.deliver(e) }

  /// A session over UDP: opens its socket now (throws if it cannot).
  public init(
    runtime: any NetworkRuntime, server: TransportAddress, credentials: TURNCredentials,
    configuration: TURNClient.Configuration = TURNClient.Configuration(),
    policy: RetransmissionPolicy = .rfc8489, socketOptions: UDPSocketOptions = UDPSocketOptions()
  ) throws {
    self.runtime = runtime
    self.client = TURNClient(
      server: server, credentials: credentials, transport: .udp, configuration: configuration,
      policy: policy)
    self.socket = try runtime.openUDP(
      socketOptions,
      onReceive: { [weak self] datagram in
        self?.receive(datagram.bytes, from: datagram.source, at: datagram.receivedAt)
      },
      onError: { [weak self] error in
        // ICMP port unreachable from the server: no TURN server there; fail now, not after
        // the retransmissions.
        guard let self, !self.finished, let unreachable = error.unreachable else { return }
        self.apply(self.client.handleUnreachable(unreachable, at: self.runtime.now))
      })
  }

  /// A session over a stream connection to `server` (TCP): requests are not retransmitted;
  /// each waits RFC 8489's 39.5 s, or `policy`'s whole timeout window when one is given.
  public init(
    runtime: any NetworkRuntime, server: TransportAddress, credentials: TURNCredentials,
    stream: any StreamTransport,
    configuration: TURNClient.Configuration = TURNClient.Configuration(),
    policy: RetransmissionPolicy? = nil
  ) {
    self.runtime = runtime
    self.client = TURNClient(
      server: server, credentials: credentials, transport: .stream, configuration: configuration,
      policy: policy)
    self.stream = stream
    stream.onFrame = { [weak self] bytes in
      guard let self else { return }
      self.receive(bytes, from: self.client.server, at: self.runtime.now)
    }
    stream.onClose = { [weak self] reason in
      guard let self, !self.finished else { return }
      self.drain.post(.failed(TURNFailure(cause: .connectionClosed(reason))))
    }
  }

  /// The local address of the UDP socket (nil over a stream).
  public var localAddress: TransportAddress? { socket?.localAddress }

  // MARK: RelayChannel

  /// XOR-RELAYED-ADDRESS (0.0.0.0:0 until allocated).
  public var relayedAddress: TransportAddress {
    client.relayedAddress ?? TransportAddress(ip: .v4(0), port: 0)
  }
  /// XOR-MAPPED-ADDRESS from the Allocate response.
  public var mappedAddress: TransportAddress? { client.mappedAddress }
  /// The TURN server in use.
  public var serverAddress: TransportAddress { client.server }

  /// Starts allocating.
  public func start() {
    guard !finished else { return }
    keepAlive = self
    apply(client.start(at: runtime.now))
  }

  /// Sends `bytes` to `peer` through the relay (permission and channel installed as needed).
  public func send(_ bytes: [UInt8], to peer: TransportAddress) {
    guard !finished else { return }
    apply(client.send(bytes, to: peer, at: runtime.now))
  }

  /// Refreshes the allocation now (it is refreshed on schedule anyway).
  public func refresh() {
    guard !finished else { return }
    apply(client.refresh(at: runtime.now))
  }

  /// Installs permissions for `peers` explicitly.
  public func createPermission(for peers: [IPAddress]) {
    guard !finished else { return }
    apply(client.createPermission(for: peers, at: runtime.now))
  }

  /// Binds a channel to `peer` explicitly.
  public func bindChannel(to peer: TransportAddress) {
    guard !finished else { return }
    apply(client.bindChannel(to: peer, at: runtime.now))
  }

  /// Releases the allocation (Refresh with LIFETIME 0) and closes the socket once the server
  /// answers, or after ``releaseTimeout``.
  public func close() {
    guard !finished else { return }
    apply(client.close(at: runtime.now))
    guard !finished else { return }
    closeTimer = runtime.schedule(at: runtime.now + releaseTimeout) { [weak self] in
      guard let self, !self.finished else { return }
      self.drain.post(.released)
    }
  }

  // MARK: Internals

  private func receive(_ bytes: [UInt8], from source: TransportAddress, at now: Instant) {
    guard !finished else { return }
    apply(client.handleInput(bytes, from: source, at: now))
  }

  private func apply(_ outputs: [TURNClient.Output]) {
    guard !finished else { return }
    drain.post(contentsOf: driver.carryOut(outputs))
  }

  /// One event, after the machine call that produced it has returned: data to the receiver,
  /// the rest to the log and `onEvent`; the allocation's end finishes the session.
  private func deliver(_ e: TURNClientEvent) {
    guard !finished else { return }
    if case .data(let bytes, let peer) = e {
      onReceive?(bytes, peer)
      return
    }
    events.append(e)
    if events.count > 1000 { events.removeFirst(events.count - 1000) }
    onEvent?(e)
    switch e {
    case .released, .failed: finish()
    default: break
    }
  }

  private func finish() {
    guard !finished else { return }
    finished = true
    driver.stop()
    drain.removeAll()
    closeTimer?.cancel()
    closeTimer = nil
    socket?.close()
    socket = nil
    stream?.onFrame = nil
    stream?.onClose = nil
    stream?.close()
    stream = nil
    keepAlive = nil
  }
}
