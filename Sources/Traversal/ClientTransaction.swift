import STUN

/// A sans-IO STUN client transaction over UDP (RFC 8489 §6.2.1): sends a request, retransmits
/// it on the ``RetransmissionPolicy`` schedule, and accepts the first matching response.
///
/// It never reads a clock or touches a socket. The driver calls ``start(at:)``, then
/// ``handleTimeout(at:)`` when the last `.timeout` instant is reached and
/// ``handleInput(id:from:at:response:)`` for each decoded response, and carries out the
/// returned ``MachineOutput``s in order (every call ends with `.timeout(deadline)` while the
/// transaction waits).
///
/// `Response` is whatever the driver hands in for an accepted response (the decoded message,
/// or just its bytes); the transaction never looks inside it.
///
/// ```swift
/// var t = ClientTransaction<[UInt8]>(id: id, request: bytes, destination: server)
/// t.start(at: now)              // [.transmit(bytes to server, id), .timeout(now + 500 ms)]
/// t.handleTimeout(at: now + .milliseconds(500))   // [.transmit(...), .timeout(... 1500 ms)]
/// t.handleInput(id: id, from: server, at: now + .milliseconds(620), response: reply)
///          // [.event(.completed(id: id, response: reply, rtt: 620 ms ambiguous, attempts: 2))]
/// ```
public struct ClientTransaction<Response: Sendable>: Sendable {
  /// What the transaction hands back.
  public typealias Output = MachineOutput<TransactionEvent<Response>>

  /// Where the transaction stands.
  public enum State: Sendable, Hashable {
    /// Created; ``start(at:)`` not yet called.
    case idle
    /// Request sent, waiting for a response.
    case waiting
    /// A response was accepted.
    case completed
    /// Ended without a response.
    case failed(TransactionFailure)
  }

  /// The transaction ID the request carries.
  public let id: TransactionID
  /// The encoded request, sent unchanged on every retransmission.
  public let request: [UInt8]
  /// Where the request goes.
  public let destination: TransportAddress
  /// Which sources a response is accepted from.
  public let acceptedSources: AcceptedSources
  /// The retransmission schedule.
  public let policy: RetransmissionPolicy
  /// The initial RTO this transaction uses (from the policy and the RTT estimate at creation).
  public let initialRTO: Duration

  /// Where the transaction stands.
  public private(set) var state: State = .idle
  /// The accepted response, once completed.
  public private(set) var response: Response?
  /// What it did and saw, for reports.
  public private(set) var evidence: TransactionEvidence
  /// When ``handleTimeout(at:)`` should next be called; nil unless waiting.
  public private(set) var deadline: Instant?

  private let intervals: [Duration]

  /// A transaction, not yet started.
  /// - Parameters:
  ///   - id: the transaction ID inside `request`.
  ///   - request: the encoded request.
  ///   - destination: the server address.
  ///   - acceptedSources: which response sources are accepted besides `destination`.
  ///   - policy: the retransmission policy.
  ///   - estimator: the RTT history of `destination` (used only in diagnostics mode).
  public init(
    id: TransactionID, request: [UInt8], destination: TransportAddress,
    acceptedSources: AcceptedSources = .destinationOnly, policy: RetransmissionPolicy = .rfc8489,
    estimator: RTTEstimator = RTTEstimator()
  ) {
    self.id = id
    self.request = request
    self.destination = destination
    self.acceptedSources = acceptedSources
    self.policy = policy
    let rto = policy.rto(using: estimator)
    self.initialRTO = rto
    self.intervals = policy.intervals(rto: rto)
    self.evidence = TransactionEvidence(
      transactionID: id, destination: destination, acceptedSources: acceptedSources,
      initialRTO: rto, timeoutWindow: policy.timeoutWindow(rto: rto))
  }

  /// True once completed or failed (including cancelled).
  public var isFinished: Bool {
    switch state {
    case .completed, .failed: return true
    case .idle, .waiting: return false
    }
  }

