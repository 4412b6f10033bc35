import Report
import STUN
import Traversal

/// Reads a text log line by line into sessions: the generic rules (SDP candidate lines, state
/// words, `key: value` settings, DTLS and consent words) for every format, and the libnice
/// (`STUN-CC REQ`, `pair 0x… state …`, `STATE-CHANGE`, `selected pair`) and aioice
/// (`Connection(N) Check CandidatePair(…)`, STUN messages, `ICE completed`) rules for theirs.
/// Memory stays bounded: a line at a time, and the builders' caps.
public struct TextLogReader {
  public let format: ExplainEvidence.Format
  let secrets: SecretSet
  var builders: [String: SessionBuilder] = [:]
  var order: [String] = []
  /// The last remote candidate added per session (Licode says on the next line whether the
  /// agent took it: `candidateSize: 0` when it did not).
  var lastRemote: [String: Int] = [:]
  /// aioice: which local address each `protocol(N)` sends from.
  var protocolLocal: [String: PairEnd] = [:]
  /// aioice: the addresses its TURN client's Allocate responses named (XOR-RELAYED-ADDRESS).
  /// Its TURN lines name no connection, so a pair whose local end is one of these is relayed,
  /// whichever connection it belongs to.
  var relayedAddresses: Set<TransportAddress> = []
  /// Partly seen selected pairs (local and remote named on two lines).
  var pendingLocal: [String: PairEnd] = [:]
  var pendingRemote: [String: PairEnd] = [:]
  /// libnice pair states seen before the pair's addresses.
  var pendingStates: [String: [(String, Double?)]] = [:]
  var lines = 0
  var understood = 0

  public init(format: ExplainEvidence.Format, secrets: SecretSet) {
    self.format = format
    self.secrets = secrets
  }

  /// Reads every line of `splitter`.
  public mutating func read(_ splitter: inout LineSplitter) throws(ExplainError) {
    while let line = try splitter.next() {
      consume(line)
    }
  }

  /// The sessions read so far, in the order they appeared.
  public func sessions() -> [ExplainEvidence] {
    order.compactMap { key in
      guard var e = builders[key]?.evidence else { return nil }
      e.credentialsSeen = secrets.count
      // pion logs no pair failure: when ICE failed, the pairs still being checked failed.
      if format == .pion, e.timeline.contains(where: { $0.kind == .failed }),
        !e.timeline.contains(where: { $0.kind == .connected || $0.kind == .completed })
      {
        let end = e.timeline.last { $0.kind == .failed }?.atMs
        for i in e.pairs.indices
        where e.pairs[i].state != "succeeded" && e.pairs[i].state != "failed" {
          e.pairs[i].states.append(StateChange("failed", atMs: end))
        }
      }
      e.linesRead = lines
      e.linesUnderstood = understood
      return e
    }
  }

  /// The session's builder, taken out of `builders` (so that changing it copies nothing) until
  /// ``consume(_:)`` puts it back.
  mutating func builder(_ key: String, label: String?) -> SessionBuilder {
    if let b = builders.removeValue(forKey: key) { return b }
    order.append(key)
    return SessionBuilder(format: format, label: label)
  }

  /// One line.
  public mutating func consume(_ line: String) {
    lines += 1
    secrets.scan(line)
    guard !line.isEmpty else { return }
    // The session a line belongs to: aioice names its connections; other logs hold one.
    var key = "session"
    var label: String?
    if format == .aioice {
      if line.contains(" aioice.turn "), let r = line.firstRange(of: "'XOR-RELAYED-ADDRESS': ("),
        let relayed = LineTools.addresses(in: line[r.lowerBound...]).first
      {
        relayedAddresses.insert(relayed)
        understood += 1
        return
      }
      guard let r = line.firstRange(of: "Connection(") else { return }
      let rest = line[r.upperBound...]
      guard let close = rest.firstIndex(of: ")"), rest[..<close].allSatisfy(\.isNumber),
        !rest[..<close].isEmpty
      else { return }
      key = String(rest[..<close])
      label = "Connection(\(key))"
    }
    var b = builder(key, label: label)
    if b.evidence.label == nil, format != .aioice, let id = LineTools.value("id", in: line),
      id.count >= 8, id.count <= 64, id.allSatisfy({ $0.isHexDigit || $0 == "-" })
    {
      b.evidence.label = String(id)
    }
    let at = b.time(LineTools.timestamp(line))
    var hit = false
    switch format {
    case .aioice: hit = aioice(line, key: key, at: at, &b)
    case .pion: hit = pion(line, key: key, at: at, &b)
    case .libnice: hit = libnice(line, key: key, at: at, &b)
    default: break
    }
    if !hit { hit = generic(line, key: key, at: at, &b) }
    if hit { understood += 1 }
    builders[key] = b
  }

