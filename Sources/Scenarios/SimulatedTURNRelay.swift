import Report
import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// A TURN relay on a `SimulatedLab`'s internet: a public host (203.0.113.20) running
/// natscope's own `TURNServerSession` (UDP on port 3478, or simulated TCP through
/// `streamConnector(for:)`; relayed addresses on the same IP),
/// with one demo user whose password never leaves this object.
///
/// ```swift
/// let relay = try lab.addTURNRelay()
/// let session = ICESession(runtime: host, role: .controlling,
///   relays: [relay.relayFactory(for: host)])
/// ```
public final class SimulatedTURNRelay {
  /// The relay's public address.
  public static let address = IPAddress.v4(0xCB00_7114)  // 203.0.113.20
  /// The long-term credential realm.
  public static let realm = "natscope.demo"
  /// The demo user's name (the password is private).
  public static let username = "demo"

  /// The relay host.
  public let host: SimulatedHost
  /// The TURN server.
  public let server: TURNServerSession
  private let credentials: TURNCredentials
  /// The client port of the last simulated TCP connection.
  private var nextStreamPort: UInt16 = 39999
  /// Every allocation session created by `relayFactory(for:)`, oldest first.
  public private(set) var allocations: [TURNAllocationSession] = []

  /// Where clients reach the server.
  public var serverAddress: TransportAddress { server.listenAddress }

  /// Adds the relay host to `network`'s `internet` realm and starts the server. The password
  /// is derived from `seed`, so the simulation stays deterministic; it is never printed.
  init(network: VirtualNetwork, internet: Simulation.Realm, seed: UInt64) throws {
    host = try network.addHost("turn-relay", in: internet, address: Self.address)
    var g = SeededGenerator(seed: seed ^ 0x7475_726E)
    let hex = Array("0123456789abcdef")
    let password = String((0..<24).map { _ in hex[Int(g.next() % 16)] })
    credentials = TURNCredentials(username: Self.username, password: password)
    server = try TURNServerSession(
      runtime: host,
      configuration: TURNServerConfiguration(
        listen: TransportAddress(ip: Self.address, port: 3478), relayIP: Self.address,
        realm: Self.realm, users: [Self.username: password], software: "natscope (simulated)"))
  }

  /// The relay as a `ConnectSession` TURN server (UDP, the demo user; the password stays
  /// hidden in descriptions and reports).
  public var connectServer: ConnectTURNServer {
    ConnectTURNServer(address: serverAddress, credentials: credentials)
  }

  /// A factory for an `ICESession` on `host`: it allocates on this relay with the demo user
  /// and completes with the allocation once the server grants it, or with the failure (the
  /// server's explanation, or the socket error). `onEvent` sees every allocation event.
  public func relayFactory(
    for host: SimulatedHost, onEvent: ((TURNClientEvent) -> Void)? = nil
  ) -> RelayChannelFactory {
    let server = serverAddress
    let credentials = credentials
    return { [weak self] completion in
      let session: TURNAllocationSession
      do {
        session = try TURNAllocationSession(
          runtime: host, server: server, credentials: credentials)
      } catch let error as RuntimeError {
        completion(.failure(error))
        return
      } catch {
        completion(.failure(.failed("\(error)")))
        return
      }
      self?.allocations.append(session)
      var done = false
      session.onEvent = { event in
        onEvent?(event)
        guard !done else { return }
        switch event {
        case .allocated:
          done = true
          completion(.success(session))
        case .failed(let failure):
          done = true
          completion(.failure(.failed(failure.explanation)))
        default:
          break
        }
      }
      session.start()
    }
  }

  /// A TCP connector for a `ConnectSession` on `host` (TURN over TCP to this relay): each
  /// connection is a ``SimulatedStreamEnd`` pair that the server sees coming from the host's
  /// outermost public address and a fresh port, with the path's latency each way.
  /// Connections to any other address are refused.
  public func streamConnector(for host: SimulatedHost) -> StreamConnector {
    return { [weak self] server in
      guard let self, server == self.serverAddress else {
        throw RuntimeError.failed("connection refused: no TCP server listens at \(server)")
      }
      let route = host.routeToInternet()
      self.nextStreamPort = self.nextStreamPort == UInt16.max ? 40000 : self.nextStreamPort + 1
      let client = TransportAddress(ip: route.publicIP, port: self.nextStreamPort)
      let ends = SimulatedStreamEnd.connect(
        client: host, server: self.host, oneWay: route.latency + self.host.downLatency)
      self.server.acceptStream(ends.server, client: client)
      return ends.client
    }
  }

  /// The relay as a `ConnectSession` TURN server reached over TCP (pass
  /// ``streamConnector(for:)`` to the session too).
  public var connectServerOverTCP: ConnectTURNServer {
    ConnectTURNServer(address: serverAddress, credentials: credentials, transport: .tcp)
  }

  /// Releases every allocation made through `relayFactory(for:)` that is still open.
  public func closeAllocations() {
    for a in allocations { a.close() }
  }
}
