import ArgumentParser
import Scenarios

/// The values the shell completion scripts offer (`--generate-completion-script`).
enum Completions {
  /// `natscope demo --a/--b`: the presets, their other spellings, and every custom
  /// mapping/filtering pair (e.g. `apdm/eif`).
  static let natNames: [String] = {
    let presets = SitePreset.presets.map(\.name) + ["restricted-cone", "port-restricted-cone"]
    let custom = SitePreset.mappingCodes.flatMap { m in
      SitePreset.filteringCodes.map { f in "\(m.code)/\(f.code)" }
    }
    return presets + custom
  }()

  /// `--log-level`.
  static let logLevels = LogLevelArgument.allValueStrings

  /// A TURN URI (RFC 7065) being typed: the schemes first, then the transports once a host is
  /// there (`turns:` runs over TLS, i.e. TCP, only).
  static func turnURIs(_ prefix: String) -> [String] {
    let lower = prefix.lowercased()
    guard let colon = lower.firstIndex(of: ":") else {
      return ["turn:", "turns:"].filter { $0.hasPrefix(lower) }
    }
    let scheme = lower[..<colon]
    guard scheme == "turn" || scheme == "turns" else { return [] }
    let transports = scheme == "turns" ? ["tcp"] : ["udp", "tcp"]
    if let question = prefix.firstIndex(of: "?") {
      let base = prefix[..<question]
      return transports.map { "\(base)?transport=\($0)" }.filter { $0.hasPrefix(prefix) }
    }
    // Nothing after the scheme yet: no host to complete.
    guard prefix.index(after: colon) < prefix.endIndex else { return [] }
    return transports.map { "\(prefix)?transport=\($0)" }
  }

  static let turnURI = CompletionKind.custom { _, _, prefix in turnURIs(prefix) }
}

/// Fixes to the bash script ArgumentParser generates (`--generate-completion-script bash`):
/// `natscope help <Tab>` offers the commands (the generated `help` function offers nothing),
/// and the NAT names of `demo --a/--b` are words, not paths: with the script's `-o filenames`,
/// bash showed `eim/adf`, `adm/adf` and `apdm/adf` as `adf` three times.
enum CompletionScript {
  /// `script` with the fixes, when it is the bash script; any other script unchanged.
  static func amend(_ script: String) -> String {
    guard script.contains("complete -o filenames -F _natscope natscope") else { return script }
    var s = script
    let commands = Natscope.configuration.subcommands.compactMap { $0.configuration.commandName }
    let help = [
      "_natscope_help() {",
      "    repeating_flags=()",
      "    non_repeating_flags=(--version)",
      "    repeating_options=()",
      "    non_repeating_options=()",
      "    __natscope_offer_flags_options -1",
    ].joined(separator: "\n")
    let offer = [
      "",
      "    # The command to explain (once): natscope help COMMAND.",
      "    if [[ \"${cur}\" != -* && ${#unparsed_words[@]} -le 1 ]]; then",
      "        COMPREPLY+=($(compgen -W '\(commands.joined(separator: " "))' -- \"${cur}\"))",
      "    fi",
    ].joined(separator: "\n")
    if let range = s.range(of: help) { s.replaceSubrange(range, with: help + offer) }
    for option in ["--a", "--b"] {
      let value = "    '\(option)')\n        __natscope_add_completions -W 'open'"
      let words =
        "    '\(option)')\n        compopt +o filenames 2>/dev/null\n        __natscope_add_completions -W 'open'"
      s = s.replacingOccurrences(of: value, with: words)
    }
    return s
  }
}
