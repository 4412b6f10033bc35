import Foundation
import Testing

@Suite struct HelpTests {
  @Test func versionPrints() throws {
    let r = try Binary.run(["--version"])
    #expect(r.status == 0)
    #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
  }

  @Test func unknownOptionFailsWithOneClearLine() throws {
    let r = try Binary.run(["--no-such-option"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("no-such-option"))
  }
}
