import Runtime

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A flag that goes from unset to set once, readable from any thread.
///
/// `@unchecked Sendable` because its one mutable field is only touched while holding the
/// pthread mutex. (NIO's `NIOLockedValueBox` lives in NIOConcurrencyHelpers, which this target
/// does not declare; `Synchronization.Mutex` needs macOS 15 while the package targets 14.)
final class Latch: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private var set = false

  init() {
    mutex = .allocate(capacity: 1)
    mutex.initialize(to: pthread_mutex_t())
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deinitialize(count: 1)
    mutex.deallocate()
  }

  /// Whether the latch is set.
  var isSet: Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return set
  }

  /// Sets the latch; returns true for the one call that set it.
  func trySet() -> Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    if set { return false }
    set = true
    return true
  }
}
