import STUN
import TestSupport
import Testing
import Traversal

@Suite struct SignalingTokenTests {
  typealias F = SignalingFixtures

  @Test(arguments: [F.typical, F.everything])
  func roundTrip(_ d: SessionDescription) throws {
    let token = d.token
    #expect(token.hasPrefix("natscope1."))
    #expect(!token.contains("="))
    #expect(try SessionToken.decode(token) == d)
  }

  @Test func roundTripWithoutCandidatesAndEveryProfile() throws {
    for p in [nil, .openInternet, .fullCone, .restrictedCone, .symmetric, .udpBlocked]
      as [NATProfile?]
    {
      var d = F.typical
      d.natProfile = p
      d.legacyNATType = p?.legacyType ?? .unknown
      d.candidates = []
      #expect(try SessionToken.decode(d.token) == d)
    }
    let half = NATProfile(natDetected: true, mapping: .addressDependent, filtering: nil)
    var d = F.typical
    d.natProfile = half
    #expect(try SessionToken.decode(d.token).natProfile == half)
  }

  @Test func typicalTokenStaysWellUnderOneThousandCharacters() {
    let token = F.typical.token
    // 4 IPv4 host candidates, 1 srflx, 1 relay and a NAT profile.
    // Measured: 201 characters (151 payload bytes); the encoding is deterministic.
    #expect(token.count == 201)
    #expect(F.everything.token.count < 1000)
  }

  @Test func whitespaceAndLineBreaksAreIgnored() throws {
    let token = F.typical.token
    let chars = Array(token)
    var wrapped = ""
    for (i, c) in chars.enumerated() {
      if i > 0 && i % 37 == 0 { wrapped += i % 2 == 0 ? "\r\n" : "\n  " }
      wrapped.append(c)
    }
    #expect(try SessionToken.decode("  \(wrapped)\t\n") == F.typical)
    #expect(try SessionToken.decode("\"\(token)\"") == F.typical)
  }

  func error(_ text: String, expecting: SignalingRole? = nil) -> SignalingError? {
    do {
      _ = try SessionToken.decode(text, expecting: expecting)
      return nil
    } catch {
      return error
    }
  }

