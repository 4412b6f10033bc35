import Foundation
import Testing

/// The completion scripts `natscope --generate-completion-script SHELL` prints offer values:
/// NAT names for `demo --a/--b`, levels for `--log-level`, files for `--token-in`,
/// `--token-out` and `--ca`, transports in TURN URIs. Each script is run in its shell (bash
/// always; fish and zsh when installed) the way the shell runs it on Tab.
@Suite struct CompletionTests {
  static func shell(_ name: String) -> String? {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
      let path = "\(dir)/\(name)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }

  static let fish = shell("fish")
  static let zsh = shell("zsh")

  /// A scratch directory with files to complete, removed afterwards.
  final class Scratch {
    let dir: String
    init() throws {
      dir =
        FileManager.default.temporaryDirectory
        .appendingPathComponent(
          "natscope-completion-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        )
        .path
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      for name in ["offer.token", "answer.token", "ca.pem"] {
        FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data())
      }
    }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
  }

  /// Runs `script` (a shell program) in `shell` inside `dir`; returns standard output.
  static func run(_ shell: String, _ arguments: [String], in dir: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: shell)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: dir)
    var environment = ProcessInfo.processInfo.environment
    // The scripts call natscope by name (fish, zsh) or as the first word (bash).
    environment["PATH"] =
      Binary.url.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["HOME"] = dir
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let deadline = Date().addingTimeInterval(30)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  static func script(_ shell: String, into dir: String) throws -> String {
    let r = try Binary.run(["--generate-completion-script", shell])
    guard r.status == 0, !r.stdout.isEmpty else {
      throw Spawned.Failure(description: "no \(shell) completion script: \(r.stderr)")
    }
    let path = "\(dir)/natscope.\(shell)"
    try r.stdout.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// The bash completions for the command line `words` (the last word is being completed).
  static func bash(_ words: [String], in scratch: Scratch) throws -> [String] {
    let path = try script("bash", into: scratch.dir)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    // The function the script registers: `complete -o filenames -F NAME natscope`.
    let function = try #require(
      text.split(separator: "\n").first { $0.hasPrefix("complete ") }?
        .split(separator: " ").dropLast().last.map(String.init),
      "the bash script registers no completion function")
    func quoted(_ s: String) -> String {
      "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    let all = [Binary.url.path] + words
    let line = all.joined(separator: " ")
    let program = """
      source \(quoted(path))
      COMP_WORDS=(\(all.map(quoted).joined(separator: " ")))
      COMP_CWORD=\(all.count - 1)
      COMP_LINE=\(quoted(line))
      COMP_POINT=${#COMP_LINE}
      COMPREPLY=()
      \(function) natscope \(quoted(all.last ?? "")) \(quoted(all.count > 1 ? all[all.count - 2] : ""))
      printf '%s\\n' "${COMPREPLY[@]}"
      """
    return try run("/bin/bash", ["-c", program], in: scratch.dir)
      .split(separator: "\n").map(String.init)
  }

  @Test func bashOffersNATNamesForDemoAAndB() throws {
    let scratch = try Scratch()
    for option in ["--a", "--b"] {
      let values = try Self.bash(["demo", option, ""], in: scratch)
      for name in [
        "open", "full-cone", "symmetric", "cgnat", "udp-blocked", "apdm/eif", "eim/apdf",
      ] {
        #expect(
          values.contains(name),
          "bash: `natscope demo \(option) <Tab>` does not offer \(name): \(values)")
      }
    }
    let symmetric = try Self.bash(["demo", "--a", "sym"], in: scratch)
    #expect(symmetric == ["symmetric"], "bash: `--a sym<Tab>` gives \(symmetric)")
  }

  /// `natscope help <Tab>` offers the commands (the generated script offered nothing).
  @Test func bashOffersCommandsAfterHelp() throws {
    let scratch = try Scratch()
    let values = try Self.bash(["help", ""], in: scratch)
    for command in ["demo", "probe", "connect", "binding", "serve", "turn", "explain"] {
      #expect(values.contains(command), "bash: `natscope help <Tab>` gives \(values)")
    }
    #expect(try Self.bash(["help", "co"], in: scratch) == ["connect"])
  }

