import Dispatch
import NIOCore
import NIOPosix
import Runtime
import STUN
import Traversal

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A bound UDP socket on a `NIORuntime`'s loop, read by natscope itself rather than by a NIO
/// channel, so that it can learn ICMP errors.
///
/// Sends go straight to the socket with a non-blocking `sendto` on the loop; a failure the
/// kernel returns (ENETUNREACH, EHOSTUNREACH, a full send buffer) is known at once and reported
/// to the owner's `onError`; it never closes the socket.
///
/// Receives: on Linux the socket has `IP_RECVERR` / `IPV6_RECVERR` on, so every ICMP
/// destination unreachable that comes back for a datagram it sent (port, host or network
/// unreachable, administratively prohibited; and "fragmentation needed" / "packet too big",
/// which say a datagram was too large, not that its destination is unreachable) is queued on the socket's error queue with the
/// original destination and the address of the host or router that sent it. SwiftNIO cannot
/// carry that (it does not read the error queue, and closes a datagram channel on a pending
/// error other than ECONNREFUSED), so a small poller thread per socket waits in `poll(2)` and
/// hands each wake-up to the loop, where the socket drains the error queue (reported to
/// `onError` as `SocketError`) and then the datagrams (with `IP_PKTINFO` / `IPV6_RECVPKTINFO`,
/// which tell each one's local destination address). The poller waits for the loop to finish
/// before polling again, so all reads happen on the loop.
///
/// All methods must be called on the runtime's loop; callbacks run there.
public final class UDPSocket: DatagramSocket, RuntimeResource {
  /// The largest datagram received whole (the largest UDP payload); longer ones cannot exist.
  public static let maximumDatagramSize = 65_536

  /// The bound address (wildcard or specific) with the real port.
  public let localAddress: TransportAddress
  /// Datagrams handed to the kernel.
  public private(set) var sentCount = 0
  /// Datagrams delivered to `onReceive`.
  public private(set) var receivedCount = 0
  /// Errors reported to `onError` (ICMP errors and refused sends).
  public private(set) var errorCount = 0
  /// Whether `close()` was called.
  public private(set) var isClosed = false
  /// Called on the loop for every ICMP error and refused send; the socket stays open. Set by
  /// `openUDP(_:onReceive:onError:)`; may be replaced.
  public var onError: ((SocketError) -> Void)?

  private let runtime: NIORuntime
  private let fd: Int32
  private let onReceive: (ReceivedDatagram) -> Void
  private let gate = PollGate()
  private var buffer = [UInt8](repeating: 0, count: UDPSocket.maximumDatagramSize)
  private var pollerStarted = false

  init(
    runtime: NIORuntime, fd: Int32, localAddress: TransportAddress,
    onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void
  ) {
    self.runtime = runtime
    self.fd = fd
    self.localAddress = localAddress
    self.onReceive = onReceive
    self.onError = onError
  }

  /// Turns on error-queue and packet-info reporting and starts the poller thread. Throws
  /// `RuntimeError.failed` when the options cannot be set or the thread cannot start (the
  /// caller then closes the descriptor).
  func attach() throws {
    let v6 = localAddress.ip.family == .ipv6
    #if os(Linux)
      if v6 {
        try POSIXSocket.setIntOption(
          fd, Int32(IPPROTO_IPV6), LinuxSocketOption.ipv6RecvPacketInfo, 1,
          name: "IPV6_RECVPKTINFO")
        try POSIXSocket.setIntOption(
          fd, Int32(IPPROTO_IPV6), LinuxSocketOption.ipv6RecvError, 1, name: "IPV6_RECVERR")
      } else {
        try POSIXSocket.setIntOption(
          fd, Int32(IPPROTO_IP), LinuxSocketOption.ipPacketInfo, 1, name: "IP_PKTINFO")
        try POSIXSocket.setIntOption(
          fd, Int32(IPPROTO_IP), LinuxSocketOption.ipRecvError, 1, name: "IP_RECVERR")
      }
    #endif
    let bound = NIOLoopBound(self, eventLoop: runtime.eventLoop)
    let loop = runtime.eventLoop
    let poller = SocketPoller(fd: fd, gate: gate) { done in
      loop.execute {
        bound.value.drain()
        done.signal()
      }
    }
    guard poller.start() else {
      throw RuntimeError.failed("cannot start a thread to read the UDP socket")
    }
    pollerStarted = true
  }

