import Report
import Sessions
import Testing
import Traversal

@Suite struct TextWrapTests {
  @Test func greedyAtSpaces() {
    #expect(TextWrap.lines("aa bb cc dd", width: 5) == ["aa bb", "cc dd"])
    #expect(TextWrap.lines("", width: 5) == [])
  }

  @Test func prefixes() {
    #expect(
      TextWrap.lines("one two three", width: 9, indent: "  ", first: "- ")
        == ["- one two", "  three"])
    #expect(TextWrap.lines("", width: 9, indent: "  ") == ["  "])
  }

  @Test func unitsStayWithTheirNumbers() {
    #expect(TextWrap.lines("took 48 ms", width: 8) == ["took 48", "ms"])
    #expect(TextWrap.lines("took 48 ms", width: 8, keepUnits: true) == ["took", "48 ms"])
  }

  @Test func longWordsCutOnlyWhenAsked() {
    #expect(TextWrap.lines("abcdefgh", width: 3) == ["abcdefgh"])
    #expect(
      TextWrap.lines("x abcdefgh", width: 3, cutLongWords: true) == ["x", "abc", "def", "gh"])
  }
}
