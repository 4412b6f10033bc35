import Runtime
import STUN
import Traversal

/// Runs a ``UPnPIGDClient`` on a runtime: it opens the TCP connections the client asks for
/// with `connector`, hands their bytes and their end back to the client, closes the ones the
/// client is done with, and keeps the client's one timer. The owner sees the client's events
/// (and each request just before it goes out) and drives the client with ``step(_:)``.
///
/// What `MachineDriver` is for the datagram machines, this is for UPnP IGD's HTTP exchanges:
/// `PortMappingSession` (read-only questions) and `PortMappingTestSession` (the test mapping)
/// both run the client through it.
final class UPnPIGDDriver {
  /// The client as it is now (its state, the service it found, the external address).
  private(set) var client: UPnPIGDClient
  /// Called with the client as it is when it asks for a request, before the request goes out.
  var onRequest: ((UPnPIGDClient) -> Void)?
  /// Called with each of the client's events, in order.
  var onEvent: ((UPnPIGDEvent) -> Void)?

  private let runtime: any NetworkRuntime
  private let connector: RawStreamConnector
  private var streams: [Int: any RawByteStream] = [:]
  private var timer: (any TimerHandle)?
  private var stopped = false

  init(client: UPnPIGDClient, runtime: any NetworkRuntime, connector: @escaping RawStreamConnector)
  {
    self.client = client
    self.runtime = runtime
    self.connector = connector
  }

  /// Starts the client (fetching the device description first).
  func start() {
    step { c, now in c.start(at: now) }
  }

  /// Calls `body` on the client at the runtime's now and carries out what it asks for; nothing
  /// once stopped.
  func step(_ body: (inout UPnPIGDClient, Instant) -> [UPnPIGDClientOutput]) {
    guard !stopped else { return }
    let out = body(&client, runtime.now)
    carryOut(out)
  }

  /// Closes every connection and the timer; later calls do nothing.
  func stop() {
    stopped = true
    timer?.cancel()
    timer = nil
    for stream in streams.values { stream.close() }
    streams.removeAll()
  }

  private func carryOut(_ outputs: [UPnPIGDClientOutput]) {
    var deadline: Instant?
    for output in outputs {
      switch output {
      case .request(let id, let to, let bytes):
        onRequest?(client)
        open(id: id, to: to, bytes: bytes)
      case .close(let id):
        streams.removeValue(forKey: id)?.close()
      case .timeout(let t):
        deadline = t
      case .event(let event):
        onEvent?(event)
      }
    }
    timer?.cancel()
    timer = nil
    guard !stopped, let deadline else { return }
    timer = runtime.schedule(at: deadline) { [weak self] in
      self?.step { c, now in c.handleTimeout(at: now) }
    }
  }

  private func open(id: Int, to: TransportAddress, bytes: [UInt8]) {
    guard !stopped else { return }
    do {
      let stream = try connector(to)
      streams[id] = stream
      stream.onBytes = { [weak self] chunk in
        self?.step { c, now in c.handleInput(id: id, bytes: chunk, at: now) }
      }
      stream.onEnd = { [weak self] reason in
        self?.streams[id] = nil
        if let reason {
          self?.step { c, now in c.handleConnectionFailed(id: id, reason: reason, at: now) }
        } else {
          self?.step { c, now in c.handleClosed(id: id, at: now) }
        }
      }
      stream.send(bytes)
    } catch {
      let reason = "\(error)"
      // Deferred: the client is in the middle of the call that asked for this request.
      runtime.schedule(at: runtime.now) { [weak self] in
        self?.step { c, now in c.handleConnectionFailed(id: id, reason: reason, at: now) }
      }
    }
  }
}
