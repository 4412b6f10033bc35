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

/// The instants of the `.send` outputs' companion `.wake`s, and whether a send happened.
func sends<R>(_ outs: [TransactionOutput<R>]) -> Int {
  outs.filter { if case .send = $0 { true } else { false } }.count
}

func wake<R>(_ outs: [TransactionOutput<R>]) -> Instant? {
  for o in outs { if case .wake(let t) = o { return t } }
  return nil
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
    for o in outs { if case .failed(let f) = o { return (sendTimes, now, f) } }
    guard let next = wake(outs) else { break }
    now = next
    outs = t.handleTimeout(at: now)
  }
  return (sendTimes, nil, nil)
}