  /// Sends one datagram now. Errors are counted and reported to `onError`, never thrown.
  public func send(_ bytes: [UInt8], to destination: TransportAddress) {
    guard !isClosed else {
      report(.sendFailed(code: nil), destination, reporter: nil, "socket closed")
      return
    }
    guard destination.ip.family == localAddress.ip.family else {
      report(
        .sendFailed(code: nil), destination, reporter: nil,
        "cannot send to \(destination) from a socket bound to \(localAddress)")
      return
    }
    var code = POSIXSocket.sendTo(fd, bytes, destination)
    if code == ECONNREFUSED || code == EHOSTUNREACH || code == ENETUNREACH || code == EMSGSIZE {
      // With IP_RECVERR, Linux also returns a pending ICMP error (for an earlier datagram,
      // perhaps to another destination, or a "fragmentation needed" for an earlier probe sent
      // unfragmented) from the next send, which is then not sent. Read the
      // error queue (which clears it) and send once more: the kernel's answer then concerns
      // this datagram.
      drainErrors()
      code = POSIXSocket.sendTo(fd, bytes, destination)
    }
    switch code {
    case 0:
      sentCount += 1
    case ENETUNREACH:
      report(
        .unreachable(.networkUnreachable), destination, reporter: nil,
        "cannot send to \(destination): no route to that network")
    case EHOSTUNREACH:
      report(
        .unreachable(.hostUnreachable), destination, reporter: nil,
        "cannot send to \(destination): no route to that host")
    default:
      report(
        .sendFailed(code: code), destination, reporter: nil,
        "cannot send to \(destination): \(errnoText(code))")
    }
  }

