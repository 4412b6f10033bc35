import ArgumentParser
import Traversal

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The TURN credentials a command was given: `--turn-user` with `--turn-password` (or
/// NATSCOPE_TURN_PASSWORD), or a TURN REST API shared secret (`--turn-secret` or
/// NATSCOPE_TURN_SECRET) from which time-limited credentials are made. Never printed.
enum TURNCredentialOptions {
  /// The credentials, or a one-sentence usage error naming what is missing.
  /// - Parameters:
  ///   - option: the flag that names the servers (`--turn` or `URI`), for the messages.
  static func resolve(
    user: String?, password: String?, secret: String?, option: String,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    now: Date = Date()
  ) throws -> TURNCredentials {
    if password != nil && secret != nil {
      throw fail(
        "--turn-password and --turn-secret are two ways to authenticate; give one of them.")
    }
    let secretText = secret ?? (password == nil ? environment["NATSCOPE_TURN_SECRET"] : nil)
    if let secretText, !secretText.isEmpty {
      return TURNCredentials.restAPI(
        secret: secretText, user: user, now: Int64(now.timeIntervalSince1970.rounded(.down)))
    }
    guard let user, !user.isEmpty else {
      throw fail(
        "\(option) needs --turn-user with --turn-password, or a shared secret with --turn-secret.")
    }
    let pass = password ?? environment["NATSCOPE_TURN_PASSWORD"] ?? ""
    guard !pass.isEmpty else {
      throw fail(
        "\(option) needs a password: set NATSCOPE_TURN_PASSWORD or use --turn-password (or --turn-secret for a shared secret)."
      )
    }
    return TURNCredentials(username: user, password: pass)
  }
}

/// `--turn-user`, `--turn-password` and `--turn-secret`, shared by the commands that talk to TURN
/// servers.
struct TURNCredentialArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp("TURN user name (with --turn-secret: the USER part).", valueName: "user"))
  var turnUser: String?

  @Option(
    help: ArgumentHelp(
      "TURN password (prefer the NATSCOPE_TURN_PASSWORD environment variable).",
      valueName: "password"))
  var turnPassword: String?

  @Option(
    help: ArgumentHelp(
      "TURN REST API shared secret, instead of --turn-password (prefer the NATSCOPE_TURN_SECRET environment variable).",
      valueName: "secret"))
  var turnSecret: String?

  /// Whether any of them was given.
  var isGiven: Bool { turnUser != nil || turnPassword != nil || turnSecret != nil }

  /// The credentials (see ``TURNCredentialOptions/resolve(user:password:secret:option:environment:now:)``).
  func credentials(option: String) throws -> TURNCredentials {
    try TURNCredentialOptions.resolve(
      user: turnUser, password: turnPassword, secret: turnSecret, option: option)
  }
}
