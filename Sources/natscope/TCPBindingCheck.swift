import Network
import STUN
import Traversal

/// One STUN Binding request over TCP (RFC 8489 §6.2.2): does a TCP path to the server exist
/// when UDP is blocked?
enum TCPBindingCheck {
  static func run(runtime: NIORuntime, server: TransportAddress, timeout: Duration = .seconds(3))
    -> TCPReachability
  {
    let outcome = try? runtime.run(timeout: timeout + .seconds(1)) {
      (rt: NIORuntime, done: RunCompletion<TCPReachability>) throws -> Void in
      let state = State()
      func finish(_ r: TCPReachability) {
        guard !state.finished else { return }
        state.finished = true
        state.connection?.close()
        done.succeed(r)
      }
      let id = TransactionID.random()
      let started = rt.now
      state.connection = try rt.openTCP(
        to: server, connectTimeout: timeout,
        onConnect: { connection in
          var b = MessageBuilder(type: .bindingRequest, transactionID: id)
          b.addFingerprint()
          connection.send(b.bytes)
        },
        onReceive: { _, frame in
          guard case .stun(let bytes) = frame, let m = try? Message(bytes: bytes),
            m.transactionID == id
          else { return }
          let mapped = (try? m.get(XORMappedAddress.self))?.address
          finish(
            TCPReachability(
              reachable: true, server: server, mappedAddress: mapped,
              rttMs: (rt.now - started).milliseconds,
              reason: "A Binding request over TCP to \(server) was answered."))
        },
        onClose: { _, reason in
          finish(
            TCPReachability(
              reachable: false, server: server,
              reason: "STUN over TCP to \(server) failed too: \(reason)."))
        })
      rt.schedule(at: started + timeout) {
        finish(
          TCPReachability(
            reachable: false, server: server,
            reason:
              "STUN over TCP to \(server) got no answer within \(Int(timeout.milliseconds)) ms."))
      }
    }
    return outcome
      ?? TCPReachability(
        reachable: false, server: server, reason: "STUN over TCP could not be tried.")
  }

  /// Callback state; only touched on the runtime's event loop.
  private final class State {
    var finished = false
    var connection: TCPConnection?
  }
}
