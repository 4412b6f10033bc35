import Report
import Runtime
import STUN
import Sessions
import Simulation
import Traversal

/// Test shorthand: an address from text, trapping only on a typo in the test itself.
func ip(_ text: String) -> IPAddress {
  guard let a = IPAddress(text) else { preconditionFailure("bad IP in test: \(text)") }
  return a
}

/// Test shorthand: `ip:port` from text.
func ep(_ text: String) -> TransportAddress {
  guard let a = TransportAddress(text) else { preconditionFailure("bad address in test: \(text)") }
  return a
}

/// A socket plus everything it received.
final class Endpoint {
  let socket: SimulatedSocket

  init(_ host: SimulatedHost, address: IPAddress? = nil, port: UInt16? = nil) throws {
    let holder = Inbox()
    socket = try host.bind(UDPSocketOptions(address: address, port: port)) {
      holder.items.append($0)
    }
    self.holder = holder
  }

  private let holder: Inbox
  private final class Inbox { var items: [ReceivedDatagram] = [] }

  var received: [ReceivedDatagram] { holder.items }
  var texts: [String] { holder.items.map { String(decoding: $0.bytes, as: UTF8.self) } }
  var local: TransportAddress { socket.localAddress }

  func send(_ text: String, to destination: TransportAddress) {
    socket.send(Array(text.utf8), to: destination)
  }

  func clear() { holder.items.removeAll() }
}

/// A public "what is my address" server for tests, with two IPs and two ports each.
///
/// Each datagram is answered with the source address it was seen from, as text. A payload
/// `from <ip:port>` asks for the answer to come from that other address of the reflector.
final class Reflector {
  let host: SimulatedHost
  private(set) var sockets: [TransportAddress: SimulatedSocket] = [:]
  /// Every (socket address, source seen) pair, in order.
  private(set) var seen: [(at: TransportAddress, from: TransportAddress)] = []

  static let primary = ep("203.0.113.10:3478")
  static let altPort = ep("203.0.113.10:3479")
  static let altIP = ep("203.0.113.11:3478")
  static let altBoth = ep("203.0.113.11:3479")

  init(network: VirtualNetwork, realm: Realm) throws {
    host = try network.addHost("reflector", in: realm, address: ip("203.0.113.10"))
    try host.addInterface(ip("203.0.113.11"), in: realm)
    for a in [Reflector.primary, Reflector.altPort, Reflector.altIP, Reflector.altBoth] {
      let s = try host.bind(UDPSocketOptions(address: a.ip, port: a.port)) { [weak self] d in
        self?.handle(d, at: a)
      }
      sockets[a] = s
    }
  }

  private func handle(_ d: ReceivedDatagram, at local: TransportAddress) {
    seen.append((local, d.source))
    let text = String(decoding: d.bytes, as: UTF8.self)
    var replyFrom = local
    if text.hasPrefix("from "), let other = TransportAddress(text.dropFirst(5)),
      sockets[other] != nil
    {
      replyFrom = other
    }
    sockets[replyFrom]?.send(Array(d.source.description.utf8), to: d.source)
  }

  /// Sends `text` from one of the reflector's sockets to `destination` (unsolicited traffic).
  func send(_ text: String, from: TransportAddress, to destination: TransportAddress) {
    sockets[from]?.send(Array(text.utf8), to: destination)
  }
}

/// The usual lab: internet with a reflector; a LAN (192.168.1.0/24) behind one NAT with public
/// IP 198.51.100.1 (and optionally more); a client host at 192.168.1.10.
struct Lab {
  let net: VirtualNetwork
  let internet: Realm
  let lan: Realm
  let nat: NATBox
  let reflector: Reflector
  let client: SimulatedHost

  init(
    _ behavior: NATBehavior, seed: UInt64 = 1,
    publicIPs: [String] = ["198.51.100.1"], link: Link = .ideal
  ) throws {
    net = VirtualNetwork(seed: seed)
    internet = net.addRealm("internet", link: link)
    lan = try net.addRealm("lan", prefix: "192.168.1.0/24", link: link)
    nat = try net.addNAT(
      "nat", behavior: behavior, outside: internet, publicIPs: publicIPs.map(ip),
      inside: lan, insideAddress: ip("192.168.1.1"))
    reflector = try Reflector(network: net, realm: internet)
    client = try net.addHost("client", in: lan, address: ip("192.168.1.10"))
  }

  /// Sends `payload` from `endpoint` to `destination`, runs one second, and returns the
  /// address the reflector reported in its reply (nil when no reply came).
  func observe(_ endpoint: Endpoint, via destination: TransportAddress, payload: String = "ping")
    -> TransportAddress?
  {
    let before = endpoint.received.count
    endpoint.send(payload, to: destination)
    net.run(for: .seconds(1))
    guard endpoint.received.count > before, let last = endpoint.texts.last else { return nil }
    return TransportAddress(last)
  }
}
