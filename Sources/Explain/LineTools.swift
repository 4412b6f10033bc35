import Report
import STUN
import Traversal

/// Small pieces of line parsing the text readers share: timestamps, `key: value` pairs,
/// addresses, state words and credentials.
enum LineTools {
  /// The time a log line starts with, in milliseconds (of the day, plus days since 1970 when a
  /// date comes first): `2026-12-06 10:24:32,549`, `10:24:32.549`, `10:24:32`. Looked for in
  /// the line's first 80 characters; nil when there is none.
  static func timestamp(_ line: String) -> Double? {
    let u = Array(line.utf8.prefix(80))
    func digits(_ i: Int, _ n: Int) -> Int? {
      guard i >= 0, i + n <= u.count else { return nil }
      var v = 0
      for k in i..<(i + n) {
        let c = u[k]
        guard c >= 0x30 && c <= 0x39 else { return nil }
        v = v * 10 + Int(c - 0x30)
      }
      return v
    }
    var i = 0
    while i + 8 <= u.count {
      // HH:MM:SS
      if let h = digits(i, 2), u[i + 2] == 0x3A, let m = digits(i + 3, 2), u[i + 5] == 0x3A,
        let s = digits(i + 6, 2), h < 24, m < 60, s < 61,
        i == 0 || !(u[i - 1] >= 0x30 && u[i - 1] <= 0x39)
      {
        var ms = Double(((h * 60) + m) * 60 + s) * 1000
        if i + 8 < u.count, u[i + 8] == 0x2C || u[i + 8] == 0x2E {
          var k = i + 9
          var scale = 100.0
          while k < u.count, u[k] >= 0x30 && u[k] <= 0x39, k < i + 15 {
            ms += Double(u[k] - 0x30) * scale
            scale /= 10
            k += 1
          }
        }
        // A date just before (YYYY-MM-DD and one separator).
        if i >= 11, let y = digits(i - 11, 4), u[i - 7] == 0x2D, let mo = digits(i - 6, 2),
          u[i - 4] == 0x2D, let d = digits(i - 3, 2)
        {
          ms += Double(daysFromCivil(y, mo, d)) * 86_400_000
        }
        return ms
      }
      i += 1
    }
    return nil
  }

  /// Days since 1970-01-01 (Howard Hinnant's algorithm).
  static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (m + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  /// The value after `key` (`key: value`, `key:value`, `key=value`, `key='value'`), up to
  /// the next comma, space, quote or bracket; keys are compared without case and without `_`.
  static func value(_ key: String, in line: String) -> Substring? {
    let want = Array(key.utf8).filter { $0 != 0x5F && $0 != 0x2D }.map(lowerASCII)
    guard !want.isEmpty else { return nil }
    let u = line.utf8
    var i = u.startIndex
    while let sep = u[i...].firstIndex(where: { $0 == 0x3A || $0 == 0x3D }) {
      // The key: the letters, digits, `_` and `-` just before the separator, compared without
      // case, `_` or `-`, and without allocating.
      var start = sep
      while start > u.startIndex {
        let prev = u.index(before: start)
        let c = u[prev]
        guard isKeyByte(c) else { break }
        start = prev
      }
      var matches = true
      var k = want.count
      var j = sep
      while j > start {
        j = u.index(before: j)
        let c = u[j]
        if c == 0x5F || c == 0x2D { continue }
        k -= 1
        if k < 0 || want[k] != lowerASCII(c) {
          matches = false
          break
        }
      }
      if matches && k == 0 {
        var v = u.index(after: sep)
        while v < u.endIndex, u[v] == 0x20 { v = u.index(after: v) }
        var quote: UInt8?
        if v < u.endIndex, u[v] == 0x27 || u[v] == 0x22 {
          quote = u[v]
          v = u.index(after: v)
        }
        var end = v
        while end < u.endIndex {
          let c = u[end]
          if let q = quote {
            if c == q { break }
          } else if c == 0x2C || c == 0x20 || c == 0x29 || c == 0x5D || c == 0x7D || c == 0x27
            || c == 0x22 || c == 0x3B
          {
            break
          }
          end = u.index(after: end)
        }
        if end > v { return line[v..<end] }
      }
      i = u.index(after: sep)
    }
    return nil
  }

  static func lowerASCII(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 0x20 : c }

  static func isKeyByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
      || c == 0x2D
  }

