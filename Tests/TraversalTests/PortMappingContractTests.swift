import STUN
import Testing
import Traversal

/// The shared machine contract on the port-mapping clients: every call returns `.timeout` as
/// its last element exactly when the client has a deadline afterwards, at that deadline.
@Suite struct PortMappingContractTests {
  func checkLast<E: Equatable>(_ out: [MachineOutput<E>], _ deadline: Instant?, _ call: String) {
    if let deadline {
      #expect(out.last == .timeout(deadline), Comment(rawValue: call))
    } else {
      #expect(out.timeout() == nil, Comment(rawValue: call))
    }
    #expect(
      out.dropLast().allSatisfy { if case .timeout = $0 { false } else { true } },
      Comment(rawValue: call))
  }

  @Test func natPMPClient() {
    var c = NATPMPClient(gateway: PM.gatewayIP)
    var out = c.requestExternalAddress(at: .zero)
    checkLast(out, c.nextWake, "request")
    out = c.handleInput([1, 2, 3], from: PM.gateway, at: PM.t(1))
    checkLast(out, c.nextWake, "junk")
    out = c.handleInput([0, 0], from: PM.stranger, at: PM.t(2))
    checkLast(out, c.nextWake, "stranger")
    out = c.requestExternalAddress(at: PM.t(3))
    checkLast(out, c.nextWake, "repeated request")
    out = c.handleInput(
      [0, 128, 0, 0, 0, 0, 0x03, 0xE8, 203, 0, 113, 7], from: PM.gateway, at: PM.t(4))
    checkLast(out, c.nextWake, "answer")
    #expect(c.nextWake == nil, "nothing outstanding after the answer")
    out = c.handleTimeout(at: PM.t(5))
    checkLast(out, c.nextWake, "timeout with nothing due")
  }

  @Test func pcpClient() {
    var c = PCPClient(
      server: PM.gatewayIP, clientAddress: PM.clientIP,
      generator: ConstantGenerator(value: 100))
    var out = c.announce(at: .zero)
    checkLast(out, c.nextWake, "announce")
    out = c.announce(at: PM.t(1))
    checkLast(out, c.nextWake, "announce again")
    out = c.handleInput([9, 9], from: PM.gateway, at: PM.t(2))
    checkLast(out, c.nextWake, "junk")
    out = c.delete(.udp, internalPort: 4000, at: PM.t(3))
    checkLast(out, c.nextWake, "delete of nothing")
    var t = PM.t(3)
    for _ in 0..<3 {
      guard let next = c.nextWake else { break }
      t = next
      out = c.handleTimeout(at: t)
      checkLast(out, c.nextWake, "timeout")
    }
  }
}
