import Foundation
import Report
import STUN
import Sessions
import Traversal

/// The concise text form of a `ProbeReport`.
struct ProbeReportText {
  var report: ProbeReport
  var verbose: Bool
  /// The widest a line may be (the terminal's columns, at most 92: the layout's natural width).
  var width: Int = 92

  func render() -> String {
    var out: [String] = []
    // Details hang under the value column (16); the layout is 92 columns at its widest.
    let detailWidth = max(40, min(width, 92) - 16)
    let r = report
    var header = "natscope probe: \(r.server)"
    if let s = r.serverSupport {
      header +=
        s.rfc5780
        ? " (RFC 5780, alternate \(s.otherAddress.map(\.description) ?? "?"))" : " (no RFC 5780)"
      if let software = s.software { header += ", \(software)" }
    }
    out.append(contentsOf: wrap(header, width: max(40, width)))
    out.append("")
    func row(_ key: String, _ value: String, _ detail: String? = nil) {
      out.append("  " + key.padding(toLength: 14, withPad: " ", startingAt: 0) + value)
      if let detail, !detail.isEmpty {
        for line in wrap(detail, width: detailWidth) {
          out.append(String(repeating: " ", count: 16) + line)
        }
      }
    }
    if r.mappedAddress == nil, let refusals = r.unreachable, !refusals.isEmpty {
      // ICMP came back: UDP got out, but no STUN server listens where it was sent.
      row("STUN server", "none answers", r.mapping.reason)
    } else if r.udpBlocked {
      row("UDP", "blocked", r.mapping.reason)
      if let tcp = r.tcp { row("STUN/TCP", tcp.reachable ? "reachable" : "blocked", tcp.reason) }
    } else {
      let local =
        r.localAddress.map { $0.ip.isUnspecified ? "*:\($0.port)" : $0.description } ?? "?"
      let mapped = r.mappedAddress.map(\.description) ?? "?"
      row("NAT", r.natDetected ? "yes: \(local) → \(mapped)" : "no: the server saw \(mapped)")
      row("mapping", r.mapping.behavior?.rawValue ?? "unknown", r.mapping.reason)
      row("filtering", r.filtering.behavior?.rawValue ?? "unknown", r.filtering.reason)
      row(
        "hairpinning", r.hairpinning.map { $0 ? "yes" : "no" } ?? "not tested", r.hairpinningReason)
      if let p = r.portAllocation {
        let what: String
        switch p.pattern {
        case .preserved: what = "preserved (public port = local port)"
        case .sequential: what = "sequential, step \(p.delta ?? 0): the next port can be predicted"
        case .random: what = "random: ports cannot be predicted"
        }
        row(
          "port alloc.", what,
          "\(p.preservedCount) of \(p.samples.count) fresh sockets kept their port, \(p.parityPreservedCount) kept their parity."
        )
      }
      row(
        "ALG", r.alg.detected.map { $0 ? "rewrites addresses" : "none seen" } ?? "not tested",
        r.alg.reason)
      if let l = r.bindingLifetime {
        row("lifetime", l.aliveAfterSeconds.map { "≥ \(Int($0)) s" } ?? "unknown", l.reason)
      }
    }
    if let pm = r.portMapping {
      let answered = pm.protocols.filter(\.answered).map(\.name.displayName)
      let gateway = pm.gateway.map { " (gateway \($0))" } ?? ""
      row(
        "port mapping",
        (answered.isEmpty ? "no protocol answered" : answered.joined(separator: ", ")) + gateway)
      for p in pm.protocols {
        for line in wrap(p.description, width: detailWidth) {
          out.append(String(repeating: " ", count: 16) + line)
        }
      }
      if let d = r.doubleNAT {
        row(
          "double NAT",
          d.detected.map { $0 ? "yes" : "none seen" } ?? (d.likely == true ? "likely" : "unknown"),
          d.reason)
      }
      if let t = pm.testMapping {
        let status: String
        if !t.created {
          status = "not created"
        } else {
          let got = t.verified.map { $0 ? "peers got in" : "nothing got in" } ?? "not tested"
          status = "created, \(got), " + (t.deleted ? "deleted" : "NOT confirmed deleted")
        }
        row("test mapping", status, t.summary)
        if let v = t.verification {
          for line in wrap(v, width: detailWidth) {
            out.append(String(repeating: " ", count: 16) + line)
          }
        }
        if let e = t.error, t.created {
          for line in wrap(e, width: detailWidth) {
            out.append(String(repeating: " ", count: 16) + line)
          }
        }
        if !t.sent.isEmpty {
          out.append(String(repeating: " ", count: 16) + "sent to the router:")
          for request in t.sent {
            for (i, line) in wrap(request, width: detailWidth - 2).enumerated() {
              out.append(
                String(repeating: " ", count: i == 0 ? 16 : 18) + (i == 0 ? "- " : "") + line)
            }
          }
        }
      }
    }
    row("legacy name", r.legacyType)
    out.append("")
    out.append(contentsOf: wrap(r.summary, width: detailWidth + 14).map { "  " + $0 })
    out.append("")
    let requests = r.steps.reduce(0) { $0 + attempts($1) }
    out.append(
      String(
        format: "  %d request%@ in %.2f s", requests, requests == 1 ? "" : "s",
        r.durationMs / 1000))
    if verbose {
      out.append("")
      out.append("  tests:")
      for step in r.steps {
        var line = "  " + step.test.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0)
        line +=
          "\(step.query.socket) \(step.localAddress.map(\.description) ?? "") → \(step.query.destination)"
        if step.query.changeIP || step.query.changePort {
          line +=
            " change \(step.query.changeIP ? "IP" : "")\(step.query.changeIP && step.query.changePort ? "+" : "")\(step.query.changePort ? "port" : "")"
        }
        if let p = step.query.responsePort { line += " response-port \(p)" }
        switch step.outcome {
        case .answered(let a)?:
          line += String(
            format: ": from %@ saw %@ (%.1f ms, %@)", a.source.description,
            a.reflexive?.description ?? "-", a.rtt.milliseconds, counted(a.attempts, "try"))
        case .noAnswer(let n, let w)?:
          line += String(
            format: ": no answer (%@ over %.2f s)", counted(n, "try"), w.milliseconds / 1000)
        case .unreachable(let u, let n)?:
          line += ": \(u) after \(n) tr\(n == 1 ? "y" : "ies")"
        case nil:
          line += ": not finished"
        }
        out.append(line)
      }
    }
    return out.joined(separator: "\n")
  }

  private func attempts(_ step: ProbeStep) -> Int {
    switch step.outcome {
    case .answered(let a)?: a.attempts
    case .noAnswer(let n, _)?: n
    case .unreachable(_, let n)?: n
    case nil: 0
    }
  }
}

/// Splits text into lines of at most `width` characters at spaces.
func wrap(_ text: String, width: Int) -> [String] {
  TextWrap.lines(text, width: width)
}
