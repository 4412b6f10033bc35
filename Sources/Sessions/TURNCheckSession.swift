import Foundation
import Report
import Runtime
import STUN
import Traversal

/// One TURN server to check: where, how, and with which credentials (never printed).
public struct TURNCheckTarget: Sendable {
  /// `udp`, `tcp` or `tls` (TCP and TLS need a connector).
  public enum Transport: String, Sendable, Hashable {
    case udp, tcp, tls
  }

  /// How the user named it (for the report).
  public var uri: String
  public var address: TransportAddress
  public var transport: Transport
  public var credentials: TURNCredentials
  /// The host name the user gave (for TLS: SNI and the certificate's name); nil for an IP.
  public var serverName: String?

  public init(
    uri: String, address: TransportAddress, transport: Transport, credentials: TURNCredentials,
    serverName: String? = nil
  ) {
    self.uri = uri
    self.address = address
    self.transport = transport
    self.credentials = credentials
    self.serverName = serverName
  }
}

/// Checks TURN servers end to end, all in parallel, on any runtime: for each it allocates
/// (answering the 401 challenge), refreshes, makes a second allocation on the same server,
/// sends probes between the two relayed addresses (Send/Data indications, then ChannelBind and
/// ChannelData), each echoed back, and releases both allocations. The result is a
/// ``TURNCheckReport``.
///
/// ```swift
/// let check = TURNCheckSession(runtime: rt, targets: [target], connector: rt.streamConnector())
/// check.start { report in print(report.verdict) }
/// // on Ctrl-C: check.cancel()   (releases what exists, then completes)
/// ```
///
/// All calls and callbacks happen on the runtime's serial context.
public final class TURNCheckSession {
  /// Timing and probing choices.
  public struct Configuration: Sendable {
    /// Probes sent per relay method (indications, then channels).
    public var probes: Int
    /// How long to wait for the echoes of one round of probes.
    public var probeWait: Duration
    /// Retransmission for requests over UDP (and the answer timeout over TCP).
    public var policy: RetransmissionPolicy
    /// The most one server's check may take before it is cut short.
    public var deadline: Duration

    public init(
      probes: Int = 5, probeWait: Duration = .seconds(2),
      policy: RetransmissionPolicy = .diagnostics(), deadline: Duration = .seconds(30)
    ) {
      self.probes = max(1, min(probes, 100))
      self.probeWait = probeWait
      self.policy = policy
      self.deadline = deadline
    }
  }

  public let runtime: any NetworkRuntime
  public let configuration: Configuration
  private let targets: [TURNCheckTarget]
  private let connector: StreamConnector?
  private let tlsConnector: ((TURNCheckTarget) -> StreamConnector)?
  private var checks: [ServerCheck] = []
  private var completion: ((TURNCheckReport) -> Void)?
  /// Called once for each server as soon as its check has finished (and released), before
  /// the completion: a text report can show that server's block at once.
  public var onServerFinished: ((TURNServerCheck) -> Void)?
  private var announced = Set<Int>()
  private var keepAlive: TURNCheckSession?
  private var reported = false

  public init(
    runtime: any NetworkRuntime, targets: [TURNCheckTarget], connector: StreamConnector? = nil,
    tlsConnector: ((TURNCheckTarget) -> StreamConnector)? = nil,
    configuration: Configuration = Configuration()
  ) {
    self.runtime = runtime
    self.targets = targets
    self.connector = connector
    self.tlsConnector = tlsConnector
    self.configuration = configuration
  }

  /// Starts every check; `completion` runs once, when all have finished and released.
  public func start(completion: @escaping (TURNCheckReport) -> Void) {
    guard checks.isEmpty, !reported else { return }
    self.completion = completion
    keepAlive = self
    checks = targets.map {
      ServerCheck(
        target: $0, runtime: runtime,
        connector: $0.transport == .tls ? tlsConnector?($0) : connector,
        configuration: configuration)
    }
    for check in checks {
      check.onFinished = { [weak self] in self?.checkFinished() }
    }
    for check in checks { check.start() }
    checkFinished()
  }

  /// Stops every check that is still running (noted as interrupted), releases their
  /// allocations, and completes once they are released.
  public func cancel() {
    for check in checks { check.interrupt() }
  }

  /// The checks still running, with the stage each is in (for a line that says what natscope
  /// waits for).
  public var running: [(uri: String, stage: TURNCheckStage)] {
    checks.compactMap { c in c.stage.map { (uri: c.target.uri, stage: $0) } }
  }

  /// The report so far (complete once `completion` has run).
  public var report: TURNCheckReport {
    let servers = checks.map(\.result)
    let date = now()
    let expiring = servers.compactMap { s in
      s.certificate?.expiryWarning(uri: s.uri, now: date)
    }
    return TURNCheckReport(servers: servers, warnings: warnings + expiring)
  }

