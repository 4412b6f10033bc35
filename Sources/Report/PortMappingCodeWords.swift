import STUN
import Traversal

// The port-mapping protocols' typed answers worded for people: what a PCP or NAT-PMP result
// code means, and one sentence for a request that ended without what it asked for. The codecs
// and clients in Traversal carry only codes, names and counts.

extension NATPMPResultCode {
  /// One sentence saying what the gateway meant by this result (RFC 6886 §3.5).
  public var explanation: String {
    switch rawValue {
    case 0: return "The gateway did what was asked."
    case 1: return "The gateway does not speak this version of NAT-PMP."
    case 2:
      return
        "The gateway supports NAT-PMP but refused the request, typically because port mapping is turned off in its settings."
    case 3:
      return
        "The gateway has no working external connection yet (for example, it has not been given an address by its upstream)."
    case 4: return "The gateway cannot create more mappings: its table is full or a port is taken."
    case 5: return "The gateway does not know this NAT-PMP opcode."
    default:
      return "The gateway answered with result code \(rawValue), which RFC 6886 does not define."
    }
  }
}

extension PCPResultCode {
  /// One sentence saying what the server meant by this result (RFC 6887 §7.4).
  public var explanation: String {
    switch rawValue {
    case 0: return "The server did what was asked."
    case 1: return "The server does not speak this version of PCP."
    case 2:
      return
        "The server supports PCP but refused the request, typically because mapping is turned off or not allowed for this client."
    case 3: return "The server could not make sense of the request."
    case 4: return "The server does not support this PCP opcode."
    case 5: return "The server does not support a mandatory option the request carried."
    case 6: return "An option in the request was malformed."
    case 7:
      return "The server has a network problem, for example no external address of its own yet."
    case 8: return "The server has no room for another mapping right now."
    case 9: return "The server does not map this transport protocol."
    case 10: return "This client already holds as many mappings as the server allows it."
    case 11: return "The server cannot give the external address or port that was asked for."
    case 12:
      return
        "The request's source address differs from the client address it carries, so another NAT sits between this host and the PCP server."
    case 13: return "The server cannot track that many remote peers for this mapping."
    default:
      return "The server answered with result code \(rawValue), which RFC 6887 does not define."
    }
  }
}

extension PCPFailure {
  /// One sentence that says which request, to which server, and what came back. Silence is
  /// said as silence (how many requests went unanswered), not as a guess about support.
  public var sentence: String {
    let what = mapping.map { "PCP MAP of \($0)" } ?? "PCP \(opcode)"
    switch reason {
    case .result(let code, _):
      return "\(what) at \(server): result \(code). \(code.explanation)"
    case .noAnswer(let n):
      return "\(what) at \(server): no answer to \(PortMappingCodeWords.requests(n))"
    }
  }
}

extension NATPMPFailure {
  /// One sentence that says which request, to which gateway, and what came back. Silence is
  /// said as silence (how many requests went unanswered), not as a guess about support.
  public var sentence: String {
    let what = mapping.map { "NAT-PMP mapping of \($0)" } ?? "NAT-PMP external address request"
    switch reason {
    case .result(let code):
      return "\(what) at \(gateway): result \(code). \(code.explanation)"
    case .noAnswer(let n):
      return "\(what) at \(gateway): no answer to \(PortMappingCodeWords.requests(n))"
    }
  }
}

enum PortMappingCodeWords {
  /// "1 request", "4 requests".
  static func requests(_ n: Int) -> String {
    "\(n) request\(n == 1 ? "" : "s")"
  }
}
