import ArgumentParser
import Network
import Report
import Runtime
import STUN
import Sessions
import Traversal

/// `LOW-HIGH` as a command-line value; a bad range says what is wrong with it.
struct PortRange: Sendable {
  var range: ClosedRange<UInt16>

  /// Parses `LOW-HIGH`.
  static func parse(_ argument: String) throws -> PortRange {
    let parts = argument.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2 else {
      throw ValidationError("write the range as LOW-HIGH, e.g. 40000-50000")
    }
    guard let low = UInt16(parts[0]), let high = UInt16(parts[1]), low >= 1 else {
      throw ValidationError("ports are numbers from 1 to 65535, e.g. 40000-50000")
    }
    guard low <= high else {
      throw ValidationError(
        "the first port (\(low)) is above the last (\(high)); write \(high)-\(low)")
    }
    return PortRange(range: low...high)
  }
}

/// An IP address as a command-line value.
struct IPArgument: ExpressibleByArgument, Sendable {
  var ip: IPAddress
  init?(argument: String) {
    guard let ip = IPAddress(argument) else { return nil }
    self.ip = ip
  }
}

/// Where local sockets bind.
struct SocketArguments: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Bind local sockets to this local IP address (of the server's family).", valueName: "ip")
  )
  var bind: IPArgument?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Bind local UDP sockets to free ports in this range, e.g. 40000-50000.", valueName: "low-high"
    ),
    transform: PortRange.parse)
  var portRange: PortRange?

  /// Socket options for talking to `server`. A `--bind` address of the other family is a usage
  /// error (exit 1): a socket bound to it could never reach the server.
  func options(toReach server: TransportAddress) throws -> UDPSocketOptions {
    if let ip = bind?.ip, ip.family != server.ip.family {
      let (mine, theirs) = ip.family == .ipv4 ? ("IPv4", "IPv6") : ("IPv6", "IPv4")
      throw fail(
        "--bind \(ip) is an \(mine) address but \(server) is \(theirs): bind an \(theirs) address, or leave --bind out."
      )
    }
    return UDPSocketOptions(
      address: bind?.ip ?? (server.ip.family == .ipv6 ? .anyV6 : .anyV4),
      portRange: portRange?.range)
  }
}

/// Parses and resolves a server argument, turning failures into one clear sentence.
func resolveServer(_ text: String) throws -> TransportAddress {
  let server: ServerAddress
  do {
    server = try ServerAddress.parse(text)
  } catch {
    throw fail(error.message)
  }
  do {
    guard let first = try Resolver.resolve(server).first else {
      throw fail("cannot resolve \(server.host): no address", code: NatscopeExit.unreachable)
    }
    return first
  } catch let error as ResolveError {
    throw fail(error.description, code: NatscopeExit.unreachable)
  }
}