  /// Sends one datagram with the don't-fragment bit and no local fragmentation
  /// (`IP_PMTUDISC_PROBE`, which also ignores the kernel's cached path MTU, so the size under
  /// test is what goes out), then puts the socket's usual setting back. A datagram larger
  /// than this host's interface is refused at once and reported as `tooBig`.
  public func send(_ bytes: [UInt8], to destination: TransportAddress, dontFragment: Bool) {
    guard dontFragment, !isClosed, destination.ip.family == localAddress.ip.family else {
      send(bytes, to: destination)
      return
    }
    #if os(Linux)
      let v6 = localAddress.ip.family == .ipv6
      let level = v6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP)
      let name = v6 ? LinuxSocketOption.ipv6MTUDiscover : LinuxSocketOption.ipMTUDiscover
      var usual: Int32 = 1
      var length = socklen_t(MemoryLayout<Int32>.size)
      let known = getsockopt(fd, level, name, &usual, &length) == 0
      var probe = LinuxSocketOption.pmtuDiscoverProbe
      guard known, setsockopt(fd, level, name, &probe, socklen_t(MemoryLayout<Int32>.size)) == 0
      else {
        send(bytes, to: destination)
        return
      }
      defer { _ = setsockopt(fd, level, name, &usual, socklen_t(MemoryLayout<Int32>.size)) }
      var code = POSIXSocket.sendTo(fd, bytes, destination)
      if code == EMSGSIZE {
        // The error may be a router's "fragmentation needed" for an earlier, larger datagram,
        // which Linux returns from the next send (and that datagram is not sent): read the
        // error queue, where that report waits with its MTU, and send once more.
        drainErrors()
        code = POSIXSocket.sendTo(fd, bytes, destination)
      }
      if code == EMSGSIZE {
        report(
          .tooBig(mtu: nil), destination, reporter: nil,
          "cannot send \(bytes.count) bytes to \(destination) unfragmented: larger than this host's interface takes"
        )
        return
      }
      if code == 0 {
        sentCount += 1
        return
      }
      send(bytes, to: destination)
    #else
      send(bytes, to: destination)
    #endif
  }

  /// Closes the socket; no callbacks run after this returns, and the port is free again. The
  /// poller thread is woken (shutting the socket down wakes a `poll(2)` on it, even for an
  /// unconnected UDP socket on Linux) and out of `poll` before the descriptor is closed, so
  /// no reference to the socket outlives this call.
  public func close() {
    guard !isClosed else { return }
    isClosed = true
    runtime.unregister(self)
    if pollerStarted {
      gate.stop { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }
    _ = systemClose(fd)
  }

  private func report(
    _ kind: SocketError.Kind, _ destination: TransportAddress, reporter: IPAddress?,
    _ message: String
  ) {
    errorCount += 1
    onError?(
      SocketError(
        kind: kind, destination: destination, reporter: reporter, at: runtime.now,
        message: message))
  }

  /// Reads what is waiting: errors first (reading one clears the socket's pending error, which
  /// would otherwise fail the next receive), then datagrams. Bounded per wake-up.
  func drain() {
    guard !isClosed else { return }
    drainErrors()
    for _ in 0..<256 {
      guard !isClosed, let datagram = receiveOne() else { return }
      receivedCount += 1
      onReceive(datagram)
    }
  }

  private func drainErrors() {
    #if os(Linux)
      for _ in 0..<256 {
        guard !isClosed, let error = receiveError() else { return }
        errorCount += 1
        onError?(error)
      }
    #endif
  }

  /// One `recvmsg`; nil when nothing is waiting (or on an error, which the error queue explains).
  private func receiveOne() -> ReceivedDatagram? {
    var control = [UInt8](repeating: 0, count: 256)
    guard let (count, source, controlLength) = recvmsg(flags: 0, control: &control),
      let source
    else { return nil }
    let bytes = Array(buffer[0..<count])
    var destination: TransportAddress?
    for c in ControlMessages(bytes: control, length: controlLength) {
      if let ip = c.packetInfoDestination {
        destination = TransportAddress(ip: ip, port: localAddress.port)
      }
    }
    if destination == nil, !localAddress.ip.isUnspecified { destination = localAddress }
    return ReceivedDatagram(
      bytes: bytes, source: source, destination: destination, receivedAt: runtime.now)
  }

  #if os(Linux)
    /// One message from the error queue as a `SocketError`, or nil when the queue is empty.
    /// Errors that are neither destination unreachable nor too big are skipped.
    private func receiveError() -> SocketError? {
      for _ in 0..<16 {
        var control = [UInt8](repeating: 0, count: 256)
        guard
          let (_, original, controlLength) = recvmsg(
            flags: LinuxSocketOption.msgErrQueue, control: &control)
        else { return nil }
        for c in ControlMessages(bytes: control, length: controlLength) {
          guard let (kind, reporter) = c.extendedError, let original else { continue }
          let from = reporter.map { "\($0)" } ?? "this host"
          switch kind {
          case .unreachable(let u):
            return SocketError(
              kind: .unreachable(u), destination: original, reporter: reporter, at: runtime.now,
              message: "\(u.phrase) from \(from) for \(original)")
          case .tooBig(let mtu):
            return SocketError(
              kind: .tooBig(mtu: mtu), destination: original, reporter: reporter,
              at: runtime.now,
              message:
                "datagram to \(original) too big for a link (MTU \(mtu.map { "\($0)" } ?? "?"), said \(from))"
            )
          }
        }
      }
      return nil
    }
  #endif

  /// `recvmsg(2)` into `buffer` and `control`, non-blocking; returns the byte count, the
  /// address in `msg_name` and the control length, or nil (EAGAIN or any error).
  private func recvmsg(flags: Int32, control: inout [UInt8]) -> (
    Int, TransportAddress?, Int
  )? {
    var name = sockaddr_storage()
    let result: (Int, Int) = buffer.withUnsafeMutableBytes { data in
      control.withUnsafeMutableBytes { controlBytes in
        withUnsafeMutablePointer(to: &name) { namePointer in
          var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
          return withUnsafeMutablePointer(to: &iov) { iovPointer in
            var message = msghdr()
            message.msg_name = UnsafeMutableRawPointer(namePointer)
            message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            message.msg_iov = iovPointer
            message.msg_iovlen = 1
            message.msg_control = controlBytes.baseAddress
            message.msg_controllen = .init(controlBytes.count)
            let n = systemRecvmsg(fd, &message, flags | Int32(MSG_DONTWAIT))
            return (n, Int(message.msg_controllen))
          }
        }
      }
    }
    guard result.0 >= 0 else { return nil }
    return (result.0, TransportAddress(storage: name), result.1)
  }
}

