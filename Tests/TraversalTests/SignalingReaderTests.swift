import TestSupport
import Testing
import Traversal

@Suite struct SignalingReaderTests {
  typealias F = SignalingFixtures

  @Test func readsOneTokenLine() {
    let r = DescriptionReader.read("\n\(F.typical.token)\nignored\n", expecting: .offer)
    #expect(r == .success(F.typical))
  }

  @Test func readsATokenWrappedOverLines() {
    let token = F.typical.token
    var reader = DescriptionReader(expecting: .offer)
    #expect(reader.feed(String(token.prefix(80))) == .needMore)
    #expect(reader.feed(String(token.dropFirst(80).prefix(80))) == .needMore)
    #expect(reader.feed(String(token.dropFirst(160))) == .complete(F.typical))
  }

  @Test func aCutOffTokenAtEndOfInputIsTruncated() {
    let token = F.typical.token
    var reader = DescriptionReader(expecting: .offer)
    #expect(reader.feed(String(token.prefix(100))) == .needMore)
    #expect(reader.finish() == .error(.truncated(characters: 100)))
    var reader2 = DescriptionReader(expecting: .offer)
    _ = reader2.feed(String(token.prefix(100)))
    #expect(reader2.feed("") == .error(.truncated(characters: 100)))
  }

  @Test func readsSDPUpToAnEmptyLine() {
    var reader = DescriptionReader(expecting: .offer)
    let lines = F.typical.sdpLines
    for line in lines.dropLast() { #expect(reader.feed(line) == .needMore) }
    #expect(reader.feed("") == .complete(F.typical))
    // And at end of input without the empty line.
    let r = DescriptionReader.read(lines: Array(lines.dropLast()), expecting: .offer)
    #expect(r == .success(F.typical))
  }

  @Test func browserSDPTakesTheExpectedRole() {
    let r = DescriptionReader.read(lines: SignalingFixtures.browser, expecting: .answer)
    #expect((try? r.get())?.role == .answer)
  }

  @Test func sdpOfTheWrongRole() {
    #expect(
      DescriptionReader.read(SignalingFixtures.typical.sdp, expecting: .answer)
        == .failure(.wrongRole(got: .offer, expected: .answer)))
  }

  @Test func aTokenCutInsideItsPrefix() {
    let token = F.typical.token
    var reader = DescriptionReader(expecting: .offer)
    #expect(reader.feed("nats") == .needMore)
    #expect(reader.feed(String(token.dropFirst(4))) == .complete(F.typical))
  }

  @Test func wrongRoleAndGarbage() {
    #expect(
      DescriptionReader.read(F.typical.token, expecting: .answer)
        == .failure(.wrongRole(got: .offer, expected: .answer)))
    #expect(
      DescriptionReader.read("hello there", expecting: .offer) == .failure(.unrecognizedInput))
    #expect(DescriptionReader.read("", expecting: .offer) == .failure(.empty))
    var reader = DescriptionReader(expecting: .offer)
    #expect(reader.feed("what is this") == .error(.unrecognizedInput))
    #expect(reader.feed(F.typical.token) == .error(.unrecognizedInput))
  }
}
