import STUN
import Traversal

/// A TCP connection that carries bytes as they are, unframed (HTTP to a UPnP IGD device):
/// unlike ``StreamTransport``, it does not cut the stream into STUN messages.
///
/// All calls and callbacks happen on the owning runtime's serial context.
public protocol RawByteStream: AnyObject {
  /// Writes bytes (queued until the connection is up).
  func send(_ bytes: [UInt8])
  /// Closes the connection; no callbacks after this returns.
  func close()
  /// Set by the user: called with each chunk of bytes that arrives, in order.
  var onBytes: (([UInt8]) -> Void)? { get set }
  /// Set by the user: called once when the connection ends other than by ``close()``: with
  /// `.closedByPeer` when the peer closed it in order (end of stream), or with why it could not
  /// be opened or broke (refused, timed out, or the system's words), typed.
  var onEnd: ((StreamCloseReason) -> Void)? { get set }
}

/// Opens a raw TCP connection to `address`: returns at once, bytes queue until the connection
/// is up, and a failure to connect arrives through ``RawByteStream/onEnd``. Called on the
/// runtime's serial context.
public typealias RawStreamConnector = (_ address: TransportAddress) throws -> any RawByteStream
