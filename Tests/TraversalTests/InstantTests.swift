import Testing
import Traversal

@Suite struct InstantTests {
  @Test func arithmetic() {
    let t = Instant.zero + .milliseconds(250)
    #expect(t.nanoseconds == 250_000_000)
    #expect(t - Instant.zero == .milliseconds(250))
    #expect((t - .milliseconds(50)).milliseconds == 200)
    #expect(Instant.distantFuture + .seconds(1) == .distantFuture)
  }

  @Test func seededGeneratorIsDeterministic() {
    var a = SeededGenerator(seed: 42)
    var b = SeededGenerator(seed: 42)
    var c = SeededGenerator(seed: 43)
    let xs = (0..<8).map { _ in a.next() }
    #expect(xs == (0..<8).map { _ in b.next() })
    #expect(xs != (0..<8).map { _ in c.next() })
  }
}
