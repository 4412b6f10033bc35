import STUN

/// What happened to a ``ClientTransaction`` (alone or in a ``TransactionTable``): the event
/// type of their ``MachineOutput``s.
public enum TransactionEvent<Response: Sendable>: Sendable {
  /// Transaction `id` accepted a response. `attempts` is the number of requests sent before
  /// it came.
  case completed(id: TransactionID, response: Response, rtt: RTTSample, attempts: Int)
  /// Transaction `id` ended without a response.
  case failed(id: TransactionID, TransactionFailure)
}

extension TransactionEvent: Equatable where Response: Equatable {}

/// Why a transaction ended without a response.
public enum TransactionFailure: Sendable, Hashable, Codable, CustomStringConvertible {
  /// Every request went unanswered for the whole window; `attempts` requests were sent.
  case timedOut(attempts: Int)
  /// The caller cancelled it.
  case cancelled
  /// A transaction with the same ID is already in the table (the new one was not started).
  case duplicateTransactionID
  /// The network reported the destination unreachable (ICMP port, host or network
  /// unreachable) after `attempts` requests: failed at once, without waiting for the window.
  case unreachable(Unreachable, attempts: Int)

  public var description: String {
    switch self {
    case .unreachable(let u, let n):
      return "\(u) after \(n) request\(n == 1 ? "" : "s")"
    case .timedOut(let n): return "no answer after \(n) request\(n == 1 ? "" : "s")"
    case .cancelled: return "cancelled"
    case .duplicateTransactionID: return "duplicate transaction ID"
    }
  }
}

/// Why a response that reached a transaction was not accepted.
public enum ResponseRejection: String, Sendable, Hashable, Codable {
  /// The transaction ID is not this transaction's.
  case wrongTransactionID
  /// The source is neither the destination nor one of the accepted sources.
  case wrongSource
  /// The transaction has not sent its request yet.
  case notStarted
}
