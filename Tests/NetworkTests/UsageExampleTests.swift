import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

/// The usage example from the module's report, run against a local echo "server".
@Suite("Usage example", .timeLimit(.minutes(3)))
struct UsageExampleTests {
  @Test func example() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    // A stand-in server on 127.0.0.1.
    let serverPort = try runtime.onLoop { rt in
      try openEcho(rt, UDPSocketOptions(address: .loopbackV4)).localAddress.port
    }

    let server = try ServerAddress.parse("stun:localhost:\(serverPort)")
    let destination = try Resolver.resolve(server, prefer: .ipv4Only)[0]
    let reply: ReceivedDatagram = try runtime.run(timeout: .seconds(10)) { rt, done in
      let socket = try rt.openUDPSocket(UDPSocketOptions(portRange: 40000...50000)) { datagram in
        done.succeed(datagram)
      }
      socket.onError = { error in done.fail(error) }
      socket.send([0x00, 0x01, 0x00, 0x00], to: destination)
      rt.schedule(at: rt.now + .seconds(3)) { done.fail(RuntimeError.failed("no answer")) }
    }
    #expect(reply.bytes == [0x00, 0x01, 0x00, 0x00])
    #expect(reply.source == destination)
    #expect((40000...50000).contains(reply.destination?.port ?? 0))
    #expect(reply.destination?.ip == .loopbackV4)
  }
}
