import Foundation
import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

/// The coturn `turnserver` binary, if installed.
let turnserverPath: String? = [
  "/usr/bin/turnserver", "/usr/sbin/turnserver", "/usr/local/bin/turnserver",
]
.first { FileManager.default.isExecutableFile(atPath: $0) }

/// A `turnserver` process on 127.0.0.1 for one test; stopped by PID in `stop()` (call it in a
/// `defer`).
final class Coturn {
  let process = Process()
  let port: UInt16
  let directory: URL
  var address: TransportAddress { TransportAddress(ip: .loopbackV4, port: port) }

  /// Starts turnserver and waits (bounded) until it listens; tries three ports before giving
  /// up, stopping every attempt that failed.
  /// `auth` replaces the long-term user `natscope:secret` (e.g. with a REST API secret);
  /// `extra` is appended.
  static func launch(
    staleNonce: Int, allowLoopbackPeers: Bool = true, auth: [String]? = nil, extra: [String] = []
  ) throws -> Coturn {
    var log = ""
    for _ in 0..<3 {
      let coturn = try Coturn(
        staleNonce: staleNonce, allowLoopbackPeers: allowLoopbackPeers, auth: auth, extra: extra)
      if coturn.waitUntilListening() { return coturn }
      log = coturn.logTail
      coturn.stop()
    }
    throw RuntimeError.failed("turnserver did not start listening:\n\(log)")
  }

  private init(staleNonce: Int, allowLoopbackPeers: Bool, auth: [String]?, extra: [String])
    throws
  {
    guard let path = turnserverPath else { throw RuntimeError.failed("turnserver missing") }
    port = try Coturn.freePort()
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "natscope-coturn-\(getpid())-\(port)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments =
      [
        "-n", "--no-cli", "--no-dtls", "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1", "--listening-port=\(port)",
      ] + (auth ?? ["--lt-cred-mech", "--user=natscope:secret"]) + [
        "--realm=natscope.test", "--stale-nonce=\(staleNonce)", "--min-port=\(port &+ 1)",
        "--max-port=\(port &+ 200)",
        "--no-stdout-log", "--simple-log", "--log-file=\(directory.path)/turn.log",
        "--pidfile=\(directory.path)/turn.pid", "--userdb=\(directory.path)/turndb",
      ]
    if allowLoopbackPeers { process.arguments?.append("--allow-loopback-peers") }
    process.arguments? += extra
    if !extra.contains(where: { $0.hasPrefix("--tls-listening-port") }) {
      process.arguments?.append("--no-tls")
    }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
  }

