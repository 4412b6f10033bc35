extension ConnectViewModel {
  /// A made-up check list of `pairs` pairs (for the console benchmark and demos of the screen
  /// until the ICE engine feeds real events). `tick` varies states, RTTs and counters.
  public static func sample(pairs: Int, tick: Int = 0) -> ConnectViewModel {
    var m = ConnectViewModel()
    m.agentState = tick < 20 ? .checking : .connected
    m.elapsedMs = Double(tick) * 66.7
    let kinds = ["host", "srflx", "relay"]
    for i in 0..<4 {
      m.candidates.append(
        Candidate(
          side: .local, kind: kinds[i % 3], address: "192.168.1.\(10 + i):\(50000 + i)",
          priority: UInt32(2_130_706_431 - i * 1000), foundation: "\(i + 1)"))
      m.candidates.append(
        Candidate(
          side: .remote, kind: kinds[i % 3], address: "10.0.0.\(5 + i):\(40000 + i)",
          priority: UInt32(2_130_706_431 - i * 1000), foundation: "\(i + 1)"))
    }
    let states: [Pair.State] = [.frozen, .waiting, .inProgress, .succeeded, .failed]
    for k in 0..<pairs {
      let state = states[(k + tick / 3) % states.count]
      m.pairs.append(
        Pair(
          id: "p\(k)", local: "192.168.1.\(10 + k % 4):\(50000 + k % 4)",
          remote: "10.0.0.\(5 + (k / 4) % 25):\(40000 + k % 7)", localKind: kinds[k % 3],
          remoteKind: kinds[(k / 3) % 3], state: state, nominated: k == 7, selected: k == 7,
          rttMs: state == .succeeded ? 20 + Double((k * 7 + tick) % 30) : nil,
          checksSent: 1 + (k + tick) % 9, checksAnswered: state == .succeeded ? 1 : 0,
          failureReason: state == .failed ? "no answer after 7 checks" : nil,
          priority: UInt64(9_000_000_000 - k)))
    }
    m.log = (max(0, tick - 40)...tick).map { "t\($0) pair p\($0 % max(1, pairs)) changed state" }
    m.localToken = "natscope1:" + String(repeating: "c2FtcGxl", count: 12)
    return m
  }
}
