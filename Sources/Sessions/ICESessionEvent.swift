import STUN
import Traversal

/// What an ``ICESession`` reports: its agent's own events, and what the session itself met
/// while it gathered candidates and kept them alive (the agent never sees these).
public enum ICESessionEvent: Codable, Sendable, Hashable {
  /// An event of the ``ICEAgent``.
  case agent(ICEEvent)
  /// Something the session met while gathering.
  case gathering(ICEGatheringEvent)
}

/// What an ``ICESession`` met while gathering candidates and keeping them alive, apart from
/// its agent: servers that did not answer, sockets and relays it could not open, the
/// gathering deadline, and keepalives to STUN servers.
public enum ICEGatheringEvent: Codable, Sendable, Hashable {
  /// A STUN server did not answer a gathering request from `base`.
  case serverUnreachable(server: TransportAddress, base: TransportAddress, attempts: Int)
  /// A host socket could not be opened on `address`.
  case socketFailed(address: IPAddress, reason: String)
  /// A relay could not be allocated.
  case relayFailed(String)
  /// Gathering was cut short after `afterMs` milliseconds.
  case gatheringTimedOut(afterMs: Double)
  /// A STUN Binding indication went to the STUN server a server-reflexive candidate came
  /// from, only to keep that candidate's NAT mapping while a person is slow (Linux forgets an
  /// idle UDP mapping after 30 s).
  case serverKeepaliveSent(from: TransportAddress, to: TransportAddress)
}

extension ICESessionEvent: CustomStringConvertible {
  /// The case name of the event (the agent's, or the gathering event's).
  public var name: String {
    switch self {
    case .agent(let e): e.name
    case .gathering(let g): g.name
    }
  }

  /// The event's trace line.
  public var description: String {
    switch self {
    case .agent(let e): e.description
    case .gathering(let g): g.description
    }
  }

  /// The agent's event, when it is one.
  public var agentEvent: ICEEvent? {
    if case .agent(let e) = self { e } else { nil }
  }
}

extension ICEGatheringEvent: CustomStringConvertible {
  /// The case name, for filters and JSON consumers.
  public var name: String {
    switch self {
    case .serverUnreachable: "serverUnreachable"
    case .socketFailed: "socketFailed"
    case .relayFailed: "relayFailed"
    case .gatheringTimedOut: "gatheringTimedOut"
    case .serverKeepaliveSent: "keepaliveSent"
    }
  }

  /// One trace line, for `-v` and the event log. Never contains a password.
  public var description: String {
    switch self {
    case .serverUnreachable(let server, let base, let n):
      "STUN server \(server) did not answer \(base) after \(n) request\(n == 1 ? "" : "s"); no server-reflexive candidate from it"
    case .socketFailed(let address, let reason):
      "could not open a UDP socket on \(address): \(reason)"
    case .relayFailed(let reason): "no relayed candidate: \(reason)"
    case .gatheringTimedOut(let ms): "gathering stopped after \(Int(ms)) ms"
    case .serverKeepaliveSent(let from, let to):
      "keepalive \(from) -> STUN server \(to): keeps the NAT mapping of the server-reflexive candidate"
    }
  }
}
