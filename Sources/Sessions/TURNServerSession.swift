import Runtime
import STUN
import Traversal

/// Runs a ``TURNServer`` over a `NetworkRuntime`: a listening UDP socket plus one relay
/// socket per allocation, a timer for expiries, and clients connected over streams (TCP).
public final class TURNServerSession {
  /// The runtime.
  public let runtime: any NetworkRuntime
  /// The server machine (read it for stats).
  public private(set) var server: TURNServer
  /// Relay sockets that could not be opened (their allocations were dropped).
  public private(set) var relayOpenFailures = 0
  private var listener: (any DatagramSocket)?
  private var relays: [TransportAddress: any DatagramSocket] = [:]
  /// Clients connected over a stream (TURN over TCP), by the address the server sees.
  private var streams: [TransportAddress: any StreamTransport] = [:]
  private lazy var driver = MachineDriver<TURNServerEvent>(
    runtime: runtime,
    transmit: { [weak self] t in self?.route(t) },
    timeout: { [weak self] now in
      guard let self else { return }
      self.apply(self.server.handleTimeout(at: now))
    })
  /// Relays to open and close, after the server's call has returned.
  private lazy var relayChanges = EventDrain<TURNServerEvent> { [weak self] e in self?.change(e) }

  /// Opens the listening socket; throws if it cannot be bound.
  public init(runtime: any NetworkRuntime, configuration: TURNServerConfiguration) throws {
    self.runtime = runtime
    self.server = TURNServer(configuration: configuration)
    listener = try runtime.openUDP(
      UDPSocketOptions(address: configuration.listen.ip, port: configuration.listen.port)
    ) { [weak self] d in
      guard let self else { return }
      self.apply(self.server.handleInput(d.bytes, from: d.source, at: d.receivedAt))
    }
  }

  /// The address clients use.
  public var listenAddress: TransportAddress { server.configuration.listen }
  /// Counters.
  public var stats: TURNServerStats { server.stats }

  /// Serves a client connected over a stream (TURN over TCP, RFC 8656 §3.1): its frames reach
  /// the server as if from `client`, and whatever the server sends to `client` goes back over
  /// the stream. When the stream ends, so does the client's allocation (RFC 8656 §7.2).
  public func acceptStream(_ stream: any StreamTransport, client: TransportAddress) {
    streams[client]?.close()
    streams[client] = stream
    stream.onFrame = { [weak self] frame in
      guard let self else { return }
      self.apply(self.server.handleInput(frame, from: client, at: self.runtime.now))
    }
    stream.onClose = { [weak self] _ in
      guard let self else { return }
      self.streams[client] = nil
      self.apply(self.server.dropAllocation(client: client))
    }
  }

  /// Closes every socket.
  public func close() {
    driver.stop()
    relayChanges.removeAll()
    for s in streams.values { s.close() }
    streams.removeAll()
    listener?.close()
    listener = nil
    for s in relays.values { s.close() }
    relays.removeAll()
  }

  private func apply(_ outputs: [TURNServer.Output]) {
    relayChanges.post(contentsOf: driver.carryOut(outputs))
  }

  /// Sends from the listening socket (or the client's stream) or from a relay socket.
  private func route(_ t: Transmit) {
    let from = t.from ?? server.configuration.listen
    if from == server.configuration.listen {
      if let stream = streams[t.to] {
        stream.send(t.bytes)
      } else {
        listener?.send(t.bytes, to: t.to)
      }
    } else {
      relays[from]?.send(t.bytes, to: t.to)
    }
  }

  private func change(_ event: TURNServerEvent) {
    switch event {
    case .openRelay(let relay):
      do {
        relays[relay] = try runtime.openUDP(
          UDPSocketOptions(address: relay.ip, port: relay.port)
        ) { [weak self] d in
          guard let self else { return }
          self.apply(
            self.server.handleInput(d.bytes, from: d.source, on: relay, at: d.receivedAt))
        }
      } catch {
        // The client got its relayed address already; it will see 437 on its next request.
        relayOpenFailures += 1
        apply(server.dropAllocation(relay: relay))
      }
    case .closeRelay(let relay):
      relays.removeValue(forKey: relay)?.close()
    }
  }
}