  /// Waits (at most `timeout`) until the TCP listener accepts connections.
  func waitUntilListening(timeout: Duration = .seconds(10)) -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end, process.isRunning {
      if Coturn.canConnect(port: port) { return true }
      usleep(50_000)
    }
    return false
  }

  /// The end of coturn's log, for failure messages.
  var logTail: String {
    let text =
      (try? String(contentsOf: directory.appendingPathComponent("turn.log"), encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(30).joined(separator: "\n")
  }

  /// SIGTERM by PID, then SIGKILL if it has not exited within 2 s; removes the temp directory.
  func stop() {
    let pid = process.processIdentifier
    if process.isRunning { kill(pid, SIGTERM) }
    var waited = 0
    while process.isRunning && waited < 40 {
      usleep(50_000)
      waited += 1
    }
    if process.isRunning { kill(pid, SIGKILL) }
    try? FileManager.default.removeItem(at: directory)
  }

  /// A port free for both UDP and TCP on 127.0.0.1 (with the next 200 for relays, probably),
  /// below Linux's ephemeral range (32768–60999) so other sockets do not take it meanwhile.
  static func freePort() throws -> UInt16 {
    for _ in 0..<50 {
      let candidate = UInt16.random(in: 12000...32000)
      if bindable(port: candidate, type: Int32(SOCK_DGRAM.rawValue))
        && bindable(port: candidate, type: Int32(SOCK_STREAM.rawValue))
      {
        return candidate
      }
    }
    throw RuntimeError.failed("no free port for turnserver")
  }

  static func bindable(port: UInt16, type: Int32) -> Bool {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    return withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  static func canConnect(port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    return withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }
}

/// What one run against coturn saw.
struct CoturnRun: Sendable {
  var events: [TURNClientEvent] = []
  var replies: [String] = []
  var peerSaw: [String] = []
  var relayed: TransportAddress?
  var channelUsed = false
  var integrityFailures = 0
  var malformed = 0
  var staleRetries = 0
}

@Suite(
  "TURN against a real coturn on loopback", .serialized, .timeLimit(.minutes(2)),
  // Skipped when coturn is not installed (apt-get install coturn) or loopback cannot be bound
  // here: never a failure.
  .enabled(if: turnserverPath != nil, "coturn's turnserver is not installed"),
  .enabled(
    if: Coturn.bindable(port: 0, type: Int32(SOCK_DGRAM.rawValue)),
    "cannot bind 127.0.0.1 here"))
struct TURNCoturnTests {
  /// Allocates, waits past coturn's stale-nonce window, relays Send/Data then ChannelData to a
  /// loopback peer and back, refreshes and deallocates.
  func exercise(transport: TURNTransport) throws -> (CoturnRun, TransportAddress, String) {
    // coturn checks nonce age coarsely: with --stale-nonce=2 a nonce 2.6 s old was still
    // accepted here; 1 s and a 3.5 s pause reliably give 438 Stale Nonce.
    let coturn = try Coturn.launch(staleNonce: 1)
    defer { coturn.stop() }  // by PID, also when anything below throws
    let server = coturn.address
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let run: CoturnRun = try runtime.run(timeout: .seconds(30)) { rt, done in
      var run = CoturnRun()
      let credentials = TURNCredentials(username: "natscope", password: "secret")
      let config = TURNClient.Configuration(useChannels: false)
      let session: TURNAllocationSession
      switch transport {
      case .udp:
        session = try TURNAllocationSession(
          runtime: rt, server: server, credentials: credentials, configuration: config,
          socketOptions: UDPSocketOptions(address: .loopbackV4))
      case .stream:
        session = try TURNAllocationSession(
          runtime: rt, server: server, credentials: credentials,
          stream: NIOTURNStream(runtime: rt, server: server), configuration: config)
      }
      // The peer: a plain UDP socket on loopback that answers "echo:<text>".
      let peerBox = Box<(any DatagramSocket)?>(nil)
      peerBox.value = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { d in
        let text = String(decoding: d.bytes, as: UTF8.self)
        run.peerSaw.append(text)
        peerBox.value?.send(Array("echo:\(text)".utf8), to: d.source)
      }
      guard let peer = peerBox.value?.localAddress else { return }
      func finish() {
        run.integrityFailures = session.client.stats.integrityFailures
        run.malformed = session.client.stats.malformedDropped
        run.staleRetries = session.client.stats.staleNonceRetries
        done.succeed(run)
      }
      session.onReceive = { bytes, from in
        guard from == peer else { return }
        run.replies.append(String(decoding: bytes, as: UTF8.self))
        if run.replies.count == 1 {
          // Step 2: bind a channel, then send over it.
          session.bindChannel(to: peer)
        } else if run.replies.count == 2 {
          session.refresh()
        }
      }
      session.onEvent = { event in
        run.events.append(event)
        switch event {
        case .allocated(let relayed, _, _):
          run.relayed = relayed
          // Step 1, after coturn's nonce has gone stale: a permission, then a Send indication.
          rt.schedule(at: rt.now + .milliseconds(3500)) {
            session.send(Array("via-send".utf8), to: peer)
          }
        case .channelBound:
          run.channelUsed = session.client.channel(for: peer) != nil
          session.send(Array("via-channel".utf8), to: peer)
        case .refreshed:
          session.close()
        case .released, .failed:
          finish()
        default: break
        }
      }
      session.start()
    }
    return (run, server, coturn.logTail)
  }

  func check(_ run: CoturnRun, server: TransportAddress, log: String) {
    #expect(run.events.first == .allocating(server: server))
    #expect(run.events.contains(.challenged(realm: "natscope.test", algorithm: "MD5")))
    #expect(run.relayed?.ip == .loopbackV4)
    #expect(run.events.contains { if case .staleNonce = $0 { true } else { false } })
    #expect(run.staleRetries >= 1)
    #expect(run.peerSaw == ["via-send", "via-channel"])
    #expect(run.replies == ["echo:via-send", "echo:via-channel"])
    #expect(run.channelUsed)
    #expect(run.events.contains { if case .refreshed = $0 { true } else { false } })
    #expect(run.events.last == .released, "coturn log:\n\(log)")
    #expect(run.integrityFailures == 0 && run.malformed == 0)
  }

  @Test func udpAllocationRelaysBothWays() throws {
    let (run, server, log) = try exercise(transport: .udp)
    check(run, server: server, log: log)
  }

  @Test func tcpAllocationRelaysBothWays() throws {
    let (run, server, log) = try exercise(transport: .stream)
    check(run, server: server, log: log)
  }

  @Test func wrongPasswordIsExplained() throws {
    let coturn = try Coturn.launch(staleNonce: 600)
    defer { coturn.stop() }
    let server = coturn.address
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let failure: TURNFailure = try runtime.run(timeout: .seconds(10)) { rt, done in
      let session = try TURNAllocationSession(
        runtime: rt, server: server,
        credentials: TURNCredentials(username: "natscope", password: "not-the-secret"),
        socketOptions: UDPSocketOptions(address: .loopbackV4))
      session.onEvent = { event in
        if case .failed(let f) = event { done.succeed(f) }
        if case .allocated = event {
          done.fail(RuntimeError.failed("allocated with a bad password"))
        }
      }
      session.start()
    }
    #expect(failure.code == 401 || failure.code == 441)
    #expect(failure.explanation.contains("username or password"))
  }

  @Test func forbiddenPeerIsExplained() throws {
    let coturn = try Coturn.launch(staleNonce: 600, allowLoopbackPeers: false)
    defer { coturn.stop() }
    let server = coturn.address
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let failure: TURNFailure = try runtime.run(timeout: .seconds(10)) { rt, done in
      let session = try TURNAllocationSession(
        runtime: rt, server: server,
        credentials: TURNCredentials(username: "natscope", password: "secret"),
        configuration: TURNClient.Configuration(useChannels: false),
        socketOptions: UDPSocketOptions(address: .loopbackV4))
      session.onEvent = { event in
        switch event {
        case .allocated:
          session.send([1, 2, 3], to: TransportAddress(ip: .loopbackV4, port: 9))
        case .requestFailed(let method, let f) where method == "CreatePermission":
          done.succeed(f)
          session.close()
        case .failed(let f):
          done.fail(RuntimeError.failed("allocation failed: \(f)"))
        default: break
        }
      }
      session.start()
    }
    #expect(failure.code == 403)
    #expect(failure.explanation.contains("forbids relaying to that peer"))
  }
}
