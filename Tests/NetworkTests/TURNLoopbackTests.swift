import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// natscope's own TURN server and client on real loopback sockets.
@Suite("natscope TURN server and client on loopback", .timeLimit(.minutes(3)))
struct TURNLoopbackTests {
  @Test func ownServerRelaysBothWays() throws {
    let port = try Coturn.freePort()
    let listen = TransportAddress(ip: .loopbackV4, port: port)
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let replies: [String] = try runtime.run(timeout: .seconds(10)) { rt, done in
      let server = try TURNServerSession(
        runtime: rt,
        configuration: TURNServerConfiguration(
          listen: listen, relayIP: .loopbackV4, realm: "loop.test", users: ["u": "pw"],
          relayPorts: (port &+ 1)...(port &+ 50)))
      let peerBox = Box<(any DatagramSocket)?>(nil)
      peerBox.value = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { d in
        peerBox.value?.send(Array("echo:".utf8) + d.bytes, to: d.source)
      }
      guard let peer = peerBox.value?.localAddress else { return }
      let session = try TURNAllocationSession(
        runtime: rt, server: listen, credentials: TURNCredentials(username: "u", password: "pw"),
        socketOptions: UDPSocketOptions(address: .loopbackV4))
      var replies: [String] = []
      session.onEvent = { event in
        switch event {
        case .allocated: session.send(Array("one".utf8), to: peer)
        case .channelBound: session.send(Array("two".utf8), to: peer)
        case .released:
          _ = server  // keep the server open until here
          done.succeed(replies)
        case .failed(let f): done.fail(RuntimeError.failed(f.line))
        default: break
        }
      }
      session.onReceive = { bytes, _ in
        replies.append(String(decoding: bytes, as: UTF8.self))
        if replies.count == 2 { session.close() }
      }
      session.start()
    }
    // "one" waited for the channel; it still goes before "two", sent when the channel was bound.
    #expect(replies == ["echo:one", "echo:two"])
  }

  /// Nothing listens on the port: the kernel's ICMP port unreachable ends the Allocate at once
  /// (before, it waited out the retransmissions, about 9.5 s).
  @Test func allocationToAClosedPortFailsOnICMP() throws {
    let port = try Coturn.freePort()
    let closed = TransportAddress(ip: .loopbackV4, port: port)
    let runtime = NIORuntime(includeLoopback: true)
    defer { runtime.shutdown() }
    let clock = ContinuousClock()
    let started = clock.now
    let failure: TURNFailure = try runtime.run(timeout: .seconds(15)) { rt, done in
      let session = try TURNAllocationSession(
        runtime: rt, server: closed, credentials: TURNCredentials(username: "u", password: "pw"),
        policy: .diagnostics(), socketOptions: UDPSocketOptions(address: .loopbackV4))
      session.onEvent = { event in
        switch event {
        case .failed(let f): done.succeed(f)
        case .allocated: done.fail(RuntimeError.failed("allocated on a closed port"))
        default: break
        }
      }
      session.start()
    }
    let took = clock.now - started
    #expect(failure.code == nil)
    #expect(
      failure.explanation.hasPrefix("no TURN server at 127.0.0.1:\(port) (ICMP port unreachable"))
    // Loose: the point is "not the retransmission window", not a tight timing.
    #expect(took < .seconds(2))
  }
}
