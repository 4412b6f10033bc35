// libFuzzer targets for the readers of `natscope explain`: log lines (the generic, libnice and
// aioice rules), webrtc-internals dumps (JSON), packet captures (pcap and pcapng, through
// libpcap), and gzip input. Not built by SwiftPM:
// `scripts/fuzz` compiles Sources/Explain together with this file into the module Explain
// (instrumented), importing the debug builds of STUN, Traversal and Report, and picks the
// target with NATSCOPE_FUZZ_TARGET (explain-log, explain-dump, explain-pcap, explain-gzip).
//
// Beyond "never crash", each target checks what the report promises and traps when it breaks:
// every finding derived from what was read is worded by a vocabulary, and no finding claims
// what another marks as not measured.

import Foundation
import Report

/// Traps with a message; fuzzing turns this into a reported crash with the input saved.
func explainFuzzFail(_ what: String) -> Never {
  print("invariant violated: \(what)")
  fatalError(what)
}

/// The readers, by the name NATSCOPE_FUZZ_TARGET gives.
enum ExplainFuzzTarget: String, CaseIterable {
  case log = "explain-log"
  case dump = "explain-dump"
  case pcap = "explain-pcap"
  case gzip = "explain-gzip"

  static let selected: ExplainFuzzTarget = {
    let name = ProcessInfo.processInfo.environment["NATSCOPE_FUZZ_TARGET"] ?? "explain-log"
    guard let t = ExplainFuzzTarget(rawValue: name) else {
      print(
        "NATSCOPE_FUZZ_TARGET=\(name) is no target; the targets are "
          + allCases.map(\.rawValue).joined(separator: ", "))
      exit(1)
    }
    return t
  }()

  func run(_ bytes: [UInt8]) {
    switch self {
    case .log: fuzzLog(bytes)
    case .dump: fuzzDump(bytes)
    case .pcap: fuzzPcap(bytes)
    case .gzip: fuzzGzip(bytes)
    }
  }
}

/// The findings of each session hold together.
func checkSessions(_ sessions: [ExplainEvidence]) {
  for e in sessions {
    let findings = ExplainFindings.derive(e)
    for f in findings where !FindingText.isWorded(f) {
      explainFuzzFail("no vocabulary words \(f.code)")
    }
    if let (claim, gap) = findings.contradictions().first {
      explainFuzzFail("\(claim.code) rests on \(gap.aspect?.rawValue ?? "?"), not measured")
    }
    _ = ExplainReport(inputs: [], sessions: [ExplainSession(input: "fuzz", evidence: e)]).text
  }
}

func fuzzLog(_ bytes: [UInt8]) {
  for format in [ExplainEvidence.Format.text, .libnice, .aioice] {
    var splitter = LineSplitter(MemorySource(bytes), maxLine: 4096)
    var reader = TextLogReader(format: format, secrets: SecretSet())
    guard (try? reader.read(&splitter)) != nil else { explainFuzzFail("a memory source failed") }
    checkSessions(reader.sessions())
  }
  if let r = try? Explainer.read(name: "fuzz", source: MemorySource(bytes), secrets: SecretSet()) {
    checkSessions(r.sessions)
  }
}

func fuzzDump(_ bytes: [UInt8]) {
  if let s = try? WebRTCInternalsReader.read(bytes, pc: nil, secrets: SecretSet(), name: "fuzz") {
    checkSessions(s)
  }
}

func fuzzPcap(_ bytes: [UInt8]) {
  // Through the sniffer (a pcap or pcapng magic) to libpcap and the packet parser.
  if let r = try? Explainer.read(name: "fuzz", source: MemorySource(bytes), secrets: SecretSet()) {
    checkSessions(r.sessions)
  }
}

func fuzzGzip(_ bytes: [UInt8]) {
  guard let g = try? GzipSource(MemorySource(bytes), name: "fuzz") else { return }
  var total = 0
  // Bounded: a small input may inflate a lot; 64 MiB is enough to see the decoder through.
  while total < 64 << 20 {
    guard let chunk = try? g.read(max: 64 * 1024), !chunk.isEmpty else { break }
    total += chunk.count
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func explainFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  ExplainFuzzTarget.selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