  /// The wall clock a TLS certificate's expiry is judged by (fixed in tests).
  public var now: () -> Date = Date.init

  /// Sentences every report carries (e.g. that TLS certificates were not verified).
  public var warnings: [String] = []

  private func checkFinished() {
    for (i, check) in checks.enumerated() where check.isFinished && !announced.contains(i) {
      announced.insert(i)
      onServerFinished?(check.result)
    }
    guard !reported, !checks.isEmpty, checks.allSatisfy(\.isFinished) else { return }
    reported = true
    let done = completion
    completion = nil
    keepAlive = nil
    done?(report)
  }
}

/// The check of one server: a small state machine over two allocation sessions.
private final class ServerCheck {
  enum Phase {
    case allocating, refreshing, second, permitting, indications, binding, channels, releasing,
      finished
  }

  let target: TURNCheckTarget
  let runtime: any NetworkRuntime
  let connector: StreamConnector?
  let configuration: TURNCheckSession.Configuration
  var result: TURNServerCheck
  var onFinished: (() -> Void)?
  private var phase = Phase.allocating
  private var first: TURNAllocationSession?
  private var second: TURNAllocationSession?
  /// The first allocation's stream (TCP, TLS), for the certificate the server presented.
  private weak var firstStream: (any StreamTransport)?
  private var startedAt = Instant.zero
  private var timer: (any TimerHandle)?
  private var deadlineTimer: (any TimerHandle)?
  private var permitted = Set<Int>()
  private var bound = Set<Int>()
  private var sentAt: [UInt16: Instant] = [:]
  private var rtts: [Double] = []
  private var measurement = RelayMeasurement()
  private var releasesPending = 0

  var isFinished: Bool { phase == .finished }

  /// The stage of a check still running; nil once finished.
  var stage: TURNCheckStage? {
    switch phase {
    case .allocating: .allocating
    case .refreshing: .refreshing
    case .second: .secondAllocation
    case .permitting: .permitting
    case .indications: .indications
    case .binding: .binding
    case .channels: .channels
    case .releasing: .releasing
    case .finished: nil
    }
  }

  private var subject: FindingSubject { .server(target.address) }

  private func problem(
    _ code: TURNCheckProblem.Code, _ parameters: FindingParameters,
    evidence: [EvidenceItem] = []
  ) {
    result.problems.append(
      TURNCheckProblem(code, about: subject, parameters: parameters, evidence: evidence))
  }

  init(
    target: TURNCheckTarget, runtime: any NetworkRuntime, connector: StreamConnector?,
    configuration: TURNCheckSession.Configuration
  ) {
    self.target = target
    self.runtime = runtime
    self.connector = connector
    self.configuration = configuration
    self.result = TURNServerCheck(
      uri: target.uri, transport: target.transport.rawValue, server: target.address)
  }

  func start() {
    startedAt = runtime.now
    deadlineTimer = runtime.schedule(at: runtime.now + configuration.deadline) { [weak self] in
      guard let self, self.phase != .finished, self.phase != .releasing else { return }
      self.problem(
        self.result.reachable ? .allocateFailed : .unreachable,
        [
          "stage": .text("deadline"),
          "deadlineS": .int(Int(self.configuration.deadline.components.seconds)),
          "phase": .text(self.stage?.rawValue ?? ""),
        ],
        evidence: [
          EvidenceItem(.noAnswer, step: self.stage?.rawValue, address: self.target.address)
        ])
      self.release()
    }
    guard let session = open(index: 0) else { return }
    first = session
    session.start()
  }

  func interrupt() {
    guard phase != .finished, phase != .releasing else { return }
    problem(.interrupted, ["stage": .text("interrupted")])
    release()
  }

  // MARK: Allocations

  private func open(index: Int) -> TURNAllocationSession? {
    let session: TURNAllocationSession
    let clientConfiguration = TURNClient.Configuration(useChannels: false)
    do {
      switch target.transport {
      case .udp:
        session = try TURNAllocationSession(
          runtime: runtime, server: target.address, credentials: target.credentials,
          configuration: clientConfiguration, policy: configuration.policy,
          socketOptions: UDPSocketOptions(
            address: target.address.ip.family == .ipv6 ? .anyV6 : .anyV4))
      case .tcp, .tls:
        guard let connector else {
          throw RuntimeError.failed(
            "TURN over \(target.transport == .tls ? "TLS" : "TCP") is not available on this runtime"
          )
        }
        let stream = try connector(target.address)
        if index == 0 { firstStream = stream }
        session = TURNAllocationSession(
          runtime: runtime, server: target.address, credentials: target.credentials,
          stream: stream, configuration: clientConfiguration, policy: configuration.policy)
      }
    } catch {
      problem(
        .unreachable, ["stage": .text("connect"), "failure": .text("\(error)")],
        evidence: [EvidenceItem(.tcp, step: "connect", address: target.address)])
      release()
      return nil
    }
    session.onEvent = { [weak self] e in self?.event(e, index: index) }
    session.onReceive = { [weak self] bytes, from in self?.received(bytes, from: from, index: index)
    }
    return session
  }

