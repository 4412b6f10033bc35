extension TURNClientEvent: CustomStringConvertible {
  /// One line in words, for logs and the console (never a secret).
  public var description: String {
    switch self {
    case .allocating(let server): "asking \(server) for a relayed address (Allocate)"
    case .challenged(let realm, let algorithm):
      "challenged for credentials (realm \(WireText.display(realm)), \(algorithm))"
    case .staleNonce(let method): "nonce went stale; \(method) repeated with the new one"
    case .redirected(let alternate): "redirected to \(alternate) (300 Try Alternate)"
    case .allocated(let relayed, let mapped, let lifetime):
      "relayed address \(relayed)"
        + (mapped.map { ", seen from \($0)" } ?? "") + ", for \(counted(lifetime, "second"))"
    case .refreshed(let lifetime): "allocation refreshed for \(counted(lifetime, "second"))"
    case .permissionCreated(let peer): "permission for \(peer)"
    case .channelBound(let peer, let channel):
      "channel 0x\(String(channel, radix: 16)) bound to \(peer)"
    case .requestFailed(let method, let failure): "\(method) failed: \(failure)"
    case .failed(let failure): "allocation failed: \(failure)"
    case .released: "allocation released"
    case .data(let bytes, let peer): "\(counted(bytes.count, "byte")) from \(peer)"
    }
  }
}
