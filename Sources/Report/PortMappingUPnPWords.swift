import STUN
import Traversal

// UPnP IGD's typed failures worded for people: which step, at which URL, and what came back
// (the SOAP fault's code and the device's own text, the HTTP status, the wait that ran out).
// Text the device sent is made safe for a terminal before it is shown.

extension UPnPIGDStep {
  /// What the step does, for sentences: "fetching the device description", "GetExternalIPAddress".
  public var label: String {
    switch self {
    case .fetchDescription: return "fetching the device description"
    case .getExternalIPAddress: return "GetExternalIPAddress"
    case .addPortMapping: return "AddPortMapping"
    case .addAnyPortMapping: return "AddAnyPortMapping"
    case .deletePortMapping: return "DeletePortMapping"
    }
  }
}

extension UPnPIGDFailureReason {
  /// What went wrong, as one clause (no trailing period).
  public var clause: String {
    switch self {
    case .hostNotAnIPAddress(let host, let location):
      return
        "the \(location ? "LOCATION host" : "host") \"\(WireText.display(host))\" is not an IP address, and natscope only follows IP addresses"
    case .badHTTP(let error): return "\(error)"
    case .connectionFailed(let host, let reason):
      return "the connection to \(host) failed: \(reason.explanation)"
    case .timeout(let wait):
      return "no complete HTTP response within \(PortMappingWords.seconds(wholeOrTenths: wait)) s"
    case .httpStatus(let status, let reason):
      return "HTTP \(status) \(WireText.display(reason))"
    case .badDocument(let error): return error.reason
    case .noConnectionService:
      return
        "the device lists no WANIPConnection or WANPPPConnection service with a usable control URL"
    case .noReservedPort: return "the answer has no usable NewReservedPort"
    case .fault(let fault): return fault.description
    }
  }
}

extension UPnPIGDFailure {
  /// For example `UPnP IGD AddPortMapping at http://192.168.1.1:5000/ctl/IPConn: UPnP error
  /// 718 …`.
  public var sentence: String { "UPnP IGD \(step.label) at \(url): \(reason.clause)" }
}

extension UPnPIGDProblem {
  /// One sentence for what kept the run from a full answer.
  public var sentence: String {
    switch self {
    case .failed(let failure): return failure.sentence
    case .noExternalAddress(let url, let said):
      return
        "UPnP IGD GetExternalIPAddress at \(url): the device reports no external address (\"\(WireText.display(said))\"); its WAN link may be down"
    }
  }
}

extension PortMappingWords {
  /// The UPnP IGD result with its sentence filled in from `problem`.
  public static func result(_ result: PortMappingResult, problem: UPnPIGDProblem?)
    -> PortMappingResult
  {
    var r = result
    r.error = problem?.sentence
    return r
  }

  /// Seconds as a whole number when whole (`5`), else with one decimal (`0.5`).
  static func seconds(wholeOrTenths d: Duration) -> String {
    let ms = Int(d.milliseconds.rounded())
    return ms % 1000 == 0 ? "\(ms / 1000)" : seconds(d)
  }
}