  /// `[ip]:port`, `ip:port` or `('ip', port)` addresses in `text`, in order.
  static func addresses(in text: Substring) -> [TransportAddress] {
    var out: [TransportAddress] = []
    var i = text.startIndex
    while i < text.endIndex {
      let c = text[i]
      if c == "[" {
        if let close = text[i...].firstIndex(of: "]"),
          let ip = IPAddress(text[text.index(after: i)..<close])
        {
          var j = text.index(after: close)
          if j < text.endIndex, text[j] == ":" {
            j = text.index(after: j)
            let end = text[j...].firstIndex(where: { !$0.isNumber }) ?? text.endIndex
            if let port = UInt16(text[j..<end]) {
              out.append(TransportAddress(ip: ip, port: port))
              i = end
              continue
            }
          }
        }
      } else if c == "(" && text[i...].hasPrefix("('") {
        // Python's ('192.0.2.2', 44682)
        let s = text.index(i, offsetBy: 2)
        if let q = text[s...].firstIndex(of: "'"), let ip = IPAddress(text[s..<q]) {
          var j = text.index(after: q)
          if text[j...].hasPrefix(", ") {
            j = text.index(j, offsetBy: 2)
            let end = text[j...].firstIndex(where: { !$0.isNumber }) ?? text.endIndex
            if let port = UInt16(text[j..<end]) {
              out.append(TransportAddress(ip: ip, port: port))
              i = end
              continue
            }
          }
        }
      } else if c.isNumber, i == text.startIndex || !isAddressChar(text[text.index(before: i)]) {
        // 192.0.2.1:5000
        let end =
          text[i...].firstIndex(where: { !($0.isNumber || $0 == "." || $0 == ":") })
          ?? text.endIndex
        let token = text[i..<end]
        if let colon = token.lastIndex(of: ":"), let ip = IPAddress(token[..<colon]),
          case .v4 = ip, let port = UInt16(token[token.index(after: colon)...])
        {
          out.append(TransportAddress(ip: ip, port: port))
        }
        i = end
        continue
      }
      i = text.index(after: i)
    }
    return out
  }

  static func isAddressChar(_ c: Character) -> Bool {
    c.isNumber || c.isLetter || c == "." || c == ":"
  }

  /// A candidate type as logs write it (`host`, `srflx`, `srv-rflx`, `server-reflexive`,
  /// `prflx`, `peer-rflx`, `relay`, `relayed`), any case.
  static func kind(_ word: some StringProtocol) -> SignaledCandidate.Kind? {
    switch word.lowercased() {
    case "host": .host
    case "srflx", "srv-rflx", "server-reflexive", "server_reflexive": .srflx
    case "prflx", "peer-rflx", "peer-reflexive", "peer_reflexive": .prflx
    case "relay", "relayed": .relay
    default: nil
    }
  }

  /// A pair state as lowercase words with dashes (`IN_PROGRESS` → `in-progress`).
  static func pairState(_ word: some StringProtocol) -> String? {
    var w = word.lowercased()
    if w.hasPrefix("state.") { w.removeFirst(6) }
    w = w.replacingOccurrences("_", "-")
    let known = [
      "frozen", "waiting", "in-progress", "succeeded", "failed", "discovered", "cancelled",
    ]
    return known.contains(w) ? w : nil
  }

