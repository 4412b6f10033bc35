import STUN

/// The tests a behaviour probe runs (RFC 5780 §4 and natscope's additions).
public enum ProbeTest: String, Codable, Sendable, CaseIterable, Hashable {
  /// Test I: a plain Binding request to the server's primary address (§4.2, §4.3, §4.4).
  case reachability = "udp-reachability"
  /// Mapping test II: to the alternate IP and primary port, from test I's socket (§4.3).
  case mappingAlternateIP = "mapping-test-2"
  /// Mapping test III: to the alternate IP and alternate port, from test I's socket (§4.3).
  case mappingAlternateIPAndPort = "mapping-test-3"
  /// Mapping compared across independent servers, for servers without RFC 5780.
  case mappingOtherServer = "mapping-other-server"
  /// Filtering test II: answer from the alternate IP and port, on a fresh socket (§4.4).
  case filteringChangeIPAndPort = "filtering-test-2"
  /// Filtering test III: answer from the alternate port, on a fresh socket (§4.4).
  case filteringChangePort = "filtering-test-3"
  /// Filtering test IV (erratum 7971): answer from the alternate IP only, on a fresh socket.
  case filteringChangeIP = "filtering-test-4"
  /// A fresh socket sends to test I's reflexive address; the NAT must loop it back (§4.5).
  case hairpinning = "hairpinning"
  /// Fresh sockets, one after another, to learn how public ports are assigned.
  case portAllocation = "port-allocation"
  /// A mapping left idle for a while, then probed through RESPONSE-PORT (§4.6).
  case bindingLifetime = "binding-lifetime"

  /// What the test does, in a few words.
  public var title: String {
    switch self {
    case .reachability: "UDP reachability (test I)"
    case .mappingAlternateIP: "mapping: alternate IP (test II)"
    case .mappingAlternateIPAndPort: "mapping: alternate IP and port (test III)"
    case .mappingOtherServer: "mapping: another server"
    case .filteringChangeIPAndPort: "filtering: answer from other IP+port"
    case .filteringChangePort: "filtering: answer from other port"
    case .filteringChangeIP: "filtering: answer from other IP"
    case .hairpinning: "hairpinning"
    case .portAllocation: "port allocation"
    case .bindingLifetime: "binding lifetime"
    }
  }
}

/// One request a probe made and what came of it: the evidence behind every verdict.
public struct ProbeStep: Sendable, Hashable, Codable {
  public var test: ProbeTest
  /// Distinguishes repeated runs of one test (port-allocation samples, lifetime rungs).
  public var index: Int
  public var query: BindingQuery
  /// The local address of the sending socket (wildcard IP when bound to all interfaces).
  public var localAddress: TransportAddress?
  public var outcome: BindingOutcome?
  public var startedAtMs: Double
  public var finishedAtMs: Double?
  /// For lifetime rungs: how long the mapping was left idle before the check.
  public var idleMs: Double?

  public init(test: ProbeTest, index: Int, query: BindingQuery, startedAtMs: Double) {
    self.test = test
    self.index = index
    self.query = query
    self.startedAtMs = startedAtMs
  }
}
