import Report
import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// What a two-host demo found: the `--json` schema of `natscope demo --a … --b …`
/// (`schemaVersion` 1).
///
/// ```json
/// {"schemaVersion": 1, "seed": 1, "lossPercent": 0, "latencyMs": 10, "jitterMs": 20,
///  "turn": true, "turnServer": "203.0.113.20:3478",
///  "a": {"preset": "symmetric", "nat": "symmetric NAT", "host": "192.168.1.10",
///        "probe": {…natscope probe --json…}, "probeError": null},
///  "b": {…}, "prediction": {"outcome": "fails", "reason": "…"},
///  "connect": {…natscope connect --json, as host A sees it…}, "finishedAtMs": 6230}
/// ```
public struct TwoHostDemoResult: Codable, Sendable, Hashable {
  /// One host: its network, address and probe report.
  public struct Host: Codable, Sendable, Hashable {
    /// The preset or custom NAT name it was given (`symmetric`, `eim/apdf`, …).
    public var preset: String
    /// The kind of network in words.
    public var nat: String
    /// The host's own (LAN or public) address.
    public var host: String
    /// The RFC 5780 probe's report; nil when the probe could not run.
    public var probe: ProbeReport?
    /// Why the probe could not run; nil when it ran.
    public var probeError: String?
    /// Set when the probe's "UDP blocked" is contradicted by UDP answers that came later
    /// (loss ate the probe's requests): why its classification is uncertain. nil otherwise.
    public var probeUncertain: String?

    public init(
      preset: String, nat: String, host: String, probe: ProbeReport?, probeError: String?,
      probeUncertain: String? = nil
    ) {
      self.preset = preset
      self.nat = nat
      self.host = host
      self.probe = probe
      self.probeError = probeError
      self.probeUncertain = probeUncertain
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(preset, forKey: .preset)
      try c.encode(nat, forKey: .nat)
      try c.encode(host, forKey: .host)
      try c.encode(probe, forKey: .probe)
      try c.encode(probeError, forKey: .probeError)
      try c.encode(probeUncertain, forKey: .probeUncertain)
    }
  }

  public var schemaVersion = 1
  public var seed: UInt64
  /// Loss on each site's uplink, each way, in percent.
  public var lossPercent: Double
  /// The fixed one-way latency of each hop, in milliseconds.
  public var latencyMs: Double
  /// The largest random extra delay of each hop, in milliseconds.
  public var jitterMs: Double
  /// Whether the hosts could use the TURN relay.
  public var turn: Bool
  public var a: Host
  public var b: Host
  /// The simulated TURN server's address; nil without TURN.
  public var turnServer: String?
  /// Whether the path through the NATs should work, from both probes' NAT profiles.
  public var prediction: PathPrediction
  /// What ICE found, as host A sees it (host A is "this host", host B "the peer").
  public var connect: ConnectReport
  /// Virtual time at the end of the run, in milliseconds (probes included).
  public var finishedAtMs: Double

  public init(
    seed: UInt64, lossPercent: Double, latencyMs: Double, jitterMs: Double, turn: Bool,
    a: Host, b: Host, turnServer: String?, prediction: PathPrediction, connect: ConnectReport,
    finishedAtMs: Double
  ) {
    self.seed = seed
    self.lossPercent = lossPercent
    self.latencyMs = latencyMs
    self.jitterMs = jitterMs
    self.turn = turn
    self.a = a
    self.b = b
    self.turnServer = turnServer
    self.prediction = prediction
    self.connect = connect
    self.finishedAtMs = finishedAtMs
  }

  private enum CodingKeys: String, CodingKey {
    case schemaVersion, seed, lossPercent, latencyMs, jitterMs, turn, turnServer, a, b
    case prediction, connect, finishedAtMs
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(schemaVersion, forKey: .schemaVersion)
    try c.encode(seed, forKey: .seed)
    try c.encode(lossPercent, forKey: .lossPercent)
    try c.encode(latencyMs, forKey: .latencyMs)
    try c.encode(jitterMs, forKey: .jitterMs)
    try c.encode(turn, forKey: .turn)
    try c.encode(turnServer, forKey: .turnServer)
    try c.encode(a, forKey: .a)
    try c.encode(b, forKey: .b)
    try c.encode(prediction, forKey: .prediction)
    try c.encode(connect, forKey: .connect)
    try c.encode(finishedAtMs, forKey: .finishedAtMs)
  }
}
