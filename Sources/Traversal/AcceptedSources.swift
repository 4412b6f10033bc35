import STUN

/// Which source addresses a client transaction accepts a response from.
///
/// RFC 8489 responses normally come from the address the request went to; RFC 5780 behaviour
/// discovery asks the server (CHANGE-REQUEST) to answer from its alternate address and/or port,
/// so those probes must accept the alternate address explicitly.
public enum AcceptedSources: Sendable, Hashable, Codable {
  /// Only the address the request was sent to.
  case destinationOnly
  /// Any source (a response is still matched by transaction ID).
  case any
  /// The destination or any of these addresses.
  case set([TransportAddress])

  /// Whether a response from `source` is acceptable for a request sent to `destination`.
  public func accepts(_ source: TransportAddress, destination: TransportAddress) -> Bool {
    switch self {
    case .destinationOnly: return source == destination
    case .any: return true
    case .set(let allowed): return source == destination || allowed.contains(source)
    }
  }
}
