import STUN

/// Many concurrent ``ClientTransaction``s keyed by transaction ID, with one RTT estimator per
/// server: routes responses, tracks the earliest wake-up, and keeps the evidence of every
/// transaction (finished ones too, until ``removeFinished()``).
///
/// ```swift
/// var table = TransactionTable<[UInt8]>(policy: .diagnostics())
/// out += table.start(id: id, request: bytes, to: server, at: now)
/// // when the driver's timer fires:
/// out += table.handleTimeout(at: table.nextWake ?? now)
/// // when a decoded response arrives:
/// out += table.handleInput(id: rid, from: source, at: now, response: message)
/// ```
public struct TransactionTable<Response: Sendable>: Sendable {
  /// What the table hands back: transmits (each with its transaction ID), `.completed` and
  /// `.failed` events, and `.timeout(nextWake)` at the end of every call that leaves
  /// transactions waiting.
  public typealias Output = MachineOutput<TransactionEvent<Response>>

  /// The policy new transactions use.
  public var policy: RetransmissionPolicy
  /// RTT history per server, fed (per Karn's rule) by completed transactions.
  public private(set) var estimators: [TransportAddress: RTTEstimator] = [:]
  /// Responses whose transaction ID matched no transaction in the table.
  public private(set) var unmatchedResponses: Int = 0

  private var transactions: [TransactionID: ClientTransaction<Response>] = [:]
  private var order: [TransactionID] = []

  /// An empty table.
  public init(policy: RetransmissionPolicy = .rfc8489) {
    self.policy = policy
  }

  /// The RTT history of `server`. A destination never answered yet borrows the history of
  /// the destination with the most samples (the same path, in practice, up to the first hop
  /// that differs): a measured RTT is a better first guess than a fixed initial RTO. Empty
  /// when nothing has been measured.
  public func estimator(for server: TransportAddress) -> RTTEstimator {
    if let own = estimators[server] { return own }
    // Ties go to the lowest address, so the choice does not depend on the dictionary's
    // (per-process) hash order and seeded simulations replay exactly.
    let best = estimators.max { a, b in
      a.value.sampleCount != b.value.sampleCount
        ? a.value.sampleCount < b.value.sampleCount : a.key.description > b.key.description
    }
    return best?.value ?? RTTEstimator()
  }

  /// The window a new transaction to `server` would have before concluding "no answer".
  public func timeoutWindow(for server: TransportAddress) -> Duration {
    policy.timeoutWindow(using: estimator(for: server))
  }

  /// Adds a transaction and sends its first request.
  ///
  /// If a transaction with this ID is already in the table, nothing is sent and the output is
  /// `.event(.failed(id:, .duplicateTransactionID))`.
  public mutating func start(
    id: TransactionID, request: [UInt8], to destination: TransportAddress,
    acceptedSources: AcceptedSources = .destinationOnly, at now: Instant
  ) -> [Output] {
    start(
      ClientTransaction(
        id: id, request: request, destination: destination, acceptedSources: acceptedSources,
        policy: policy, estimator: estimator(for: destination)),
      at: now)
  }

  /// Adds a transaction built by the caller (for a policy other than the table's) and sends its
  /// first request. The caller should build it with ``estimator(for:)`` of its destination.
  ///
  /// If a transaction with its ID is already in the table, nothing is sent and the output is
  /// `.event(.failed(id:, .duplicateTransactionID))` (plus the pending timeout, if any).
  public mutating func start(_ transaction: ClientTransaction<Response>, at now: Instant)
    -> [Output]
  {
    let id = transaction.id
    guard transactions[id] == nil else {
      return finishCall([.event(.failed(id: id, .duplicateTransactionID))])
    }
    var t = transaction
    let outs = t.start(at: now)
    transactions[id] = t
    order.append(id)
    return finishCall(strip(outs))
  }