  private func session(_ index: Int) -> TURNAllocationSession? { index == 0 ? first : second }

  private func event(_ e: TURNClientEvent, index: Int) {
    if index == 0, result.certificate == nil, let c = firstStream?.peerCertificate {
      result.certificate = c
    }
    switch e {
    case .challenged(let realm, _):
      if index == 0 && !result.reachable {
        result.reachable = true
        result.rttMs = (runtime.now - startedAt).milliseconds
        result.realm = realm
        result.software = first?.client.serverSoftware
      }
    case .allocated(let relayed, let mapped, let lifetime):
      allocated(index: index, relayed: relayed, mapped: mapped, lifetime: lifetime)
    case .refreshed:
      guard index == 0, phase == .refreshing else { return }
      result.refreshed = true
      startSecond()
    case .permissionCreated:
      guard phase == .permitting else { return }
      permitted.insert(index)
      if permitted.count == 2 { sendProbes(channel: false) }
    case .channelBound:
      guard phase == .binding else { return }
      bound.insert(index)
      if bound.count == 2 { sendProbes(channel: true) }
    case .requestFailed(let method, let failure):
      requestFailed(method: method, failure: failure, index: index)
    case .failed(let failure):
      failed(failure, index: index)
    case .released:
      releasedOne()
    case .allocating, .staleNonce, .redirected, .data:
      break
    }
  }

  private func allocated(
    index: Int, relayed: TransportAddress, mapped: TransportAddress?, lifetime: Int
  ) {
    if index == 0 {
      if !result.reachable {
        result.reachable = true
        result.rttMs = (runtime.now - startedAt).milliseconds
      }
      result.authenticated = true
      if let software = first?.client.serverSoftware { result.software = software }
      result.relayedAddress = relayed
      result.reflexiveAddress = mapped
      result.lifetime = lifetime
      // The server's address as this host reached it (after a 300 redirect, the new one).
      let server = first?.serverAddress ?? target.address
      if let p = TURNCheckClassifier.unroutableRelay(
        relayed: relayed, server: server, about: subject)
      {
        result.problems.append(p)
      }
      guard phase == .allocating else { return }
      phase = .refreshing
      first?.refresh()
    } else {
      guard phase == .second else { return }
      phase = .permitting
      guard let a = first?.relayedAddress, let b = second?.relayedAddress else { return }
      first?.createPermission(for: [b.ip])
      second?.createPermission(for: [a.ip])
    }
  }

  private func startSecond() {
    guard phase == .refreshing else { return }
    phase = .second
    guard let session = open(index: 1) else { return }
    second = session
    session.start()
  }

  private func requestFailed(method: String, failure: TURNFailure, index: Int) {
    if failure.code == 403 && (method == "CreatePermission" || method == "ChannelBind") {
      // The server's policy (e.g. coturn's denied-peer-ip, or no loopback peers): not a fault.
      result.peerForbidden = true
      release()
      return
    }
    switch method {
    case "Refresh":
      guard phase == .refreshing else { return }
      result.refreshed = false
      var p = TURNFindings.failureParameters(failure)
      p["stage"] = .text("refresh")
      problem(.allocationLost, p, evidence: Self.evidence(failure, step: "refresh"))
      startSecond()
    default:
      var p = TURNFindings.failureParameters(failure)
      p["stage"] = .text("request")
      p["method"] = .text(method)
      problem(.relayDoesNotRelay, p, evidence: Self.evidence(failure, step: method))
      release()
    }
  }

  private func failed(_ failure: TURNFailure, index: Int) {
    switch phase {
    case .releasing, .finished:
      releasedOne()
      return
    case .allocating where index == 0:
      let problem = TURNCheckClassifier.allocationProblem(
        failure, reachable: result.reachable, server: target.address)
      // A TLS failure means the server accepted the connection and spoke TLS.
      if problem.code == .tlsCertificate || problem.code == .tlsHandshake {
        result.reachable = true
      }
      result.problems.append(problem)
    case .second where index == 1:
      var p = TURNCheckClassifier.allocationProblem(
        failure, reachable: true, server: target.address)
      p.finding.parameters["secondAllocation"] = .flag(true)
      result.problems.append(p)
    default:
      var p = TURNFindings.failureParameters(failure)
      p["stage"] = .text("lost")
      problem(.allocationLost, p, evidence: Self.evidence(failure, step: "allocation"))
    }
    if index == 0 { first = nil } else { second = nil }
    release()
  }

