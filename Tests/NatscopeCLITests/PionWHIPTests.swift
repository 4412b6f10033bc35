import Foundation
import Testing

/// The offer against a second WebRTC stack: a WHIP/WHEP endpoint on pion/webrtc v3
/// (Fixtures/pion-whip-server, built here in GOPATH mode from Debian's sources), on loopback.
@Suite(
  .serialized, .timeLimit(.minutes(5)),
  .enabled(if: PionWHIP.missing == nil, Comment(rawValue: PionWHIP.missing ?? "")))
struct PionWHIPTests {
  static let loopback = WHIPCommandTests.loopback

  @Test(arguments: ["whip", "whep"])
  func pionTakesTheOfferAndICEAndDTLSConnect(_ kind: String) throws {
    let binary = try PionWHIP.build()
    let events = FileManager.default.temporaryDirectory
      .appendingPathComponent("natscope-pion-\(getpid())-\(kind).jsonl").path
    defer { unlink(events) }
    let server = try Spawned(
      [binary, "-addr", "127.0.0.1:0", "-ice-ip", "127.0.0.1", "-events", events],
      name: "pion-whip-server")
    defer { server.wait(timeout: 0) }
    var port: Int?
    for _ in 0..<100 where port == nil {
      port =
        WHIPFixture.Server.read(events).first { $0["event"] as? String == "listening" }?["port"]
        as? Int
      if port == nil { usleep(50_000) }
    }
    let p = try #require(port, Comment(rawValue: server.stderr))
    let r = try Binary.run(
      ["connect", "--\(kind)", "http://127.0.0.1:\(p)/\(kind)", "--json"] + Self.loopback,
      timeout: 90)
    #expect(r.status == 0, Comment(rawValue: r.stderr + r.stdout))
    let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(json?["state"] as? String == "connected")
    #expect((json?["dtls"] as? [String: Any])?["state"] as? String == "connected")
    #expect((json?["whip"] as? [String: Any])?["deleteStatus"] as? Int == 200)
    let log = WHIPFixture.Server.read(events)
    #expect(
      log.contains { $0["event"] as? String == "dtls" && $0["state"] as? String == "connected" })
    #expect(log.contains { $0["event"] as? String == "delete" })
  }
}

/// Builds the pion fixture once per test run (Go in GOPATH mode, Debian's pion sources).
enum PionWHIP {
  static let gopath = "/usr/share/gocode"
  static let source = SchemaValidator.repository
    .appendingPathComponent("Tests/NatscopeCLITests/Fixtures/pion-whip-server/main.go").path

  /// Why the pion tests cannot run, or nil.
  static let missing: String? = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/go") else {
      return "Go is not installed (apt-get install golang-go)"
    }
    guard FileManager.default.fileExists(atPath: gopath + "/src/github.com/pion/webrtc/api.go")
    else {
      return
        "pion/webrtc's sources are not installed (apt-get install golang-github-pion-webrtc.v3-dev)"
    }
    return nil
  }()

  nonisolated(unsafe) static var built: String?
  static let lock = NSLock()

  static func build() throws -> String {
    lock.lock()
    defer { lock.unlock() }
    if let built { return built }
    // Inside the build directory (kept between runs like any build product, never in /tmp).
    let dir = Lab.root.appendingPathComponent(".build/pion-whip-gopath").path
    try FileManager.default.createDirectory(
      atPath: dir + "/src/whipserver", withIntermediateDirectories: true)
    let main = dir + "/src/whipserver/main.go"
    try? FileManager.default.removeItem(atPath: main)
    try FileManager.default.copyItem(atPath: source, toPath: main)
    let out = dir + "/pion-whip-server"
    let p = try Spawned(
      [
        "env", "GOPATH=\(dir):\(gopath)", "GO111MODULE=off", "GOCACHE=\(dir)/cache",
        "GOFLAGS=", "/usr/bin/go", "build", "-o", out, "whipserver",
      ], name: "go build")
    let status = p.wait(timeout: 240)
    guard status == 0 else {
      throw Spawned.Failure(description: "go build of the pion fixture failed: \(p.stderr)")
    }
    built = out
    return out
  }
}