/// `recvmsg(2)`, named so that the socket's own `recvmsg` can reach it.
private func systemRecvmsg(_ fd: Int32, _ message: inout msghdr, _ flags: Int32) -> Int {
  #if canImport(Glibc)
    Glibc.recvmsg(fd, &message, flags)
  #elseif canImport(Musl)
    Musl.recvmsg(fd, &message, flags)
  #else
    Darwin.recvmsg(fd, &message, flags)
  #endif
}

/// Socket option numbers from the Linux headers that Glibc's module does not always export.
enum LinuxSocketOption {
  static let ipPacketInfo: Int32 = 8  // IP_PKTINFO
  static let ipRecvError: Int32 = 11  // IP_RECVERR
  static let ipv6RecvError: Int32 = 25  // IPV6_RECVERR
  static let ipv6RecvPacketInfo: Int32 = 49  // IPV6_RECVPKTINFO
  static let ipv6PacketInfo: Int32 = 50  // IPV6_PKTINFO
  static let msgErrQueue: Int32 = 0x2000  // MSG_ERRQUEUE
  static let ipMTUDiscover: Int32 = 10  // IP_MTU_DISCOVER
  static let ipv6MTUDiscover: Int32 = 23  // IPV6_MTU_DISCOVER
  static let pmtuDiscoverProbe: Int32 = 3  // IP_PMTUDISC_PROBE / IPV6_PMTUDISC_PROBE
}

/// The control messages of one `recvmsg`, parsed from bytes (the CMSG_* macros are not
/// imported into Swift).
struct ControlMessages: Sequence, IteratorProtocol {
  struct Message {
    var level: Int32
    var type: Int32
    var data: ArraySlice<UInt8>

    /// The destination address of an `IP_PKTINFO` / `IPV6_PKTINFO` message.
    var packetInfoDestination: IPAddress? {
      if level == Int32(IPPROTO_IP), type == LinuxSocketOption.ipPacketInfo, data.count >= 12 {
        // struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
        return IPAddress(bytes: (data.dropFirst(8).prefix(4)))
      }
      if level == Int32(IPPROTO_IPV6), type == LinuxSocketOption.ipv6PacketInfo, data.count >= 16 {
        // struct in6_pktinfo { in6_addr addr; unsigned ifindex; }
        return IPAddress(bytes: (data.prefix(16)))
      }
      return nil
    }

    /// What an `IP_RECVERR` / `IPV6_RECVERR` message said.
    enum ExtendedError: Equatable {
      /// An ICMP destination unreachable.
      case unreachable(Unreachable.Kind)
      /// ICMP fragmentation needed, ICMPv6 packet too big, or a local "message too long",
      /// with the MTU it named (0 counts as not said).
      case tooBig(mtu: Int?)
    }