  // MARK: generic

  mutating func generic(_ line: String, key: String, at: Double?, _ b: inout SessionBuilder)
    -> Bool
  {
    let lower = line.lowercased()
    var hit = false
    // An SDP candidate line.
    if let r = line.ranges(of: "candidate:").last {
      let text = line[r.lowerBound...].prefix { $0 != "," && $0 != "\"" && $0 != "\\" && $0 != "'" }
      if let c = try? SignaledCandidate(sdpAttribute: text) {
        let head = line[..<r.lowerBound].lowercased()
        let remote = head.contains("remote") || head.contains("addicecandidate")
        let local =
          !remote
          && (head.contains("local") || head.contains("discovered") || head.contains("gathered")
            || head.contains("new candidate") || head.contains("onicecandidate")
            || head.contains("new-candidate"))
        if remote || local {
          let index = b.candidate(ObservedCandidate(c, atMs: at), local: local)
          if remote, let index { lastRemote[key] = index } else { lastRemote[key] = nil }
          hit = true
        }
      }
    } else if lower.contains("candidatesize: 0"), let i = lastRemote[key],
      i < b.evidence.remote.count, b.evidence.remote[i].transport == .tcp
    {
      // Licode: the agent took none of the candidate just added (libnice: UDP only).
      b.evidence.remote[i].ignored = true
      lastRemote[key] = nil
      hit = true
    }
    // Settings.
    if lower.contains("port"), let lo = LineTools.value("min_port", in: line).flatMap({ Int($0) }),
      let hi = LineTools.value("max_port", in: line).flatMap({ Int($0) }), lo <= hi,
      (0...65535).contains(lo), (0...65535).contains(hi)
    {
      b.evidence.portRange = PortRange(low: lo, high: hi)
      hit = true
    }
    for (k, kind) in [("stun_server", ConfiguredServer.Kind.stun), ("turn_server", .turn)]
    where lower.contains("server") {
      if let host = LineTools.value(k, in: line), !host.isEmpty, host.count <= 255 {
        let port = LineTools.value(k.replacingOccurrences("_server", "_port"), in: line)
          .flatMap { Int($0) }
        let hostText = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : String(host)
        b.server(kind, "\(kind.rawValue):\(hostText)\(port.map { ":\($0)" } ?? "")")
        hit = true
      }
    }
    // State words: the new state of a transition.
    for k in [
      "newicestate", "new_state", "newstate", "new_ice_state", "iceconnectionstate",
      "connectionstate", "icestate", "ice_state", "state",
    ] where lower.contains("state") {
      guard let w = LineTools.value(k, in: line), LineTools.isWord(w) else { continue }
      if k == "icestate" || k == "state",
        LineTools.value("newicestate", in: line) != nil
          || LineTools.value("new_state", in: line) != nil
      {
        continue
      }
      if let kind = LineTools.stateEvent(w) {
        b.event(kind, at: at, detail: String(w))
        hit = true
      }
      break
    }
    // Gathering.
    if lower.contains("gathering done") || lower.contains("gathering-done")
      || lower.contains("gathering_done") || lower.contains("gathering complete")
      || lower.contains("gatheringdone")
    {
      b.eventOnce(.gatheringDone, at: at)
      hit = true
    } else if lower.contains("gathering") && !lower.contains("gathering-state") {
      b.eventOnce(.gatheringStarted, at: at)
      hit = true
    }
    if lower.contains("setting remote sdp") || lower.contains("setremotedescription")
      || lower.contains("remote description")
    {
      b.eventOnce(.remoteDescription, at: at)
      hit = true
    }
    // The selected pair, as keys (`local_addr: …, local_port: …`), possibly over two lines.
    if lower.contains("selected") {
      if let a = LineTools.value("local_addr", in: line),
        let p = LineTools.value("local_port", in: line).flatMap({ Int($0) })
      {
        pendingLocal[key] = PairEnd(
          address: String(a), port: p,
          kind: LineTools.value("local_type", in: line).flatMap { LineTools.kind($0) })
        hit = true
      }
      if let a = LineTools.value("remote_addr", in: line),
        let p = LineTools.value("remote_port", in: line).flatMap({ Int($0) })
      {
        pendingRemote[key] = PairEnd(
          address: String(a), port: p,
          kind: LineTools.value("remote_type", in: line).flatMap { LineTools.kind($0) })
        hit = true
      }
      if let l = pendingLocal[key], let r = pendingRemote[key] {
        select(l, r, at: at, &b)
        pendingLocal[key] = nil
        pendingRemote[key] = nil
      }
    }
    // DTLS.
    if lower.contains("dtls") {
      if lower.contains("handshakecompleted") || lower.contains("handshake completed")
        || lower.contains("handshake complete") || lower.contains("handshake done")
        || lower.contains("handshake finished") || lower.contains("dtls connected")
      {
        b.eventOnce(.dtlsConnected, at: at)
        hit = true
      } else if lower.contains("fail") || lower.contains("alert") || lower.contains("timed out")
        || lower.contains("timeout")
      {
        b.eventOnce(.dtlsFailed, at: at)
        hit = true
      } else if lower.contains("dtls start") || lower.contains("dtlsrtp start")
        || lower.contains("starting dtls") || lower.contains("handshake start")
        || lower.contains("dtls handshake") || lower.contains("clienthello")
        || lower.contains("client hello")
      {
        b.eventOnce(.dtlsStarted, at: at)
        hit = true
      }
    }
    if lower.contains("consent"),
      lower.contains("expired") || lower.contains("lost") || lower.contains("timeout")
    {
      b.eventOnce(.consentExpired, at: at)
      hit = true
    }
    // A TURN error while gathering (`turn … error 401`).
    if Self.containsWord(lower, "turn"), lower.contains("error") || lower.contains("fail"),
      let code = Self.errorCode(lower)
    {
      b.serverError(uri: nil, code: code, at: at)
      hit = true
    }
    return hit
  }

