import STUN
import Traversal

/// Why the probe's test mapping was not tried with an unsolicited answer.
public enum PortMappingNotTested: Sendable, Hashable {
  /// The STUN server cannot answer from another address and port (it lacks RFC 5780).
  case serverCannotChange(TransportAddress)
  /// The Binding request could not be sent (the runtime's error, as it said it).
  case notSent(String)
  /// The test was stopped before the mapping could be tried.
  case stopped
}

extension PortMappingWords {
  /// The sentence for a test mapping that was not tried.
  public static func notTested(_ reason: PortMappingNotTested) -> String {
    switch reason {
    case .serverCannotChange(let server):
      return
        "Not tested: the STUN server \(server) cannot answer from another address and port (it lacks RFC 5780), so nothing could be sent to the mapped port from an address this socket never contacted."
    case .notSent(let error):
      return "Not tested: the Binding request could not be sent (\(error))."
    case .stopped:
      return "Not tested: the test was stopped before the mapping could be tried."
    }
  }

  /// What the verification request's outcome shows about the mapped port `port`: `verified`
  /// true when the answer came from an address and port the socket never sent to, false when
  /// none came, nil when it proves nothing; and the sentence that says so. `serverSeen` is the
  /// address servers saw for this host, `router` the mapping's external address.
  public static func verification(
    _ outcome: BindingOutcome, server: TransportAddress, port: UInt16, serverSeen: IPAddress?,
    router: IPAddress?
  ) -> (verified: Bool?, sentence: String) {
    let routerText = router.map { "\($0)" } ?? "the router"
    switch outcome {
    case .answered(let a) where a.errorCode == nil:
      let seen = a.xorMappedAddress ?? a.mappedAddress
      guard a.source.ip != server.ip, a.source.port != server.port else {
        return (
          nil,
          "Not tested: the server answered from \(a.source), not from another address and port, so the answer proves nothing about the mapping."
        )
      }
      return (
        true,
        "From the mapped socket, natscope asked \(server) (RFC 5780 CHANGE-REQUEST and RESPONSE-PORT \(port)) to answer from its other address and port to port \(port) of the address it saw (\(seen.map { "\($0.ip)" } ?? "?")); the answer came from \(a.source), an address this socket never sent to, and got in through the mapping: peers can reach this host at \(routerText):\(port)."
      )
    case .answered(let a):
      return (
        nil,
        "Not tested: the STUN server refused the request (error \(a.errorCode ?? 0)); it may not support RESPONSE-PORT."
      )
    case .noAnswer(let attempts, let window):
      var text =
        "From the mapped socket, natscope asked \(server) \(attempts) time\(attempts == 1 ? "" : "s") (RFC 5780 CHANGE-REQUEST and RESPONSE-PORT \(port)) to answer from its other address and port to port \(port); no answer arrived within \(seconds(window)) s, so the mapping did not let that unsolicited answer in."
      if let serverSeen, let router, serverSeen != router {
        text +=
          " Servers see this host as \(serverSeen), not as the router's \(router): the answer went to port \(port) of the NAT above the router, where nothing is mapped."
      }
      return (false, text)
    case .unreachable(let u, _):
      return (nil, "Not tested: \(u).")
    }
  }

  /// Seconds with one decimal, for sentences.
  static func seconds(_ d: Duration) -> String {
    let tenths = Int((d.milliseconds / 100).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}
