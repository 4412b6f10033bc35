import Runtime
import STUN
import Traversal

/// The router side of PCP (RFC 6887: ANNOUNCE and MAP) and NAT-PMP (RFC 6886: external
/// address, UDP mappings) on a simulated ``NATBox``, on UDP port 5351 of its inside address.
/// A granted mapping becomes a port forward on the box (``NATBox/addForward(externalPort:to:lifetime:)``),
/// so the real client machines can be run against it and a peer really gets in.
///
/// The external address it reports is the box's own first public address: behind a
/// carrier-grade NAT that is the box's address on the carrier's network, as a real home router
/// reports it. UPnP IGD is simulated by its sibling, ``RouterUPnPIGD``.
public final class RouterPortMapping {
  /// The box it runs on.
  public let box: NATBox
  /// The protocols it answers; requests of the others are dropped unanswered, except that a
  /// NAT-PMP-only router answers PCP with NAT-PMP's "unsupported version".
  public let protocols: Set<PortMappingResult.Method>
  /// Every request it handled, one line each (for tests and traces).
  public private(set) var log: [String] = []

  private let epochStart: Instant
  private let network: VirtualNetwork

  /// Answers `protocols` (PCP and/or NAT-PMP) on `box`.
  public init(box: NATBox, network: VirtualNetwork, protocols: Set<PortMappingResult.Method>) {
    self.box = box
    self.network = network
    self.protocols = protocols.subtracting([.upnpIGD])
    self.epochStart = network.now
    box.listen(port: PCPRequest.serverPort) { [weak self] bytes, from, reply in
      self?.handle(bytes, from: from, reply: reply)
    }
  }

  private var epoch: UInt32 {
    UInt32(clamping: max(0, (network.now - epochStart).components.seconds))
  }

  private var externalIP: IPAddress { box.publicIPs.first ?? .anyV4 }

  private func handle(
    _ bytes: [UInt8], from: TransportAddress, reply: @escaping ([UInt8], TransportAddress) -> Void
  ) {
    guard let version = bytes.first else { return }
    if version == 0, protocols.contains(.natPMP) {
      natpmp(bytes, from: from).map { reply($0, from) }
    } else if version == PCPRequest.version, protocols.contains(.pcp) {
      pcp(bytes, from: from).map { reply($0, from) }
    } else if version != 0, protocols.contains(.natPMP), bytes.count >= 2 {
      // A NAT-PMP-only gateway answers any other version with result 1, Unsupported Version
      // (RFC 6886 §3.5), which PCP clients take as "fall back to NAT-PMP" (RFC 6887 §9).
      let e = epoch
      reply(
        [
          0, 0x80 | (bytes[1] & 0x7F), 0, 1, UInt8(e >> 24), UInt8(e >> 16 & 0xFF),
          UInt8(e >> 8 & 0xFF), UInt8(e & 0xFF),
        ], from)
    }
  }

  private static func u16(_ b: [UInt8], _ i: Int) -> UInt16 {
    UInt16(b[i]) << 8 | UInt16(b[i + 1])
  }

  private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
    b[i..<i + 4].reduce(0) { $0 << 8 | UInt32($1) }
  }

  // MARK: NAT-PMP

  private func natpmp(_ b: [UInt8], from: TransportAddress) -> [UInt8]? {
    guard b.count >= 2 else { return nil }
    let opcode = NATPMPOpcode(rawValue: b[1])
    if opcode == .externalAddress {
      log.append("NAT-PMP external address request from \(from)")
      return NATPMPResponse(
        requestOpcode: .externalAddress, result: .success, secondsSinceEpoch: epoch,
        body: .externalAddress(externalIP)
      ).bytes
    }
    guard opcode == .mapUDP, b.count >= 12 else {
      return NATPMPResponse(
        requestOpcode: opcode, result: .unsupportedOpcode, secondsSinceEpoch: epoch,
        body: .other(opcode)
      ).bytes
    }
    let internalPort = Self.u16(b, 4)
    let suggested = Self.u16(b, 6)
    let lifetime = Self.u32(b, 8)
    let inside = TransportAddress(ip: from.ip, port: internalPort)
    if lifetime == 0 {
      log.append("NAT-PMP delete of UDP \(inside)")
      box.removeForward(internal: inside)
      return NATPMPResponse(
        requestOpcode: .mapUDP, result: .success, secondsSinceEpoch: epoch,
        body: .map(.udp, internalPort: internalPort, externalPort: 0, lifetime: 0)
      ).bytes
    }
    log.append("NAT-PMP map UDP \(inside), suggested port \(suggested), \(lifetime) s")
    guard
      let external = box.addForward(
        externalPort: suggested, to: inside, lifetime: .seconds(Int64(lifetime)))
    else {
      return NATPMPResponse(
        requestOpcode: .mapUDP, result: .outOfResources, secondsSinceEpoch: epoch,
        body: .map(.udp, internalPort: internalPort, externalPort: 0, lifetime: 0)
      ).bytes
    }
    return NATPMPResponse(
      requestOpcode: .mapUDP, result: .success, secondsSinceEpoch: epoch,
      body: .map(.udp, internalPort: internalPort, externalPort: external.port, lifetime: lifetime)
    ).bytes
  }

  // MARK: PCP

  private func pcp(_ b: [UInt8], from: TransportAddress) -> [UInt8]? {
    guard b.count >= 24, b[1] & 0x80 == 0 else { return nil }
    let opcode = PCPOpcode(rawValue: b[1])
    let lifetime = Self.u32(b, 4)
    if opcode == .announce {
      log.append("PCP ANNOUNCE from \(from)")
      return PCPResponse(opcode: .announce, result: .success, lifetime: 0, epochTime: epoch).bytes
    }
    guard opcode == .map, b.count >= 60 else {
      return PCPResponse(
        opcode: opcode, result: .unsupportedOpcode, lifetime: 30, epochTime: epoch
      ).bytes
    }
    let clientAddress = PCPAddress.decode(Array(b[8..<24]))
    let nonce = Array(b[24..<36])
    let protocolNumber = b[36]
    let internalPort = Self.u16(b, 40)
    let suggested = Self.u16(b, 42)
    func answer(_ result: PCPResultCode, port: UInt16, lifetime: UInt32) -> [UInt8] {
      PCPResponse(
        opcode: .map, result: result, lifetime: lifetime, epochTime: epoch,
        map: .init(
          nonce: nonce, protocolNumber: protocolNumber, internalPort: internalPort,
          assignedExternalPort: port, assignedExternalAddress: externalIP)
      ).bytes
    }
    guard clientAddress == from.ip else {
      log.append("PCP MAP from \(from) refused: address mismatch")
      return answer(.addressMismatch, port: 0, lifetime: 30)
    }
    guard protocolNumber == PortMappingProtocol.udp.ianaNumber else {
      return answer(.unsupportedProtocol, port: 0, lifetime: 30)
    }
    let inside = TransportAddress(ip: from.ip, port: internalPort)
    if lifetime == 0 {
      log.append("PCP MAP delete of UDP \(inside)")
      box.removeForward(internal: inside)
      return answer(.success, port: 0, lifetime: 0)
    }
    log.append("PCP MAP UDP \(inside), suggested port \(suggested), \(lifetime) s")
    guard
      let external = box.addForward(
        externalPort: suggested, to: inside, lifetime: .seconds(Int64(lifetime)))
    else { return answer(.noResources, port: 0, lifetime: 30) }
    return answer(.success, port: external.port, lifetime: lifetime)
  }
}
