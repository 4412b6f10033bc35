import STUN
import Traversal

/// The port-mapping vocabulary: the typed answers of a ``PortMappingAgent`` survey (the probe's
/// read-only questions) worded as the report's ``PortMappingResult`` sentences.
///
/// Silence is said as what it was ("did not answer within 750 ms"), never as a guess about
/// why; an ICMP error is said as the ICMP error it was.
public enum PortMappingWords {
  /// The report of a survey, one result per protocol in the order PCP, NAT-PMP, UPnP IGD.
  public static func report(_ survey: PortMappingSurvey) -> PortMappingReport {
    PortMappingReport(gateway: survey.gateway, protocols: survey.questions.map(result))
  }

  /// One protocol's result with its sentence.
  public static func result(_ q: PortMappingQuestion) -> PortMappingResult {
    let name = q.method
    let server = q.server
    switch q.answer {
    case .pcpAnnounced(let rtt):
      return PortMappingResult(name: name, gateway: server, answered: true, rtt: rtt)
    case .pcpOtherVersion(let version):
      return PortMappingResult(
        name: name, gateway: server, answered: true,
        error: version == 0
          ? "the gateway answered PCP with version 0: it speaks only NAT-PMP"
          : "the gateway speaks PCP version \(version), not version 2")
    case .pcpRefused(let code):
      return PortMappingResult(
        name: name, gateway: server, answered: true,
        error: "PCP \(PCPOpcode.announce) at \(where_(server)): result \(code). \(code.explanation)"
      )
    case .natpmpAddress(let ip, let rtt):
      return PortMappingResult(
        name: name, gateway: server, answered: true, rtt: rtt, externalAddress: ip)
    case .natpmpRefused(let code):
      return PortMappingResult(
        name: name, gateway: server, answered: true,
        error:
          "NAT-PMP external address request at \(where_(server)): result \(code). \(code.explanation)"
      )
    case .silent(let requests, let within):
      let sent = "\(requests) request\(requests == 1 ? "" : "s")"
      let error =
        name == .upnpIGD
        ? "no UPnP IGD device answered the SSDP search within \(ms(within)) ms (\(sent), to the gateway and to the multicast group)"
        : "the gateway \(where_(server)) did not answer \(name.displayName) within \(ms(within)) ms (\(sent))"
      return PortMappingResult(name: name, gateway: server, answered: false, error: error)
    case .unreachable(let kind, let after):
      let what = name == .upnpIGD ? "the SSDP search to" : "\(name.displayName) to"
      var error = "\(what) \(where_(server)): \(kind.phrase) after \(ms(after)) ms"
      if kind == .portUnreachable { error += " (nothing listens on that port)" }
      return PortMappingResult(
        name: name, gateway: name == .upnpIGD ? nil : server, answered: false, error: error)
    case .upnp(let result, let problem):
      return PortMappingWords.result(result, problem: problem)
    case .notAsked(let reason):
      return PortMappingResult(
        name: name, gateway: server, answered: false, error: "not asked: " + notAsked(reason))
    }
  }

  private static func notAsked(_ reason: PortMappingNotAsked) -> String {
    switch reason {
    case .noGateway: return "this host has no IPv4 default gateway"
    case .noSocket(let error): return "cannot open a UDP socket (\(error))"
    case .noConnector: return "no TCP connector on this runtime"
    }
  }

  private static func where_(_ server: TransportAddress?) -> String {
    server.map { "\($0)" } ?? "the gateway"
  }

  static func ms(_ d: Duration) -> Int {
    Int(d.milliseconds.rounded())
  }
}
