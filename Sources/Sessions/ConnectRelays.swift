import Report
import Runtime
import STUN
import Traversal

/// The TURN allocations of one ``ConnectSession``: a relayed-candidate factory per configured
/// server for the ICE session, the allocations still open (released when the session
/// closes), and what each server did, recorded as it happened for the report's relay rows.
///
/// All calls and callbacks happen on the runtime's serial context.
final class ConnectRelays {
  /// Records a session event (a relay's events, why one is unavailable, its certificate).
  var record: ((ConnectEvent) -> Void)?
  /// Called when an open allocation ended (released, or failed).
  var onEnded: (() -> Void)?
  /// The allocations not yet released, whether or not they were handed to ICE.
  private(set) var open: [TURNAllocationSession] = []
  /// Those handed to the ICE session (it releases them when it closes).
  private var handed: Set<ObjectIdentifier> = []
  private let servers: [ConnectTURNServer]
  /// What each TURN server did so far, by its address.
  private var evidence: [TransportAddress: ConnectRelayEvidence] = [:]

  init(servers: [ConnectTURNServer]) {
    self.servers = servers
    for server in servers {
      evidence[server.address] = ConnectRelayEvidence(
        server: server.address, transport: server.relayTransport)
    }
  }

  /// What each configured TURN server did, as recorded when it happened: the relayed address,
  /// or the reason there is none (the report module words it).
  func outcomes(gatheringTimeout: Duration) -> [ConnectReport.RelayServer] {
    servers.map { server in
      (evidence[server.address]
        ?? ConnectRelayEvidence(server: server.address, transport: server.relayTransport))
        .row(gatheringTimeout: gatheringTimeout)
    }
  }

  /// Closes the allocations still under way (not yet handed to ICE, which closes its own).
  func closeUnhanded() {
    for turn in open where !handed.contains(ObjectIdentifier(turn)) { turn.close() }
  }

  /// The ICE session's factory of a relayed candidate on `server`, over UDP, or over the
  /// stream `connector` opens (TCP, or TLS for `turns:`).
  func factory(
    _ server: ConnectTURNServer, runtime: any NetworkRuntime, portRange: ClosedRange<UInt16>?,
    connector: StreamConnector?
  ) -> RelayChannelFactory {
    { [weak self] completion in
      guard let self else {
        completion(.failure(.failed("the session is gone")))
        return
      }
      let turn: TURNAllocationSession
      // The TLS stream of a turns: server, whose certificate the report names.
      var stream: (any StreamTransport)?
      do {
        switch server.transport {
        case .udp:
          turn = try TURNAllocationSession(
            runtime: runtime, server: server.address, credentials: server.credentials,
            policy: .diagnostics(),
            socketOptions: UDPSocketOptions(
              address: server.address.ip.family == .ipv6 ? .anyV6 : .anyV4, portRange: portRange))
        case .tcp:
          guard let connector else {
            let why = RelayUnavailable.noStreamTransport(tls: server.tls != nil)
            self.note(.relayUnavailable(server: server.address, reason: why))
            completion(.failure(.failed(why.explanation)))
            return
          }
          let opened = try connector(server.address)
          if server.tls != nil { stream = opened }
          turn = TURNAllocationSession(
            runtime: runtime, server: server.address, credentials: server.credentials,
            stream: opened)
        }
      } catch let e as RuntimeError {
        self.note(.relayUnavailable(server: server.address, reason: .openFailed(e.description)))
        completion(.failure(e))
        return
      } catch {
        self.note(.relayUnavailable(server: server.address, reason: .openFailed("\(error)")))
        completion(.failure(.failed("\(error)")))
        return
      }
      self.open.append(turn)
      var answered = false
      turn.onEvent = { [weak self, weak turn] event in
        guard let self else { return }
        // The first answer over TLS comes after the handshake: its certificate is known.
        if let certificate = stream?.peerCertificate {
          stream = nil
          self.note(.relayCertificate(server: server.address, certificate: certificate))
        }
        self.note(.relay(server: server.address, event: event))
        switch event {
        case .allocated:
          if !answered, let turn {
            answered = true
            self.handed.insert(ObjectIdentifier(turn))
            completion(.success(turn))
          }
        case .failed(let failure):
          if !answered {
            answered = true
            completion(.failure(.failed("TURN server \(server.address): \(failure.line)")))
          }
          self.ended(turn)
        case .released:
          self.ended(turn)
        default:
          break
        }
      }
      turn.start()
    }
  }

  /// Keeps the evidence of a relay event, and records it.
  private func note(_ e: ConnectEvent) {
    switch e {
    case .relay(let server, let event): evidence[server]?.record(event)
    case .relayUnavailable(let server, let why): evidence[server]?.unavailable = why
    case .relayCertificate(let server, let c): evidence[server]?.certificate = c
    default: break
    }
    record?(e)
  }

  private func ended(_ turn: TURNAllocationSession?) {
    guard let turn, let i = open.firstIndex(where: { $0 === turn }) else { return }
    open.remove(at: i)
    onEnded?()
  }
}
