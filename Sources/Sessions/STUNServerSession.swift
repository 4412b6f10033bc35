import Runtime
import STUN
import Traversal

/// Runs a `STUNServer` over a `NetworkRuntime`: one socket per server endpoint, each datagram
/// handed to the server machine, each reply sent from the endpoint the machine chose.
public final class STUNServerSession {
  public let runtime: any NetworkRuntime
  public private(set) var server: STUNServer
  private var sockets: [TransportAddress: any DatagramSocket] = [:]
  private var boxes: [EndpointBox] = []
  /// Sends each reply from the endpoint the machine chose (it has no timers or events).
  private lazy var driver = MachineDriver<Never>(
    runtime: runtime,
    transmit: { [weak self] t in
      guard let self, let from = t.from else { return }
      self.sockets[from]?.send(t.bytes, to: t.to)
    },
    timeout: { _ in })

  /// Opens the server's sockets. A port of 0 is bound to a free port first (on the primary
  /// address), and the alternate address then uses the same port, so the server's
  /// OTHER-ADDRESS and RESPONSE-ORIGIN name the ports really in use. Throws if any endpoint
  /// cannot be bound (and closes those already opened).
  public init(runtime: any NetworkRuntime, configuration: STUNServerConfiguration) throws {
    self.runtime = runtime
    var resolved = configuration
    var opened: [TransportAddress: any DatagramSocket] = [:]
    func open(_ ip: IPAddress, _ port: UInt16) throws -> UInt16 {
      let box = EndpointBox()
      let socket = try runtime.openUDP(
        UDPSocketOptions(address: ip, port: port == 0 ? nil : port)
      ) { [weak box] datagram in
        guard let box, let session = box.session, let endpoint = box.endpoint else { return }
        session.receive(datagram, on: endpoint)
      }
      let endpoint = TransportAddress(ip: ip, port: socket.localAddress.port)
      box.endpoint = endpoint
      opened[endpoint] = socket
      boxes.append(box)
      return endpoint.port
    }
    var boxes: [EndpointBox] = []
    do {
      resolved.port = try open(configuration.primary, configuration.port)
      if let alternate = configuration.alternate, configuration.supportsBehaviorDiscovery {
        resolved.alternatePort = try open(configuration.primary, configuration.alternatePort)
        _ = try open(alternate, resolved.port)
        _ = try open(alternate, resolved.alternatePort)
      }
    } catch {
      for s in opened.values { s.close() }
      throw error
    }
    self.server = STUNServer(configuration: resolved)
    self.sockets = opened
    for box in boxes { box.session = self }
    self.boxes = boxes
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

/// Which endpoint a socket serves, known once it is bound; routes its datagrams to the session.
private final class EndpointBox {
  var endpoint: TransportAddress?
  weak var session: STUNServerSession?
}
