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