  /// The timeline event an ICE or component state word means.
  static func stateEvent(_ word: some StringProtocol) -> TimelineEvent.Kind? {
    switch word.lowercased() {
    case "gathering": .gatheringStarted
    case "checking", "connecting": .checking
    case "connected", "ready": .connected
    case "completed": .completed
    case "failed": .failed
    case "disconnected": .disconnected
    case "closed": .closed
    case "new", "initial", "cand_received", "candidates_received": .state
    default: nil
    }
  }

  /// Whether `word` is a state word (letters, `_`, `-`), not a number.
  static func isWord(_ word: some StringProtocol) -> Bool {
    !word.isEmpty && word.count <= 32 && word.first?.isLetter == true
      && word.allSatisfy { ($0.isLetter && $0.isASCII) || $0 == "_" || $0 == "-" }
  }

  /// A URI of an ICE server without its credentials (`turn:user:pass@host` → `turn:host`), or
  /// nil for anything else.
  static func serverURI(_ text: some StringProtocol) -> String? {
    let lower = text.lowercased()
    guard let scheme = ["stuns:", "stun:", "turns:", "turn:"].first(where: { lower.hasPrefix($0) })
    else { return nil }
    var rest = text.dropFirst(scheme.count)
    if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    let clean = rest.prefix { $0.isLetter || $0.isNumber || ".-:[]?=_".contains($0) }
    guard !clean.isEmpty, clean.count <= 300 else { return nil }
    return scheme + clean
  }
}

extension String {
  /// The key without `_` and `-` (`ice_pwd`, `ice-pwd` and `icepwd` are one key).
  func replacingUnderscores() -> String {
    replacingOccurrences("_", "").replacingOccurrences("-", "")
  }

  /// Every `target` replaced by `replacement` (without Foundation).
  func replacingOccurrences(_ target: String, _ replacement: String) -> String {
    guard !target.isEmpty else { return self }
    var out = ""
    var rest = self[...]
    while let r = rest.firstRange(of: target) {
      out += rest[..<r.lowerBound]
      out += replacement
      rest = rest[r.upperBound...]
    }
    out += rest
    return out
  }
}

/// The credentials an input holds: counted, and kept only so the output can be checked and
/// scrubbed of them (``scrub(_:)``); never written anywhere.
public final class SecretSet: @unchecked Sendable {
  private(set) var values: Set<String> = []
  /// How many distinct credentials were seen.
  public var count: Int { values.count }

  public init() {}

  /// Keys whose values are credentials: ICE passwords (`pass`, `pwd`, `ice-pwd`), TURN
  /// passwords and REST secrets (`password`, `credential`, `secret`).
  static let keys = [
    "pass", "pwd", "icepwd", "ice-pwd", "password", "passwd", "credential", "secret",
    "remotepassword", "localpassword", "turnpassword", "staticauthsecret",
  ]

  /// Records every credential `line` holds.
  func scan(_ line: String) {
    guard values.count < 10_000 else { return }
    let lower = line.lowercased()
    guard
      lower.contains("pass") || lower.contains("pwd") || lower.contains("credential")
        || lower.contains("secret")
    else { return }
    for key in Self.keys {
      var rest = line[...]
      // Every occurrence of the key.
      while let v = LineTools.value(key, in: String(rest)) {
        let s = String(v)
        if s.count >= 4 { values.insert(s) }
        guard let r = rest.range(of: s) else { break }
        rest = rest[r.upperBound...]
      }
    }
  }

  /// Adds one credential found another way (a dump's `credential` field).
  func add(_ value: String) {
    if value.count >= 4, values.count < 10_000 { values.insert(value) }
  }

  /// `text` with every credential replaced by `[redacted]`.
  public func scrub(_ text: String) -> String {
    var t = text
    for v in values.sorted(by: { $0.count > $1.count }) where t.contains(v) {
      t = t.replacingOccurrences(v, "[redacted]")
    }
    return t
  }
}

extension Substring {
  func range(of s: String) -> Range<Substring.Index>? { firstRange(of: s) }
}
