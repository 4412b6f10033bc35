import Report
import STUN
import Traversal

/// Accumulates one session's evidence as a reader goes, keeping at most a fixed number of
/// candidates, pairs and events (the rest is counted: ``ExplainEvidence/truncated``), so a
/// reader's memory does not grow with the input.
struct SessionBuilder {
  static let maxCandidates = 2_000
  static let maxPairs = 5_000
  static let maxEvents = 5_000

  var evidence: ExplainEvidence
  /// Times are relative to the first one the input has.
  var origin: Double?
  var lastTime: Double?
  var pairIndex: [String: Int] = [:]

  init(format: ExplainEvidence.Format, label: String? = nil) {
    evidence = ExplainEvidence(format: format, label: label)
  }

  /// The time of a line, relative to the input's first (a line without one takes the last).
  mutating func time(_ absolute: Double?) -> Double? {
    guard var t = absolute else { return lastTime }
    let day = 86_400_000.0
    if let o = origin {
      // Lines with a date and lines with the time of day only, in one log: compare times of
      // day.
      if (o < day) != (t < day) {
        if o < day {
          t = t.truncatingRemainder(dividingBy: day)
        } else {
          t += (o / day).rounded(.down) * day
        }
      }
      // A log that runs past midnight with time-of-day stamps only.
      while t < o - 43_200_000 { t += 86_400_000 }
      lastTime = t - o
    } else {
      origin = t
      lastTime = 0
    }
    return lastTime
  }

  mutating func event(_ kind: TimelineEvent.Kind, at: Double?, detail: String? = nil) {
    if kind == .gatheringStarted, evidence.timeline.contains(where: { $0.kind == kind }) {
      return
    }
    guard evidence.timeline.count < Self.maxEvents else {
      evidence.truncated = true
      return
    }
    evidence.timeline.append(TimelineEvent(kind, atMs: at, detail: detail))
  }

  /// Records an event once (the first time it happens).
  mutating func eventOnce(_ kind: TimelineEvent.Kind, at: Double?, detail: String? = nil) {
    if let i = evidence.timeline.firstIndex(where: { $0.kind == kind }) {
      // An untimed mention (a note above the log) gives way to the first timed one.
      guard evidence.timeline[i].atMs == nil, at != nil else { return }
      evidence.timeline.remove(at: i)
    }
    event(kind, at: at, detail: detail)
  }

  /// Adds a candidate unless the same one (type, transport, address, port) is there; returns
  /// its index in its list.
  @discardableResult
  mutating func candidate(_ c: ObservedCandidate, local: Bool) -> Int? {
    let list = local ? evidence.local : evidence.remote
    if let i = list.firstIndex(where: {
      $0.kind == c.kind && $0.transport == c.transport && $0.address == c.address
        && $0.port == c.port
    }) {
      // The same candidate seen again (a dump's stats after its log): keep what is new.
      func merge(_ e: inout ObservedCandidate) {
        if e.relatedTransportAddress == nil, c.relatedTransportAddress != nil {
          e.relatedAddress = c.relatedAddress
          e.relatedPort = c.relatedPort
        }
        e.networkType = e.networkType ?? c.networkType
        e.relayProtocol = e.relayProtocol ?? c.relayProtocol
        e.server = e.server ?? c.server
        e.atMs = e.atMs ?? c.atMs
      }
      if local { merge(&evidence.local[i]) } else { merge(&evidence.remote[i]) }
      return i
    }
    guard list.count < Self.maxCandidates else {
      evidence.truncated = true
      return nil
    }
    if local {
      evidence.local.append(c)
    } else {
      evidence.remote.append(c)
    }
    event(
      local ? .localCandidate : .remoteCandidate, at: c.atMs,
      detail: "\(c.kind.rawValue) \(c.endpointText)\(c.transport == .tcp ? " TCP" : "")")
    return list.count
  }

  /// The pair named `key` (created with these ends when new).
  mutating func pair(_ key: String, local: PairEnd, remote: PairEnd, id: String? = nil) -> Int? {
    if let i = pairIndex[key] { return i }
    guard evidence.pairs.count < Self.maxPairs else {
      evidence.truncated = true
      return nil
    }
    var l = local
    var r = remote
    if l.kind == nil { l.kind = kindOf(l, local: true) }
    if r.kind == nil { r.kind = kindOf(r, local: false) }
    evidence.pairs.append(ObservedPair(id: id, local: l, remote: r))
    pairIndex[key] = evidence.pairs.count - 1
    evidence.checksShown = true
    return evidence.pairs.count - 1
  }

  /// The type of a known candidate at this end.
  func kindOf(_ end: PairEnd, local: Bool) -> SignaledCandidate.Kind? {
    (local ? evidence.local : evidence.remote).first {
      $0.address == end.address && $0.port == end.port && $0.transport == .udp
    }?.kind
  }

  mutating func pairState(_ index: Int, _ state: String, at: Double?) {
    guard evidence.pairs[index].states.last?.state != state else { return }
    if evidence.pairs[index].states.count < 32 {
      evidence.pairs[index].states.append(StateChange(state, atMs: at))
    }
  }

  mutating func count(_ index: Int, _ key: WritableKeyPath<ObservedPair, Int?>) {
    evidence.pairs[index][keyPath: key] = (evidence.pairs[index][keyPath: key] ?? 0) + 1
  }

  mutating func server(_ kind: ConfiguredServer.Kind, _ uri: String) {
    evidence.serversKnown = true
    let s = ConfiguredServer(kind, uri: uri)
    if !evidence.servers.contains(s), evidence.servers.count < 64 { evidence.servers.append(s) }
  }

  mutating func checkError(_ code: Int, remote: String?) {
    if let i = evidence.checkErrors.firstIndex(where: { $0.code == code && $0.remote == remote }) {
      evidence.checkErrors[i].count += 1
    } else if evidence.checkErrors.count < 64 {
      evidence.checkErrors.append(CheckError(code: code, remote: remote))
    }
  }

  mutating func serverError(uri: String?, code: Int, at: Double?) {
    if evidence.serverErrors.count < 64,
      !evidence.serverErrors.contains(where: { $0.uri == uri && $0.code == code })
    {
      evidence.serverErrors.append(ServerError(uri: uri, code: code, atMs: at))
    }
    event(.candidateError, at: at, detail: "\(code)")
  }
}