    /// The kind and reporter of an `IP_RECVERR` / `IPV6_RECVERR` message carrying an ICMP
    /// destination unreachable or a too-big error; nil for anything else.
    var extendedError: (ExtendedError, IPAddress?)? {
      let v4 = level == Int32(IPPROTO_IP) && type == LinuxSocketOption.ipRecvError
      let v6 = level == Int32(IPPROTO_IPV6) && type == LinuxSocketOption.ipv6RecvError
      guard v4 || v6, data.count >= 16 else { return nil }
      // struct sock_extended_err { u32 errno; u8 origin, type, code, pad; u32 info, data; }
      // followed by the offender's sockaddr (SO_EE_OFFENDER).
      let s = data.startIndex
      let origin = data[s + 4]
      let icmpType = data[s + 5]
      let code = data[s + 6]
      // ee_info, in host byte order: the MTU for the too-big errors.
      let info = Int(
        UInt32(data[s + 8]) | UInt32(data[s + 9]) << 8 | UInt32(data[s + 10]) << 16
          | UInt32(data[s + 11]) << 24)
      let mtu = info > 0 && info <= 65_535 ? info : nil
      let kind: ExtendedError
      switch origin {
      case 2 where icmpType == 3 && code == 4:  // fragmentation needed and DF set
        kind = .tooBig(mtu: mtu)
      case 2 where icmpType == 3:  // SO_EE_ORIGIN_ICMP, destination unreachable
        switch code {
        case 0, 6: kind = .unreachable(.networkUnreachable)
        case 3: kind = .unreachable(.portUnreachable)
        case 9, 10, 13: kind = .unreachable(.prohibited)
        default: kind = .unreachable(.hostUnreachable)
        }
      case 3 where icmpType == 2:  // SO_EE_ORIGIN_ICMP6, packet too big
        kind = .tooBig(mtu: mtu)
      case 3 where icmpType == 1:  // SO_EE_ORIGIN_ICMP6, destination unreachable
        switch code {
        case 0: kind = .unreachable(.networkUnreachable)
        case 1, 5, 6: kind = .unreachable(.prohibited)
        case 4: kind = .unreachable(.portUnreachable)
        default: kind = .unreachable(.hostUnreachable)
        }
      case 1
      where Int32(
        UInt32(data[s]) | UInt32(data[s + 1]) << 8 | UInt32(data[s + 2]) << 16 | UInt32(data[s + 3])
          << 24) == EMSGSIZE:
        // SO_EE_ORIGIN_LOCAL: this host's own interface MTU.
        kind = .tooBig(mtu: mtu)
      default:
        return nil
      }
      let offender = Array(data.dropFirst(16))
      var reporter: IPAddress?
      if offender.count >= 8, offender[0] == UInt8(AF_INET), offender[1] == 0 {
        reporter = IPAddress(bytes: (offender[4..<8]))
      } else if offender.count >= 24, offender[0] == UInt8(AF_INET6), offender[1] == 0 {
        reporter = IPAddress(bytes: (offender[8..<24]))
      }
      return (kind, reporter)
    }
  }

  private let bytes: [UInt8]
  private let length: Int
  private var offset = 0

  init(bytes: [UInt8], length: Int) {
    self.bytes = bytes
    self.length = Swift.min(length, bytes.count)
  }

  mutating func next() -> Message? {
    // struct cmsghdr { size_t len; int level; int type; } then data, aligned to size_t.
    let header = MemoryLayout<Int>.size + 8
    let align = MemoryLayout<Int>.size
    guard offset + header <= length else { return nil }
    var cmsgLength = 0
    for i in 0..<MemoryLayout<Int>.size {
      cmsgLength |= Int(bytes[offset + i]) << (8 * i)
    }
    guard cmsgLength >= header, offset + cmsgLength <= length else { return nil }
    func int32(_ at: Int) -> Int32 {
      Int32(
        bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
          | UInt32(bytes[at + 3]) << 24)
    }
    let message = Message(
      level: int32(offset + MemoryLayout<Int>.size),
      type: int32(offset + MemoryLayout<Int>.size + 4),
      data: bytes[(offset + header)..<(offset + cmsgLength)])
    offset += (cmsgLength + align - 1) / align * align
    return message
  }
}