  @Test func everyErrorHasItsSentence() {
    let token = F.typical.token
    #expect(error("") == .empty)
    #expect(error(" \n ")?.message.hasPrefix("Nothing was pasted") == true)
    #expect(error("hello world") == .notAToken)
    #expect(error("natsc") == .truncated(characters: 5))
    #expect(error("natscope2.AAAA") == .unsupportedVersion(2))
    #expect(
      error("natscope2.AAAA")?.message
        == "This token was made by a different natscope version (token format 2); run the same natscope version on both hosts."
    )
    let cut = String(token.prefix(120))
    #expect(error(cut) == .truncated(characters: 120))
    #expect(
      error(cut)?.message
        == "The token is incomplete: it looks cut off after 120 characters; copy the whole line.")
    var mangled = Array(token)
    mangled[60] = mangled[60] == "A" ? "B" : "A"
    #expect(error(String(mangled)) == .checksumMismatch)
    #expect(
      error(String(mangled))?.message == "The token is damaged (checksum mismatch): copy it again.")
    #expect(error(token + "XYZW") == .trailingData(characters: 4))
    #expect(
      error(String(token.prefix(40)) + "!" + token.dropFirst(41)) == .invalidCharacter(position: 41)
    )
    #expect(error(String(repeating: "A", count: 20_000)) == .tooLong(characters: 20_000))
    #expect(
      error(token, expecting: .answer)?.message
        == "This is an offer token, but this terminal made the offer: paste the answer the other host printed after reading it."
    )
    var answer = F.typical
    answer.role = .answer
    #expect(
      error(answer.token, expecting: .offer)?.message
        == "This is an answer token; paste it into the terminal that made the offer.")
    #expect(error(answer.token, expecting: .answer) == nil)
  }

  @Test func absurdLengthsAreDamageNotCrashes() {
    // Valid checksum over a body that claims 200 candidates.
    var body: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 4] + Array("abcd".utf8)
    body += [22] + Array(F.password.utf8) + [0, 100]
    var wire: [UInt8] = [1, 0, UInt8(body.count)] + body
    let crc = CRC32.checksum(wire)
    wire += [
      UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF),
    ]
    let token = "natscope1." + base64url(wire)
    #expect(error(token) == .malformed("the candidate count is impossible"))
    #expect(error(token)?.message.hasPrefix("The token is damaged (the candidate count") == true)
    // A length field that claims 60,000 bytes.
    #expect(error("natscope1." + base64url([1, 0xEA, 0x60, 0, 0, 0, 0])) == .checksumMismatch)
  }

  @Test func versionByteInsideThePayloadIsChecked() {
    var wire: [UInt8] = [2, 0, 1, 0]
    let crc = CRC32.checksum(wire)
    wire += [
      UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF),
    ]
    #expect(error("natscope1." + base64url(wire)) == .unsupportedVersion(2))
    #expect(error("NATSCOPE1." + F.typical.token.dropFirst(10)) == nil)
  }

  /// Every error, its exact sentence: one sentence, ending in a period.
  @Test(arguments: [
    (
      SignalingError.empty,
      "Nothing was pasted: paste the whole token line that starts with \"natscope1.\"."
    ),
    (
      .notAToken,
      "This is not a natscope token (a token starts with \"natscope1.\"): copy the whole line natscope printed on the other host."
    ),
    (
      .unsupportedVersion(3),
      "This token was made by a different natscope version (token format 3); run the same natscope version on both hosts."
    ),
    (
      .tooLong(characters: 20000),
      "The pasted text is 20000 characters long, far longer than any token: copy only the one line natscope printed."
    ),
    (
      .invalidCharacter(position: 41),
      "The token is damaged (character 41 cannot appear in a token): copy it again."
    ),
    (
      .truncated(characters: 412),
      "The token is incomplete: it looks cut off after 412 characters; copy the whole line."
    ),
    (.checksumMismatch, "The token is damaged (checksum mismatch): copy it again."),
    (
      .trailingData(characters: 4),
      "The token has 4 extra characters after its end: copy exactly the one line natscope printed."
    ),
    (
      .malformed("the candidate count is impossible"),
      "The token is damaged (the candidate count is impossible): copy it again, and check both hosts run the same natscope version."
    ),
    (
      .wrongRole(got: .answer, expected: .offer),
      "This is an answer token; paste it into the terminal that made the offer."
    ),
    (
      .wrongRole(got: .offer, expected: .answer),
      "This is an offer token, but this terminal made the offer: paste the answer the other host printed after reading it."
    ),
    (
      .missingAttribute("ice-ufrag"),
      "The SDP has no a=ice-ufrag line: copy every line, from a=ice-ufrag down to a=end-of-candidates."
    ),
    (
      .badCandidate(line: 2, reason: "the port \"x\" is not a number from 0 to 65535"),
      "The candidate on line 2 cannot be read: the port \"x\" is not a number from 0 to 65535."
    ),
    (
      .badAttribute(line: 5, reason: "the role is neither offer nor answer"),
      "Line 5 of the SDP cannot be read: the role is neither offer nor answer."
    ),
    (
      .unrecognizedInput,
      "This is neither a natscope token nor SDP lines: paste the token line natscope printed on the other host."
    ),
  ])
  func sentences(_ e: SignalingError, _ sentence: String) {
    #expect(e.message == sentence)
    #expect(e.description == sentence)
    #expect(sentence.hasSuffix("."))
  }

  @Test func passwordNeverAppearsInTextOrErrors() {
    for d in [F.typical, F.everything] {
      #expect(!d.description.contains(d.password))
      #expect(!d.debugDescription.contains(d.password))
      #expect(!String(describing: d).contains(d.password))
      #expect(!String(reflecting: d).contains(d.password))
    }
    #expect(F.typical.description.contains("<redacted>"))
    var bad = F.typical
    bad.password = "bad pass word with spaces!!"
    let e = error(bad.token)
    #expect(e != nil)
    #expect(e?.message.contains("bad pass") == false)
  }

  @Test func seededMutationsNeverTrap() {
    let seeds: [SessionDescription] = [F.typical, F.everything]
    var rng = SeededGenerator(seed: 0x5EED)
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.! \n=é")
    var decoded = 0
    var errors: [String: Int] = [:]
    for i in 0..<10_000 {
      var chars = Array(seeds[i % 2].token)
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let at = Int.random(in: 0..<max(chars.count, 1), using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: if at < chars.count { chars[at] = alphabet.randomElement(using: &rng) ?? "A" }
        case 1: chars.insert(alphabet.randomElement(using: &rng) ?? "A", at: at)
        case 2: if at < chars.count { chars.remove(at: at) }
        case 3: chars = Array(chars.prefix(at))
        case 4: chars += Array(chars.suffix(Int.random(in: 0...10, using: &rng)))
        default:
          // Flip bits inside the payload by re-encoding a random byte.
          if at < chars.count { chars[at] = chars[(at * 7) % chars.count] }
        }
      }
      do {
        _ = try SessionToken.decode(String(chars))
        decoded += 1
      } catch {
        errors[
          String(describing: error).split(separator: " ").prefix(4).joined(separator: " "),
          default: 0] += 1
        #expect(!error.message.isEmpty)
        #expect(error.message.hasSuffix("."))
      }
    }
    // Almost every mutation is caught; the rest are harmless (whitespace, a no-op swap).
    #expect(decoded < 1_000)
    #expect(errors.count >= 4)
  }

  func base64url(_ bytes: [UInt8]) -> String {
    let a = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var out = ""
    var acc = 0
    var bits = 0
    for b in bytes {
      acc = (acc << 8 | Int(b)) & 0xFFFF
      bits += 8
      while bits >= 6 {
        bits -= 6
        out.append(a[(acc >> bits) & 63])
      }
    }
    if bits > 0 { out.append(a[(acc << (6 - bits)) & 63]) }
    return out
  }
}
