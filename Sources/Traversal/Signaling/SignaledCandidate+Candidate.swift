import STUN

extension SignaledCandidate {
  /// An agent's candidate as it is signalled (the `a=candidate` line of a token or SDP).
  public init(_ c: Candidate) {
    self.init(
      foundation: c.foundation, component: c.component,
      transport: c.transport.lowercased() == "tcp" ? .tcp : .udp, priority: c.priority,
      address: .ip(c.address.ip), port: c.address.port,
      kind: SignaledCandidate.Kind(rawValue: c.type.rawValue) ?? .host,
      relatedAddress: c.relatedAddress.map { .ip($0.ip) }, relatedPort: c.relatedAddress?.port)
  }
}

extension Candidate {
  /// A signalled candidate for the agent; nil when the agent cannot check it (a TCP candidate,
  /// or an mDNS or DNS name instead of an IP address: ``SignaledCandidate/unusable``
  /// says why).
  public init?(_ s: SignaledCandidate) {
    guard s.unusable == nil, let address = s.transportAddress else { return nil }
    var related: TransportAddress?
    if let ra = s.relatedAddress?.ip, let rp = s.relatedPort {
      related = TransportAddress(ip: ra, port: rp)
    }
    self.init(
      foundation: s.foundation, component: s.component, transport: s.transport.rawValue,
      priority: s.priority, address: address,
      type: CandidateType(rawValue: s.kind.rawValue) ?? .host, relatedAddress: related)
  }
}
