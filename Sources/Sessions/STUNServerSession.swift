import Runtime
import STUN
import Traversal

/// Runs a `STUNServer` over a `NetworkRuntime`: one socket per server endpoint, each datagram
/// handed to the server machine, each reply sent from the endpoint the machine chose.
public final class STUNServerSession {
  public let runtime: any NetworkRuntime
  public private(set) var server: STUNServer
  private var sockets: [TransportAddress: any DatagramSocket] = [:]
  /// Sends each reply from the endpoint the machine chose (it has no timers or events).
  private lazy var driver = MachineDriver<Never>(
    runtime: runtime,
    transmit: { [weak self] t in
      guard let self, let from = t.from else { return }
      self.sockets[from]?.send(t.bytes, to: t.to)
    },
    timeout: { _ in })

  /// Opens the server's sockets. Throws if any endpoint cannot be bound (and closes those
  /// already opened).
  public init(runtime: any NetworkRuntime, configuration: STUNServerConfiguration) throws {
    self.runtime = runtime
    self.server = STUNServer(configuration: configuration)
    do {
      for endpoint in configuration.endpoints {
        let socket = try runtime.openUDP(
          UDPSocketOptions(address: endpoint.ip, port: endpoint.port)
        ) {
          [weak self] datagram in
          self?.receive(datagram, on: endpoint)
        }
        sockets[endpoint] = socket
      }
    } catch {
      close()
      throw error
    }
  }

  /// The addresses the server listens on.
  public var endpoints: [TransportAddress] { server.configuration.endpoints }

  public var stats: STUNServerStats { server.stats }

  public func close() {
    driver.stop()
    for s in sockets.values { s.close() }
    sockets.removeAll()
  }

  private func receive(_ datagram: ReceivedDatagram, on endpoint: TransportAddress) {
    driver.carryOut(
      server.handleInput(datagram.bytes, from: datagram.source, on: endpoint, at: runtime.now))
  }
}
