import Report
import STUN
import Sessions
import TestSupport
import Testing
import Traversal

/// The whole copy-and-paste flow as the CLI drives it, as a runnable example.
@Suite struct SignalingUsageExampleTests {
  @Test func offerAnswerAndReport() throws {
    // Host A gathers and prints its offer as one line.
    let offer = SignalingFixtures.typical
    let line = offer.token  // "natscope1.AQCI…", 201 characters

    // Host B reads whatever the user pasted (a token, possibly wrapped, or SDP lines).
    var readerB = DescriptionReader(expecting: .offer)
    var receivedOffer: SessionDescription?
    for chunk in [String(line.prefix(100)), String(line.dropFirst(100))] {
      switch readerB.feed(chunk) {
      case .needMore: continue
      case .complete(let d): receivedOffer = d
      case .error(let e): Issue.record("unexpected: \(e.message)")
      }
    }
    #expect(receivedOffer == offer)

    // Host B answers; a mistaken paste of the answer back into B is explained.
    let answer = SessionDescription(
      ufrag: "bbbb", password: "BbbbbbbbbbbbbbbbbbbbbB", role: .answer, tieBreaker: 42,
      candidates: ConnectReportTests.peer.candidates, natProfile: .symmetric)
    do {
      _ = try SessionToken.decode(answer.token, expecting: .offer)
      Issue.record("an answer must not be accepted where an offer is expected")
    } catch {
      #expect(
        error.message == "This is an answer token; paste it into the terminal that made the offer.")
    }

    // Host A reads the answer, here as SDP lines, e.g. from `--token-in /dev/stdin`.
    let got = DescriptionReader.read(answer.sdp, expecting: .answer)
    #expect(got == .success(answer))

    // After ICE: the lead maps the agent's pair statistics to outcomes and builds the report.
    var builder = ConnectReportBuilder(
      local: .init(offer, turn: [.udp]), remote: .init(try got.get()))
    builder.pairs =
      ConnectReportTests.hostPairs + [ConnectReportTests.srflxPair, ConnectReportTests.relayPair]
    builder.selectedPair = .init(
      local: ConnectReportTests.relayPair.local, remote: ConnectReportTests.relayPair.remote,
      rttMs: 48.4)
    builder.timings = .init(gatheringMs: 120, firstCheckMs: 131, connectedMs: 412.6)
    let report = builder.build()
    #expect(report.state == .connected)
    #expect(report.text.hasPrefix("Connected in 413 ms, through a TURN relay (relay ↔ srflx)."))
  }
}
