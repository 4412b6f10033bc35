import Foundation
import Testing

/// Where Chromium is installed, or nil.
enum ChromiumBrowser {
  static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
}

/// `natscope connect` against a real browser: headless Chromium (Debian `chromium`) in a lab
/// namespace, driven by `scripts/chromium-peer.py`, which serves it a page with one
/// RTCPeerConnection and carries descriptions between it and natscope's SDP lines through two
/// FIFOs. Chromium's DTLS transport reaching "connected" means it accepted natscope's
/// certificate against natscope's a=fingerprint; natscope's report says it checked Chromium's.
/// The browser is killed by its PID (its process group) when each run ends, also on failure.
@Suite(
  .serialized, .timeLimit(.minutes(10)),
  .enabled(if: Lab.available, Comment(rawValue: Lab.unavailableReason ?? "")),
  .enabled(
    if: ChromiumBrowser.path != nil,
    "Chromium is not installed (apt-get install chromium; .ci/run installs it)"))
struct LabChromiumTests {
  static let bridge = Lab.root.appendingPathComponent("scripts/chromium-peer.py").path

  let connector = LabConnectTests()

  /// What the browser's side printed.
  struct Browser {
    var status: Int32
    var json: [String: Any]
    var stdout: String
    var stderr: String
    var note: Comment { Comment(rawValue: "chromium: exit \(status)\n\(stdout)\n\(stderr)") }
  }

  /// One session: natscope on `natscopeNode`, Chromium on `browserNode`; `browserOffers` picks
  /// who offers. `turn`: both sides get the lab's coturn as TURN server too.
  func session(
    _ lab: Lab, natscopeNode: String, browserNode: String, browserOffers: Bool,
    turn: Bool = false, bridgeExtra: [String] = []
  ) throws -> (LabConnectTests.Outcome, Browser) {
    let fifos = try FIFOPair()
    let pidFile = fifos.dir + "/chromium.pid"
    let server = lab["SERVER_PRIMARY"]
    let natscope = LabConnectTests.End(
      agent: .natscope, node: natscopeNode, turn: turn ? "udp" : nil)
    let natscopeCommand = try connector.command(
      natscope, offer: !browserOffers, lab: lab, fifos: fifos)
    let (input, output) =
      browserOffers ? (fifos.answer, fifos.offer) : (fifos.offer, fifos.answer)
    var browserCommand = [
      "/usr/bin/python3", Self.bridge, browserOffers ? "--controlling" : "--controlled", "--in",
      input, "--out", output, "--stun", "\(server):3478", "--timeout", "30", "--pid-file",
      pidFile,
    ]
    if turn {
      browserCommand += [
        "--turn", "\(server):3478?transport=udp", "--turn-user", LabConnectTests.turnUser,
        "--turn-password", LabConnectTests.turnPassword,
      ]
    }
    browserCommand += bridgeExtra
    let b = try Spawned(
      [Lab.script, "exec", lab.prefix, browserNode, "--"] + browserCommand, name: "chromium")
    let n = try Spawned(
      [Lab.script, "exec", lab.prefix, natscopeNode, "--"] + natscopeCommand, name: "natscope")
    defer {
      // The bridge kills the browser on every way out it sees; a SIGKILL it cannot see is
      // covered here, by the PID it wrote.
      if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
      {
        kill(-pid, SIGKILL)
      }
    }
    let start = Date()
    let sb = b.wait(timeout: 50)
    let sn = n.wait(timeout: max(5, 50 - Date().timeIntervalSince(start)))
    let seconds = Date().timeIntervalSince(start)
    let browserJSON =
      b.stdout.split(separator: "\n").last.flatMap {
        (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
      } ?? [:]
    let outcome = LabConnectTests.Outcome(
      agent: .natscope, status: sn, json: n.json ?? [:], stdout: n.stdout, stderr: n.stderr,
      seconds: seconds)
    return (
      outcome, Browser(status: sb, json: browserJSON, stdout: b.stdout, stderr: b.stderr)
    )
  }

  func expectDTLSConnected(_ o: LabConnectTests.Outcome, _ b: Browser, via kind: String) {
    #expect(o.status == 0, o.note)
    #expect(o.state == "connected", o.note)
    #expect(o.pathKind == kind, o.note)
    #expect(o.json.path("dtls.state") as? String == "connected", o.note)
    #expect(o.json.path("dtls.fingerprintMatched") as? Bool == true, o.note)
    #expect(b.status == 0, b.note)
    #expect(b.json["dtlsState"] as? String == "connected", b.note)
    #expect(b.json["iceState"] as? String == "connected", b.note)
    #expect(!o.stdout.contains(LabConnectTests.turnPassword), o.note)
    #expect(!b.stdout.contains(LabConnectTests.turnPassword), b.note)
  }

  @Test func natscopeOffersToChromiumWithoutNAT() throws {
    let lab = try connector.coturnLab(a: "none", b: "none")
    defer { lab.down() }
    let (o, b) = try session(
      lab, natscopeNode: "client-a", browserNode: "client-b", browserOffers: false)
    expectDTLSConnected(o, b, via: "direct")
  }

  @Test func chromiumOffersThroughTwoPortRestrictedNATs() throws {
    let lab = try connector.coturnLab(a: "eim-apdf", b: "eim-apdf")
    defer { lab.down() }
    let (o, b) = try session(
      lab, natscopeNode: "client-a", browserNode: "client-b", browserOffers: true)
    expectDTLSConnected(o, b, via: "reflexive")
    #expect((b.json["selectedPair"] as? [String: Any])?["local"] != nil, b.note)
  }

  @Test func overATURNRelayFromBehindASymmetricNAT() throws {
    let lab = try connector.coturnLab(a: "apdm-apdf", b: "eim-apdf")
    defer { lab.down() }
    let (o, b) = try session(
      lab, natscopeNode: "client-a", browserNode: "client-b", browserOffers: false, turn: true)
    expectDTLSConnected(o, b, via: "relay")
  }

  /// A description altered on the way (the fingerprint natscope gets is not the browser's):
  /// ICE connects, and natscope names the mismatch instead of a vague DTLS failure.
  @Test func alteredFingerprintIsNamed() throws {
    let lab = try connector.coturnLab(a: "none", b: "none")
    defer { lab.down() }
    let (o, b) = try session(
      lab, natscopeNode: "client-a", browserNode: "client-b", browserOffers: false,
      bridgeExtra: ["--wrong-fingerprint"])
    #expect(o.status == 2, o.note)
    #expect(o.json.path("dtls.failure") as? String == "fingerprint-mismatch", o.note)
    let codes = (o.json["findings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    #expect(codes.contains("dtls.fingerprint-mismatch"), o.note)
    #expect(b.json["dtlsState"] as? String != "connected", b.note)
  }
}
