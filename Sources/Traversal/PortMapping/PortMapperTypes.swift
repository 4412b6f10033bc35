import STUN

/// A request a ``PortMapper`` sent to the router, typed (the report words it, one sentence
/// each, for the probe's test mapping).
public enum PortMappingRequestSent: Sendable, Hashable {
  /// A PCP MAP request asking for a mapping.
  case pcpMap(
    server: TransportAddress, internalPort: UInt16, client: IPAddress?,
    suggestedExternalPort: UInt16, lifetime: UInt32)
  /// A PCP MAP request with lifetime 0 (delete).
  case pcpDelete(server: TransportAddress, internalPort: UInt16)
  /// A NAT-PMP UDP mapping request (opcode 1) asking for a mapping.
  case natpmpMap(
    server: TransportAddress, internalPort: UInt16, suggestedExternalPort: UInt16,
    lifetime: UInt32)
  /// A NAT-PMP UDP mapping request with lifetime 0 (delete).
  case natpmpDelete(server: TransportAddress, internalPort: UInt16)
  /// The SSDP search for InternetGatewayDevice:1 and :2, to the multicast group (and, when
  /// `unicast` is set, to the gateway's own SSDP port).
  case ssdpSearch(multicast: TransportAddress, unicast: TransportAddress?)
  /// UPnP IGD: HTTP GET of the device description.
  case upnpDescription(HTTPURL)
  /// UPnP IGD: GetExternalIPAddress at the control URL.
  case upnpExternalAddress(control: String)
  /// UPnP IGD: AddPortMapping (or AddAnyPortMapping) at the control URL; `lease` 0 is a
  /// permanent lease.
  case upnpAddPortMapping(
    UPnPIGDStep, control: String, externalPort: UInt16, internalClient: IPAddress?,
    internalPort: UInt16, lease: UInt32, description: String)
  /// UPnP IGD: DeletePortMapping at the control URL.
  case upnpDeletePortMapping(control: String, externalPort: UInt16)
  /// UPnP IGD: a step sent again because the device answered with `because`.
  case upnpRetry(UPnPIGDStep, because: UPnPErrorCode)
}

/// Why one protocol's attempt (or the SSDP search, or a deletion) came to nothing, typed; the
/// report words it.
public enum PortMappingAttemptFailure: Sendable, Hashable {
  /// PCP refused or did not answer.
  case pcp(PCPFailure)
  /// NAT-PMP refused or did not answer.
  case natPMP(NATPMPFailure)
  /// The router answered PCP with another version (0: it speaks only NAT-PMP).
  case pcpOtherVersion(UInt8)
  /// ICMP: `destination` cannot be reached (`ssdp`: the unicast search to the gateway's port
  /// 1900; otherwise its PCP and NAT-PMP port).
  case unreachable(TransportAddress, Unreachable.Kind, ssdp: Bool)
  /// The router did not answer `method` at `server` within `within` of the first request:
  /// `requests` went unanswered (nil: the wait gave the protocol up before its own
  /// retransmissions did).
  case silent(
    PortMappingResult.Method, server: TransportAddress, within: Duration, requests: Int?)
  /// No UPnP IGD device answered the SSDP search within `within`.
  case noDevice(within: Duration)
  /// The channel's UDP socket could not be opened (the runtime's error, as it said it).
  case noSocket(PortMappingChannel, String)
  /// A UPnP IGD step failed.
  case upnp(UPnPIGDFailure)
  /// The router answered PCP version 2 before and no longer does.
  case pcpNoLongerSpoken
}

/// A mapping the router granted (or renewed).
public struct PortMappingGrant: Sendable, Hashable {
  /// The protocol that granted it.
  public var method: PortMappingResult.Method
  /// The external address and port (the address 0.0.0.0 when the router did not say it).
  public var external: TransportAddress
  /// The lifetime (PCP, NAT-PMP) or lease (UPnP IGD, 0: permanent) granted, in seconds.
  public var lifetime: UInt32

  public init(method: PortMappingResult.Method, external: TransportAddress, lifetime: UInt32) {
    self.method = method
    self.external = external
    self.lifetime = lifetime
  }
}

/// Why no mapping was granted, typed; the report words it.
public enum PortMappingShortfall: Sendable, Hashable {
  /// The host has no IPv4 default gateway.
  case noGateway
  /// No protocol is left to ask (none answered the read-only questions, or none can be
  /// asked on this runtime).
  case noProtocol
  /// The wait ended without a grant. `asking` is the protocol being asked then (at
  /// `server`); `datagram` why PCP and NAT-PMP gave nothing, when they did; `search` why the
  /// SSDP search found no device, when it was made and found none.
  case notGrantedWithin(
    Duration, asking: PortMappingResult.Method, server: TransportAddress,
    datagram: PortMappingAttemptFailure?, search: PortMappingAttemptFailure?)
  /// Every protocol was asked and none granted one, for these reasons (PCP or NAT-PMP, the
  /// SSDP search, UPnP IGD; in that order, those that apply).
  case failed([PortMappingAttemptFailure])
}

/// What a ``PortMapper`` reports to its host.
public enum PortMapperEvent: Sendable, Hashable {
  /// The protocol's turn began; `server` is where its requests go (nil for UPnP IGD before a
  /// device answered).
  case attempting(PortMappingResult.Method, server: TransportAddress?)
  /// The router does not speak PCP version 2 (it answered with another version): PCP is no
  /// longer counted as attempted, since that answer is no refusal.
  case withdrawn(PortMappingResult.Method)
  /// A UPnP IGD device answered the search; its description is at this URL.
  case device(HTTPURL)
  /// A request went to the router.
  case requested(PortMappingRequestSent)
  /// The router said what its own external address is.
  case routerAddress(IPAddress)
  /// The router refused the mapping with a code.
  case refused(PortMappingRefusal)
  /// One protocol's attempt (or the search) came to nothing; others may still be asked.
  case attemptFailed(PortMappingAttemptFailure)
  /// The mapping was granted, within the wait.
  case granted(PortMappingGrant)
  /// UPnP IGD granted the mapping but reported no external address, so it cannot be used; it
  /// is being deleted.
  case grantedWithoutAddress(PortMappingGrant)
  /// The router granted the mapping after the wait, or while it was being released: it was
  /// never offered, and is deleted at once.
  case grantedLate(PortMappingGrant)
  /// The mapping held was renewed.
  case renewed(PortMappingGrant)
  /// A renewal of the mapping held failed; it stands until its lifetime ends, and is renewed
  /// again sooner.
  case renewalFailed(PortMappingAttemptFailure)
  /// The mapping held lapsed: the router did not answer its renewal.
  case lapsed
  /// No mapping was granted (the final word on the request; a deletion of what may have been
  /// granted late can follow).
  case noMapping(PortMappingShortfall)
  /// The router confirmed the deletion.
  case deleted
  /// The deletion failed.
  case notDeleted(PortMappingAttemptFailure)
  /// Nothing more will happen: the host closes every socket and connection.
  case finished
}

/// What a ``PortMapper`` hands its host.
public enum PortMapperOutput: Sendable, Hashable {
  /// Send `bytes` to `to` from the channel's socket (opened at its first send).
  case send(PortMappingChannel, bytes: [UInt8], to: TransportAddress)
  /// The channel is done: close its socket.
  case close(PortMappingChannel)
  /// UPnP IGD's HTTP: open a TCP connection and write (`.request`), or close one (`.close`).
  case http(UPnPIGDClientOutput)
  /// Something happened.
  case event(PortMapperEvent)
}
