// natscope-bench: STUN codec timings and allocation counts, in release mode.
//
//     swift run -c release natscope-bench [seconds-per-case] [case-name-filter]
//
// Each case runs in rounds of about 10 ms; the median round is reported as ns/op, beside the
// fastest round (the one least disturbed by other work on the machine), with heap allocations per
// op counted by CAllocCounter (which interposes malloc and friends).

import CAllocCounter
import STUN

nonisolated(unsafe) var runFilter = ""

@_optimize(none)
func blackHole<T>(_ value: T) {}

/// RFC 5769 §2.1 sample request and §2.2 IPv4 response.
let request: [UInt8] = [
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
  0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
  0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
  0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
]
let response: [UInt8] = [
  0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
  0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
  0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
  0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
  0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
]

struct Result {
  var name: String
  var nsPerOp: Double
  var minNsPerOp: Double
  var allocsPerOp: Double
}

/// Runs `body` `n` times per round, sizing n so a round takes about `roundSeconds`.
func measure(_ name: String, seconds: Double, _ body: () -> Void) -> Result {
  if !runFilter.isEmpty && !name.contains(runFilter) {
    return Result(name: name, nsPerOp: .nan, minNsPerOp: .nan, allocsPerOp: .nan)
  }
  let clock = ContinuousClock()
  // Calibrate.
  var n = 1
  while true {
    let t = clock.measure { for _ in 0..<n { body() } }
    if t >= .milliseconds(5) || n >= 1 << 30 {
      let perOp = Double(t.components.attoseconds) / 1e9 + Double(t.components.seconds) * 1e9
      n = max(1, Int(0.01e9 / max(perOp / Double(n), 0.1)))
      break
    }
    n *= 4
  }
  let rounds = max(3, Int(seconds / 0.01))
  var times: [Double] = []
  var allocs: [Double] = []
  for _ in 0..<rounds {
    let a0 = natscope_alloc_count()
    let t = clock.measure { for _ in 0..<n { body() } }
    let a1 = natscope_alloc_count()
    let ns = Double(t.components.attoseconds) / 1e9 + Double(t.components.seconds) * 1e9
    times.append(ns / Double(n))
    allocs.append(Double(a1 - a0) / Double(n))
  }
  times.sort()
  allocs.sort()
  return Result(
    name: name, nsPerOp: times[times.count / 2], minNsPerOp: times[0],
    allocsPerOp: allocs[allocs.count / 2])
}