/// The thread that waits for a socket to become readable (a datagram or a queued error) and
/// hands each wake-up to the loop, waiting until the loop has read before polling again. It
/// never reads or closes the descriptor: the socket does both, on the loop.
final class SocketPoller: Sendable {
  private let fd: Int32
  private let gate: PollGate
  private let wake: @Sendable (DispatchSemaphore) -> Void

  init(fd: Int32, gate: PollGate, wake: @escaping @Sendable (DispatchSemaphore) -> Void) {
    self.fd = fd
    self.gate = gate
    self.wake = wake
  }

  /// Starts the thread; false when it could not be created.
  func start() -> Bool {
    let context = Unmanaged.passRetained(self).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
      &thread, nil,
      { argument in
        guard let argument else { return nil }
        let poller = Unmanaged<SocketPoller>.fromOpaque(argument).takeRetainedValue()
        poller.run()
        return nil
      }, context)
    guard rc == 0 else {
      Unmanaged<SocketPoller>.fromOpaque(context).release()
      return false
    }
    pthread_detach(thread)
    return true
  }

  private func run() {
    while gate.beginPoll() {
      var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      // The timeout only bounds how long a missed wake-up could keep the thread alive.
      let rc = poll(&entry, 1, 1000)
      let failed = rc < 0 && errno != EINTR
      gate.endPoll()
      if gate.isStopping || failed || entry.revents & Int16(POLLNVAL) != 0 { return }
      if rc <= 0 { continue }
      let done = DispatchSemaphore(value: 0)
      // Under the gate's lock: once `stop` has returned, no wake-up reaches the loop.
      guard gate.unlessStopping({ wake(done) }) else { return }
      // The loop may be gone (runtime shut down without closing): check now and then.
      while done.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
        if gate.isStopping { return }
      }
    }
  }
}

/// Whether the poller thread is inside `poll(2)`, and the stop request: closing waits until
/// the thread is out of `poll`, so the kernel socket (which `poll` holds a reference to) goes
/// away with the descriptor.
final class PollGate: @unchecked Sendable {
  // `@unchecked Sendable`: the two flags are only touched while holding the mutex.
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>
  private var stopping = false
  private var polling = false

  init() {
    mutex = .allocate(capacity: 1)
    mutex.initialize(to: pthread_mutex_t())
    pthread_mutex_init(mutex, nil)
    condition = .allocate(capacity: 1)
    condition.initialize(to: pthread_cond_t())
    pthread_cond_init(condition, nil)
  }

  deinit {
    pthread_cond_destroy(condition)
    condition.deinitialize(count: 1)
    condition.deallocate()
    pthread_mutex_destroy(mutex)
    mutex.deinitialize(count: 1)
    mutex.deallocate()
  }

  /// Marks the thread as polling; false once stopping.
  func beginPoll() -> Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    if stopping { return false }
    polling = true
    return true
  }

  /// Marks the thread as out of `poll`.
  func endPoll() {
    pthread_mutex_lock(mutex)
    polling = false
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Runs `body` unless stopping, holding the lock (so `stop` waits for it); returns whether
  /// it ran.
  func unlessStopping(_ body: () -> Void) -> Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    if stopping { return false }
    body()
    return true
  }

  var isStopping: Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return stopping
  }

  /// Sets the stop request, runs `wakeUp` (which must make a pending `poll` return), then
  /// waits until the thread is out of `poll` (at most about a second, its poll timeout).
  func stop(wakeUp: () -> Void) {
    pthread_mutex_lock(mutex)
    stopping = true
    pthread_mutex_unlock(mutex)
    wakeUp()
    pthread_mutex_lock(mutex)
    for _ in 0..<20 where polling {
      var deadline = timespec()
      clock_gettime(CLOCK_REALTIME, &deadline)
      deadline.tv_nsec += 100_000_000
      if deadline.tv_nsec >= 1_000_000_000 {
        deadline.tv_sec += 1
        deadline.tv_nsec -= 1_000_000_000
      }
      pthread_cond_timedwait(condition, mutex, &deadline)
    }
    pthread_mutex_unlock(mutex)
  }
}
