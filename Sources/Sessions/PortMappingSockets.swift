import Runtime
import STUN
import Traversal

/// The runtime side of a port-mapping machine (``PortMappingAgent``, ``PortMapper``): one UDP
/// socket per ``PortMappingChannel`` (opened by ``open(_:)`` or at its first send) and the TCP
/// connections UPnP IGD's HTTP needs. Whatever the sockets and connections receive goes to
/// `deliver` as a ``PortMappingAgentInput``.
///
/// All calls happen on the runtime's serial context.
final class PortMappingSockets {
  /// Where received datagrams, ICMP errors, HTTP bytes and failures go.
  var deliver: ((PortMappingAgentInput) -> Void)?

  private let runtime: any NetworkRuntime
  private let local: IPAddress?
  private let connector: RawStreamConnector?
  private var sockets: [PortMappingChannel: any DatagramSocket] = [:]
  private var streams: [Int: any RawByteStream] = [:]
  private var closed = false

  /// Sockets bound to `local` (nil: any address); `connector` opens UPnP IGD's connections.
  init(runtime: any NetworkRuntime, local: IPAddress?, connector: RawStreamConnector?) {
    self.runtime = runtime
    self.local = local
    self.connector = connector
  }

  /// Opens the channel's socket now (no-op when open); throws the runtime's error.
  func open(_ channel: PortMappingChannel) throws {
    guard !closed, sockets[channel] == nil else { return }
    sockets[channel] = try runtime.openUDP(
      UDPSocketOptions(address: local),
      onReceive: { [weak self] d in
        self?.deliver?(.datagram(channel, bytes: d.bytes, from: d.source))
      },
      onError: { [weak self] e in
        guard case .unreachable(let kind) = e.kind else { return }
        self?.deliver?(.unreachable(channel, kind, destination: e.destination))
      })
  }

  /// Sends from the channel's socket, opening it first when needed (a failure to open is
  /// delivered as `.socketFailed`, after the current call).
  func send(_ channel: PortMappingChannel, _ bytes: [UInt8], to: TransportAddress) {
    guard !closed else { return }
    if sockets[channel] == nil {
      do {
        try open(channel)
      } catch {
        later(.socketFailed(channel, reason: "\(error)"))
        return
      }
    }
    sockets[channel]?.send(bytes, to: to)
  }

  /// Closes the channel's socket.
  func close(_ channel: PortMappingChannel) {
    sockets.removeValue(forKey: channel)?.close()
  }

  /// Carries out UPnP IGD's HTTP output: opens a connection and writes, or closes one.
  func http(_ output: UPnPIGDClientOutput) {
    switch output {
    case .request(let id, let to, let bytes): request(id: id, to: to, bytes: bytes)
    case .close(let id): streams.removeValue(forKey: id)?.close()
    case .timeout, .event: break
    }
  }

  /// Closes every socket and connection; later calls do nothing.
  func closeAll() {
    closed = true
    // In a fixed order (a simulated network must repeat exactly).
    for channel in PortMappingChannel.allCases { sockets.removeValue(forKey: channel)?.close() }
    for id in streams.keys.sorted() { streams.removeValue(forKey: id)?.close() }
  }

  private func request(id: Int, to: TransportAddress, bytes: [UInt8]) {
    guard !closed else { return }
    guard let connector else {
      later(.httpFailed(id: id, reason: .failed("no TCP connector")))
      return
    }
    do {
      let stream = try connector(to)
      streams[id] = stream
      stream.onBytes = { [weak self] chunk in self?.deliver?(.httpBytes(id: id, bytes: chunk)) }
      stream.onEnd = { [weak self] reason in
        self?.streams[id] = nil
        if reason == .closedByPeer {
          self?.deliver?(.httpClosed(id: id))
        } else {
          self?.deliver?(.httpFailed(id: id, reason: reason))
        }
      }
      stream.send(bytes)
    } catch {
      later(.httpFailed(id: id, reason: .failed("\(error)")))
    }
  }

  /// Deferred: the machine is in the middle of the call that asked for this.
  private func later(_ input: PortMappingAgentInput) {
    runtime.schedule(at: runtime.now) { [weak self] in
      guard let self, !self.closed else { return }
      self.deliver?(input)
    }
  }
}

extension MachineHost where M == PortMapper {
  /// Wires a ``PortMapper``'s host to `io`: the mapper's sends, closes and HTTP outputs go to
  /// `io`, what `io` receives comes back as input, and each event goes to `event`.
  func wire(_ io: PortMappingSockets, event: @escaping (PortMapperEvent) -> Void) {
    io.deliver = { [weak self] input in self?.input(input) }
    perform = { [weak io] output in
      switch output {
      case .send(let channel, let bytes, let to): io?.send(channel, bytes, to: to)
      case .close(let channel): io?.close(channel)
      case .http(let http): io?.http(http)
      case .event(let e): event(e)
      }
    }
  }
}
