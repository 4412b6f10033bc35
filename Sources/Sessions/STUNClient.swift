import Runtime
import STUN
import Traversal

/// Sends Binding requests from numbered sockets over any `NetworkRuntime`, retransmits them,
/// matches answers by transaction ID on whichever of its sockets they arrive, and answers
/// Binding requests that reach its sockets (so a hairpinned request from one of its own
/// sockets gets a reply).
///
/// All calls and callbacks happen on the runtime's serial context. Completions run after the
/// transaction table's call has returned, one at a time (a completion that sends again does
/// not re-enter the table's bookkeeping).
public final class STUNClient {
  public let runtime: any NetworkRuntime
  /// How sockets are opened (local address, port range).
  public let socketOptions: UDPSocketOptions
  /// Whether Binding requests arriving on the client's sockets are answered.
  public var answersBindingRequests = true
  /// Datagrams that were not STUN or did not decode.
  public private(set) var malformedDropped = 0
  /// Binding requests answered (hairpinned probes).
  public private(set) var requestsAnswered = 0

  private struct Response: Sendable {
    var message: Message
    var arrivedOn: ProbeSocketID
  }

  private struct Pending {
    var query: BindingQuery
    var completion: (BindingOutcome, TransportAddress?) -> Void
  }

  private var sockets: [ProbeSocketID: any DatagramSocket] = [:]
  private var table: TransactionTable<Response>
  private var pending: [TransactionID: Pending] = [:]
  private var closed = false
  private lazy var driver = MachineDriver<TransactionEvent<Response>>(
    runtime: runtime,
    transmit: { [weak self] t in self?.route(t) },
    timeout: { [weak self] now in
      guard let self, !self.closed else { return }
      self.process(self.table.handleTimeout(at: now))
    })
  private let completions = EventDrain<() -> Void> { $0() }

  public init(
    runtime: any NetworkRuntime, policy: RetransmissionPolicy = .rfc8489,
    socketOptions: UDPSocketOptions = UDPSocketOptions()
  ) {
    self.runtime = runtime
    self.socketOptions = socketOptions
    self.table = TransactionTable(policy: policy)
  }

  /// The bound address of one of the client's sockets.
  public func localAddress(of socket: ProbeSocketID) -> TransportAddress? {
    sockets[socket]?.localAddress
  }

  /// Evidence for every finished transaction (send times, attempts, RTT, rejected answers),
  /// oldest first, at most the last 1,000.
  public private(set) var history: [TransactionEvidence] = []

  /// Sends the query (opening its socket first if needed) and calls `completion` once with
  /// the outcome and the sending socket's local address. Throws only when the socket cannot be
  /// opened.
  public func send(
    _ query: BindingQuery, completion: @escaping (BindingOutcome, TransportAddress?) -> Void
  ) throws {
    guard !closed else { throw RuntimeError.failed("the STUN client is closed") }
    _ = try socket(query.socket)
    let id = TransactionID.random()
    var b = MessageBuilder(type: .bindingRequest, transactionID: id, capacity: 64)
    if query.changeIP || query.changePort {
      b.add(ChangeRequest(changeIP: query.changeIP, changePort: query.changePort))
    }
    if let port = query.responsePort { b.add(ResponsePort(port)) }
    b.addFingerprint()
    pending[id] = Pending(query: query, completion: completion)
    process(
      table.start(
        id: id, request: b.bytes, to: query.destination,
        acceptedSources: query.acceptAnySource ? .any : .destinationOnly, at: runtime.now))
  }

  /// Opens socket `id` now (it is otherwise opened by its first query) and returns its bound
  /// address; a port mapping for it can then be asked for before anything is sent.
  @discardableResult
  public func open(_ id: ProbeSocketID) throws -> TransportAddress? {
    guard !closed else { throw RuntimeError.failed("the STUN client is closed") }
    return try socket(id).localAddress
  }

