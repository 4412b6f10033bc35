import STUN
import Traversal

extension TURNCheckReport {
  /// The text report of `natscope turn`: a table per server (✓ done, ✗ failed, – not tried)
  /// with one sentence per problem, then the verdict.
  public var text: String {
    var lines: [String] = warnings.map { "warning: \($0)" }
    if !lines.isEmpty { lines.append("") }
    for s in servers {
      lines += s.textLines
      lines.append("")
    }
    let broken = servers.filter { !$0.works }.count
    switch verdict {
    case .works:
      lines.append(
        servers.count == 1
          ? "verdict: works. The TURN server allocates and relays both ways."
          : servers.count == 2
            ? "verdict: works. Both TURN servers allocate and relay both ways."
            : "verdict: works. All \(servers.count) TURN servers allocate and relay both ways.")
    case .broken:
      lines.append(
        "verdict: broken. \(broken) of \(servers.count) TURN server\(servers.count == 1 ? "" : "s") failed a check (problems above)."
      )
    }
    return lines.joined(separator: "\n")
  }
}

extension TURNServerCheck {
  var textLines: [String] {
    var lines = ["\(uri)  (\(server), \(transport))"]
    func row(_ mark: String, _ stage: String, _ detail: String) {
      lines.append("  \(mark) " + stage.padding(toLength: 15, withPad: " ", startingAt: 0) + detail)
    }
    let codes = Set(problems.map(\.code))
    // Reachable
    if reachable {
      var d = rttMs.map { "answered in " + Self.ms($0) } ?? "accepted the connection"
      if let realm { d += " (realm \(realm))" }
      if let software { d += "; software \(software)" }
      row("✓", "reachable", d)
    } else {
      row("✗", "reachable", transport == "udp" ? "no answer" : "no answer over the connection")
    }
    if transport == "tls" {
      if codes.contains(.tlsCertificate) || codes.contains(.tlsHandshake) {
        row("✗", "TLS", "handshake failed")
      } else if reachable {
        row("✓", "TLS", "handshake done" + (certificate.map { ": " + $0.summary } ?? ""))
      }
    }
    // Authenticates
    if authenticated {
      row("✓", "authenticates", "credentials accepted")
    } else if codes.contains(.unauthorized) {
      row("✗", "authenticates", "credentials rejected")
    } else {
      row("–", "authenticates", "not reached")
    }
    // Allocates
    if let relayedAddress {
      var d = "relayed \(relayedAddress)"
      if let lifetime { d += " for \(lifetime) s" }
      if let reflexiveAddress { d += "; you are \(reflexiveAddress) to the server" }
      if let refreshed { d += refreshed ? "; Refresh works" : "; Refresh failed" }
      row(codes.contains(.relayedAddressUnroutable) ? "✗" : "✓", "allocates", d)
    } else if authenticated || codes.contains(.forbidden) || codes.contains(.quota)
      || codes.contains(.allocateFailed)
    {
      row("✗", "allocates", "no allocation")
    } else {
      row("–", "allocates", "not reached")
    }
    // Relays
    if let relay, relay.indicationsSent > 0 {
      var d =
        "\(relay.indicationsReceived)/\(relay.indicationsSent) Send/Data indications"
      if relay.channelSent > 0 {
        d += ", \(relay.channelReceived)/\(relay.channelSent) ChannelData"
      }
      d += " came back"
      if let rtt = relay.rttMs { d += "; " + Self.ms(rtt) + " round trip through the relay" }
      row(relays == true ? "✓" : "✗", "relays", d)
    } else if peerForbidden {
      row("–", "relays", "the server's policy forbids relaying to its own relayed addresses (403)")
    } else {
      row("–", "relays", "not reached")
    }
    // Releases
    if relayedAddress != nil {
      row(
        released ? "✓" : "✗", "releases",
        released ? "release sent for every allocation" : "not released")
    } else {
      row("–", "releases", "nothing to release")
    }
    for p in problems {
      lines.append("  problem (\(p.code.rawValue)): \(p.message)")
    }
    if peerForbidden {
      lines.append(
        "  note: a 403 to CreatePermission or ChannelBind for the server's own relayed address is a policy (coturn, for one, refuses loopback peers unless --allow-loopback-peers), not a failure; relaying was not measured."
      )
    }
    return lines
  }

  static func ms(_ v: Double) -> String {
    let rounded = (v * 10).rounded() / 10
    return "\(rounded) ms"
  }
}
