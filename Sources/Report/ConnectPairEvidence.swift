import STUN
import Traversal

extension ConnectReport.Endpoint {
  /// The report's view of one of the agent's candidates.
  public init(_ c: Candidate) {
    self.init(
      type: SignaledCandidate.Kind(rawValue: c.type.rawValue) ?? .host,
      address: c.address.ip.description, port: c.address.port,
      protocol: c.transport.lowercased() == "tcp" ? .tcp : .udp)
  }
}

extension ConnectReport.PairOutcome {
  /// What the agent's checks on one pair showed: answered, timed out, refused by an error
  /// response or ICMP, or stopped; `anotherSelected` when a pair was selected, so checks that
  /// were still unanswered stopped there (that says nothing about this path).
  public init(_ p: CandidatePair, anotherSelected: Bool) {
    let succeeded = p.isValid || p.state == .succeeded
    var failure: Failure?
    var detail: String?
    switch p.failureReason {
    case .timeout?: failure = .timeout
    case .errorCode(let code, let reason)?:
      failure = .errorResponse
      detail = "\(code) \(reason)"
    case .unreachable?: failure = .unreachable
    case .some(let other):
      failure = .cancelled
      detail = other.phrase
    case nil:
      if p.state == .inProgress {
        // Unanswered so far; the verdict came before the last retransmission.
        failure = anotherSelected ? .cancelled : .timeout
        detail = anotherSelected ? "no answer yet when another pair was selected" : nil
      }
    }
    let requests = p.stats.requestsSent + p.stats.retransmissions
    self.init(
      local: ConnectReport.Endpoint(p.local), remote: ConnectReport.Endpoint(p.remote),
      succeeded: succeeded, failure: failure, detail: detail, requests: requests,
      rttMs: p.stats.minRTTMs.map { ($0 * 100).rounded() / 100 },
      checked: requests > 0 || succeeded)
  }
}
