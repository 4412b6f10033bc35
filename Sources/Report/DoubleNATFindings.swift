import STUN
import Traversal

extension FindingCode {
  /// No router answered with its own internet address: nothing to compare.
  public static let doubleNATNoRouterAddress: FindingCode = "double-nat.no-router-address"
  /// The router claimed an address, but no STUN server answered to compare it with.
  public static let doubleNATNoServerAnswer: FindingCode = "double-nat.no-server-answer"
  /// The router's address and the one servers see are of different IP versions.
  public static let doubleNATFamiliesDiffer: FindingCode = "double-nat.families-differ"
  /// The router claims the address servers see: no NAT above it seen.
  public static let doubleNATNoneSeen: FindingCode = "double-nat.none-seen"
  /// The router claims the address servers see but refused every test mapping as a router
  /// that cannot forward from its internet side does.
  public static let doubleNATLikely: FindingCode = "double-nat.likely"
  /// The router's address differs from the one servers see: a NAT above it.
  public static let doubleNATDetected: FindingCode = "double-nat.detected"
}

extension FindingAspect {
  /// Whether a NAT sits above the host's router.
  public static let doubleNAT: FindingAspect = "double-nat"
}

/// The double-NAT verdict as a finding, and its sentences (`probe`, and `connect` with a port
/// mapping): what the router claims for itself against what servers see.
public enum DoubleNATFindings {
  /// The finding of `verdict`.
  public static func finding(_ verdict: DoubleNATVerdict) -> Finding {
    var p: FindingParameters = [:]
    if let r = verdict.routerAddress { p["router"] = .ip(r) }
    if let s = verdict.serverSeenAddress { p["serverSeen"] = .ip(s) }
    let code: FindingCode
    let certainty: FindingCertainty
    switch verdict.basis {
    case .noRouterAddress: (code, certainty) = (.doubleNATNoRouterAddress, .notMeasured)
    case .noServerAnswer: (code, certainty) = (.doubleNATNoServerAnswer, .notMeasured)
    case .familiesDiffer: (code, certainty) = (.doubleNATFamiliesDiffer, .notMeasured)
    case .same: (code, certainty) = (.doubleNATNoneSeen, .measured)
    case .refusedAsBehindAnotherNAT(let refusals, let asked):
      (code, certainty) = (.doubleNATLikely, .likely)
      p["refusals"] = .list(refusals.map { .text($0.phrase) })
      p["asked"] = .int(asked)
    case .differs: (code, certainty) = (.doubleNATDetected, .measured)
    }
    return Finding(
      code, about: .thisHost, certainty, aspect: .doubleNAT, parameters: p,
      evidence: [
        EvidenceItem(
          verdict.routerAddress == nil ? .noAnswer : .answered, step: "port-mapping"),
        EvidenceItem(
          verdict.serverSeenAddress == nil ? .noAnswer : .answered, step: "stun"),
      ])
  }

  /// The sentences of the double-NAT findings.
  public static let vocabulary: FindingText.Vocabulary = { f in
    let p = f.parameters
    let router = p.ip("router").map(\.description) ?? "?"
    let seen = p.ip("serverSeen").map(\.description) ?? "?"
    switch f.code {
    case .doubleNATNoRouterAddress:
      return
        "Unknown: no router answered a port-mapping request with its own internet address, so there is nothing to compare with what servers see."
    case .doubleNATNoServerAnswer:
      return
        "Unknown: your router's own internet address is \(router), but no STUN server answered, so there is nothing to compare it with."
    case .doubleNATFamiliesDiffer:
      return
        "Unknown: your router's own internet address (\(router)) and the address servers see (\(seen)) are of different IP versions, so they cannot be compared."
    case .doubleNATNoneSeen:
      return
        "None seen: the internet address your router reports, \(router), is the address servers see. (A router that learns its address from a STUN server, as miniupnpd can, reports the outermost address even behind another NAT, so this does not rule one out.)"
    case .doubleNATLikely:
      let answers = list(
        p.list("refusals").compactMap { v -> String? in
          if case .text(let t) = v { return t }
          return nil
        })
      let every = p.int("asked") == 1 ? "the one protocol asked" : "every protocol asked"
      return
        "Likely: your router reports the address servers see, \(router), yet it refused to open a port over \(every): \(answers). Those are the answers of a router that is up and allows the request but cannot forward from its own internet side; miniupnpd, for one, refuses so when its STUN test finds a NAT above it that would block what it forwards (it learns the outer address by STUN, so the addresses match). A router out of resources, or with forwarding broken, would answer the same, so this is not proof. If there is a NAT above your router, no port opened on your router opens one on it: a direct connection needs hole punching through both NATs, or a relay."
    case .doubleNATDetected:
      return
        "Your router's own internet address is \(router), but servers see \(seen): there is another NAT above your router (carrier-grade NAT or a second router). A port opened on your router does not open one on the NAT above it, so peers cannot reach you through a port mapping; a direct connection needs hole punching through both NATs, or a relay."
    default: return nil
    }
  }

  /// `a`, `a and b`, `a, b and c`.
  static func list(_ items: [String]) -> String {
    guard items.count > 1, let last = items.last else { return items.first ?? "" }
    return items.dropLast().joined(separator: ", ") + " and " + last
  }
}

extension DoubleNATVerdict {
  /// This verdict with its ``reason`` worded from its finding.
  public var worded: DoubleNATVerdict {
    var v = self
    v.reason = DoubleNATFindings.finding(self).text
    return v
  }
}

extension ProbeReport {
  /// Adds the test mapping (`probe --port-mapping`) and weighs its refusals in the double-NAT
  /// verdict; when that makes a NAT above the router likely, the summary says so too.
  public mutating func attach(testMapping: PortMappingTestReport) {
    guard var pm = portMapping else { return }
    pm.testMapping = testMapping
    portMapping = pm
    let before = doubleNAT
    let verdict = DoubleNATVerdict.evaluate(
      portMapping: pm, serverSeen: udpBlocked ? nil : mappedAddress?.ip
    ).worded
    doubleNAT = verdict
    if verdict.likely == true, before?.likely != true, before?.detected != true {
      summary += " " + verdict.reason
    }
  }

  /// Adds what the router said about port mapping, and the double-NAT verdict that follows
  /// from comparing its external address with the probe's mapped address; when a NAT above the
  /// router is detected, the summary says so too.
  public mutating func attach(portMapping: PortMappingReport) {
    self.portMapping = portMapping
    let verdict = DoubleNATVerdict.evaluate(
      portMapping: portMapping, serverSeen: udpBlocked ? nil : mappedAddress?.ip
    ).worded
    doubleNAT = verdict
    if verdict.detected == true { summary += " " + verdict.reason }
  }
}
