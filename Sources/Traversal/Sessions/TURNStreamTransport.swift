import STUN

/// A reliable byte-stream connection to a TURN server (TCP or TLS), as a
/// ``TURNAllocationSession`` uses it. The CLI backs it with `NIORuntime.openTCP`; it must cut
/// the stream into whole STUN messages and ChannelData frames (RFC 8656 §12.5) itself.
///
/// All calls and callbacks happen on the owning runtime's serial context.
public protocol TURNStreamTransport: AnyObject {
  /// Writes one whole frame (queued until the connection is up).
  func send(_ bytes: [UInt8])
  /// Closes the connection; no callbacks after this returns.
  func close()
  /// Set by the session: called with each whole frame that arrives.
  var onFrame: (([UInt8]) -> Void)? { get set }
  /// Set by the session: called once when the connection ends other than by ``close()``, with
  /// the reason in words.
  var onClose: ((String) -> Void)? { get set }
}
