/// Why a pasted token or SDP could not be read. `message` is one sentence that tells the user
/// what to do; it never contains the ICE password.
public enum SignalingError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Nothing but whitespace was given.
  case empty
  /// The text does not start with a natscope token prefix.
  case notAToken
  /// A natscope token in a format this build does not read.
  case unsupportedVersion(Int)
  /// The text is far longer than any token.
  case tooLong(characters: Int)
  /// A character that base64url cannot contain, at a 1-based position within the token.
  case invalidCharacter(position: Int)
  /// The token ends early; `characters` is how many token characters arrived.
  case truncated(characters: Int)
  /// The payload's CRC-32 does not match.
  case checksumMismatch
  /// There is data after the end of the token.
  case trailingData(characters: Int)
  /// The checksum matched but the contents are not a valid description.
  case malformed(String)
  /// A description of the wrong half of the exchange was pasted.
  case wrongRole(got: SignalingRole, expected: SignalingRole)
  /// SDP lines lack a required attribute (`ice-ufrag`, `ice-pwd`).
  case missingAttribute(String)
  /// An `a=candidate:` line (1-based line number) could not be parsed.
  case badCandidate(line: Int, reason: String)
  /// An SDP attribute natscope needs has an unusable value.
  case badAttribute(line: Int, reason: String)
  /// The input is neither a token nor SDP lines.
  case unrecognizedInput

  /// One sentence for the user.
  /// One sentence; anything quoted from the pasted text is shown with control characters
  /// neutralised (see `WireText`).
  public var message: String { WireText.display(rawMessage, limit: 400) }

  private var rawMessage: String {
    switch self {
    case .empty:
      return "Nothing was pasted: paste the whole token line that starts with \"natscope1.\"."
    case .notAToken:
      return
        "This is not a natscope token (a token starts with \"natscope1.\"): copy the whole line natscope printed on the other host."
    case .unsupportedVersion(let v):
      return
        "This token was made by a different natscope version (token format \(v)); run the same natscope version on both hosts."
    case .tooLong(let n):
      return
        "The pasted text is \(n) characters long, far longer than any token: copy only the one line natscope printed."
    case .invalidCharacter(let p):
      return
        "The token is damaged (character \(p) cannot appear in a token): copy it again."
    case .truncated(let n):
      return
        "The token is incomplete: it looks cut off after \(n) characters; copy the whole line."
    case .checksumMismatch:
      return "The token is damaged (checksum mismatch): copy it again."
    case .trailingData(let n):
      return
        "The token has \(n) extra characters after its end: copy exactly the one line natscope printed."
    case .malformed(let what):
      return
        "The token is damaged (\(what)): copy it again, and check both hosts run the same natscope version."
    case .wrongRole(let got, _):
      switch got {
      case .answer:
        return "This is an answer token; paste it into the terminal that made the offer."
      case .offer:
        return
          "This is an offer token, but this terminal made the offer: paste the answer the other host printed after reading it."
      }
    case .missingAttribute(let name):
      return
        "The SDP has no a=\(name) line: copy every line, from a=ice-ufrag down to a=end-of-candidates."
    case .badCandidate(let line, let reason):
      return "The candidate on line \(line) cannot be read: \(reason)."
    case .badAttribute(let line, let reason):
      return "Line \(line) of the SDP cannot be read: \(reason)."
    case .unrecognizedInput:
      return
        "This is neither a natscope token nor SDP lines: paste the token line natscope printed on the other host."
    }
  }

  public var description: String { message }
}
