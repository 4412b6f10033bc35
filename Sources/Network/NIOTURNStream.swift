import Runtime
import STUN
import Traversal

/// Backs `StreamTransport` with ``NIORuntime/openTCP(to:connectTimeout:maximumFrameLength:onConnect:onReceive:onClose:)``:
/// TURN over TCP (RFC 8656 §3.1), framed into whole STUN messages and ChannelData frames.
///
/// ```swift
/// let turn = TURNAllocationSession(runtime: rt, server: server, credentials: creds,
///   stream: try NIOTURNStream(runtime: rt, server: server))
/// ```
public final class NIOTURNStream: StreamTransport {
  private var connection: TCPConnection?
  public var onFrame: (([UInt8]) -> Void)?
  public var onClose: ((StreamCloseReason) -> Void)?
  /// Taken from the connection when the first frame arrives (the handshake is done by then).
  public private(set) var peerCertificate: TLSPeerCertificate?

  /// Connects to `server` (returns at once; frames queue until connected). Call on the loop.
  /// With `tls`, the connection speaks TLS (turns:); a failed handshake closes it with a
  /// ``StreamCloseReason/tls(_:)`` reason.
  public init(
    runtime: NIORuntime, server: TransportAddress, connectTimeout: Duration = .seconds(5),
    tls: TLSClientSettings? = nil
  ) throws {
    connection = try runtime.openTCP(
      to: server, connectTimeout: connectTimeout,
      onReceive: { [weak self] connection, frame in
        guard let self else { return }
        if tls != nil && self.peerCertificate == nil {
          self.peerCertificate = connection.tlsPeerCertificate
        }
        self.onFrame?(frame.bytes)
      },
      onClose: { [weak self] _, reason in self?.onClose?(reason.stream) }, tls: tls)
  }

  public func send(_ bytes: [UInt8]) { connection?.send(bytes) }

  public func close() {
    connection?.close()
    connection = nil
  }
}

extension NIORuntime {
  /// A ``StreamConnector`` that opens real TCP connections on this runtime (for TURN over TCP
  /// and the STUN-over-TCP check).
  public func streamConnector(connectTimeout: Duration = .seconds(5)) -> StreamConnector {
    { [unowned self] server in
      try NIOTURNStream(runtime: self, server: server, connectTimeout: connectTimeout)
    }
  }
}

extension NIORuntime {
  /// A ``StreamConnector`` that opens TLS connections (TURN over TLS, turns:) on this runtime.
  public func tlsStreamConnector(
    _ settings: TLSClientSettings, connectTimeout: Duration = .seconds(5)
  )
    -> StreamConnector
  {
    { [unowned self] server in
      try NIOTURNStream(
        runtime: self, server: server, connectTimeout: connectTimeout, tls: settings)
    }
  }
}