  mutating func select(_ l: PairEnd, _ r: PairEnd, at: Double?, _ b: inout SessionBuilder) {
    var l = l
    var r = r
    if l.kind == nil { l.kind = b.kindOf(l, local: true) }
    if r.kind == nil { r.kind = b.kindOf(r, local: false) }
    b.evidence.selected = SelectedPair(local: l, remote: r, atMs: at)
    b.event(.selectedPair, at: at, detail: "\(l.text) ↔ \(r.text)")
  }

  /// Whether `word` occurs in `text` not preceded by a letter (`turn`, not `return`).
  static func containsWord(_ text: String, _ word: String) -> Bool {
    var rest = text[...]
    while let r = rest.firstRange(of: word) {
      if r.lowerBound == text.startIndex || !text[text.index(before: r.lowerBound)].isLetter {
        return true
      }
      rest = rest[r.upperBound...]
    }
    return false
  }

  /// A STUN error code (300–699) after `error` or `code` in a lowercased line.
  static func errorCode(_ lower: String) -> Int? {
    for marker in ["error_code", "error code", "error-code", "errorcode", "error", "code"] {
      var rest = lower[...]
      while let r = rest.firstRange(of: marker) {
        let after = rest[r.upperBound...].drop { $0 == " " || $0 == ":" || $0 == "=" || $0 == "(" }
        let digits = after.prefix { $0.isNumber }
        if digits.count == 3, let v = Int(digits), (300...799).contains(v) { return v }
        rest = rest[r.upperBound...]
      }
    }
    return nil
  }

  // MARK: libnice

