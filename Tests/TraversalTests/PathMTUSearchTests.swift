import Foundation
import STUN
import Testing
import Traversal

/// The path MTU search on a manual clock: a model path that carries datagrams up to a size
/// (forward and reverse each), may answer "fragmentation needed", and a peer that answers as
/// natscope's agent does (padded on request) or as another agent does (unpadded).
@Suite struct PathMTUSearchTests {
  static let base = TransportAddress("192.168.1.10:40000")!
  static let remote = TransportAddress("203.0.113.5:50000")!
  static let password = "peerpasswordpeerpassword"
  static let identity = PathProbeIdentity(
    username: "peer:mine", remoteKey: try! IntegrityKey.shortTerm(password: password),
    role: .controlling, tieBreaker: 42, priority: 1000)

  /// The model path and peer.
  struct Path {
    /// Largest IP datagram each way (nil: any).
    var forward: Int? = nil
    var reverse: Int? = nil
    /// The MTU a router names in "fragmentation needed" for forward datagrams over `forward`;
    /// nil drops them silently.
    var icmpMTU: Int? = nil
    /// Whether the peer pads its answers on request (natscope) or not (other agents).
    var pads = true
    /// Whether the peer answers padded requests at all.
    var answersPadded = true
    var rtt: Duration = .milliseconds(20)
  }

  struct Run {
    var result: PathMTUResult
    var requests: Int
    var elapsed: Duration
  }

  /// Drives a search against `path` until it finishes (bounded: 500 steps).
  static func run(_ path: Path, configuration: PathMTUConfiguration = .init()) throws -> Run {
    var search = PathMTUSearch(
      configuration: configuration, identity: identity, base: base, remote: remote,
      generator: SeededGenerator(seed: 7))
    var now = Instant.zero
    var pending: [(at: Instant, kind: Int, message: Message?, length: Int, mtu: Int?)] = []
    var requests = 0
    var deadline: Instant?
    func carry(_ outs: [MachineOutput<PathMTUEvent>]) throws {
      for o in outs {
        switch o {
        case .timeout(let t): deadline = t
        case .event: break
        case .transmit(let t):
          requests += 1
          #expect(t.from == base && t.to == remote)
          let request = try Message(bytes: t.bytes)
          #expect(request.verifyMessageIntegrity(key: identity.remoteKey))
          #expect(request.hasFingerprint && request.verifyFingerprint())
          let size = t.bytes.count + 28
          let padded = request.contains(.padding)
          #expect(t.dontFragment == padded)
          if let limit = path.forward, size > limit {
            if let mtu = path.icmpMTU {
              pending.append((now + path.rtt / 2, 1, nil, 0, mtu))
            }
            continue
          }
          if padded && !path.answersPadded { continue }
          let asked = (try? request.get(ResponseSize.self))?.size
          var b = MessageBuilder(type: .bindingSuccess, transactionID: request.transactionID)
          b.add(XORMappedAddress(base))
          if let asked, path.pads {
            let bare = 20 + 12 + 24 + 8
            b.add(Padding(count: asked - bare - 4))
          }
          b.addMessageIntegrity(key: identity.remoteKey)
          b.addFingerprint()
          let answer = b.bytes
          if let limit = path.reverse, answer.count + 28 > limit { continue }
          pending.append((now + path.rtt, 0, try Message(bytes: answer), answer.count, nil))
        }
      }
    }
    try carry(search.start(at: now))
    for _ in 0..<500 {
      if let r = search.result { return Run(result: r, requests: requests, elapsed: now - .zero) }
      pending.sort { $0.at < $1.at }
      if let p = pending.first, deadline.map({ p.at <= $0 }) ?? true {
        pending.removeFirst()
        now = p.at
        if p.kind == 1 {
          try carry(search.handleTooBig(mtu: p.mtu, reporter: IPAddress("198.51.100.1"), at: now))
        } else if let m = p.message {
          try carry(search.handleInput(m, length: p.length, from: remote, at: now))
        }
      } else if let d = deadline {
        now = d
        try carry(search.handleTimeout(at: now))
      } else {
        break
      }
    }
    throw SearchDidNotEnd()
  }

  struct SearchDidNotEnd: Error {}

  @Test func aPathThatCarriesEverySizeTakesOneRoundTrip() throws {
    let r = try Self.run(Path())
    #expect(r.result.forward.outcome == .measured)
    #expect(r.result.forward.largestAnswered == 1500)
    #expect(r.result.forward.smallestLost == nil)
    #expect(r.result.reverse?.largestAnswered == 1500)
    #expect(r.requests == 2)  // one each way
    #expect(r.elapsed == .milliseconds(20))
  }

  @Test func aBlackHoleAbove1200IsFoundToTheStepBothWays() throws {
    let r = try Self.run(Path(forward: 1200, reverse: 1200))
    for leg in [r.result.forward, try #require(r.result.reverse)] {
      #expect(leg.outcome == .measured)
      #expect(leg.largestAnswered == 1200)
      #expect(leg.smallestLost == 1204)
      #expect(leg.icmpMTU == nil)
      // Largest, baseline, then halving: bounded by about log2(924 / 4) sizes.
      #expect(leg.probes.count <= 12)
    }
    #expect(r.result.forward.probes.first?.size == 1500)
    #expect(r.result.forward.probes.dropFirst().first?.size == 576)
    // Each lost size got both tries.
    #expect(r.result.forward.probes.filter { !$0.answered }.allSatisfy { $0.attempts == 2 })
  }