  /// The NAT names of `demo --a/--b` are words, not paths: the completion turns bash's
  /// `-o filenames` off for them, so `eim/adf`, `adm/adf`, `apdm/adf` are not shown as
  /// `adf` three times.
  @Test func bashShowsNATNamesWhole() throws {
    let scratch = try Scratch()
    let path = try Self.script("bash", into: scratch.dir)
    for option in ["--a", "--b"] {
      let all = [Binary.url.path, "demo", option, ""]
      let program = """
        source '\(path)'
        compopt() { printf 'compopt %s\\n' "$*"; }
        COMP_WORDS=(\(all.map { "'\($0)'" }.joined(separator: " ")))
        COMP_CWORD=3
        COMP_LINE='\(all.joined(separator: " "))'
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _natscope natscope '' '\(option)'
        printf '%s\\n' "${COMPREPLY[@]}"
        """
      let out = try Self.run("/bin/bash", ["-c", program], in: scratch.dir)
      #expect(out.contains("compopt +o filenames"), "bash: `demo \(option) <Tab>`: \(out)")
      let values = out.split(separator: "\n").filter { !$0.hasPrefix("compopt") }
      #expect(Set(values).count == values.count, "duplicates: \(values)")
      #expect(values.contains("apdm/adf"))
    }
  }

  @Test func bashOffersLogLevels() throws {
    let scratch = try Scratch()
    for command in ["probe", "binding", "connect", "turn", "serve", "demo"] {
      let values = try Self.bash([command, "--log-level", ""], in: scratch)
      #expect(
        Set(values) == ["trace", "debug", "info", "notice", "warning", "error", "critical"],
        "bash: `natscope \(command) --log-level <Tab>` gives \(values)")
    }
  }

  @Test func bashOffersFilesForTokensAndCA() throws {
    let scratch = try Scratch()
    for (command, option) in [
      ("connect", "--token-in"), ("connect", "--token-out"), ("turn", "--ca"),
    ] {
      let values = try Self.bash([command, option, ""], in: scratch)
      #expect(
        values.contains("offer.token") && values.contains("ca.pem"),
        "bash: `natscope \(command) \(option) <Tab>` offers no file names: \(values)")
    }
  }

  @Test func bashOffersTURNTransports() throws {
    let scratch = try Scratch()
    let schemes = try Self.bash(["turn", "tu"], in: scratch)
    #expect(Set(schemes) == ["turn:", "turns:"], "bash: `natscope turn tu<Tab>` gives \(schemes)")
    // Typed as one word (bash splits at ':' only with the default COMP_WORDBREAKS; the
    // completion sees the whole URI either way when quoted).
    let transports = try Self.bash(["connect", "--turn", "turn:relay.example.org"], in: scratch)
    #expect(
      transports.contains("turn:relay.example.org?transport=udp")
        && transports.contains("turn:relay.example.org?transport=tcp"),
      "bash: `natscope connect --turn turn:relay.example.org<Tab>` gives \(transports)")
  }

  @Test(.enabled(if: fish != nil, "fish is not installed (apt-get install fish)"))
  func fishOffersTheSameValues() throws {
    let fish = try #require(Self.fish)
    let scratch = try Scratch()
    let path = try Self.script("fish", into: scratch.dir)
    func complete(_ line: String) throws -> [String] {
      try Self.run(
        fish, ["--no-config", "-c", "source \(path); complete -C '\(line)'"], in: scratch.dir
      )
      .split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
    }
    let nat = try complete("natscope demo --a ")
    #expect(nat.contains("symmetric") && nat.contains("apdm/eif"), "fish: demo --a gives \(nat)")
    let levels = try complete("natscope probe --log-level ")
    #expect(
      levels.contains("debug") && levels.contains("trace"), "fish: --log-level gives \(levels)")
    let files = try complete("natscope connect --token-in ")
    #expect(files.contains("offer.token"), "fish: --token-in gives \(files)")
    let ca = try complete("natscope turn --ca ")
    #expect(ca.contains("ca.pem"), "fish: --ca gives \(ca)")
    // TURN transports come from a custom completion (natscope ---completion), which fish's
    // generated script did not return here: only bash's is checked (bashOffersTURNTransports).
  }

  /// zsh's completion system needs an interactive line editor to run, so for zsh the test
  /// checks that the script parses and carries the values in its argument specs.
  @Test(.enabled(if: zsh != nil, "zsh is not installed (apt-get install zsh)"))
  func zshScriptParsesAndCarriesTheValues() throws {
    let zsh = try #require(Self.zsh)
    let scratch = try Scratch()
    let path = try Self.script("zsh", into: scratch.dir)
    let check = try Self.run(zsh, ["-c", "zsh -n \(path) && print parsed"], in: scratch.dir)
    #expect(check.contains("parsed"), "zsh -n rejects the completion script")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for value in ["symmetric", "apdm/eif", "critical", "_files"] {
      #expect(text.contains(value), "the zsh script does not carry \(value)")
    }
  }
}