  /// Routes a decoded response to its transaction by ID; an unknown ID is counted in
  /// ``unmatchedResponses``. Accepted responses feed the server's RTT estimator (unambiguous
  /// samples only).
  public mutating func handleInput(
    id: TransactionID, from source: TransportAddress, at now: Instant, response: Response
  ) -> [Output] {
    guard var t = transactions[id] else {
      unmatchedResponses += 1
      return finishCall([])
    }
    let outs = t.handleInput(id: id, from: source, at: now, response: response)
    transactions[id] = t
    for case .event(.completed(_, _, let rtt, _)) in outs {
      estimators[t.destination, default: RTTEstimator()].observe(rtt)
    }
    return finishCall(strip(outs))
  }

  /// Processes every transaction whose deadline is at or before `now`, in deadline order (ties
  /// in start order). Each is advanced one step, so a driver that wakes very late may get a
  /// `.timeout` that has already passed; it should then call again at once.
  public mutating func handleTimeout(at now: Instant) -> [Output] {
    var due: [(deadline: Instant, index: Int, id: TransactionID)] = []
    for (index, id) in order.enumerated() {
      if let d = transactions[id]?.deadline, d <= now { due.append((d, index, id)) }
    }
    due.sort { ($0.deadline, $0.index) < ($1.deadline, $1.index) }
    var outs: [Output] = []
    for (_, _, id) in due {
      guard var t = transactions[id] else { continue }
      let o = t.handleTimeout(at: now)
      transactions[id] = t
      outs += strip(o)
    }
    return finishCall(outs)
  }

  /// The network reported `error.destination` unreachable: every waiting transaction to that
  /// destination for which `concerns` is true (the driver knows which socket sent what) fails
  /// at once with `.unreachable`.
  public mutating func handleUnreachable(
    _ error: Unreachable, concerns: (TransactionID) -> Bool = { _ in true }
  ) -> [Output] {
    var outs: [Output] = []
    for id in order {
      guard var t = transactions[id], t.destination == error.destination, !t.isFinished,
        concerns(id)
      else { continue }
      let o = t.handleUnreachable(error)
      transactions[id] = t
      outs += strip(o)
    }
    return finishCall(outs)
  }

  /// Cancels transaction `id` (no further outputs from it); returns false if it is unknown or
  /// already finished.
  @discardableResult
  public mutating func cancel(id: TransactionID) -> Bool {
    guard var t = transactions[id], !t.isFinished else { return false }
    t.cancel()
    transactions[id] = t
    return true
  }

  /// The earliest deadline of any waiting transaction; nil when none is waiting.
  public var nextWake: Instant? {
    transactions.values.compactMap(\.deadline).min()
  }

  /// The transaction with this ID, if in the table.
  public subscript(id: TransactionID) -> ClientTransaction<Response>? {
    transactions[id]
  }

  /// The number of transactions in the table (finished ones included).
  public var count: Int { transactions.count }

  /// The number of transactions still waiting for a response.
  public var pendingCount: Int { transactions.values.filter { !$0.isFinished }.count }

  /// The evidence of every transaction in the table, in start order.
  public var evidence: [TransactionEvidence] {
    order.compactMap { transactions[$0]?.evidence }
  }

  /// Removes finished transactions and returns their evidence, in start order. Responses that
  /// arrive for them afterwards count as ``unmatchedResponses`` instead of late or duplicate.
  public mutating func removeFinished() -> [TransactionEvidence] {
    var removed: [TransactionEvidence] = []
    var kept: [TransactionID] = []
    for id in order {
      guard let t = transactions[id] else { continue }
      if t.isFinished {
        removed.append(t.evidence)
        transactions[id] = nil
      } else {
        kept.append(id)
      }
    }
    order = kept
    return removed
  }

  /// A single transaction's outputs without its own timeouts: the table ends each call with
  /// its own earliest deadline instead.
  private func strip(_ outs: [Output]) -> [Output] {
    outs.filter { if case .timeout = $0 { false } else { true } }
  }

  private func finishCall(_ outs: [Output]) -> [Output] {
    guard let next = nextWake else { return outs }
    return outs + [.timeout(next)]
  }
}