  // MARK: Probes

  private func sendProbes(channel: Bool) {
    guard let b = second?.relayedAddress else { return }
    phase = channel ? .channels : .indications
    for n in 0..<configuration.probes {
      let seq = UInt16(n + (channel ? 1000 : 0))
      sentAt[seq] = runtime.now
      first?.send(Self.probe(seq), to: b)
      if channel { measurement.channelSent += 1 } else { measurement.indicationsSent += 1 }
    }
    measurement.count()
    result.relay = measurement
    timer?.cancel()
    timer = runtime.schedule(at: runtime.now + configuration.probeWait) { [weak self] in
      self?.roundDone()
    }
  }

  private func received(_ bytes: [UInt8], from: TransportAddress, index: Int) {
    if index == 1 {
      // The second allocation echoes every probe back through its own relay.
      guard Self.sequence(bytes) != nil else { return }
      second?.send(bytes, to: from)
      return
    }
    guard let seq = Self.sequence(bytes), let sent = sentAt.removeValue(forKey: seq) else { return }
    rtts.append((runtime.now - sent).milliseconds)
    if seq >= 1000 {
      measurement.channelReceived += 1
    } else {
      measurement.indicationsReceived += 1
    }
    measurement.count()
    result.relay = measurement
    let complete =
      phase == .channels
      ? measurement.channelReceived == measurement.channelSent
      : measurement.indicationsReceived == measurement.indicationsSent
    if complete && (phase == .channels || phase == .indications) {
      timer?.cancel()
      timer = nil
      roundDone()
    }
  }

  private func roundDone() {
    switch phase {
    case .indications:
      if let p = TURNCheckClassifier.relayProblem(
        how: "Send indications", sent: measurement.indicationsSent,
        received: measurement.indicationsReceived, about: subject)
      {
        result.problems.append(p)
        result.relays = false
        release()
        return
      }
      phase = .binding
      guard let a = first?.relayedAddress, let b = second?.relayedAddress else { return }
      first?.bindChannel(to: b)
      second?.bindChannel(to: a)
    case .channels:
      if let p = TURNCheckClassifier.relayProblem(
        how: "ChannelData", sent: measurement.channelSent, received: measurement.channelReceived,
        about: subject)
      {
        result.problems.append(p)
        result.relays = false
      } else {
        result.relays = true
      }
      let sorted = rtts.sorted()
      measurement.rttMs = sorted.isEmpty ? nil : sorted[sorted.count / 2]
      measurement.count()
      result.relay = measurement
      release()
    default:
      break
    }
  }

  /// `natscope-turn-check` followed by a 2-byte sequence number.
  static let probeMagic = Array("natscope-turn-check".utf8)

  static func probe(_ seq: UInt16) -> [UInt8] {
    probeMagic + [UInt8(seq >> 8), UInt8(seq & 0xFF)]
  }

  static func sequence(_ bytes: [UInt8]) -> UInt16? {
    guard bytes.count == probeMagic.count + 2, bytes.starts(with: probeMagic) else { return nil }
    return UInt16(bytes[probeMagic.count]) << 8 | UInt16(bytes[probeMagic.count + 1])
  }

  // MARK: Release

  private func release() {
    guard phase != .releasing, phase != .finished else { return }
    phase = .releasing
    timer?.cancel()
    timer = nil
    let open = [first, second].compactMap { $0 }
    releasesPending = open.count
    result.released = true
    guard !open.isEmpty else {
      finish()
      return
    }
    for s in open { s.close() }
  }

  private func releasedOne() {
    guard phase == .releasing else { return }
    releasesPending -= 1
    if releasesPending <= 0 { finish() }
  }

  private func finish() {
    guard phase != .finished else { return }
    phase = .finished
    deadlineTimer?.cancel()
    deadlineTimer = nil
    first = nil
    second = nil
    onFinished?()
  }

  /// The evidence of a failed request: its error code, or what the network said.
  static func evidence(_ failure: TURNFailure, step: String) -> [EvidenceItem] {
    if let code = failure.code {
      return [EvidenceItem(.errorCode, step: step, value: Double(code))]
    }
    if let u = failure.unreachable {
      return [EvidenceItem(.icmp, step: step, address: u.destination)]
    }
    return [EvidenceItem(.noAnswer, step: step, value: failure.silentForMs)]
  }
}
