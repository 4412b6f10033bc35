import Dispatch
import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

/// One check to run: which module against which target, and by when it must be done.
public struct ProbeJob: Sendable {
  public var moduleName: String
  public var module: ExporterModule
  public var target: ServerAddress
  /// The longest the check may take (the scrape's timeout minus a margin, or the module's).
  public var timeout: Duration

  public init(moduleName: String, module: ExporterModule, target: ServerAddress, timeout: Duration)
  {
    self.moduleName = moduleName
    self.module = module
    self.target = target
    self.timeout = timeout
  }
}

/// Runs checks with bounded concurrency: at most `concurrency` at once, each on its own worker
/// thread that waits for its session on the shared runtime (so a silent target holds one worker
/// for at most its timeout and never the others), at most `queueLength` waiting; one more is
/// refused at once (the HTTP server answers 503), a queue rather than a pile-up. A job that
/// waited past its timeout is answered as not finished without running.
public final class ProbeExecutor: @unchecked Sendable {
  public typealias Completion = @Sendable (ExporterResult, Duration) -> Void

  let runtime: NIORuntime
  public let concurrency: Int
  public let queueLength: Int
  private let lock = NSLock()
  private var running = 0
  private var waiting: [(job: ProbeJob, queuedAt: ContinuousClock.Instant, done: Completion)] = []
  private let workers = DispatchQueue(label: "natscope.exporter.probes", attributes: .concurrent)
  /// Counts, for the exporter's own metrics.
  public private(set) var started = 0
  public private(set) var refused = 0

  public init(runtime: NIORuntime, concurrency: Int, queueLength: Int) {
    self.runtime = runtime
    self.concurrency = max(1, concurrency)
    self.queueLength = max(0, queueLength)
  }

  /// Checks running and waiting now.
  public var load: (running: Int, waiting: Int) {
    lock.withLock { (running, waiting.count) }
  }

  /// Queues `job`; false when the queue is full (then `done` is never called).
  @discardableResult
  public func submit(_ job: ProbeJob, done: @escaping Completion) -> Bool {
    let now = ContinuousClock.now
    enum Decision { case start, queued, refused }
    let decision: Decision = lock.withLock {
      if running < concurrency {
        running += 1
        started += 1
        return .start
      }
      if waiting.count < queueLength {
        waiting.append((job, now, done))
        return .queued
      }
      refused += 1
      return .refused
    }
    switch decision {
    case .start:
      launch(job, queuedAt: now, done: done)
      return true
    case .queued: return true
    case .refused: return false
    }
  }

  private func launch(
    _ job: ProbeJob, queuedAt: ContinuousClock.Instant, done: @escaping Completion
  ) {
    workers.async { [self] in
      let waited = ContinuousClock.now - queuedAt
      let remaining = job.timeout - waited
      let start = ContinuousClock.now
      let result =
        remaining < .milliseconds(50) ? ExporterResult.timedOut : run(job, within: remaining)
      done(result, ContinuousClock.now - start)
      let next: (ProbeJob, ContinuousClock.Instant, Completion)? = lock.withLock {
        guard !waiting.isEmpty else {
          running -= 1
          return nil
        }
        started += 1
        let n = waiting.removeFirst()
        return (n.job, n.queuedAt, n.done)
      }
      if let next { launch(next.0, queuedAt: next.1, done: next.2) }
    }
  }

  /// Runs one check, blocking this worker until it finishes or `limit` passes.
  func run(_ job: ProbeJob, within limit: Duration) -> ExporterResult {
    if job.module.kind == .portMapping {
      return portMapping(within: limit)
    }
    guard let address = try? Resolver.resolve(job.target).first else { return .timedOut }
    let options = UDPSocketOptions(address: address.ip.family == .ipv6 ? .anyV6 : .anyV4)
    let rt = runtime
    do {
      switch job.module.kind {
      case .binding:
        let policy = RetransmissionPolicy(
          initialRTO: .milliseconds(250), maxRequests: 6, lastWaitMultiplier: 4)
        let report: BindingReport = try rt.run(timeout: limit) { rt, done in
          let client = STUNClient(runtime: rt, policy: policy, socketOptions: options)
          client.answersBindingRequests = false
          try client.send(BindingQuery(socket: ProbeSocketID(0), destination: address)) {
            outcome, local in
            client.close()
            done.succeed(BindingReport(server: address, local: local, outcome: outcome))
          }
        }
        return .binding(report)
      case .probe:
        let configuration = ProbeConfiguration(
          servers: [address],
          localAddresses: rt.localAddresses() + [.loopbackV4, .loopbackV6],
          testHairpinning: true, portAllocationSamples: 2)
        let report: ProbeReport = try rt.run(timeout: limit) { rt, done in
          let session = ProbeSession(
            runtime: rt, configuration: configuration, socketOptions: options,
            tcpConnector: rt.streamConnector())
          session.start { result in
            _ = session
            switch result {
            case .success(let r): done.succeed(r)
            case .failure(let e): done.fail(e)
            }
          }
        }
        return .probe(report)
      case .turn:
        guard let credential = job.module.credential else { return .timedOut }
        let transport = job.module.transport ?? .udp
        let credentials: TURNCredentials =
          switch credential {
          case .password(let user, let password):
            TURNCredentials(username: user, password: password)
          case .restSecret(let user, let secret):
            TURNCredentials.restAPI(
              secret: secret, user: user, now: Int64(Date().timeIntervalSince1970.rounded(.down)))
          }
        let scheme = transport == .tls ? "turns" : "turn"
        let uri =
          "\(scheme):\(job.target)" + (transport == .tcp ? "?transport=tcp" : "")
        let target = TURNCheckTarget(
          uri: uri, address: address,
          transport: transport == .tls ? .tls : transport == .tcp ? .tcp : .udp,
          credentials: credentials,
          serverName: job.target.literal == nil ? job.target.host : nil)
        let deadline = max(limit - .milliseconds(500), .milliseconds(200))
        let configuration = TURNCheckSession.Configuration(probes: 3, deadline: deadline)
        let report: TURNCheckReport = try rt.run(timeout: limit) { rt, done in
          let session = TURNCheckSession(
            runtime: rt, targets: [target], connector: rt.streamConnector(),
            tlsConnector: { t in
              rt.tlsStreamConnector(TLSClientSettings(serverName: t.serverName))
            }, configuration: configuration)
          session.start { done.succeed($0) }
        }
        return .turn(report)
      case .portMapping:
        return .timedOut
      }
    } catch {
      return .timedOut
    }
  }

  func portMapping(within limit: Duration) -> ExporterResult {
    do {
      let report: PortMappingReport = try runtime.run(timeout: limit) { rt, done in
        let session = PortMappingSession(runtime: rt, connector: rt.rawStreamConnector())
        session.start {
          done.succeed($0)
          _ = session
        }
      }
      return .portMapping(report)
    } catch {
      return .timedOut
    }
  }
}
