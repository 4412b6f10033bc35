import Dispatch
import Foundation
import Logging
import Network
import Prometheus

/// Runs the config's scheduled checks, each every its `every`, through the executor (so they
/// share the concurrency bound with `/probe`), and keeps their latest results on `/metrics`
/// with the labels `check`, `module` and `target`. A value a run did not measure has no sample
/// after that run (its gauge is removed), never a stale one or a zero.
final class CheckScheduler: @unchecked Sendable {
  let config: ExporterConfig
  let registry: PrometheusCollectorRegistry
  let logger: Logger
  private let lock = NSLock()
  private var timers: [any DispatchSourceTimer] = []
  /// Each check's gauges from its last run.
  private var gauges: [String: [Gauge]] = [:]
  private let queue = DispatchQueue(label: "natscope.exporter.schedule")

  init(config: ExporterConfig, registry: PrometheusCollectorRegistry, logger: Logger) {
    self.config = config
    self.registry = registry
    self.logger = logger
  }

  func start(executor: ProbeExecutor) {
    for check in config.checks {
      guard let module = config.modules[check.module],
        let target = try? ServerAddress.parse(check.target)
      else {
        logger.warning("scheduled check \(check.name) has a target that is not HOST:PORT; skipped")
        continue
      }
      let job = ProbeJob(
        moduleName: check.module, module: module, target: target,
        timeout: min(module.timeout, check.every))
      let timer = DispatchSource.makeTimerSource(queue: queue)
      let every = check.every.components
      timer.schedule(
        deadline: .now(),
        repeating: .milliseconds(
          Int(every.seconds * 1000 + every.attoseconds / 1_000_000_000_000_000)))
      timer.setEventHandler { [weak self] in
        guard let scheduler = self else { return }
        executor.submit(job) { result, duration in
          scheduler.record(check, result: result, duration: duration)
        }
      }
      timer.resume()
      lock.withLock { timers.append(timer) }
    }
  }

  func stop() {
    lock.withLock {
      timers.forEach { $0.cancel() }
      timers = []
    }
  }

  func record(_ check: ScheduledCheck, result: ExporterResult, duration: Duration) {
    let samples = ExporterMetrics.samples(result, duration: duration)
    lock.withLock {
      let old = gauges[check.name] ?? []
      let new = ExporterMetrics.record(
        samples, in: registry,
        extraLabels: ["check": check.name, "module": check.module, "target": check.target])
      let kept = Set(new.map { ObjectIdentifier($0) })
      for gauge in old where !kept.contains(ObjectIdentifier(gauge)) {
        registry.unregisterGauge(gauge)
      }
      gauges[check.name] = new
    }
  }
}
