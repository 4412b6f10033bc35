import Network
import Report
import Runtime
import STUN
import Sessions
import Testing
import Traversal

@Suite("Runtime lifecycle", .timeLimit(.minutes(3)))
struct RuntimeTests {
  @Test func localAddressesFollowTheConfiguration() {
    let plain = NIORuntime()
    defer { plain.shutdown() }
    #expect(plain.localAddresses().allSatisfy { !$0.isLoopback && !$0.isLinkLocal })
    let withLoopback = NIORuntime(includeLoopback: true)
    defer { withLoopback.shutdown() }
    #expect(withLoopback.localAddresses().contains(.loopbackV4))
  }

  @Test func closeAllClosesEverySocketAndShutdownIsIdempotent() throws {
    let runtime = NIORuntime()
    let closed: [Bool] = try runtime.onLoop { rt in
      let a = try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4)) { _ in }
      let b = try rt.openUDPSocket(UDPSocketOptions(address: .loopbackV4)) { _ in }
      let listener = try rt.listenTCP(on: TransportAddress(ip: .loopbackV4, port: 0)) { _, _ in }
      rt.closeAll()
      return [a.isClosed, b.isClosed, listener.isClosed]
    }
    #expect(closed == [true, true, true])
    runtime.shutdown()
    runtime.shutdown()
    #expect(throws: RunError.shutDown) { try runtime.onLoop { _ in 1 } }
    #expect(throws: RunError.shutDown) {
      let _: Int = try runtime.run(timeout: .seconds(1)) { _, done in done.succeed(1) }
    }
  }

  @Test func portIsFreeAgainAfterShutdown() throws {
    let first = NIORuntime()
    let address: TransportAddress = try first.onLoop { rt in
      try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { _ in }.localAddress
    }
    first.shutdown()
    let second = NIORuntime()
    defer { second.shutdown() }
    let again: TransportAddress = try second.onLoop { rt in
      try rt.openUDP(UDPSocketOptions(address: .loopbackV4, port: address.port)) { _ in }
        .localAddress
    }
    #expect(again == address)
  }

  @Test func runOnTheLoopIsRefused() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let error: RunError? = try runtime.onLoop { rt in
      do {
        let _: Int = try rt.run(timeout: .seconds(1)) { _, done in done.succeed(1) }
        return nil
      } catch let error as RunError {
        return error
      }
    }
    #expect(error == .calledOnLoop)
  }

  @Test func errorsThrownByTheBodyEndTheRun() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    #expect(throws: RuntimeError.failed("boom")) {
      let _: Int = try runtime.run(timeout: .seconds(5)) { _, _ in
        throw RuntimeError.failed("boom")
      }
    }
  }

  @Test func runsOnAGivenLoop() throws {
    let owner = NIORuntime()
    defer { owner.shutdown() }
    let guest = NIORuntime(eventLoop: owner.eventLoop)
    let port: UInt16 = try guest.run(timeout: .seconds(5)) { rt, done in
      let s = try rt.openUDP(UDPSocketOptions(address: .loopbackV4)) { d in
        done.succeed(d.source.port)
      }
      s.send([1], to: s.localAddress)
    }
    #expect(port != 0)
    guest.shutdown()
    // The owner's loop still runs.
    #expect(try owner.onLoop { _ in 42 } == 42)
  }
}

@Suite("Extreme durations", .timeLimit(.minutes(3)))
struct ExtremeDurationTests {
  @Test func hugeTimeoutsAndDistantDeadlinesDoNotOverflow() throws {
    let runtime = NIORuntime()
    defer { runtime.shutdown() }
    let value: Int = try runtime.run(timeout: .seconds(Int64.max)) { rt, done in
      rt.schedule(at: .distantFuture) { done.fail(RuntimeError.failed("fired")) }
      rt.schedule(at: rt.now + .seconds(Int64.max)) { done.fail(RuntimeError.failed("fired")) }
      rt.schedule(at: Instant(nanoseconds: .min)) { done.succeed(7) }
    }
    #expect(value == 7)
  }
}
