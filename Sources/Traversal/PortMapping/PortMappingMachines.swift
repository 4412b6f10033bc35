import STUN

/// A datagram handed to a port-mapping client: its bytes and where it came from.
public struct PortMappingDatagram: Sendable, Hashable {
  public var bytes: [UInt8]
  public var from: TransportAddress

  public init(bytes: [UInt8], from: TransportAddress) {
    self.bytes = bytes
    self.from = from
  }
}

// The PCP and NAT-PMP clients as ``Machine``s, so a host in Sessions can own them (no copy
// out and back at the call sites).

extension PCPClient: Machine {
  public mutating func handleInput(_ input: PortMappingDatagram, at now: Instant)
    -> [PCPClientOutput]
  {
    handleInput(input.bytes, from: input.from, at: now)
  }

  public var nextDeadline: Instant? { nextWake }
}

extension NATPMPClient: Machine {
  public mutating func handleInput(_ input: PortMappingDatagram, at now: Instant)
    -> [NATPMPClientOutput]
  {
    handleInput(input.bytes, from: input.from, at: now)
  }

  public var nextDeadline: Instant? { nextWake }
}
