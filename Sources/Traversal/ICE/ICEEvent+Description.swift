extension ICEEvent: CustomStringConvertible {
  /// The case name (`candidateGathered`, `pairStateChanged`, …), for filters and JSON consumers.
  public var name: String {
    switch self {
    case .candidateGathered: return "candidateGathered"
    case .candidateRedundant: return "candidateRedundant"
    case .gatheringDone: return "gatheringDone"
    case .remoteCandidateAdded: return "remoteCandidateAdded"
    case .remoteCandidateRejected: return "remoteCandidateRejected"
    case .remoteGatheringDone: return "remoteGatheringDone"
    case .pairAdded: return "pairAdded"
    case .pairPruned: return "pairPruned"
    case .pairStateChanged: return "pairStateChanged"
    case .checkSent: return "checkSent"
    case .checkReceived: return "checkReceived"
    case .messageRejected: return "messageRejected"
    case .pairValid: return "pairValid"
    case .pairNominated: return "pairNominated"
    case .roleChanged: return "roleChanged"
    case .selectedPairChanged: return "selectedPairChanged"
    case .agentStateChanged: return "agentStateChanged"
    case .consentLost: return "consentLost"
    case .consentRestored: return "consentRestored"
    case .keepaliveSent: return "keepaliveSent"
    }
  }

  /// One plain-English line, like a line of an ICE log but explained. Never contains a
  /// password.
  public var description: String {
    switch self {
    case .candidateGathered(let c):
      switch c.type {
      case .host: return "gathered host candidate \(c.address) (a local interface)"
      case .srflx:
        return
          "gathered server-reflexive candidate \(c.address): the NAT maps \(c.relatedAddress.map { "\($0)" } ?? "the socket") to it"
      case .prflx:
        return
          "learnt peer-reflexive candidate \(c.address) from a check's answer: the NAT maps \(c.base.map { "\($0)" } ?? "the socket") to it for this peer"
      case .relay:
        return "gathered relayed candidate \(c.address) on a TURN server"
      }
    case .candidateRedundant(let c):
      return "candidate \(c.address) is the same as one already gathered; not used"
    case .gatheringDone(let n): return "gathering done: \(n) local candidate\(n == 1 ? "" : "s")"
    case .remoteCandidateAdded(let c):
      return c.type == .prflx
        ? "the peer's check came from \(c.address), an address it did not signal: peer-reflexive candidate"
        : "remote candidate \(c.type.rawValue) \(c.address)"
    case .remoteCandidateRejected(let c, let reason):
      return "remote candidate \(c.address) not used: \(reason)"
    case .remoteGatheringDone: return "the peer has no more candidates"
    case .pairAdded(let p, let inCheckList):
      return
        "\(inCheckList ? "pair" : "valid pair") #\(p.id): \(p.local.type.rawValue) \(p.local.address) -> \(p.remote.type.rawValue) \(p.remote.address)"
    case .pairPruned(let id, let reason): return "pair #\(id) \(reason)"
    case .pairStateChanged(let id, let from, let to, let reason, _):
      return
        "pair #\(id) \(from.rawValue) -> \(to.rawValue)\(reason.map { ": \($0)" } ?? "")"
    case .checkSent(let id, let from, let to, let attempt, let useCandidate, let triggered):
      return
        "\(triggered ? "triggered " : "")check #\(attempt) on pair #\(id) \(from) -> \(to)\(useCandidate ? " with USE-CANDIDATE" : "")"
    case .checkReceived(let id, let from, let useCandidate):
      return
        "check from \(from) on pair #\(id) answered\(useCandidate ? " (the peer nominates it)" : "")"
    case .messageRejected(let from, let reason): return "refused a message from \(from): \(reason)"
    case .pairValid(let id): return "pair #\(id) valid: an authenticated answer came back"
    case .pairNominated(let id): return "pair #\(id) nominated"
    case .roleChanged(let from, let to, let reason, _):
      return "role \(from.rawValue) -> \(to.rawValue): \(reason)"
    case .selectedPairChanged(let p):
      return
        "selected pair #\(p.id): \(p.local.type.rawValue) \(p.local.address) -> \(p.remote.type.rawValue) \(p.remote.address)"
    case .agentStateChanged(let from, let to, let reason):
      return "ICE \(from.rawValue) -> \(to.rawValue)\(reason.map { ": \($0)" } ?? "")"
    case .consentLost(let id, let ms):
      return "consent lost on pair #\(id): no answer for \(Int(ms)) ms"
    case .consentRestored(let id): return "consent answers came back on pair #\(id)"
    case .keepaliveSent(let from, let to):
      return
        "keepalive \(from) -> \(to): keeps the NAT open for the peer's checks, which have not come yet"
    }
  }
}
