/// One link of an HTTP `Link` header (RFC 8288 §3): a target URI in angle brackets and its
/// parameters, names lower-cased, values unquoted (quoted-string escapes undone).
public struct HTTPLink: Sendable, Hashable {
  public var target: String
  public var parameters: [(name: String, value: String?)]

  public init(target: String, parameters: [(name: String, value: String?)]) {
    self.target = target
    self.parameters = parameters
  }

  /// The first parameter of that name (case-insensitive), RFC 8288 §3.3 for `rel`.
  public func parameter(_ name: String) -> String? {
    let n = name.lowercased()
    return parameters.first(where: { $0.name == n })?.value ?? nil
  }

  /// The relation types of `rel` (a space-separated list, compared case-insensitively).
  public var relations: [String] {
    (parameter("rel") ?? "").lowercased().split(separator: " ").map(String.init)
  }

  public static func == (a: HTTPLink, b: HTTPLink) -> Bool {
    a.target == b.target && a.parameters.map(\.name) == b.parameters.map(\.name)
      && a.parameters.map(\.value) == b.parameters.map(\.value)
  }

  public func hash(into h: inout Hasher) {
    h.combine(target)
    for p in parameters {
      h.combine(p.name)
      h.combine(p.value)
    }
  }

  /// Parses one `Link` field value: `#link-value`, comma-separated, where a link-value is
  /// `"<" URI-Reference ">" *( OWS ";" OWS link-param )` and a link-param is
  /// `token BWS [ "=" BWS ( token / quoted-string ) ]`. Commas and semicolons inside a
  /// quoted string or inside the angle brackets belong to the value. A malformed link-value
  /// is skipped (counted in `malformed`), not fatal: the links around it still count.
  public static func parse(_ field: String) -> (links: [HTTPLink], malformed: Int) {
    var links: [HTTPLink] = []
    var malformed = 0
    let s = Array(field.unicodeScalars)
    var i = 0
    func skipWhitespace() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }
    // Skips to just past the next top-level comma (after a malformed value).
    func skipToNextValue() {
      var quoted = false
      while i < s.count {
        let c = s[i]
        if quoted {
          if c == "\\" { i += 1 } else if c == "\"" { quoted = false }
        } else if c == "\"" {
          quoted = true
        } else if c == "," {
          i += 1
          return
        }
        i += 1
      }
    }
    func isTokenChar(_ c: Unicode.Scalar) -> Bool {
      if c.value > 0x20 && c.value < 0x7F {
        return !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains(c)
      }
      return false
    }
    while i < s.count {
      skipWhitespace()
      if i < s.count, s[i] == "," {
        i += 1
        continue
      }
      guard i < s.count else { break }
      guard s[i] == "<" else {
        malformed += 1
        skipToNextValue()
        continue
      }
      i += 1
      var target = String.UnicodeScalarView()
      while i < s.count, s[i] != ">" {
        target.append(s[i])
        i += 1
      }
      guard i < s.count else {
        malformed += 1
        break
      }
      i += 1  // '>'
      var params: [(name: String, value: String?)] = []
      var bad = false
      while true {
        skipWhitespace()
        guard i < s.count, s[i] == ";" else { break }
        i += 1
        skipWhitespace()
        var name = String.UnicodeScalarView()
        while i < s.count, isTokenChar(s[i]) {
          name.append(s[i])
          i += 1
        }
        // RFC 8288 §3: a name may end in '*' (RFC 8187 extended value); kept as given.
        guard !name.isEmpty else {
          bad = true
          break
        }
        skipWhitespace()
        var value: String?
        if i < s.count, s[i] == "=" {
          i += 1
          skipWhitespace()
          if i < s.count, s[i] == "\"" {
            i += 1
            var v = String.UnicodeScalarView()
            var closed = false
            while i < s.count {
              let c = s[i]
              if c == "\\", i + 1 < s.count {
                v.append(s[i + 1])
                i += 2
                continue
              }
              if c == "\"" {
                closed = true
                i += 1
                break
              }
              v.append(c)
              i += 1
            }
            guard closed else {
              bad = true
              break
            }
            value = String(v)
          } else {
            var v = String.UnicodeScalarView()
            while i < s.count, isTokenChar(s[i]) {
              v.append(s[i])
              i += 1
            }
            value = String(v)
          }
        }
        params.append((String(name).lowercased(), value))
      }
      skipWhitespace()
      if bad || (i < s.count && s[i] != ",") {
        malformed += 1
        skipToNextValue()
        continue
      }
      links.append(HTTPLink(target: String(target), parameters: params))
    }
    return (links, malformed)
  }
}

/// A STUN or TURN server a WHIP/WHEP endpoint offers in a `Link` header with
/// `rel="ice-server"` (RFC 9725 §4.6), with the `username` and `credential` parameters.
///
/// The credential is a secret: it is never part of `description` or any report.
public struct WHIPICEServer: Sendable, Hashable, CustomStringConvertible {
  /// `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` or `turns:…`, as given.
  public var uri: String
  public var username: String?
  /// Secret.
  public var credential: String?
  /// `credential-type` (only `password` is defined); nil when absent.
  public var credentialType: String?

  public init(uri: String, username: String?, credential: String?, credentialType: String?) {
    self.uri = uri
    self.username = username
    self.credential = credential
    self.credentialType = credentialType
  }

  public var isTURN: Bool {
    let l = uri.lowercased()
    return l.hasPrefix("turn:") || l.hasPrefix("turns:")
  }

  /// The URI and whether credentials came; never the credential.
  public var description: String {
    uri + (credential != nil ? " (with credentials)" : "")
  }

  /// The ICE servers among the links of every `Link` field of a response.
  public static func servers(linkFields: [String]) -> (servers: [WHIPICEServer], malformed: Int) {
    var out: [WHIPICEServer] = []
    var malformed = 0
    for field in linkFields {
      let (links, bad) = HTTPLink.parse(field)
      malformed += bad
      for link in links where link.relations.contains("ice-server") {
        out.append(
          WHIPICEServer(
            uri: link.target, username: link.parameter("username"),
            credential: link.parameter("credential"),
            credentialType: link.parameter("credential-type")))
      }
    }
    return (out, malformed)
  }
}
