import STUN
import Traversal

// A ``PortMapper``'s typed events worded for people: the requests it sent (the probe's test
// mapping lists them), why an attempt came to nothing, why no mapping was granted, and what
// became of the mapping held. Silence is said as silence, with how long it was waited for.

extension PortMappingWords {
  /// One sentence for a request sent to the router.
  public static func sent(_ request: PortMappingRequestSent) -> String {
    switch request {
    case .pcpMap(let server, let port, let client, let suggested, let lifetime):
      return
        "PCP MAP request to \(server): UDP, internal port \(port) of \(client.map { "\($0)" } ?? "this host"), suggested external port \(suggested), lifetime \(lifetime) s"
    case .pcpDelete(let server, let port):
      return "PCP MAP request to \(server): UDP, internal port \(port), lifetime 0 (delete)"
    case .natpmpMap(let server, let port, let suggested, let lifetime):
      return
        "NAT-PMP UDP mapping request (opcode 1) to \(server): internal port \(port), suggested external port \(suggested), lifetime \(lifetime) s"
    case .natpmpDelete(let server, let port):
      return
        "NAT-PMP UDP mapping request (opcode 1) to \(server): internal port \(port), lifetime 0 (delete)"
    case .ssdpSearch(let multicast, let unicast):
      return "SSDP M-SEARCH to \(multicast)" + (unicast.map { " and \($0)" } ?? "")
        + " for InternetGatewayDevice:1 and :2"
    case .upnpDescription(let url):
      return "UPnP IGD: HTTP GET \(url) (the device description)"
    case .upnpExternalAddress(let control):
      return "UPnP IGD: GetExternalIPAddress at \(control)"
    case .upnpAddPortMapping(
      let step, let control, let external, let client, let internalPort, let lease,
      let description):
      let leaseText = lease == 0 ? "a permanent lease" : "lease \(lease) s"
      return
        "UPnP IGD: \(step.label) at \(control): UDP, external port \(external), internal client \(client.map { "\($0)" } ?? "?") port \(internalPort), \(leaseText), description \"\(description)\""
    case .upnpDeletePortMapping(let control, let port):
      return "UPnP IGD: DeletePortMapping at \(control): UDP, external port \(port)"
    case .upnpRetry(let step, let code):
      return "UPnP IGD: \(step.label) again, because the device answered \(code)"
    }
  }

  /// One sentence for an attempt (or search, or deletion) that came to nothing.
  public static func sentence(_ failure: PortMappingAttemptFailure) -> String {
    switch failure {
    case .pcp(let f): return f.sentence
    case .natPMP(let f): return f.sentence
    case .pcpOtherVersion(let v):
      return v == 0
        ? "the gateway answered PCP with version 0: it speaks only NAT-PMP"
        : "the gateway speaks PCP version \(v), not version 2"
    case .unreachable(let destination, let kind, let ssdp):
      guard ssdp else {
        return "\(destination) answered with \(kind.phrase)"
          + (kind == .portUnreachable ? " (no PCP or NAT-PMP service on the router)" : "")
      }
      return "\(destination) answered the SSDP search with \(kind.phrase)"
        + (kind == .portUnreachable ? " (no UPnP IGD on the router)" : "")
    case .silent(let method, let server, let within, let requests):
      return "\(server) did not answer \(method.displayName) within \(ms(within)) ms"
        + (requests.map { " (\(PortMappingCodeWords.requests($0)))" } ?? "")
    case .noDevice(let within):
      return "no UPnP IGD device answered the SSDP search within \(ms(within)) ms"
    case .noSocket(.ssdp, let error):
      return "UPnP IGD not asked: cannot open a UDP socket (\(error))"
    case .noSocket(_, let error):
      return "cannot open a UDP socket toward the router (\(error))"
    case .upnp(let f): return f.sentence
    case .pcpNoLongerSpoken: return "the router no longer speaks PCP version 2"
    }
  }

  /// `connect`'s sentence for no mapping: `no port mapping: …`.
  public static func connectError(_ shortfall: PortMappingShortfall) -> String {
    "no port mapping: "
      + shortfallText(shortfall, noProtocol: "no port-mapping protocol can be asked")
  }

  /// The probe's sentence for no test mapping: `no test mapping: …`.
  public static func testError(_ shortfall: PortMappingShortfall) -> String {
    "no test mapping: " + shortfallText(shortfall, noProtocol: "no port-mapping protocol answered")
  }

  /// The probe's sentence when the test's own socket cannot be opened.
  public static func testNoSocket(_ error: String) -> String {
    "no test mapping: cannot open a UDP socket (\(error))"
  }

  /// When a renewal of the mapping held failed.
  public static func renewalFailed(_ failure: PortMappingAttemptFailure) -> String {
    "the renewal failed: " + sentence(failure)
  }

  /// True for a sentence of ``renewalFailed(_:)`` (a later renewal clears it).
  public static func isRenewalFailure(_ text: String?) -> Bool {
    text?.hasPrefix("the renewal failed: ") == true
  }

  /// When the mapping held lapsed.
  public static let lapsed = "the mapping lapsed: the router did not answer its renewal"

  /// When `connect`'s deletion failed.
  public static func notDeleted(_ failure: PortMappingAttemptFailure) -> String {
    "the mapping was not deleted: " + sentence(failure)
  }

  /// When UPnP IGD granted a mapping without saying the external address.
  public static let grantedWithoutAddress =
    "the router granted the mapping over UPnP IGD but reported no external address, so it could not be offered"

  /// When the probe's test ran past its limit.
  public static func testStopped(after limit: Duration) -> String {
    "the test did not finish within \(Int(limit.milliseconds / 1000)) s and was stopped"
  }

  /// When the probe's test was interrupted (Ctrl-C, SIGTERM).
  public static let interrupted = "interrupted"

  private static func shortfallText(_ shortfall: PortMappingShortfall, noProtocol: String)
    -> String
  {
    switch shortfall {
    case .noGateway: return "this host has no IPv4 default gateway"
    case .noProtocol: return noProtocol
    case .notGrantedWithin(let wait, let asking, let server, let datagram, let search):
      let searchText = search.map { [sentence($0)] } ?? []
      if asking == .upnpIGD {
        return "the router's UPnP IGD device did not grant one within \(ms(wait)) ms"
      }
      if let datagram {
        return ([sentence(datagram)] + searchText).joined(separator: "; ")
      }
      return
        (["the router \(server) did not answer \(asking.displayName) within \(ms(wait)) ms"]
        + searchText).joined(separator: "; ")
    case .failed(let reasons):
      return reasons.map(sentence).joined(separator: "; ")
    }
  }
}

extension ConnectReport.PortMapping {
  /// One line for `-v` and the event log: `PCP 198.51.100.7:40000 (lifetime 120 s)`.
  public var line: String {
    let name = self.protocol.flatMap { PortMappingResult.Method(rawValue: $0)?.displayName }
    var parts: [String] = []
    if let a = externalAddress, let p = externalPort {
      parts.append("\(name ?? "mapped") \(a):\(p)")
      if let l = lifetime { parts.append("lifetime \(l) s") }
      if renewals > 0 { parts.append("renewed \(renewals)×") }
    } else if let name {
      parts.append(name)
    }
    if deleted { parts.append("deleted") }
    if let error { parts.append(error) }
    if let d = doubleNAT, d.detected == true || d.likely == true {
      parts.append(d.detected == true ? "a NAT above the router" : "likely a NAT above the router")
    }
    return parts.isEmpty ? "none" : parts.joined(separator: ", ")
  }
}
