import Report
import STUN
import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A JSON value, as a chrome://webrtc-internals dump holds them.
indirect enum JSONValue: Decodable {
  case object([String: JSONValue])
  case array([JSONValue])
  case string(String)
  case number(Double)
  case bool(Bool)
  case null

  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  subscript(_ key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  var string: String? {
    switch self {
    case .string(let s): s
    case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    case .bool(let b): b ? "true" : "false"
    default: nil
    }
  }

  var number: Double? {
    switch self {
    case .number(let d): d
    case .string(let s): Double(s)
    default: nil
    }
  }
}

/// Reads a chrome://webrtc-internals dump (Chrome, Edge, Electron): every PeerConnection, its
/// `rtcConfiguration` (servers, never their credentials), `updateLog` (descriptions,
/// candidates, candidate errors with their codes, state changes with Chrome's JSON-quoted
/// values) and `stats` (`<id>-<property>` series whose `values` is a JSON array in a string:
/// candidate pairs with their counters, candidates, the transport's selected pair and DTLS
/// state).
///
/// The dump is one JSON document: it is parsed whole (at most ``maxBytes``), unlike the logs,
/// which are streamed line by line.
public enum WebRTCInternalsReader {
  /// The largest dump read (after inflating).
  public static let maxBytes = 512 * 1024 * 1024

  /// The sessions of the dump, in the order of their IDs; only `pc` when given.
  public static func read(
    _ bytes: [UInt8], pc: String?, secrets: SecretSet, name: String
  ) throws(ExplainError) -> [ExplainEvidence] {
    let root: JSONValue
    do {
      root = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    } catch {
      throw ExplainError("\(name) looks like a webrtc-internals dump but is not valid JSON")
    }
    guard case .object(let pcs)? = root["PeerConnections"] else {
      throw ExplainError("\(name) is JSON but has no PeerConnections: not a webrtc-internals dump")
    }
    var out: [ExplainEvidence] = []
    for id in pcs.keys.sorted() {
      if let pc, pc != id { continue }
      guard let value = pcs[id] else { continue }
      out.append(session(id: id, value, secrets: secrets))
    }
    if let pc, out.isEmpty {
      throw ExplainError(
        "\(name) has no PeerConnection \(pc); it has \(pcs.keys.sorted().joined(separator: ", "))")
    }
    return out
  }

  static func session(id: String, _ pc: JSONValue, secrets: SecretSet) -> ExplainEvidence {
    var b = SessionBuilder(format: .webrtcInternals, label: id)
    let secretsBefore = secrets.count
    var records = 0
    var understood = 0
    // Servers.
    if let config = pc["rtcConfiguration"]?.string {
      records += 1
      scanSecrets(config, secrets)
      b.evidence.serversKnown = config.contains("iceServers")
      for uri in uris(in: config) {
        b.server(uri.hasPrefix("turn") ? .turn : .stun, uri)
      }
      understood += 1
    }
    if let url = pc["url"]?.string { scanSecrets(url, secrets) }
    // The update log.
    if case .array(let log)? = pc["updateLog"] {
      for entry in log {
        records += 1
        guard let type0 = entry["type"]?.string else { continue }
        let value = entry["value"]?.string ?? ""
        scanSecrets(value, secrets)
        let at = b.time(entry["timestamp"]?.number)
        var type = type0.lowercased()
        if type.hasPrefix("on") { type.removeFirst(2) }
        let state = value.trimmingQuotes()
        switch type {
        case "iceconnectionstatechange", "connectionstatechange":
          // The connection state repeats the ICE state: only its ends are new.
          if type == "connectionstatechange",
            !["connected", "failed", "disconnected", "closed"].contains(state)
          {
            understood += 1
            continue
          }
          if let k = LineTools.stateEvent(state), LineTools.isWord(state) {
            b.event(k, at: at, detail: state)
            understood += 1
          }
        case "icegatheringstatechange":
          if state == "gathering" { b.eventOnce(.gatheringStarted, at: at) }
          if state == "complete" { b.eventOnce(.gatheringDone, at: at) }
          understood += 1
        case "icecandidate", "addicecandidate":
          if let r = value.ranges(of: "candidate:").last,
            let c = try? SignaledCandidate(
              sdpAttribute: value[r.lowerBound...].prefix { $0 != "," && !$0.isNewline })
          {
            b.candidate(ObservedCandidate(c, atMs: at), local: type == "icecandidate")
            understood += 1
          }
        case "icecandidateerror":
          let code = LineTools.value("error_code", in: value).flatMap { Int($0) }
          let uri = LineTools.value("url", in: value).flatMap { LineTools.serverURI($0) }
          if let code {
            b.serverError(uri: uri, code: code, at: at)
            understood += 1
          }
        case "setremotedescription", "setlocaldescription":
          let remote = type == "setremotedescription"
          if remote { b.eventOnce(.remoteDescription, at: at) }
          for line in value.split(whereSeparator: \.isNewline)
          where line.hasPrefix("a=candidate:") {
            if let c = try? SignaledCandidate(sdpAttribute: line) {
              b.candidate(ObservedCandidate(c, atMs: at), local: !remote)
            }
          }
          understood += 1
        case "createoffer", "createanswer", "createofferonsuccess", "createansweronsuccess",
          "setlocaldescriptiononsuccess", "setremotedescriptiononsuccess", "transceiveradded",
          "transceivermodified", "negotiationneeded", "signalingstatechange", "track",
          "addstream", "addtrack", "close", "restartice":
          if type == "restartice" { b.event(.state, at: at, detail: "ice-restart") }
          understood += 1
        default:
          break
        }
      }
    }
    // Stats: `<id>-<property>` series.
    if case .object(let stats)? = pc["stats"] {
      var byID: [String: (type: String, values: [String: JSONValue])] = [:]
      for (key, series) in stats {
        records += 1
        guard let dash = key.lastIndex(of: "-") else { continue }
        let sid = String(key[..<dash])
        let prop = String(key[key.index(after: dash)...])
        guard let type = series["statsType"]?.string, let raw = series["values"]?.string else {
          continue
        }
        let values: JSONValue =
          (try? JSONDecoder().decode(JSONValue.self, from: Data(raw.utf8))) ?? .array([])
        var entry = byID[sid] ?? (type, [:])
        entry.values[prop] = values
        byID[sid] = entry
        understood += 1
      }
      func last(_ v: JSONValue?) -> JSONValue? {
        if case .array(let a)? = v { return a.last }
        return nil
      }
      func candidate(_ sid: String) -> (ObservedCandidate, local: Bool)? {
        guard let e = byID[sid], e.type == "local-candidate" || e.type == "remote-candidate"
        else { return nil }
        let v = e.values
        guard let kind = (last(v["candidateType"])?.string).flatMap({ LineTools.kind($0) }),
          let address = (last(v["address"]) ?? last(v["ip"]))?.string,
          let port = last(v["port"])?.number.map({ Int($0) })
        else { return nil }
        var c = ObservedCandidate(
          kind: kind, transport: last(v["protocol"])?.string == "tcp" ? .tcp : .udp,
          address: address, port: port)
        c.relayProtocol = last(v["relayProtocol"])?.string
        c.networkType = last(v["networkType"])?.string
        c.server = last(v["url"])?.string.flatMap { LineTools.serverURI($0) }
        if let ra = last(v["relatedAddress"])?.string, !ra.isEmpty { c.relatedAddress = ra }
        if let rp = last(v["relatedPort"])?.number { c.relatedPort = Int(rp) }
        return (c, e.type == "local-candidate")
      }
      for sid in byID.keys.sorted() {
        if let (c, local) = candidate(sid) { b.candidate(c, local: local) }
      }
      var selectedIDs: Set<String> = []
      var dtlsStates: [String] = []
      for sid in byID.keys.sorted() {
        guard let e = byID[sid], e.type == "transport" else { continue }
        if let s = last(e.values["selectedCandidatePairId"])?.string { selectedIDs.insert(s) }
        if case .array(let a)? = e.values["dtlsState"] {
          for v in a { if let s = v.string, dtlsStates.last != s { dtlsStates.append(s) } }
        }
      }
      for sid in byID.keys.sorted() {
        guard let e = byID[sid], e.type == "candidate-pair" else { continue }
        let v = e.values
        guard let lid = last(v["localCandidateId"])?.string,
          let rid = last(v["remoteCandidateId"])?.string, let (l, _) = candidate(lid),
          let (r, _) = candidate(rid)
        else { continue }
        let le = PairEnd(address: l.address, port: l.port, kind: l.kind)
        let re = PairEnd(address: r.address, port: r.port, kind: r.kind)
        guard let i = b.pair(sid, local: le, remote: re, id: sid) else { continue }
        if case .array(let states)? = v["state"] {
          for s in states {
            if let w = s.string, let st = LineTools.pairState(w) { b.pairState(i, st, at: nil) }
          }
        }
        b.evidence.pairs[i].requestsSent = last(v["requestsSent"])?.number.map { Int($0) }
        b.evidence.pairs[i].responsesReceived = last(v["responsesReceived"])?.number.map { Int($0) }
        b.evidence.pairs[i].requestsReceived = last(v["requestsReceived"])?.number.map { Int($0) }
        b.evidence.pairs[i].responsesSent = last(v["responsesSent"])?.number.map { Int($0) }
        b.evidence.pairs[i].consentRequestsSent =
          last(v["consentRequestsSent"])?.number.map { Int($0) }
        if let n = last(v["nominated"]) {
          if case .bool(let f) = n { b.evidence.pairs[i].nominated = f }
          if n.string == "true" { b.evidence.pairs[i].nominated = true }
        }
        if let rtt = last(v["currentRoundTripTime"])?.number {
          b.evidence.pairs[i].rttMs = rtt * 1000
        }
        if selectedIDs.contains(sid), b.evidence.selected == nil {
          let at = b.evidence.timeline.first { $0.kind == .connected || $0.kind == .completed }?
            .atMs
          b.evidence.selected = SelectedPair(local: le, remote: re, atMs: at)
        }
      }
      if !dtlsStates.isEmpty,
        !b.evidence.timeline.contains(where: { $0.kind.rawValue.hasPrefix("dtls") })
      {
        // The stats give the DTLS states, not when they were entered.
        if dtlsStates.contains("connecting") { b.event(.dtlsStarted, at: nil) }
        if dtlsStates.contains("connected") { b.event(.dtlsConnected, at: nil) }
        if dtlsStates.contains("failed") { b.event(.dtlsFailed, at: nil) }
      }
    }
    b.evidence.linesRead = records
    b.evidence.linesUnderstood = understood
    b.evidence.credentialsSeen = secrets.count - secretsBefore
    return b.evidence
  }

  /// Credentials in a dump's strings: ICE passwords in SDP, TURN credentials in a
  /// configuration or a page URL.
  static func scanSecrets(_ text: String, _ secrets: SecretSet) {
    for line in text.split(whereSeparator: \.isNewline) {
      secrets.scan(String(line))
    }
    // turn:user:password@host in a URL.
    var rest = text[...]
    while let r = rest.firstRange(of: "turn") {
      let token = rest[r.lowerBound...].prefix {
        !$0.isWhitespace && $0 != "," && $0 != "]" && $0 != "\""
      }
      if let at = token.lastIndex(of: "@") {
        let userinfo = token[..<at].drop { $0 != ":" }.dropFirst()
        if let colon = userinfo.lastIndex(of: ":") {
          secrets.add(String(userinfo[userinfo.index(after: colon)...]))
        }
      }
      rest = rest[r.upperBound...]
    }
  }

  /// The stun:/turn: URIs in a configuration string, without credentials.
  static func uris(in text: String) -> [String] {
    var out: [String] = []
    var rest = text[...]
    while let r = rest.firstRange(where: { $0 == "s" || $0 == "t" }) {
      let tail = rest[r.lowerBound...]
      let before = r.lowerBound == text.startIndex ? " " : text[text.index(before: r.lowerBound)]
      if !before.isLetter, let u = LineTools.serverURI(tail), !out.contains(u), out.count < 32 {
        out.append(u)
      }
      rest = rest[rest.index(after: r.lowerBound)...]
    }
    return out
  }
}

extension Collection where Element: Equatable {
  func firstRange(where predicate: (Element) -> Bool) -> Range<Index>? {
    guard let i = firstIndex(where: predicate) else { return nil }
    return i..<index(after: i)
  }
}

extension String {
  /// Chrome writes state values JSON-quoted (`"\"connected\""`): the word without quotes.
  func trimmingQuotes() -> String {
    var s = self[...]
    while s.first == "\"" || s.first == " " { s = s.dropFirst() }
    while s.last == "\"" || s.last == " " { s = s.dropLast() }
    return String(s)
  }
}
