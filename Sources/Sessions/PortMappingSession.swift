import Report
import Runtime
import STUN
import Traversal

/// Asks the host's default gateway, read-only, whether it offers port mapping and what its own
/// external address is: it hosts one ``PortMappingAgent`` (PCP ANNOUNCE, NAT-PMP's
/// external-address request and the UPnP IGD search, description and GetExternalIPAddress, at
/// once) and gives it a UDP socket per channel and UPnP IGD's TCP connections.
///
/// It never creates, renews or deletes a mapping. All calls happen on the runtime's serial
/// context; `completion` runs once, as soon as every question is settled (answered, refused,
/// unreachable, or silent past its deadline: 750 ms by default).
public final class PortMappingSession {
  /// Waits.
  public struct Configuration: Sendable, Hashable {
    /// The gateway to ask; nil asks the runtime for its first IPv4 default gateway.
    public var gateway: IPAddress?
    /// The agent's addresses and waits (NAT-PMP/PCP port, SSDP address and window, HTTP).
    public var agent: PortMappingAgent.Configuration

    public init(
      gateway: IPAddress? = nil, serverPort: UInt16 = 5351,
      ssdpAddress: TransportAddress = SSDP.multicastAddress,
      ssdpUnicastPort: UInt16? = 1900,
      firstWait: Duration = .milliseconds(250),
      ssdpWait: Duration = .milliseconds(750), httpTimeout: Duration = .seconds(2)
    ) {
      self.gateway = gateway
      self.agent = PortMappingAgent.Configuration(
        serverPort: serverPort, ssdpAddress: ssdpAddress, ssdpUnicastPort: ssdpUnicastPort,
        firstWait: firstWait, ssdpWait: ssdpWait, httpTimeout: httpTimeout)
    }
  }

  private let runtime: any NetworkRuntime
  private let configuration: Configuration
  private let connector: RawStreamConnector?
  private let generator: any RandomNumberGenerator & Sendable

  private var host: MachineHost<PortMappingAgent>?
  private var io: PortMappingSockets?
  private var completion: ((PortMappingReport) -> Void)?
  private var finished = false

  /// A session on `runtime`; `connector` opens the TCP connections UPnP IGD needs (without
  /// one, UPnP IGD is reported as not asked). `generator` is PCP's randomness (seed it on the
  /// simulator, so a run repeats exactly).
  public init(
    runtime: any NetworkRuntime, configuration: Configuration = Configuration(),
    connector: RawStreamConnector?,
    generator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
  ) {
    self.generator = generator
    self.runtime = runtime
    self.configuration = configuration
    self.connector = connector
  }

  /// Asks the gateway; `completion` gets the report once every protocol is done.
  public func start(completion: @escaping (PortMappingReport) -> Void) {
    guard self.completion == nil, !finished else { return }
    self.completion = completion
    let gateway =
      configuration.gateway ?? runtime.defaultGateways().first { $0.family == .ipv4 }
    let local = gateway.flatMap {
      Self.localAddress(toward: $0, among: runtime.localAddresses())
    }
    let agent = PortMappingAgent(
      gateway: gateway, localAddress: local, askUPnP: connector != nil,
      configuration: configuration.agent, generator: generator)
    let host = MachineHost(agent, runtime: runtime)
    host.perform = { [weak self] output in self?.perform(output) }
    self.host = host
    let io = PortMappingSockets(runtime: runtime, local: local, connector: connector)
    io.deliver = { [weak self] input in self?.host?.input(input) }
    self.io = io
    var failures: [(PortMappingChannel, String)] = []
    if gateway != nil {
      for channel in PortMappingChannel.allCases where channel != .ssdp || connector != nil {
        do {
          try io.open(channel)
        } catch {
          failures.append((channel, "\(error)"))
        }
      }
    }
    host.step { m, now in m.start(at: now) }
    for (channel, reason) in failures {
      host.input(.socketFailed(channel, reason: reason))
    }
  }

  /// Stops everything; no completion runs after this.
  public func cancel() {
    completion = nil
    finished = true
    tearDown()
  }

  private func perform(_ output: PortMappingAgentOutput) {
    switch output {
    case .send(let channel, let bytes, let to): io?.send(channel, bytes, to: to)
    case .close(let channel): io?.close(channel)
    case .http(let http): io?.http(http)
    case .finished(let survey): complete(PortMappingWords.report(survey))
    }
  }

  private func complete(_ report: PortMappingReport) {
    guard !finished else { return }
    finished = true
    tearDown()
    let done = completion
    completion = nil
    done?(report)
  }

  private func tearDown() {
    host?.stop()
    io?.closeAll()
  }

  /// The host's IPv4 address that shares the longest prefix with `gateway` (the one its
  /// requests leave from), or nil when it has none.
  static func localAddress(toward gateway: IPAddress, among addresses: [IPAddress]) -> IPAddress? {
    guard case .v4(let g) = gateway else { return nil }
    var best: (IPAddress, Int)?
    for address in addresses {
      guard case .v4(let a) = address, a != 0, a >> 24 != 127 else { continue }
      let common = (a ^ g).leadingZeroBitCount
      if best == nil || common > (best?.1 ?? 0) { best = (address, common) }
    }
    return best?.0
  }
}