  /// Closes every socket and abandons pending queries (their completions are not called).
  public func close() {
    closed = true
    driver.stop()
    completions.removeAll()
    for s in sockets.values { s.close() }
    sockets.removeAll()
    pending.removeAll()
  }

  // MARK: - Internals

  private func socket(_ id: ProbeSocketID) throws -> any DatagramSocket {
    if let s = sockets[id] { return s }
    let s = try runtime.openUDP(
      socketOptions, onReceive: { [weak self] datagram in self?.receive(datagram, on: id) },
      onError: { [weak self] error in self?.socketError(error, on: id) })
    sockets[id] = s
    return s
  }

  private func receive(_ datagram: ReceivedDatagram, on socketID: ProbeSocketID) {
    guard !closed else { return }
    guard PacketKind.classify(datagram.bytes) == .stun,
      let message = try? Message(bytes: datagram.bytes),
      !message.hasFingerprint || message.verifyFingerprint()
    else {
      malformedDropped += 1
      return
    }
    switch message.messageClass {
    case .successResponse, .errorResponse:
      process(
        table.handleInput(
          id: message.transactionID, from: datagram.source, at: datagram.receivedAt,
          response: Response(message: message, arrivedOn: socketID)))
    case .request where message.method == .binding && answersBindingRequests:
      var b = MessageBuilder(type: .bindingSuccess, transactionID: message.transactionID)
      b.add(XORMappedAddress(datagram.source))
      b.addFingerprint()
      sockets[socketID]?.send(b.bytes, to: datagram.source)
      requestsAnswered += 1
    default:
      break
    }
  }

  /// Sends a request from the socket of the query it belongs to (found by its transaction ID).
  private func route(_ t: Transmit) {
    guard let id = t.transactionID, let query = pending[id]?.query else { return }
    sockets[query.socket]?.send(t.bytes, to: t.to)
  }

  /// An ICMP error for something socket `socketID` sent: the queries it sent to that
  /// destination fail at once.
  private func socketError(_ error: SocketError, on socketID: ProbeSocketID) {
    guard !closed, let unreachable = error.unreachable else { return }
    process(
      table.handleUnreachable(unreachable) { [pending] id in
        pending[id]?.query.socket == socketID
      })
  }

  private func process(_ outputs: [TransactionTable<Response>.Output]) {
    // Outcomes are worked out now (while the evidence is in the table) and handed to the
    // completions after the bookkeeping is done.
    var done: [() -> Void] = []
    for event in driver.carryOut(outputs) {
      switch event {
      case .completed(let id, let response, let rtt, let attempts):
        guard let p = pending.removeValue(forKey: id) else { continue }
        let answer = BindingAnswer(
          response: response.message, source: evidenceSource(id) ?? p.query.destination,
          arrivedOn: response.arrivedOn, rtt: rtt.duration, attempts: attempts)
        let local = sockets[p.query.socket]?.localAddress
        done.append { p.completion(.answered(answer), local) }
      case .failed(let id, let failure):
        guard let p = pending.removeValue(forKey: id) else { continue }
        if case .unreachable(let u, let n) = failure {
          let local = sockets[p.query.socket]?.localAddress
          done.append { p.completion(.unreachable(u, attempts: n), local) }
          continue
        }
        let attempts: Int
        if case .timedOut(let n) = failure { attempts = n } else { attempts = 0 }
        let window =
          table.evidence.first { $0.transactionID == id }?.timeoutWindow
          ?? table.timeoutWindow(for: p.query.destination)
        let local = sockets[p.query.socket]?.localAddress
        done.append { p.completion(.noAnswer(attempts: attempts, window: window), local) }
      }
    }
    history += table.removeFinished()
    if history.count > 1000 { history.removeFirst(history.count - 1000) }
    completions.post(contentsOf: done)
  }

  private func evidenceSource(_ id: TransactionID) -> TransportAddress? {
    table.evidence.first { $0.transactionID == id }?.responseSource
  }
}
