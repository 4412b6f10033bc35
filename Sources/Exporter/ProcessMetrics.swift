import Foundation
import Prometheus

#if canImport(Glibc)
  import Glibc
#endif

/// The exporter's own process metrics (the names of Prometheus' client libraries: resident
/// memory, CPU seconds, open file descriptors, start time), read from /proc on each scrape of
/// `/metrics`, and the probe queue's state. swift-prometheus has no process collector.
final class ProcessMetrics: @unchecked Sendable {
  let resident: Gauge
  let virtualMemory: Gauge
  let cpu: Counter
  let openFDs: Gauge
  let startTime: Gauge
  let running: Gauge
  let waiting: Gauge
  let started: Counter
  let refused: Counter
  private let lock = NSLock()
  private var lastCPU = 0.0
  private var lastStarted = 0
  private var lastRefused = 0

  init(registry: PrometheusCollectorRegistry) {
    resident = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "process_resident_memory_bytes", unitName: "",
        helpText: "Resident memory size in bytes."))
    virtualMemory = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "process_virtual_memory_bytes", unitName: "",
        helpText: "Virtual memory size in bytes."))
    cpu = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        metricName: "process_cpu_seconds_total", unitName: "",
        helpText: "User and system CPU time spent in seconds."))
    openFDs = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "process_open_fds", unitName: "", helpText: "Number of open file descriptors."))
    startTime = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "process_start_time_seconds", unitName: "",
        helpText: "Start time of the process since the Unix epoch in seconds."))
    running = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "natscope_exporter_probes_running", unitName: "",
        helpText: "Checks running now."))
    waiting = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        metricName: "natscope_exporter_probes_waiting", unitName: "",
        helpText: "Checks waiting in the queue now."))
    started = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        metricName: "natscope_exporter_probes_started_total", unitName: "",
        helpText: "Checks started since the exporter started."))
    refused = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        metricName: "natscope_exporter_probes_refused_total", unitName: "",
        helpText: "Probe requests refused because the queue was full (answered 503)."))
    startTime.set(ProcessMetrics.startSeconds() ?? Date().timeIntervalSince1970)
  }

  func update(executor: ProbeExecutor) {
    let load = executor.load
    running.set(Double(load.running))
    waiting.set(Double(load.waiting))
    lock.withLock {
      let s = executor.started
      let r = executor.refused
      if s > lastStarted { started.increment(by: Int64(s - lastStarted)) }
      if r > lastRefused { refused.increment(by: Int64(r - lastRefused)) }
      lastStarted = s
      lastRefused = r
      if let stat = ProcessMetrics.stat() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let seconds = (stat.utime + stat.stime) / max(ticks, 1)
        if seconds > lastCPU { cpu.increment(by: seconds - lastCPU) }
        lastCPU = max(lastCPU, seconds)
        virtualMemory.set(stat.vsize)
        resident.set(stat.rss * Double(sysconf(Int32(_SC_PAGESIZE))))
      }
    }
    if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
      openFDs.set(Double(fds.count))
    }
  }

  /// Fields of /proc/self/stat (after the command name in parentheses).
  static func stat() -> (utime: Double, stime: Double, vsize: Double, rss: Double, start: Double)? {
    guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3 of proc(5)); utime is field 14, so fields[11].
    guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
      let start = Double(fields[19]), let vsize = Double(fields[20]), let rss = Double(fields[21])
    else { return nil }
    return (utime, stime, vsize, rss, start)
  }

  /// The process's start time: boot time (/proc/stat btime) plus its start in clock ticks.
  static func startSeconds() -> Double? {
    guard let s = stat(), let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
      let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
    else { return nil }
    return boot + s.start / max(Double(sysconf(Int32(_SC_CLK_TCK))), 1)
  }
}
