extension NATProfile {
  /// A plain-language paragraph: what this NAT means for direct connections to peers of each
  /// kind.
  public var summary: String {
    if udpBlocked {
      return
        "UDP does not get out of this network, so no direct UDP connection can work with any peer; only a TURN relay reached over TCP (or TLS) can carry traffic."
    }
    guard mapping != nil, filtering != nil else {
      return
        "natscope could not tell how this NAT maps or filters, so which peers can connect directly is unknown; ICE will have to try every path, with a TURN relay as the fallback."
    }
    var works: [String] = []
    var fails: [String] = []
    for peer in NATProfile.referencePeers {
      if PathPrediction.reflexive(self, peer.profile).outcome == .works {
        works.append(peer.name)
      } else {
        fails.append(peer.name)
      }
    }
    let what: String
    if !natDetected {
      what =
        filtering == .endpointIndependent
        ? "No NAT translates this host's address, and nothing filters inbound UDP."
        : "No NAT translates this host's address, but a firewall only lets in answers from addresses it has sent to."
    } else {
      switch (mapping, filtering) {
      case (.endpointIndependent?, .endpointIndependent?):
        what =
          "This NAT keeps one public address per socket and lets anyone reach it once the socket has sent a packet."
      case (.endpointIndependent?, _):
        what =
          "This NAT keeps one public address per socket but only lets in packets from addresses the socket has sent to."
      default:
        what =
          "This NAT gives each destination its own public port, so the address a STUN server reports is not the one a peer will see."
      }
    }
    var text = what + " "
    if fails.isEmpty {
      text += "Direct connections should work with peers of every kind."
    } else if works.isEmpty {
      text += "Direct connections will fail with every kind of peer; plan on a TURN relay."
    } else {
      text +=
        "Direct connections should work with peers on \(Self.list(works)); with peers behind \(Self.list(fails.map { $0.replacingPrefix("symmetric", "a symmetric") })) only a TURN relay will work."
    }
    return text
  }

  private static func list(_ items: [String]) -> String {
    switch items.count {
    case 0: return ""
    case 1: return items[0]
    default: return items.dropLast().joined(separator: ", ") + " and " + (items.last ?? "")
    }
  }
}

extension String {
  fileprivate func replacingPrefix(_ prefix: String, _ replacement: String) -> String {
    hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
  }
}
