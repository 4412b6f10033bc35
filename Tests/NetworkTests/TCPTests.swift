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

@Suite("STUN over TCP on loopback", .timeLimit(.minutes(3)))
struct TCPTests {
  /// Starts a listener that echoes every frame back (with ChannelData padding). Call on the loop.
  func openFrameEcho(_ rt: NIORuntime) throws -> TCPListener {
    try rt.listenTCP(on: TransportAddress(ip: .loopbackV4, port: 0)) { connection, frame in
      switch frame {
      case .stun(let b): connection.send(b)
      case .channelData(let b):
        connection.send(b + [UInt8](repeating: 0, count: (4 - b.count % 4) % 4))
      }
    }
  }

  @Test func framesSurviveSplitWritesOverLoopback() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let a = stunMessage(bodyLength: 40, seed: 5)
    let b = channelData([1, 2, 3])
    let c = stunMessage(bodyLength: 0, seed: 6)
    let stream = a + b.padded + c
    let frames: [StreamFrame] = try runtime.run(timeout: .seconds(5)) { rt, done in
      let server = try openFrameEcho(rt)
      var frames: [StreamFrame] = []
      let client = try rt.openTCP(
        to: server.localAddress,
        onReceive: { _, frame in
          frames.append(frame)
          if frames.count == 3 { done.succeed(frames) }
        },
        onClose: { _, reason in done.fail(RuntimeError.failed("closed: \(reason)")) })
      // Queued before the connection is up, then dribbled in pieces with pauses between.
      client.send(Array(stream[0..<3]))
      var offset = 3
      for i in 1...6 {
        let end = min(offset + 11, stream.count)
        let piece = Array(stream[offset..<end])
        offset = end
        rt.schedule(at: rt.now + .milliseconds(5 * i)) { client.send(piece) }
      }
      let rest = Array(stream[offset...])
      rt.schedule(at: rt.now + .milliseconds(40)) { client.send(rest) }
    }
    #expect(frames == [.stun(a), .channelData(b.frame), .stun(c)])
  }

  @Test func garbageFromThePeerClosesWithAReason() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let reason: TCPCloseReason = try runtime.run(timeout: .seconds(5)) { rt, done in
      let server = try rt.listenTCP(
        on: TransportAddress(ip: .loopbackV4, port: 0),
        onAccept: { connection in connection.send(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)) },
        onReceive: { _, _ in })
      _ = try rt.openTCP(
        to: server.localAddress, onReceive: { _, _ in },
        onClose: { _, reason in done.succeed(reason) })
    }
    guard case .framingError(let error) = reason else {
      Issue.record("expected a framing error, got \(reason)")
      return
    }
    #expect(error.message.contains("reserved"))
  }

  @Test func serverSideClosesOnGarbageAndClientSeesPeerClose() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let (client, server): (TCPCloseReason, TCPCloseReason) = try runtime.run(
      timeout: .seconds(5)
    ) { rt, done in
      var serverReason: TCPCloseReason?
      let listener = try rt.listenTCP(
        on: TransportAddress(ip: .loopbackV4, port: 0), onReceive: { _, _ in },
        onClose: { _, reason in serverReason = reason })
      let connection = try rt.openTCP(
        to: listener.localAddress, onReceive: { _, _ in },
        onClose: { _, reason in
          // The server closes first; its reason is recorded by then.
          done.succeed((reason, serverReason ?? .closedByPeer))
        })
      connection.send([0xFF, 0xFF, 0xFF, 0xFF])
    }
    #expect(client == .closedByPeer)
    guard case .framingError = server else {
      Issue.record("server closed with \(server)")
      return
    }
  }

  @Test func refusedConnectionReportsConnectFailed() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let reason: TCPCloseReason = try runtime.run(timeout: .seconds(5)) { rt, done in
      // A port that was just free.
      let probe = try rt.listenTCP(on: TransportAddress(ip: .loopbackV4, port: 0)) { _, _ in }
      let port = probe.localAddress.port
      probe.close()
      // The listener's close completes on the next loop turn; connect a little later.
      rt.schedule(at: rt.now + .milliseconds(50)) {
        do {
          _ = try rt.openTCP(
            to: TransportAddress(ip: .loopbackV4, port: port), connectTimeout: .seconds(2),
            onReceive: { _, _ in }, onClose: { _, reason in done.succeed(reason) })
        } catch {
          done.fail(error)
        }
      }
    }
    guard case .connectFailed(let message) = reason else {
      Issue.record("expected connectFailed, got \(reason)")
      return
    }
    // A refusal is typed, not matched in the C library's words.
    #expect(message == .refused, "\(message)")
  }

  @Test func closeBeforeConnectDeliversNothing() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let events: Int = try runtime.run(timeout: .seconds(5)) { rt, done in
      var events = 0
      let server = try openFrameEcho(rt)
      let connection = try rt.openTCP(
        to: server.localAddress, onConnect: { _ in events += 1 },
        onReceive: { _, _ in events += 1 }, onClose: { _, _ in events += 1 })
      connection.send(stunMessage(bodyLength: 0))
      connection.close()
      rt.schedule(at: rt.now + .milliseconds(50)) { done.succeed(events) }
    }
    #expect(events == 0)
  }
}

@Suite("STUN over TCP: timeouts and IPv6", .timeLimit(.minutes(3)))
struct TCPMoreTests {
  @Test func connectTimesOutWhenTheAcceptQueueIsFull() throws {
    // A listener nobody accepts on, with a backlog of 0: Linux then drops further SYNs, so
    // later connects time out without any packet leaving the host.
    guard let (fd, port) = rawTCPListener(backlog: 0) else {
      Issue.record("cannot open a raw TCP listener")
      return
    }
    defer { _ = close(fd) }
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let reasons: [TCPCloseReason] = try runtime.run(timeout: .seconds(10)) { rt, done in
      var reasons: [TCPCloseReason] = []
      var connected = 0
      let attempts = 4
      func settle() {
        if reasons.count + connected == attempts { done.succeed(reasons) }
      }
      for _ in 0..<attempts {
        _ = try rt.openTCP(
          to: TransportAddress(ip: .loopbackV4, port: port), connectTimeout: .milliseconds(300),
          onConnect: { _ in
            connected += 1
            settle()
          },
          onReceive: { _, _ in },
          onClose: { _, reason in
            reasons.append(reason)
            settle()
          })
      }
    }
    let timedOut = reasons.filter {
      if case .connectFailed(.timedOut(let ms)) = $0 { return ms == 300 }
      return false
    }
    #expect(!timedOut.isEmpty, "\(reasons)")
  }

  @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available"))
  func framesOverIPv6() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let message = stunMessage(bodyLength: 8)
    let (frame, local): (StreamFrame, TransportAddress?) = try runtime.run(timeout: .seconds(5)) {
      rt, done in
      let listener = try rt.listenTCP(on: TransportAddress(ip: .loopbackV6, port: 0)) {
        connection, frame in connection.send(frame.bytes)
      }
      let client = try rt.openTCP(
        to: listener.localAddress, onReceive: { c, f in done.succeed((f, c.localAddress)) },
        onClose: { _, reason in done.fail(RuntimeError.failed("\(reason)")) })
      client.send(message)
    }
    #expect(frame == .stun(message))
    #expect(local?.ip == .loopbackV6)
  }
}
