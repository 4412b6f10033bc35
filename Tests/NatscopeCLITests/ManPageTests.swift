import Foundation
import Testing

/// The man page (`man/natscope.1`) and each command's `--help` agree, flag by flag, and the
/// man page has the sections a reader looks for.
@Suite struct ManPageTests {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static let commands = [
    "demo", "probe", "binding", "connect", "turn", "serve", "explain", "exporter",
  ]

  /// The man page source, with roff's escaped hyphens made plain.
  static func manPage() throws -> String {
    let raw = try String(
      contentsOf: repository.appendingPathComponent("man/natscope.1"), encoding: .utf8)
    return raw.replacingOccurrences(of: "\\-", with: "-")
  }

  /// Splits the man page into `.SH` sections by name.
  static func sections(_ man: String) -> [String: String] {
    var result: [String: String] = [:]
    var name: String?
    var body: [Substring] = []
    for line in man.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix(".SH ") {
        if let name { result[name] = body.joined(separator: "\n") }
        name = String(line.dropFirst(4)).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        body = []
      } else {
        body.append(line)
      }
    }
    if let name { result[name] = body.joined(separator: "\n") }
    return result
  }

  /// What the man page says about `command`: its entry under COMMANDS (from its `.TP` tag to
  /// the next command's) and every `.SS` subsection of OPTIONS whose title names it ("Common"
  /// applies to all), e.g. "demo, probe and connect".
  static func manText(for command: String, in man: String) -> String {
    let sections = sections(man)
    var text = ""
    // COMMANDS: paragraphs start with ".TP" and a tag line whose first word is the command.
    if let commands = sections["COMMANDS"] {
      let entries = commands.components(separatedBy: ".TP\n")
      for entry in entries {
        let tag = entry.split(separator: "\n").first.map(String.init) ?? ""
        let words = tag.replacingOccurrences(of: "\"", with: " ").split(separator: " ")
        if words.dropFirst().first.map(String.init) == command { text += entry }
      }
    }
    if let options = sections["OPTIONS"] {
      for sub in options.components(separatedBy: ".SS ").dropFirst() {
        let title = sub.split(separator: "\n").first.map(String.init) ?? ""
        let named = title.replacingOccurrences(of: " and ", with: ", ")
          .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if named.contains(command) || named.contains("Common") { text += sub }
      }
    }
    return text
  }

  /// The long options (and short ones) `natscope COMMAND --help` lists under OPTIONS.
  static func helpOptions(_ command: String) throws -> (long: Set<String>, short: Set<String>) {
    let r = try Binary.run([command, "--help"])
    guard r.status == 0 else { return ([], []) }
    var long = Set<String>()
    var short = Set<String>()
    var inOptions = false
    for line in r.stdout.split(separator: "\n") {
      if line.hasPrefix("OPTIONS:") {
        inOptions = true
        continue
      }
      if !line.hasPrefix(" ") { inOptions = false }
      guard inOptions else { continue }
      // An option line starts with two spaces and a dash; descriptions are indented further.
      let trimmed = line.drop(while: { $0 == " " })
      guard line.count - trimmed.count <= 4, trimmed.hasPrefix("-") else { continue }
      for word in trimmed.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "/" }) {
        if word.hasPrefix("--") {
          long.insert(String(word.prefix { $0.isLetter || $0.isNumber || $0 == "-" }))
        } else if word.hasPrefix("-"), word.count == 2 {
          short.insert(String(word))
        }
      }
    }
    return (long, short)
  }

  @Test(arguments: commands)
  func everyHelpOptionIsInTheCommandsManSection(_ command: String) throws {
    let man = try Self.manPage()
    let text = Self.manText(for: command, in: man)
    #expect(!text.isEmpty, "man/natscope.1 has no section for `\(command)` under COMMANDS")
    let (long, short) = try Self.helpOptions(command)
    #expect(!long.isEmpty, "`natscope \(command) --help` lists no long option")
    for option in long.sorted() where option != "--help" {
      // Whole-word match, so --turn does not count as --turn-user.
      let pattern = "(^|[^a-z0-9-])\(NSRegularExpression.escapedPattern(for: option))($|[^a-z0-9-])"
      let found = text.range(of: pattern, options: .regularExpression) != nil
      #expect(
        found,
        "`natscope \(command) --help` lists \(option), but man/natscope.1 does not mention it in \(command)'s entry under COMMANDS nor in an OPTIONS subsection (.SS) naming \(command)"
      )
    }
    for option in short.sorted() where option != "-h" {
      let found =
        text.contains("\(option),") || text.contains("\(option) ")
        || text.contains("\(option)\"") || text.contains(".BR \(option)")
      #expect(
        found,
        "`natscope \(command) --help` lists \(option), but man/natscope.1 does not document it for \(command)"
      )
    }
  }

  @Test func theManPageHasTheSectionsAReaderLooksFor() throws {
    let sections = Self.sections(try Self.manPage())
    for name in [
      "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "CONSOLE", "JSON", "EXIT STATUS",
      "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO",
    ] {
      #expect(sections[name] != nil, "man/natscope.1 has no .SH \(name) section")
    }
  }

  /// Every command has its own exit statuses in EXIT STATUS, including the signal exits.
  @Test func exitStatusNamesEveryCommand() throws {
    let exit = Self.sections(try Self.manPage())["EXIT STATUS"] ?? ""
    for command in Self.commands {
      #expect(
        exit.contains(".B \(command)") || exit.contains(".BR \(command)")
          || exit.contains(".BR \"\(command)"),
        "man/natscope.1 EXIT STATUS does not give the exit statuses of \(command)")
    }
    for status in ["130", "143"] {
      #expect(exit.contains(status), "man/natscope.1 EXIT STATUS does not mention \(status)")
    }
  }

  /// `--json` is documented for every command that has it.
  @Test func theJSONOptionListsEveryCommandThatHasIt() throws {
    let man = try Self.manPage()
    let common =
      Self.sections(man)["OPTIONS"]?.components(separatedBy: ".SS ")
      .first { $0.hasPrefix("Common") } ?? ""
    let entry = common.components(separatedBy: ".TP\n").first { $0.hasPrefix(".B -" + "-json") }
    for command in Self.commands {
      guard try Self.helpOptions(command).long.contains("--json") else { continue }
      #expect(
        entry?.contains(command) == true,
        "man/natscope.1's --json entry (OPTIONS, Common) does not list \(command), whose --help has --json"
      )
    }
  }

  /// Each command's `--help` states its exit statuses, including the signal exits.
  @Test(arguments: commands)
  func helpStatesTheExitStatuses(_ command: String) throws {
    let r = try Binary.run([command, "--help"])
    let help = r.stdout.replacingOccurrences(of: "\n", with: " ")
      .replacingOccurrences(of: "  ", with: " ")
    #expect(help.contains("Exit status"), "`natscope \(command) --help` gives no exit status")
    #expect(
      help.contains("130") && help.contains("143"),
      "`natscope \(command) --help` does not say a signal exits 130 (SIGINT) or 143 (SIGTERM)")
  }
}
