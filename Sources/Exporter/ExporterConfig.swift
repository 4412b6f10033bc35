import Foundation
import STUN
import Yams

/// The exporter's configuration (`--config FILE`, YAML): the modules `/probe?module=` may
/// name, with their TURN credentials, the checks it runs on a schedule for `/metrics`, and its
/// limits. Secrets are read from the file or from files it names, never from a URL; they never
/// appear in a metric, a label or a log line (``ExporterModule/description`` leaves them out).
///
/// ```yaml
/// modules:
///   turn_udp:
///     kind: turn
///     transport: udp
///     username: alice
///     password_file: /etc/natscope/turn-password   # or password:, secret:, secret_file:
/// checks:
///   - name: office
///     module: probe
///     target: stun.example.org:3478
///     every: 60s
/// limits:
///   concurrency: 4
///   queue: 64
/// ```
public struct ExporterConfig: Sendable {
  public var modules: [String: ExporterModule]
  public var checks: [ScheduledCheck]
  /// Probes that run at once; more wait in the queue.
  public var concurrency: Int
  /// Probes that may wait; one more is answered 503 at once.
  public var queueLength: Int

  /// The modules every exporter has (TURN modules without credentials refuse to run).
  public static let builtIn: [String: ExporterModule] = [
    "probe": ExporterModule(kind: .probe),
    "binding": ExporterModule(kind: .binding),
    "turn_udp": ExporterModule(kind: .turn, transport: .udp),
    "turn_tcp": ExporterModule(kind: .turn, transport: .tcp),
    "turn_tls": ExporterModule(kind: .turn, transport: .tls),
    "port_mapping": ExporterModule(kind: .portMapping),
  ]

  public init(
    modules: [String: ExporterModule] = ExporterConfig.builtIn, checks: [ScheduledCheck] = [],
    concurrency: Int = 4, queueLength: Int = 64
  ) {
    self.modules = modules
    self.checks = checks
    self.concurrency = concurrency
    self.queueLength = queueLength
  }

