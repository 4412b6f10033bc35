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

  static let commands = [
    "demo", "probe", "connect", "binding", "serve", "turn", "explain", "exporter",
  ]

  /// Usage lines fit 80 columns (ArgumentParser writes them on one line, 156–180 columns for
  /// connect and probe), in the help and in a usage error alike.
  @Test(arguments: [""] + commands)
  func usageLinesFitEightyColumns(_ command: String) throws {
    let args = command.isEmpty ? ["--help"] : [command, "--help"]
    let help = try Binary.run(args)
    #expect(help.status == 0)
    #expect(help.stdout.contains("USAGE:"))
    for line in Self.usageBlock(help.stdout) {
      #expect(line.count <= 80, "`natscope \(command) --help`: \(line.count) columns: \(line)")
    }
    guard !command.isEmpty else { return }
    let error = try Binary.run([command, "--no-such-option"])
    let usage = error.stderr.split(separator: "\n", omittingEmptySubsequences: false)
      .map(String.init).drop { !$0.hasPrefix("Usage:") }.prefix { !$0.hasPrefix("  See ") }
    #expect(!usage.isEmpty, "\(error.stderr)")
    for line in usage {
      #expect(line.count <= 80, "`natscope \(command) --no-such-option`: \(line)")
    }
  }

  /// The lines from `USAGE:` to the blank line after it.
  static func usageBlock(_ help: String) -> [String] {
    let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let start = lines.firstIndex(where: { $0.hasPrefix("USAGE:") }) else { return [] }
    return Array(lines[start...].prefix { !$0.isEmpty })
  }

  /// `--log-level` help names `--no-tui` only where there is a console to hide the logs.
  @Test(arguments: commands)
  func logLevelHelpNamesNoTUIOnlyWithAConsole(_ command: String) throws {
    let help = try Binary.run([command, "--help"]).stdout
    // explain takes --no-tui (its report is plain text until the console replay exists).
    let hasConsole = ["demo", "probe", "connect", "explain"].contains(command)
    #expect(help.contains("--no-tui") == hasConsole, "`natscope \(command) --help`:\n\(help)")
  }

  /// The console's commands give exit status 3, ended before a verdict, in their `--help`.
  @Test(arguments: ["demo", "probe", "connect"])
  func consoleCommandsStateTheEndedEarlyStatus(_ command: String) throws {
    let help = try Binary.run([command, "--help"]).stdout.replacingOccurrences(of: "\n", with: " ")
      .split(separator: " ").joined(separator: " ")
    #expect(help.contains(", 3 "), "`natscope \(command) --help` gives no exit status 3")
    #expect(help.contains("SIGHUP"), "`natscope \(command) --help` does not say what SIGHUP does")
  }
}
