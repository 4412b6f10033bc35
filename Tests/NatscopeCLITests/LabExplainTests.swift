import Foundation
import Testing

/// `natscope explain` on artifacts a real stack left behind on real NATs: aioice (through
/// `scripts/aioice-peer.py --log`) talks to natscope in the lab, and its DEBUG log is explained.
/// natscope's own report of the same session is the reference for what the explanation must
/// say: the outcome, the selected pair (as aioice saw it) and the path kind.
@Suite(
  .serialized, .timeLimit(.minutes(10)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")),
  .enabled(
    if: LabConnectTests.aioicePython != nil,
    Comment(rawValue: LabConnectTests.aioiceSkipReason)))
struct LabExplainTests {
  let connector = LabConnectTests()

  struct Explained {
    var status: Int32
    var json: [String: Any]
    var text: String
    var session: [String: Any]
    var codes: [String]
    var note: Comment
  }

  /// Runs natscope (offering) and aioice (answering, logging) in `lab`, then explains the log.
  func run(_ lab: Lab, aioice: LabConnectTests.End, natscope: LabConnectTests.End) throws
    -> (LabConnectTests.Outcome, LabConnectTests.Outcome, Explained)
  {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent(
        "natscope-labexplain-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("aioice.log").path
    var logging = aioice
    logging.extra += ["--log", log]
    let (n, a) = try connector.connect(lab, offer: natscope, answer: logging)
    let json = try Binary.run(["explain", "--json", log], timeout: 60)
    let text = try Binary.run(["explain", log], timeout: 60)
    let object =
      (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any] ?? [:]
    let sessions = object["sessions"] as? [[String: Any]] ?? []
    let session = sessions.first ?? [:]
    let codes = (session["findings"] as? [[String: Any]] ?? []).compactMap {
      $0["code"] as? String
    }
    let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let note = Comment(
      rawValue:
        "explain exit \(json.status)\n\(text.stdout)\n\(json.stderr)\n--- log (first 3000 bytes)\n\(logText.prefix(3000))"
    )
    #expect(sessions.count == 1, note)
    if SchemaValidator.python != nil {
      try SchemaValidator.validate([
        SchemaTests.Sample(name: "lab-aioice-explain", schema: "explain", text: json.stdout)
      ])
    }
    #expect(!text.stdout.contains(LabConnectTests.turnPassword), note)
    #expect(!json.stdout.contains(LabConnectTests.turnPassword), note)
    return (
      n, a,
      Explained(
        status: json.status, json: object, text: text.stdout, session: session, codes: codes,
        note: note)
    )
  }

  /// The explanation's selected pair is the one aioice reported, end for end.
  func expectSelected(_ e: Explained, matches a: LabConnectTests.Outcome) {
    let selected = e.session["selected"] as? [String: Any] ?? [:]
    for end in ["local", "remote"] {
      let said = selected[end] as? [String: Any] ?? [:]
      let truth = a.json.path("selectedPair.\(end)") as? [String: Any] ?? [:]
      #expect(said["address"] as? String == truth["address"] as? String, "\(end)\n\(e.note)")
      #expect(said["port"] as? Int == truth["port"] as? Int, "\(end)\n\(e.note)")
    }
  }

  /// Through two port-restricted NATs: connected on the reflexive pair.
  @Test func aioiceLogThroughTwoPortRestrictedNATs() throws {
    let lab = try connector.coturnLab(a: "eim-apdf", b: "eim-apdf")
    defer { lab.down() }
    let (n, a, e) = try run(
      lab, aioice: .init(agent: .aioice, node: "client-b"),
      natscope: .init(agent: .natscope, node: "client-a"))
    #expect(n.state == "connected", n.note)
    #expect(a.state == "connected", a.note)
    #expect(e.status == 0, e.note)
    #expect(e.session["format"] as? String == "aioice", e.note)
    #expect(e.codes.contains("explain.outcome.connected"), e.note)
    expectSelected(e, matches: a)
    // aioice logs neither the remote candidates' types nor which local candidate a pair's base
    // stands for: the explanation must not name a path kind it cannot know.
    #expect(!e.codes.contains("explain.path.worked"), e.note)
    #expect(e.text.contains("not known"), e.note)
  }

  /// aioice behind a symmetric NAT with coturn: connected through its relayed candidate, which
  /// the explanation knows from the Allocate response in the log; the TURN password aioice was
  /// given is nowhere in the explanation.
  @Test func aioiceLogOverARelay() throws {
    let lab = try connector.coturnLab(a: "eim-apdf", b: "apdm-apdf")
    defer { lab.down() }
    let (n, a, e) = try run(
      lab, aioice: .init(agent: .aioice, node: "client-b", turn: "udp"),
      natscope: .init(agent: .natscope, node: "client-a"))
    #expect(n.state == "connected", n.note)
    #expect(a.pathKind == "relay", a.note)
    #expect(e.codes.contains("explain.outcome.connected"), e.note)
    expectSelected(e, matches: a)
    let local = (e.session["selected"] as? [String: Any])?["local"] as? [String: Any]
    #expect(local?["kind"] as? String == "relay", e.note)
  }
}