  /// Parses the YAML text of a config file; `readFile` reads the files it names (password_file,
  /// secret_file). Throws ``ExporterConfigError`` with one sentence.
  public static func parse(
    _ text: String,
    readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
  ) throws -> ExporterConfig {
    let raw: RawConfig
    do {
      raw = try YAMLDecoder().decode(RawConfig.self, from: text)
    } catch let error as DecodingError {
      throw ExporterConfigError(message: "the config is not valid: \(describe(error))")
    } catch {
      throw ExporterConfigError(message: "the config is not valid YAML: \(error)")
    }
    var config = ExporterConfig()
    for (name, m) in raw.modules ?? [:] {
      guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
        throw ExporterConfigError(
          message: "module name \"\(name)\" may hold only letters, digits, _ and -.")
      }
      guard let kind = ExporterModule.Kind(rawValue: m.kind) else {
        throw ExporterConfigError(
          message:
            "module \(name): kind \"\(m.kind)\" is not one of probe, binding, turn, port-mapping.")
      }
      var module = ExporterModule(kind: kind)
      if let t = m.transport {
        guard let transport = ExporterModule.Transport(rawValue: t) else {
          throw ExporterConfigError(
            message: "module \(name): transport \"\(t)\" is not one of udp, tcp, tls.")
        }
        module.transport = transport
      } else if kind == .turn {
        module.transport = .udp
      }
      if let s = m.timeout {
        guard let d = parseDuration(s) else {
          throw ExporterConfigError(
            message: "module \(name): timeout \"\(s)\" is not a duration such as 5s or 500ms.")
        }
        module.timeout = d
      }
      let given = [m.password, m.password_file, m.secret, m.secret_file].compactMap { $0 }
      if given.count > 1 {
        throw ExporterConfigError(
          message:
            "module \(name): give one of password, password_file, secret and secret_file.")
      }
      func read(_ path: String) throws -> String {
        do {
          return try readFile(path).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
          throw ExporterConfigError(message: "module \(name): cannot read \(path).")
        }
      }
      if let p = m.password {
        module.credential = .password(user: m.username ?? "", password: p)
      } else if let f = m.password_file {
        module.credential = .password(user: m.username ?? "", password: try read(f))
      } else if let s = m.secret {
        module.credential = .restSecret(user: m.username, secret: s)
      } else if let f = m.secret_file {
        module.credential = .restSecret(user: m.username, secret: try read(f))
      }
      if case .password(let user, _)? = module.credential, user.isEmpty {
        throw ExporterConfigError(message: "module \(name): a password needs a username.")
      }
      config.modules[name] = module
    }
    for c in raw.checks ?? [] {
      guard config.modules[c.module] != nil else {
        throw ExporterConfigError(message: "check \(c.name): no module named \(c.module).")
      }
      guard let every = parseDuration(c.every ?? "60s"), every >= .seconds(1) else {
        throw ExporterConfigError(
          message: "check \(c.name): every \"\(c.every ?? "")\" is not a duration of 1s or more.")
      }
      config.checks.append(
        ScheduledCheck(name: c.name, module: c.module, target: c.target, every: every))
    }
    if let l = raw.limits {
      if let n = l.concurrency {
        guard (1...256).contains(n) else {
          throw ExporterConfigError(message: "limits.concurrency must be between 1 and 256.")
        }
        config.concurrency = n
      }
      if let n = l.queue {
        guard (0...10_000).contains(n) else {
          throw ExporterConfigError(message: "limits.queue must be between 0 and 10000.")
        }
        config.queueLength = n
      }
    }
    return config
  }

  /// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
  public static func parseDuration(_ text: String) -> Duration? {
    var t = text.trimmingCharacters(in: .whitespaces)
    var scale = 1.0
    for (suffix, factor) in [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    where t.hasSuffix(suffix) {
      t.removeLast(suffix.count)
      scale = factor
      break
    }
    guard let v = Double(t), v.isFinite, v > 0, v * scale <= 86400 * 7 else { return nil }
    return .milliseconds(Int64((v * scale * 1000).rounded()))
  }

  static func describe(_ error: DecodingError) -> String {
    func path(_ c: [any CodingKey]) -> String {
      c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let ctx):
      return "\(path(ctx.codingPath + [key])) is missing."
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
      return "\(path(ctx.codingPath)) has the wrong type."
    case .dataCorrupted(let ctx):
      return ctx.codingPath.isEmpty ? "it is not YAML." : "\(path(ctx.codingPath)) is malformed."
    @unknown default:
      return "it cannot be read."
    }
  }

  struct RawConfig: Decodable {
    var modules: [String: RawModule]?
    var checks: [RawCheck]?
    var limits: RawLimits?
  }

  struct RawModule: Decodable {
    var kind: String
    var transport: String?
    var timeout: String?
    var username: String?
    var password: String?
    var password_file: String?
    var secret: String?
    var secret_file: String?
  }

  struct RawCheck: Decodable {
    var name: String
    var module: String
    var target: String
    var every: String?
  }

  struct RawLimits: Decodable {
    var concurrency: Int?
    var queue: Int?
  }
}

/// A module: which check `/probe?module=NAME` runs, and how.
public struct ExporterModule: Sendable, CustomStringConvertible {
  public enum Kind: String, Sendable {
    case probe, binding, turn
    case portMapping = "port-mapping"
  }

  public enum Transport: String, Sendable {
    case udp, tcp, tls
  }

  /// TURN credentials: a long-term password, or a TURN REST API shared secret.
  public enum Credential: Sendable {
    case password(user: String, password: String)
    case restSecret(user: String?, secret: String)
  }

  public var kind: Kind
  public var transport: Transport?
  /// The longest a check may take when the scrape sets no timeout.
  public var timeout: Duration = .seconds(10)
  /// Never printed (``description`` leaves it out).
  public var credential: Credential?

  public init(kind: Kind, transport: Transport? = nil) {
    self.kind = kind
    self.transport = transport
  }

  /// The module without its secret.
  public var description: String {
    var s = kind.rawValue
    if let transport { s += " over \(transport.rawValue)" }
    if credential != nil { s += " (with credentials)" }
    return s
  }
}

/// A check the exporter runs on a schedule; its results are on `/metrics`, labelled
/// `check="NAME"`.
public struct ScheduledCheck: Sendable {
  public var name: String
  public var module: String
  public var target: String
  public var every: Duration
}

/// A config file that cannot be used, in one sentence.
public struct ExporterConfigError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}