func pad(_ s: String, _ width: Int) -> String {
  s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

func lpad(_ s: String, _ width: Int) -> String {
  s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

func format(_ x: Double, decimals: Int) -> String {
  var scale = 1.0
  for _ in 0..<decimals { scale *= 10 }
  let r = (x * scale).rounded() / scale
  var s = "\(r)"
  if let dot = s.firstIndex(of: ".") {
    let frac = s[s.index(after: dot)...]
    if frac.count < decimals { s += String(repeating: "0", count: decimals - frac.count) }
  }
  return s
}

@main
struct NatscopeBench {
  static func main() throws {
    let args = CommandLine.arguments
    let seconds = args.count > 1 ? Double(args[1]) ?? 1.0 : 1.0
    runFilter = args.count > 2 ? args[2] : ""

    // The counter must see Swift allocations, or the allocation column means nothing.
    let before = natscope_alloc_count()
    blackHole([UInt8](repeating: 1, count: 1000))
    guard natscope_alloc_count() > before else {
      print("error: CAllocCounter does not see allocations; numbers would be wrong")
      return
    }

    let key = try IntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    let decodedResponse = try Message(bytes: response)
    guard let tid = TransactionID(bytes: response[8..<20]) else { return }
    let mapped = XORMappedAddress(TransportAddress(ip: .v4(0xC000_0201), port: 32853))
    let input = request

    var results: [Result] = []
    results.append(
      measure("decode RFC 5769 §2.1 request (no checks)", seconds: seconds) {
        blackHole(try? Message(bytes: input))
      })
    results.append(
      measure("decode + verify MESSAGE-INTEGRITY + FINGERPRINT", seconds: seconds) {
        if let m = try? Message(bytes: input) {
          blackHole(m.verifyMessageIntegrity(key: key) && m.verifyFingerprint())
        }
      })
    results.append(
      measure("build Binding success (XOR-MAPPED-ADDRESS, MI, FP)", seconds: seconds) {
        var b = MessageBuilder(type: .bindingSuccess, transactionID: tid, capacity: 64)
        b.add(mapped)
        b.addMessageIntegrity(key: key)
        b.addFingerprint()
        blackHole(b.bytes)
      })
    results.append(
      measure("read XOR-MAPPED-ADDRESS from decoded response", seconds: seconds) {
        blackHole(try? decodedResponse.get(XORMappedAddress.self))
      })
    results.append(
      measure("verify MESSAGE-INTEGRITY only (decoded)", seconds: seconds) {
        blackHole(decodedResponse.verifyMessageIntegrity(key: key))
      })
    results.append(
      measure("verify FINGERPRINT only (decoded)", seconds: seconds) {
        blackHole(decodedResponse.verifyFingerprint())
      })

    // The same messages pion/stun's own benchmarks use (scripts/bench-pion pairs them by name).
    let pionTID = TransactionID(bytes: [
      0x8f, 0x18, 0x41, 0x01, 0x16, 0x70, 0x5f, 0xea, 0xec, 0x0b, 0xa7, 0xab,
    ])!
    var pionDecode = MessageBuilder(type: .bindingRequest, transactionID: pionTID, capacity: 32)
    pionDecode.add(type: .errorCode, value: [0xff, 0xfe, 0xfa])
    let pionDecodeBytes = pionDecode.bytes
    var pionXMA = MessageBuilder(type: .bindingRequest, transactionID: pionTID, capacity: 32)
    pionXMA.add(type: .xorMappedAddress, value: [0x00, 0x01, 0x9c, 0xd5, 0xf4, 0x9f, 0x38, 0xae])
    let pionXMAMessage = try pionXMA.message()
    let pionAddress = XORMappedAddress(TransportAddress(ip: .v4(0xD501_DF05), port: 0))
    let software = Software("software")
    var pionFP = MessageBuilder(type: .bindingRequest, transactionID: pionTID, capacity: 64)
    pionFP.add(pionAddress)
    pionFP.add(software)
    pionFP.addFingerprint()
    let pionFPMessage = try pionFP.message()
    let pionKey = try IntegrityKey.shortTerm(password: "password")
    var pionMI = MessageBuilder(type: .bindingRequest, transactionID: pionTID, capacity: 64)
    pionMI.add(software)
    pionMI.addMessageIntegrity(key: pionKey)
    let pionMIMessage = try pionMI.message()

    results.append(
      measure("pion Decode: Binding request, one ERROR-CODE (28 B)", seconds: seconds) {
        blackHole(try? Message(bytes: pionDecodeBytes))
      })
    results.append(
      measure("pion XORMappedAddress_GetFrom: one-attribute message", seconds: seconds) {
        blackHole(try? pionXMAMessage.get(XORMappedAddress.self))
      })
    results.append(
      measure("pion Fingerprint_Check: XMA, SOFTWARE, FP (52 B)", seconds: seconds) {
        blackHole(pionFPMessage.verifyFingerprint())
      })
    results.append(
      measure("pion MessageIntegrity_Check: SOFTWARE, MI (56 B)", seconds: seconds) {
        blackHole(pionMIMessage.verifyMessageIntegrity(key: pionKey))
      })
    results.append(
      measure("pion MessageFull: build XMA, SOFTWARE, FP", seconds: seconds) {
        var b = MessageBuilder(type: .bindingRequest, transactionID: pionTID, capacity: 64)
        b.add(pionAddress)
        b.add(software)
        b.addFingerprint()
        blackHole(b.bytes)
      })

    print(pad("case", 54) + lpad("ns/op", 10) + lpad("allocs/op", 11) + lpad("min ns/op", 11))
    for r in results where !r.nsPerOp.isNaN {
      print(
        pad(r.name, 54) + lpad(format(r.nsPerOp, decimals: 1), 10)
          + lpad(format(r.allocsPerOp, decimals: 2), 11)
          + lpad(format(r.minNsPerOp, decimals: 1), 11))
    }
  }
}