  mutating func libnice(_ line: String, key: String, at: Double?, _ b: inout SessionBuilder)
    -> Bool
  {
    // STUN-CC REQ [10.0.0.1]:40006 --> [10.0.0.2]:64816, socket=…, pair=0x… (c-id:…), …
    if let r = line.firstRange(of: "STUN-CC REQ") {
      let rest = line[r.upperBound...]
      let addresses = LineTools.addresses(in: rest)
      let pointer = LineTools.value("pair", in: line).map(String.init)
      if addresses.count >= 2 {
        let l = PairEnd(address: addresses[0].ip.description, port: Int(addresses[0].port))
        let rm = PairEnd(address: addresses[1].ip.description, port: Int(addresses[1].port))
        if let i = b.pair(
          pointer ?? "\(addresses[0])>\(addresses[1])", local: l, remote: rm, id: pointer)
        {
          b.count(i, \.requestsSent)
          applyPending(pointer, i, &b)
        }
      }
      return true
    }
    // The pair's addresses: a line naming `pair 0x…` with two addresses (the check list dump).
    if let p = Self.pairPointer(line) {
      let addresses = LineTools.addresses(in: line[...])
      if addresses.count >= 2, b.pairIndex[p] == nil {
        var lk: SignaledCandidate.Kind?
        var rk: SignaledCandidate.Kind?
        if let t = LineTools.value("t", in: line) {
          let parts = t.split(separator: ":")
          if parts.count == 2 {
            lk = LineTools.kind(parts[0])
            rk = LineTools.kind(parts[1])
          }
        }
        _ = b.pair(
          p,
          local: PairEnd(
            address: addresses[0].ip.description, port: Int(addresses[0].port), kind: lk),
          remote: PairEnd(
            address: addresses[1].ip.description, port: Int(addresses[1].port), kind: rk),
          id: p)
      }
      // pair 0x… state SUCCEEDED
      let words = line.split(separator: " ")
      if let si = words.firstIndex(where: { $0 == "state" }), si + 1 < words.count,
        let state = LineTools.pairState(words[si + 1])
      {
        if let i = b.pairIndex[p] {
          b.pairState(i, state, at: at)
          if state == "succeeded" {
            b.evidence.pairs[i].responsesReceived = max(
              1, b.evidence.pairs[i].responsesReceived ?? 0)
          }
        } else if (pendingStates[p]?.count ?? 0) < 32 {
          pendingStates[p, default: []].append((state, at))
        }
        if let i = b.pairIndex[p] { applyPending(p, i, &b) }
        return true
      }
      if addresses.count >= 2 { return true }
    }
    // stream 1 component 1 STATE-CHANGE connecting -> connected.
    if let r = line.firstRange(of: "STATE-CHANGE") {
      let rest = line[r.upperBound...]
      if let arrow = rest.firstRange(of: "->") {
        let word = rest[arrow.upperBound...].drop { $0 == " " }.prefix { $0.isLetter || $0 == "_" }
        if let kind = LineTools.stateEvent(word) {
          b.event(kind, at: at, detail: String(word))
        }
      }
      return true
    }
    // Local selected pair: 1:1 7 1527417831 HOST 10.200.20.84:40006 HOST …
    for (marker, local) in [("Local selected pair", true), ("Remote selected pair", false)] {
      guard let r = line.firstRange(of: marker) else { continue }
      let rest = line[r.upperBound...]
      guard let a = LineTools.addresses(in: rest).first else { return true }
      let kind = rest.split(separator: " ").lazy.compactMap { LineTools.kind($0) }.first
      let end = PairEnd(address: a.ip.description, port: Int(a.port), kind: kind)
      if local { pendingLocal[key] = end } else { pendingRemote[key] = end }
      if let l = pendingLocal[key], let rm = pendingRemote[key] {
        select(l, rm, at: at, &b)
        pendingLocal[key] = nil
        pendingRemote[key] = nil
      }
      return true
    }
    // Candidates libnice names in words: "… local candidate … host 10.0.0.1:40006" or
    // "… remote candidate … srflx [203.0.113.5]:5000".
    let lower = line.lowercased()
    if !line.contains("candidate:"),
      let side = lower.contains("local candidate")
        ? true : (lower.contains("remote candidate") ? false : nil),
      let a = LineTools.addresses(in: line[...]).first
    {
      let words = line.split(whereSeparator: { $0 == " " || $0 == "'" || $0 == "," })
      if let kind = words.lazy.compactMap({ LineTools.kind($0) }).first {
        let tcp = lower.contains(" tcp")
        var c = ObservedCandidate(
          kind: kind, transport: tcp ? .tcp : .udp, address: a.ip.description, port: Int(a.port),
          atMs: at)
        let all = LineTools.addresses(in: line[...])
        if kind != .host, all.count >= 2 {
          c.relatedAddress = all[1].ip.description
          c.relatedPort = Int(all[1].port)
        }
        b.candidate(c, local: side)
        return true
      }
    }
    if lower.contains("role conflict") || lower.contains("487") && lower.contains("stun") {
      b.checkError(487, remote: nil)
      return true
    }
    return false
  }

  /// `0x…` after `pair ` or `pair=`.
  static func pairPointer(_ line: String) -> String? {
    for marker in ["pair 0x", "pair=0x", "pair: 0x"] {
      if let r = line.firstRange(of: marker) {
        let hex = line[line.index(r.upperBound, offsetBy: -2)...].prefix {
          $0.isHexDigit || $0 == "x"
        }
        if hex.count > 2 { return String(hex) }
      }
    }
    return nil
  }

