import Foundation
import Report
import STUN
import Traversal

/// The concise text form of a `ProbeReport`: every sentence from its findings
/// (``ProbeFindings``).
public struct ProbeReportText {
  public var report: ProbeReport
  public var verbose: Bool
  /// The widest a line may be (the terminal's columns, at most 92: the layout's natural width).
  public var width: Int = 92

  /// A renderer of `report`; `verbose` adds every request.
  public init(report: ProbeReport, verbose: Bool, width: Int = 92) {
    self.report = report
    self.verbose = verbose
    self.width = width
  }

  /// The text, lines joined with newlines.
  public func render() -> String {
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
    let findings = ProbeFindings.derive(r)
    func text(_ codes: [FindingCode]) -> String {
      findings.filter { codes.contains($0.code) }.map(\.text).joined(separator: " ")
    }
    func aspect(_ a: FindingAspect) -> String {
      findings.first { $0.aspect == a && $0.subject == .thisHost }?.text ?? ""
    }
    if findings.contains(.serverOnThisHost) {
      row("server", "on this host", text([.serverOnThisHost]))
    }
    if r.mappedAddress == nil {
      if findings.contains(.probeUDPUnreachable) || findings.contains(.probeUDPErrorResponse) {
        // ICMP (or an error) came back: UDP got out, but no STUN server answers there.
        row(
          "STUN server", "none answers",
          text([.probeUDPUnreachable, .probeUDPErrorResponse, .probeUDPNoAnswer]))
      } else if findings.contains(.probeUDPBlocked) {
        row("UDP", "blocked", text([.probeUDPBlocked]))
      } else if findings.contains(.probeNoServer) {
        row("STUN server", "none given", text([.probeNoServer]))
      } else {
        row("UDP", "no answer", text([.probeUDPNoAnswer, .probeUDPNotMeasured]))
      }
      if let tcp = findings.first(where: { $0.code.rawValue.hasPrefix("tcp.") }) {
        let value: String
        switch tcp.code {
        case .probeTCPAnswered: value = "reachable"
        case .probeTCPRefused: value = "refused (host up)"
        case .probeTCPNoAnswer: value = "no answer"
        default: value = "failed"
        }
        row("STUN/TCP", value, tcp.text)
      }
    } else {
      let local = r.localAddress.map(BindingFindings.localText) ?? "?"
      let mapped = r.mappedAddress.map(\.description) ?? "?"
      row("NAT", r.natDetected ? "yes: \(local) → \(mapped)" : "no: the server saw \(mapped)")
      let silent = text([.probeUDPNoAnswer, .probeUDPUnreachable])
      if !silent.isEmpty { row("other servers", "no answer", silent) }
      row("mapping", r.mapping.behavior?.rawValue ?? "unknown", aspect(.mapping))
      row(
        "filtering",
        r.filtering.behavior?.rawValue
          ?? (findings.notMeasured(.filtering, of: .thisHost) ? "not measured" : "unknown"),
        aspect(.filtering))
      row(
        "hairpinning", r.hairpinning.map { $0 ? "yes" : "no" } ?? "not tested", aspect(.hairpinning)
      )
      if let p = r.portAllocation {
        let what: String
        switch p.pattern {
        case .preserved: what = "preserved (public port = local port)"
        case .sequential: what = "sequential, step \(p.delta ?? 0): the next port can be predicted"
        case .random: what = "random: ports cannot be predicted"
        }
        row("port alloc.", what, text([.portAllocation]))
      }
      row(
        "ALG", r.alg.detected.map { $0 ? "rewrites addresses" : "none seen" } ?? "not tested",
        aspect(.alg))
      if let l = r.bindingLifetime {
        row(
          "lifetime", l.aliveAfterSeconds.map { "≥ \(Int($0)) s" } ?? "unknown", aspect(.lifetime))
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
    // RFC 3489 names silence from one server "UDP Blocked"; natscope does not, unless the
    // findings show the network drops UDP.
    row("legacy name", findings.contains(.probeUDPNotMeasured) ? "unknown" : r.legacyType)
    out.append("")
    let verdict = r.summary.isEmpty ? ProbeFindings.apply(to: r).summary : r.summary
    out.append(contentsOf: wrap(verdict, width: detailWidth + 14).map { "  " + $0 })
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
        let name = "  " + step.test.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0)
        var line =
          "\(step.query.socket) \(step.localAddress.map(BindingFindings.localText) ?? "") → \(step.query.destination)"
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
          line += ": \(u) after \(counted(n, "try"))"
        case nil:
          line += ": not finished"
        }
        // Wrapped at spaces under the test name, so no address is broken.
        out.append(
          contentsOf: TextWrap.lines(
            line, width: max(40, width), indent: String(repeating: " ", count: 24), first: name))
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
private func wrap(_ text: String, width: Int) -> [String] {
  TextWrap.lines(text, width: width)
}
