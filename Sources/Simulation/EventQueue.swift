import Runtime
import Traversal

/// A timer created by `SimulatedHost.schedule(at:_:)` or `VirtualNetwork.schedule(at:_:)`.
/// Cancelling it before it fires guarantees the action never runs.
public final class SimulatedTimer: TimerHandle {
  /// When the timer fires (or would have).
  public let deadline: Instant
  private var action: (() -> Void)?

  init(deadline: Instant, action: @escaping () -> Void) {
    self.deadline = deadline
    self.action = action
  }

  /// Prevents the action from running; harmless after it ran.
  public func cancel() { action = nil }

  func fire() {
    guard let a = action else { return }
    action = nil
    a()
  }
}

/// A min-heap of events ordered by (time, sequence number), so that events at the same instant
/// run in the order they were scheduled and a run is reproducible.
struct EventQueue {
  struct Entry {
    var time: Instant
    var sequence: UInt64
    var action: () -> Void

    func before(_ other: Entry) -> Bool {
      time != other.time ? time < other.time : sequence < other.sequence
    }
  }

  private var heap: [Entry] = []
  private var nextSequence: UInt64 = 0

  var count: Int { heap.count }
  var isEmpty: Bool { heap.isEmpty }
  var nextTime: Instant? { heap.first?.time }

  mutating func push(at time: Instant, _ action: @escaping () -> Void) {
    heap.append(Entry(time: time, sequence: nextSequence, action: action))
    nextSequence &+= 1
    var i = heap.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard heap[i].before(heap[parent]) else { break }
      heap.swapAt(i, parent)
      i = parent
    }
  }

  mutating func pop() -> Entry? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let top = heap.removeLast()
    var i = 0
    while true {
      let l = 2 * i + 1
      let r = l + 1
      var best = i
      if l < heap.count, heap[l].before(heap[best]) { best = l }
      if r < heap.count, heap[r].before(heap[best]) { best = r }
      if best == i { break }
      heap.swapAt(i, best)
      i = best
    }
    return top
  }
}