  /// The number of requests sent so far.
  public var attempts: Int { evidence.sendTimes.count }

  /// Sends the first request. Does nothing (returns only the pending timeout) if already
  /// started.
  public mutating func start(at now: Instant) -> [Output] {
    guard case .idle = state else { return finishCall([]) }
    state = .waiting
    evidence.outcome = .pending
    return send(at: now)
  }

  /// Advances time: retransmits, or fails with `.timedOut(attempts:)` after the last wait.
  ///
  /// Called early, it only repeats the pending `.timeout`; called when not waiting, it returns
  /// nothing.
  public mutating func handleTimeout(at now: Instant) -> [Output] {
    guard case .waiting = state, let deadline else { return [] }
    guard now >= deadline else { return finishCall([]) }
    if attempts < intervals.count {
      return send(at: now)
    }
    let failure = TransactionFailure.timedOut(attempts: attempts)
    finish(.failed(failure))
    return [.event(.failed(id: id, failure))]
  }

  /// Offers a decoded response.
  ///
  /// It is accepted (→ `.event(.completed)`) only if `id` matches, `source` is acceptable and the
  /// transaction is waiting. Otherwise it is ignored and counted in ``evidence``: a wrong ID or
  /// source as a rejection, a match after completion as a duplicate, a match after failure or
  /// cancellation as late.
  public mutating func handleInput(
    id responseID: TransactionID, from source: TransportAddress, at now: Instant,
    response: Response
  ) -> [Output] {
    guard responseID == id else {
      evidence.reject(source: source, at: now, reason: .wrongTransactionID)
      return finishCall([])
    }
    guard acceptedSources.accepts(source, destination: destination) else {
      evidence.reject(source: source, at: now, reason: .wrongSource)
      return finishCall([])
    }
    switch state {
    case .idle:
      evidence.reject(source: source, at: now, reason: .notStarted)
      return []
    case .completed:
      evidence.duplicateResponses += 1
      return []
    case .failed:
      evidence.lateResponses += 1
      return []
    case .waiting:
      break
    }
    let first = evidence.sendTimes.first ?? now
    let rtt = RTTSample(duration: now - first, isAmbiguous: attempts > 1)
    self.response = response
    evidence.responseSource = source
    evidence.responseAt = now
    evidence.rtt = rtt
    finish(.completed)
    return [.event(.completed(id: id, response: response, rtt: rtt, attempts: attempts))]
  }

  /// The network reported the destination unreachable (an ICMP error for a request of this
  /// transaction): fails it at once with `.unreachable`. Does nothing unless waiting, or when
  /// the error concerns another destination.
  public mutating func handleUnreachable(_ error: Unreachable) -> [Output] {
    guard case .waiting = state, error.destination == destination else { return finishCall([]) }
    let failure = TransactionFailure.unreachable(error, attempts: attempts)
    finish(.failed(failure))
    return [.event(.failed(id: id, failure))]
  }

  /// Stops the transaction: no further outputs; later responses count as late. Does nothing
  /// if it already finished.
  public mutating func cancel() {
    guard !isFinished else { return }
    finish(.failed(.cancelled))
  }

  private mutating func send(at now: Instant) -> [Output] {
    let wait = intervals[Swift.min(attempts, intervals.count - 1)]
    evidence.sendTimes.append(now)
    let next = now + wait
    deadline = next
    return [
      .transmit(Transmit(bytes: request, to: destination, transactionID: id)), .timeout(next),
    ]
  }

  /// Ends every call the same way: `.timeout(deadline)` last while waiting.
  private func finishCall(_ outs: [Output]) -> [Output] {
    guard let deadline else { return outs }
    return outs + [.timeout(deadline)]
  }

  private mutating func finish(_ newState: State) {
    state = newState
    deadline = nil
    switch newState {
    case .completed: evidence.outcome = .completed
    case .failed(let f): evidence.outcome = .failed(f)
    case .idle: evidence.outcome = .notStarted
    case .waiting: evidence.outcome = .pending
    }
  }
}
