import STUN

/// Bytes a machine wants sent: what, from which local socket (for machines with several), to
/// where, and for which transaction.
public struct Transmit: Sendable, Hashable {
  /// The datagram (or stream frame) to send.
  public var bytes: [UInt8]
  /// The local base or socket address to send from; nil for machines with a single socket.
  public var from: TransportAddress?
  /// Where to send it.
  public var to: TransportAddress
  /// The STUN transaction ID the bytes carry when they are a request or response the machine
  /// tracks, so a driver never has to decode its own outgoing bytes to learn it.
  public var transactionID: TransactionID?
  /// Send with the don't-fragment bit and never fragment locally: a path MTU probe, whose
  /// size is the question (``PathMTUSearch``). Drivers that cannot honour it send as usual.
  public var dontFragment: Bool

  public init(
    bytes: [UInt8], from: TransportAddress? = nil, to: TransportAddress,
    transactionID: TransactionID? = nil, dontFragment: Bool = false
  ) {
    self.bytes = bytes
    self.from = from
    self.to = to
    self.transactionID = transactionID
    self.dontFragment = dontFragment
  }
}

/// What every sans-IO machine hands back from its entry points (`handleInput(…, at:)`,
/// `handleTimeout(at:)` and its commands), in the order the driver should carry them out.
///
/// The contract, the same for every machine: each call returns its transmits and events in
/// order and then, as the last element, `.timeout(t)` where `t` is the machine's earliest
/// deadline after the call. A call that leaves the machine with no deadline returns no
/// `.timeout`, and the driver cancels its timer. So the last `.timeout` of the latest call is
/// always the one to arm.
public enum MachineOutput<Event: Sendable>: Sendable {
  /// Send these bytes.
  case transmit(Transmit)
  /// Call `handleTimeout(at:)` at this instant (replaces any earlier timeout).
  case timeout(Instant)
  /// Something happened.
  case event(Event)
}

extension MachineOutput: Equatable where Event: Equatable {}
extension MachineOutput: Hashable where Event: Hashable {}

extension Array {
  /// The instant of the last `.timeout` in these outputs: the machine's deadline after the call
  /// that returned them, or nil when it has none.
  public func timeout<Event>() -> Instant? where Element == MachineOutput<Event> {
    for output in reversed() { if case .timeout(let t) = output { return t } }
    return nil
  }

  /// The transmits in these outputs, in order.
  public func transmits<Event>() -> [Transmit] where Element == MachineOutput<Event> {
    compactMap { if case .transmit(let t) = $0 { t } else { nil } }
  }

  /// The events in these outputs, in order.
  public func events<Event>() -> [Event] where Element == MachineOutput<Event> {
    compactMap { if case .event(let e) = $0 { e } else { nil } }
  }
}

extension MachineOutput {
  /// The same output with its event changed (transmits and timeouts pass through), for a
  /// machine that runs another inside it.
  public func mapEvent<Other>(_ transform: (Event) -> Other) -> MachineOutput<Other> {
    switch self {
    case .transmit(let t): return .transmit(t)
    case .timeout(let t): return .timeout(t)
    case .event(let e): return .event(transform(e))
    }
  }
}
