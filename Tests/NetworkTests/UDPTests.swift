import Network
import STUN
import Testing
import Traversal

@Suite("UDP on loopback", .timeLimit(.minutes(1)))
struct UDPTests {
  func echoRoundTrip(_ ip: IPAddress) throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let payload: [UInt8] = [0, 1, 2, 3, 0xFF]
    let (reply, clientAddress, serverAddress) = try runtime.run(timeout: .seconds(5)) {
      rt, done in
      let server = try openEcho(rt, UDPSocketOptions(address: ip))
      let client = Box<UDPSocket?>(nil)
      client.value = try rt.openUDPSocket(UDPSocketOptions(address: ip)) { datagram in
        guard let c = client.value else { return }
        done.succeed((datagram, c.localAddress, server.localAddress))
      }
      client.value?.send(payload, to: server.localAddress)
    }
    #expect(reply.bytes == payload)
    #expect(reply.source == serverAddress)
    #expect(reply.destination == clientAddress)
    #expect(serverAddress.ip == ip && serverAddress.port != 0)
    #expect(clientAddress.ip == ip && clientAddress.port != 0)
  }

  @Test func echoRoundTripIPv4() throws {
    try echoRoundTrip(.loopbackV4)
  }

  @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available"))
  func echoRoundTripIPv6() throws {
    try echoRoundTrip(.loopbackV6)
  }
}