  mutating func applyPending(_ pointer: String?, _ i: Int, _ b: inout SessionBuilder) {
    guard let p = pointer, let states = pendingStates.removeValue(forKey: p) else { return }
    for (s, t) in states { b.pairState(i, s, at: t) }
  }

  // MARK: aioice

  mutating func aioice(_ line: String, key: String, at: Double?, _ b: inout SessionBuilder)
    -> Bool
  {
    // Check CandidatePair(('192.0.2.2', 44682) -> ('192.0.2.2', 58056)) State.FROZEN -> State.WAITING
    if let r = line.firstRange(of: "Check CandidatePair(") {
      let rest = line[r.upperBound...]
      let addresses = LineTools.addresses(in: rest)
      guard addresses.count >= 2 else { return false }
      let relayed = relayedAddresses.contains(addresses[0])
      let l = PairEnd(
        address: addresses[0].ip.description, port: Int(addresses[0].port),
        kind: relayed ? .relay : nil)
      let rm = PairEnd(address: addresses[1].ip.description, port: Int(addresses[1].port))
      if relayed {
        _ = b.candidate(
          ObservedCandidate(kind: .relay, address: l.address, port: l.port, atMs: at), local: true)
      }
      b.eventOnce(.checking, at: at)
      guard let i = b.pair("\(addresses[0])>\(addresses[1])", local: l, remote: rm) else {
        return true
      }
      if let arrow = rest.ranges(of: "-> ").last {
        let word = rest[arrow.upperBound...].prefix { !$0.isWhitespace }
        if let state = LineTools.pairState(word) {
          b.pairState(i, state, at: at)
          if state == "in-progress" { protocolLocalPending[key] = l }
          if state == "succeeded" { lastSucceeded[key] = i }
        }
      }
      return true
    }
    // protocol(0) > ('192.0.2.2', 58056) Message(message_method=Method.BINDING, message_class=Class.REQUEST, …
    if let r = line.firstRange(of: "protocol("), line.contains("Message(") {
      let rest = line[r.upperBound...]
      guard let close = rest.firstIndex(of: ")") else { return false }
      let proto = key + "/" + rest[..<close]
      let after = rest[rest.index(after: close)...].drop { $0 == " " }
      guard let dir = after.first, dir == ">" || dir == "<" else { return false }
      guard let peer = LineTools.addresses(in: after).first else { return false }
      let binding = line.contains("Method.BINDING")
      guard binding else { return true }
      let cls: String =
        line.contains("Class.REQUEST")
        ? "request"
        : line.contains("Class.RESPONSE")
          ? "response" : line.contains("Class.ERROR") ? "error" : "other"
      if dir == ">" && cls == "request", protocolLocal[proto] == nil,
        let l = protocolLocalPending[key]
      {
        protocolLocal[proto] = l
      }
      let peerEnd = PairEnd(address: peer.ip.description, port: Int(peer.port))
      guard
        let local = protocolLocal[proto]
          ?? b.evidence.pairs.first(where: {
            $0.remote.address == peerEnd.address && $0.remote.port == peerEnd.port
          })?.local,
        let i = b.pairIndex[
          "\(TransportAddress(ip: IPAddress(local.address) ?? .anyV4, port: UInt16(local.port)))>\(peer)"
        ]
      else { return true }
      switch (dir, cls) {
      case (">", "request"): b.count(i, \.requestsSent)
      case ("<", "response"): b.count(i, \.responsesReceived)
      case ("<", "request"): b.count(i, \.requestsReceived)
      case (">", "response"): b.count(i, \.responsesSent)
      case ("<", "error"):
        if let code = Self.errorCode(
          line.lowercased().replacingOccurrences("'error-code': (", "error "))
        {
          b.checkError(code, remote: peerEnd.text)
        }
      default: break
      }
      return true
    }
    if line.contains("ICE completed") {
      b.event(.completed, at: at)
      if let i = lastSucceeded[key] {
        let p = b.evidence.pairs[i]
        select(p.local, p.remote, at: at, &b)
      }
      return true
    }
    if line.contains("ICE failed") {
      b.event(.failed, at: at)
      return true
    }
    if line.contains("Consent to send expired") {
      b.event(.consentExpired, at: at)
      return true
    }
    if line.contains("connection_made") { return true }
    return false
  }

