import Logging
import STUN
import Traversal

/// A runtime that does what another runtime does and logs it: sockets opened and closed,
/// socket errors (ICMP unreachable, refused sends), every datagram sent and received (a STUN message by method, class, transaction ID and
/// attribute names; a TURN ChannelData frame by channel and length), and timers. Nothing a
/// datagram carries is logged beyond that, so no password or key can reach the log (the
/// MESSAGE-INTEGRITY attribute is named, never shown).
///
/// Sends, receives and socket lifecycle are logged at `debug`; timers and non-STUN datagrams
/// at `trace`.
///
/// ```swift
/// let session = ProbeSession(
///   runtime: LoggingRuntime(rt, logger: Logger(label: "natscope.net")), configuration: c)
/// ```
public final class LoggingRuntime: NetworkRuntime {
  /// The runtime that does the work.
  public let base: any NetworkRuntime
  public let logger: Logger

  /// Wraps `base`; when `logger`'s level is above `debug` the wrapper costs one comparison per
  /// call.
  public init(_ base: any NetworkRuntime, logger: Logger) {
    self.base = base
    self.logger = logger
  }

  public var now: Instant { base.now }

  public func openUDP(
    _ options: UDPSocketOptions, onReceive: @escaping (ReceivedDatagram) -> Void,
    onError: @escaping (SocketError) -> Void
  ) throws -> any DatagramSocket {
    let logger = self.logger
    let holder = LocalAddressHolder()
    let socket: any DatagramSocket
    do {
      socket = try base.openUDP(
        options,
        onReceive: { datagram in
          if logger.logLevel <= .debug {
            let at = holder.address.map { " on \($0)" } ?? ""
            Self.log(
              logger, "← \(datagram.source)\(at): " + Self.summary(datagram.bytes),
              bytes: datagram.bytes)
          }
          onReceive(datagram)
        },
        onError: { error in
          let at = holder.address.map { " on \($0)" } ?? ""
          logger.debug("socket error\(at) for \(error.destination): \(error.message)")
          onError(error)
        })
    } catch {
      logger.debug("cannot open a UDP socket (\(Self.describe(options))): \(error)")
      throw error
    }
    holder.address = socket.localAddress
    logger.debug("UDP socket open on \(socket.localAddress)")
    return LoggingSocket(socket, logger: logger)
  }

  public func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> any TimerHandle {
    if logger.logLevel <= .trace {
      logger.trace("timer set for +\(Self.milliseconds(deadline - base.now)) ms")
    }
    return base.schedule(at: deadline, action)
  }

  public func localAddresses() -> [IPAddress] { base.localAddresses() }

  public func defaultGateways() -> [IPAddress] { base.defaultGateways() }

  /// One line for a datagram: what kind of packet it is, and for STUN its type, transaction
  /// ID and attribute names.
  public static func summary(_ bytes: [UInt8]) -> String {
    switch PacketKind.classify(bytes) {
    case .stun:
      guard let m = try? Message(bytes: bytes) else {
        return "malformed STUN, \(bytes.count) bytes"
      }
      var names: [String] = []
      for a in m.attributes { names.append(a.type.name) }
      var line = "\(m.type) \(m.transactionID)"
      if !names.isEmpty { line += " [" + names.joined(separator: ", ") + "]" }
      if let e = try? m.get(ErrorCodeAttribute.self) {
        line += " error \(e.code.rawValue) \(WireText.display(e.reason))"
      }
      return line
    case .channelData:
      guard let c = try? ChannelData(bytes: bytes) else {
        return "malformed ChannelData, \(bytes.count) bytes"
      }
      return "ChannelData 0x\(String(c.channel, radix: 16)), \(c.payload.count) bytes"
    default:
      return "\(bytes.count) bytes, not STUN"
    }
  }

  fileprivate static func log(_ logger: Logger, _ line: String, bytes: [UInt8]) {
    if PacketKind.classify(bytes) == .stun {
      logger.debug("\(line)")
    } else {
      logger.trace("\(line)")
    }
  }

  private static func describe(_ o: UDPSocketOptions) -> String {
    let address = o.address?.description ?? "any address"
    if let p = o.port { return "\(address) port \(p)" }
    if let r = o.portRange { return "\(address) ports \(r.lowerBound)-\(r.upperBound)" }
    return address
  }

  private static func milliseconds(_ d: Duration) -> String {
    let c = d.components
    let ms = Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    return String(Int(ms.rounded()))
  }
}

/// The socket's address, known only once `openUDP` returns; the receive callback may run
/// after that (all on the runtime's one context).
private final class LocalAddressHolder {
  var address: TransportAddress?
}

/// A socket that logs what it sends and when it closes.
private final class LoggingSocket: DatagramSocket {
  let base: any DatagramSocket
  let logger: Logger

  init(_ base: any DatagramSocket, logger: Logger) {
    self.base = base
    self.logger = logger
  }

  var localAddress: TransportAddress { base.localAddress }

  func send(_ bytes: [UInt8], to destination: TransportAddress) {
    if logger.logLevel <= .debug {
      LoggingRuntime.log(
        logger, "→ \(destination) from \(base.localAddress): " + LoggingRuntime.summary(bytes),
        bytes: bytes)
    }
    base.send(bytes, to: destination)
  }

  func send(_ bytes: [UInt8], to destination: TransportAddress, dontFragment: Bool) {
    if logger.logLevel <= .debug {
      LoggingRuntime.log(
        logger,
        "→ \(destination) from \(base.localAddress)\(dontFragment ? " (DF)" : ""): "
          + LoggingRuntime.summary(bytes), bytes: bytes)
    }
    base.send(bytes, to: destination, dontFragment: dontFragment)
  }

  func close() {
    logger.debug("UDP socket on \(base.localAddress) closed")
    base.close()
  }
}
