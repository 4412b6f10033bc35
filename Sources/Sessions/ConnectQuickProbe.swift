import Report
import Runtime
import STUN
import Traversal

/// The quick NAT probe a ``ConnectSession`` runs while it gathers (RFC 5780 behaviour against
/// its STUN servers, short retransmissions, no hairpinning or port-allocation samples): the
/// profile goes in this host's description, so the peer can predict the paths too. It ends
/// with a profile, or with the gap that left none, within `limit`.
///
/// All calls and callbacks happen on the runtime's serial context.
final class ConnectQuickProbe {
  private let runtime: any NetworkRuntime
  private var probe: ProbeSession?
  private var timer: (any TimerHandle)?
  private var ended: ((NATProfile?, ConnectProbeGap?) -> Void)?

  /// Starts the probe against `servers` (at least one); `ended` is called once, with the
  /// profile or why there is none, unless ``cancel()`` comes first.
  init(
    runtime: any NetworkRuntime, servers: [TransportAddress], localAddresses: [IPAddress],
    portRange: ClosedRange<UInt16>?, limit: Duration,
    ended: @escaping (NATProfile?, ConnectProbeGap?) -> Void
  ) {
    self.runtime = runtime
    self.ended = ended
    let p = ProbeSession(
      runtime: runtime,
      configuration: ProbeConfiguration(
        servers: servers, localAddresses: localAddresses + [.loopbackV4, .loopbackV6],
        testHairpinning: false, portAllocationSamples: 0),
      policy: RetransmissionPolicy(
        initialRTO: .milliseconds(100), maxRequests: 4, lastWaitMultiplier: 2,
        adaptive: .init(floor: .milliseconds(50), ceiling: .milliseconds(400)), backoff: 1),
      socketOptions: UDPSocketOptions(
        address: servers[0].ip.family == .ipv6 ? .anyV6 : .anyV4, portRange: portRange))
    probe = p
    timer = runtime.schedule(at: runtime.now + limit) { [weak self] in
      self?.finish(nil, .timedOut(milliseconds: Int(limit.milliseconds)))
    }
    p.start { [weak self] result in
      switch result {
      case .success(let report): self?.finish(report.profile, nil)
      case .failure(let e): self?.finish(nil, .socketFailed("\(e)"))
      }
    }
  }

  /// The first of `servers` when every one is on this host (loopback, or one of
  /// `localAddresses`): their answers say nothing about a NAT.
  static func serverOnThisHost(_ servers: [TransportAddress], localAddresses: [IPAddress])
    -> TransportAddress?
  {
    let mine = Set(localAddresses)
    guard let first = servers.first,
      servers.allSatisfy({ $0.ip.isLoopback || $0.ip.isUnspecified || mine.contains($0.ip) })
    else { return nil }
    return first
  }

  /// Whether the probe runs: started, and neither ended nor cancelled.
  var isRunning: Bool { ended != nil }

  /// Stops the probe; `ended` is not called.
  func cancel() {
    ended = nil
    stop()
  }

  private func finish(_ profile: NATProfile?, _ gap: ConnectProbeGap?) {
    guard let ended else { return }
    self.ended = nil
    stop()
    ended(profile, gap)
  }

  private func stop() {
    timer?.cancel()
    timer = nil
    probe?.cancel()
    probe = nil
  }
}
