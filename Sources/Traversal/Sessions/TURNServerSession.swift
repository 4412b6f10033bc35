import STUN

/// Runs a ``TURNServer`` over a `NetworkRuntime`: a listening UDP socket plus one relay
/// socket per allocation, and a timer for expiries.
public final class TURNServerSession {
  /// The runtime.
  public let runtime: any NetworkRuntime
  /// The server machine (read it for stats).
  public private(set) var server: TURNServer
  /// Relay sockets that could not be opened (their allocations were dropped).
  public private(set) var relayOpenFailures = 0
  private var listener: (any DatagramSocket)?
  private var relays: [TransportAddress: any DatagramSocket] = [:]
  private var timer: (any TimerHandle)?
  private var timerDeadline: Instant?

  /// Opens the listening socket; throws if it cannot be bound.
  public init(runtime: any NetworkRuntime, configuration: TURNServerConfiguration) throws {
    self.runtime = runtime
    self.server = TURNServer(configuration: configuration)
    listener = try runtime.openUDP(
      UDPSocketOptions(address: configuration.listen.ip, port: configuration.listen.port)
    ) { [weak self] d in
      guard let self else { return }
      self.apply(self.server.handle(d.bytes, from: d.source, at: d.receivedAt))
    }
  }

  /// The address clients use.
  public var listenAddress: TransportAddress { server.configuration.listen }
  /// Counters.
  public var stats: TURNServerStats { server.stats }

  /// Closes every socket.
  public func close() {
    timer?.cancel()
    timer = nil
    listener?.close()
    listener = nil
    for s in relays.values { s.close() }
    relays.removeAll()
  }

  private func apply(_ outputs: [TURNServerOutput]) {
    for o in outputs {
      switch o {
      case .send(let bytes, let from, let to):
        if from == server.configuration.listen {
          listener?.send(bytes, to: to)
        } else {
          relays[from]?.send(bytes, to: to)
        }
      case .openRelay(let relay):
        do {
          relays[relay] = try runtime.openUDP(
            UDPSocketOptions(address: relay.ip, port: relay.port)
          ) { [weak self] d in
            guard let self else { return }
            self.apply(
              self.server.handleRelay(d.bytes, from: d.source, on: relay, at: d.receivedAt))
          }
        } catch {
          // The client got its relayed address already; it will see 437 on its next request.
          relayOpenFailures += 1
          apply(server.dropAllocation(relay: relay))
        }
      case .closeRelay(let relay):
        relays.removeValue(forKey: relay)?.close()
      case .wake(let at):
        arm(at)
      }
    }
  }

  private func arm(_ deadline: Instant) {
    if timerDeadline == deadline, timer != nil { return }
    timer?.cancel()
    timerDeadline = deadline
    timer = runtime.schedule(at: deadline) { [weak self] in
      guard let self else { return }
      self.timer = nil
      self.timerDeadline = nil
      self.apply(self.server.handleTimeout(at: self.runtime.now))
    }
  }
}