  @Test func directionsAreMeasuredApart() throws {
    let r = try Self.run(Path(forward: nil, reverse: 1300))
    #expect(r.result.forward.largestAnswered == 1500)
    #expect(r.result.reverse?.largestAnswered == 1300)
    #expect(r.result.reverse?.smallestLost == 1304)
  }

  @Test func fragmentationNeededNamesTheMTUAndIsTriedNext() throws {
    let r = try Self.run(Path(forward: 1280, icmpMTU: 1280))
    let f = r.result.forward
    #expect(f.outcome == .measured)
    #expect(f.largestAnswered == 1280)
    #expect(f.smallestLost == 1284)
    #expect(f.icmpMTU == 1280)
    #expect(f.icmpReporter == IPAddress("198.51.100.1"))
    // The ICMP error ends a size at once (one try), and its MTU is the next size tried.
    #expect(f.probes[0].attempts == 1 && f.probes[0].icmpMTU == 1280)
    #expect(f.probes.map(\.size).contains(1280))
    #expect(f.probes.map(\.size) == [1500, 576, 1280, 1284])
  }

  @Test func aPeerThatDoesNotAnswerPaddedChecksIsNotASmallPath() throws {
    let r = try Self.run(Path(answersPadded: false))
    #expect(r.result.forward.outcome == .baselineUnanswered)
    #expect(r.result.forward.largestAnswered == nil)
    #expect(r.result.forward.probes.map(\.size) == [1500, 576])
    // The reverse probes are small checks: that peer answers them (padded).
    #expect(r.result.reverse?.outcome == .measured)
  }

  @Test func aPeerThatAnswersUnpaddedLeavesTheReverseUnmeasured() throws {
    let r = try Self.run(Path(pads: false))
    #expect(r.result.forward.largestAnswered == 1500)
    #expect(r.result.reverse?.outcome == .peerDoesNotPad)
    #expect(r.result.reverse?.largestAnswered == nil)
  }

  @Test func theLimitEndsTheSearchUnfinishedWithWhatItKnows() throws {
    let r = try Self.run(
      Path(forward: 1000, reverse: 1000),
      configuration: PathMTUConfiguration(probeTimeout: .milliseconds(400), limit: .seconds(2)))
    let f = r.result.forward
    #expect(f.outcome == .unfinished)
    #expect((f.largestAnswered ?? 0) >= 576)
    #expect((f.smallestLost ?? 0) > (f.largestAnswered ?? 0))
    #expect(r.elapsed == .seconds(2))
  }

  @Test func answersThatAreNotTheSearchsAreIgnored() throws {
    var search = PathMTUSearch(
      identity: Self.identity, base: Self.base, remote: Self.remote,
      generator: SeededGenerator(seed: 1))
    let out = search.start(at: .zero)
    let first = try #require(out.transmits().first)
    let id = try #require(first.transactionID)
    #expect(search.owns(id))
    // Signed with another password: not the peer's answer.
    var b = MessageBuilder(type: .bindingSuccess, transactionID: id)
    b.add(XORMappedAddress(Self.base))
    b.addMessageIntegrity(key: try IntegrityKey.shortTerm(password: "someoneelsesomeoneelse"))
    b.addFingerprint()
    _ = search.handleInput(
      try Message(bytes: b.bytes), length: b.bytes.count, from: Self.remote, at: .zero)
    #expect(search.ignored == 1)
    #expect(search.owns(id))
    // From another address: ignored too.
    var c = MessageBuilder(type: .bindingSuccess, transactionID: id)
    c.addMessageIntegrity(key: Self.identity.remoteKey)
    c.addFingerprint()
    _ = search.handleInput(
      try Message(bytes: c.bytes), length: c.bytes.count,
      from: TransportAddress("203.0.113.6:50000")!, at: .zero)
    #expect(search.ignored == 2)
  }

  /// natscope's agent answers a padded check on the selected pair padded as asked, with the
  /// don't-fragment bit, and does not count it as a check.
  @Test func theAgentAnswersProbesOnTheSelectedPairPaddedAndUncounted() throws {
    let wire = ICEFixture.pair()
    wire.with(0) { $0.start(at: $1) }
    wire.with(1) { $0.start(at: $1) }
    wire.run(for: .seconds(3))
    let a = wire.agents[0]
    let pair = try #require(a.selectedPair)
    let identity = try #require(a.pathProbeIdentity)
    var search = PathMTUSearch(
      identity: identity, base: pair.localBase, remote: pair.remote.address,
      generator: SeededGenerator(seed: 3))
    let before = try #require(wire.agents[1].selectedPair).stats
    var outs = search.start(at: wire.now)
    for _ in 0..<4 {
      var next: [MachineOutput<PathMTUEvent>] = []
      for t in outs.transmits() {
        let answers = wire.agents[1].handleInput(
          t.bytes, from: pair.local.address, to: pair.remote.address, at: wire.now)
        let asksPadding = try Message(bytes: t.bytes).contains(.responseSize)
        for answer in answers.transmits() {
          // Only an answer padded on request goes out with the don't-fragment bit.
          #expect(answer.dontFragment == asksPadding)
          let m = try Message(bytes: answer.bytes)
          next += search.handleInput(
            m, length: answer.bytes.count, from: pair.remote.address, at: wire.now)
        }
      }
      outs = next
    }
    let r = try #require(search.result)
    #expect(r.forward.largestAnswered == 1500)
    #expect(r.reverse?.largestAnswered == 1500)
    #expect(wire.agents[1].pathProbesAnswered == 2)
    #expect(try #require(wire.agents[1].selectedPair).stats == before)
  }
}
