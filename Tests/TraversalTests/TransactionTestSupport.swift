import STUN
import Traversal

/// An instant `ms` milliseconds after the origin.
func at(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

let server = TransportAddress(ip: .v4(0xC000_0201), port: 3478)  // 192.0.2.1:3478
let alternate = TransportAddress(ip: .v4(0xC000_0202), port: 3479)  // 192.0.2.2:3479
let stranger = TransportAddress(ip: .v4(0xCB00_7101), port: 3478)  // 203.0.113.1:3478
let requestBytes: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42]
let responseBytes: [UInt8] = [0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42]

func tid(_ n: UInt32) -> TransactionID { TransactionID(high: 0x0102_0304_0506_0708, low: n) }

/// The number of transmits in `outs`.
func sends<R>(_ outs: [MachineOutput<TransactionEvent<R>>]) -> Int {
  outs.filter { if case .transmit = $0 { true } else { false } }.count
}

/// The instant of the `.timeout` in `outs`, if any.
func wake<R>(_ outs: [MachineOutput<TransactionEvent<R>>]) -> Instant? {
  for o in outs { if case .timeout(let t) = o { return t } }
  return nil
}

extension MachineOutput {
  /// A transmit of `bytes` to `to` carrying transaction `id` (no local socket named).
  static func send(_ bytes: [UInt8], to: TransportAddress, id: TransactionID) -> MachineOutput {
    .transmit(Transmit(bytes: bytes, to: to, transactionID: id))
  }
}

/// Drives a transaction with no responses until it fails; returns the send instants and the
/// failure instant.
func runToFailure(
  _ t: inout ClientTransaction<[UInt8]>, start: Instant = .zero
) -> (sends: [Instant], failedAt: Instant?, failure: TransactionFailure?) {
  var sendTimes: [Instant] = []
  var outs = t.start(at: start)
  var now = start
  for _ in 0..<1000 {
    if sends(outs) > 0 { sendTimes.append(now) }
    for o in outs { if case .event(.failed(_, let f)) = o { return (sendTimes, now, f) } }
    guard let next = wake(outs) else { break }
    now = next
    outs = t.handleTimeout(at: now)
  }
  return (sendTimes, nil, nil)
}
