import Runtime
import Traversal

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension VirtualNetwork {
  /// Runs for `duration` of virtual time while keeping virtual time in step with wall time
  /// (scaled by `speed`: 2 runs twice as fast as real time), for demos.
  ///
  /// Blocks the calling thread, sleeping between events. `onTick` is called after each batch of
  /// events and at least every `tick` of wall time; return false from it to stop early (e.g.
  /// on a key press). The loop is bounded: it ends when virtual time reaches the end, or after
  /// a wall-clock budget of twice the expected duration plus one second.
  @discardableResult
  public func runRealTime(
    for duration: Duration, speed: Double = 1, tick: Duration = .milliseconds(20),
    limit: Int = defaultEventLimit, onTick: (() -> Bool)? = nil
  ) -> RunResult {
    let scale = speed.isFinite && speed > 0 ? speed : 1
    let tickNanos = max(tick.nanoseconds, 1_000_000)
    let start = now
    let end = now + duration
    let clock = ContinuousClock()
    let wallStart = clock.now
    let wallBudget = Double(max(duration.nanoseconds, 0)) / scale * 2 + 1e9
    var total = RunResult(events: 0, hitLimit: false)
    while true {
      let wallElapsed = Double((clock.now - wallStart).nanoseconds)
      let virtualElapsed = Int64(min(wallElapsed * scale, Double(Int64.max / 2)))
      let target = min(end, start + .nanoseconds(virtualElapsed))
      let r = run(until: target, limit: max(limit - total.events, 0))
      total.events += r.events
      total.hitLimit = r.hitLimit
      if let onTick, !onTick() { break }
      if target >= end || r.hitLimit || wallElapsed > wallBudget { break }
      // Sleep until the next event is due in wall time, at most one tick.
      var sleepNanos = tickNanos
      if let next = nextEventTime {
        let dueWall = Double((min(next, end) - start).nanoseconds) / scale
        sleepNanos = min(sleepNanos, max(Int64(dueWall - wallElapsed), 0))
      }
      if sleepNanos > 0 { Self.sleep(nanoseconds: sleepNanos) }
    }
    return total
  }

  private static func sleep(nanoseconds: Int64) {
    var request = timespec(
      tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    // Retry after signal interruptions, a bounded number of times.
    for _ in 0..<8 {
      guard nanosleep(&request, &remaining) != 0, errno == EINTR else { return }
      request = remaining
    }
  }
}