  // MARK: pion

  /// A pion candidate as its logs write it: `udp4 host 192.168.1.2:5000`,
  /// `udp4 srflx 203.0.113.5:6000 related 192.168.1.2:5000`.
  static func pionCandidate(_ text: Substring) -> ObservedCandidate? {
    let words = text.split(separator: " ")
    guard let k = words.firstIndex(where: { LineTools.kind($0) != nil }),
      let kind = LineTools.kind(words[k])
    else { return nil }
    let addresses = LineTools.addresses(in: text)
    guard let a = addresses.first else { return nil }
    let tcp = words.prefix(k).contains { $0.lowercased().hasPrefix("tcp") }
    var c = ObservedCandidate(
      kind: kind, transport: tcp ? .tcp : .udp, address: a.ip.description, port: Int(a.port))
    if addresses.count >= 2, text.contains("related") {
      c.relatedAddress = addresses[1].ip.description
      c.relatedPort = Int(addresses[1].port)
    }
    return c
  }

  mutating func pion(_ line: String, key: String, at: Double?, _ b: inout SessionBuilder) -> Bool {
    func pairOf(local: Substring, remote: Substring) -> Int? {
      guard var l = Self.pionCandidate(local), var r = Self.pionCandidate(remote) else {
        return nil
      }
      l.atMs = at
      r.atMs = at
      b.candidate(l, local: true)
      b.candidate(r, local: false)
      return b.pair(
        "\(l.endpointText)>\(r.endpointText)",
        local: PairEnd(address: l.address, port: l.port, kind: l.kind),
        remote: PairEnd(address: r.address, port: r.port, kind: r.kind))
    }
    // Ping STUN from udp4 host 192.168.1.2:5000 to udp4 host 192.168.1.3:6000
    if let r = line.firstRange(of: "Ping STUN from ") {
      let rest = line[r.upperBound...]
      guard let to = rest.firstRange(of: " to ") else { return false }
      if let i = pairOf(local: rest[..<to.lowerBound], remote: rest[to.upperBound...]) {
        b.count(i, \.requestsSent)
        if b.evidence.pairs[i].states.isEmpty { b.pairState(i, "in-progress", at: at) }
      }
      b.eventOnce(.checking, at: at)
      return true
    }
    // Inbound STUN (Request) from REMOTE to LOCAL, useCandidate: true
    if let r = line.firstRange(of: "Inbound STUN (") {
      let rest = line[r.upperBound...]
      guard let close = rest.firstIndex(of: ")"), let from = rest.firstRange(of: " from "),
        let to = rest[from.upperBound...].firstRange(of: " to ")
      else { return false }
      let cls = rest[..<close]
      let local = rest[to.upperBound...].prefix { $0 != "," }
      guard let i = pairOf(local: local, remote: rest[from.upperBound..<to.lowerBound]) else {
        return true
      }
      switch cls {
      case "Request": b.count(i, \.requestsReceived)
      case "SuccessResponse":
        b.count(i, \.responsesReceived)
        b.pairState(i, "succeeded", at: at)
      case "ErrorResponse":
        if let code = Self.errorCode(line.lowercased()) {
          b.checkError(code, remote: b.evidence.pairs[i].remote.text)
        }
      default: break
      }
      return true
    }
    // Set selected candidate pair: prio … (local, prio …) udp4 host A <-> udp4 host B (remote, …)
    if let r = line.firstRange(of: "selected candidate pair") {
      let rest = line[r.upperBound...]
      guard let arrow = rest.firstRange(of: "<->") else { return true }
      let localText = rest[..<arrow.lowerBound]
      let remoteText = rest[arrow.upperBound...]
      // The candidate is after the `(local, prio …)` note.
      let l =
        localText.lastIndex(of: ")").map { localText[localText.index(after: $0)...] } ?? localText
      if let i = pairOf(local: l, remote: remoteText) {
        b.evidence.pairs[i].nominated = true
        let p = b.evidence.pairs[i]
        select(p.local, p.remote, at: at, &b)
      }
      return true
    }
    // Setting new connection state: Checking
    if let r = line.firstRange(of: "connection state: ") {
      let word = line[r.upperBound...].prefix { $0.isLetter }
      if let kind = LineTools.stateEvent(word) { b.event(kind, at: at, detail: String(word)) }
      return true
    }
    return false
  }

  var protocolLocalPending: [String: PairEnd] = [:]
  var lastSucceeded: [String: Int] = [:]
}
