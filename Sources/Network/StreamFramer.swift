import Runtime

/// One message cut from a STUN-over-TCP byte stream (RFC 8489 §6.2.2, RFC 8656 §12.5).
public enum StreamFrame: Equatable, Sendable {
  /// A whole STUN message: the 20-byte header and its attributes.
  case stun([UInt8])
  /// A ChannelData message: the 4-byte header and the data, without the TCP padding.
  case channelData([UInt8])

  /// The frame's bytes.
  public var bytes: [UInt8] {
    switch self {
    case .stun(let b), .channelData(let b): return b
    }
  }
}

/// Why a byte stream cannot be framed; the connection should be closed with this reason.
public struct StreamFramingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Offset of the bad frame in the stream.
  public var offset: Int
  /// One sentence.
  public var message: String

  /// Creates an error at stream `offset`.
  public init(offset: Int, message: String) {
    self.offset = offset
    self.message = message
  }

  /// "bad STUN stream at byte N: ..."
  public var description: String { "bad STUN stream at byte \(offset): \(message)" }
}

/// Cuts a TCP byte stream into STUN messages and ChannelData frames.
///
/// A STUN message (first two bits 00) is 20 bytes of header plus the length at bytes 2–3,
/// which must be a multiple of 4, and carries the magic cookie 0x2112A442 at bytes 4–7. A
/// ChannelData frame (first two bits 01, channel 0x4000–0x4FFF) is 4 bytes plus the length at
/// bytes 2–3, padded to a multiple of 4 on a stream. Anything else is an error, after which the
/// framer stays failed. Pure: no I/O, never traps.
public struct StreamFramer: Sendable {
  /// The largest frame accepted, header included.
  public let maximumFrameLength: Int
  private var buffer: [UInt8] = []
  private var start = 0
  /// Stream offset of `buffer[start]`.
  private var consumed = 0
  private var failure: StreamFramingError?

  /// - Parameter maximumFrameLength: frames longer than this (header included) are refused;
  ///   the default admits every length the 16-bit field can say.
  public init(maximumFrameLength: Int = 20 + 65_535) {
    self.maximumFrameLength = maximumFrameLength
  }

  /// Bytes received but not yet returned as frames.
  public var bufferedByteCount: Int { buffer.count - start }

  /// Adds received bytes.
  public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
    if start > 0 && start >= buffer.count / 2 {
      buffer.removeFirst(start)
      start = 0
    }
    buffer.append(contentsOf: bytes)
  }

  /// The next complete frame, nil when more bytes are needed.
  public mutating func next() throws(StreamFramingError) -> StreamFrame? {
    if let failure { throw failure }
    let available = buffer.count - start
    guard available >= 4 else { return nil }
    let b0 = buffer[start]
    let length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
    switch b0 >> 6 {
    case 0:
      guard length % 4 == 0 else {
        return try fail("STUN message length \(length) is not a multiple of 4")
      }
      guard 20 + length <= maximumFrameLength else {
        return try fail(
          "STUN message of \(20 + length) bytes exceeds the \(maximumFrameLength)-byte limit")
      }
      guard available >= 8 else { return nil }
      let cookie =
        UInt32(buffer[start + 4]) << 24 | UInt32(buffer[start + 5]) << 16
        | UInt32(buffer[start + 6]) << 8 | UInt32(buffer[start + 7])
      guard cookie == 0x2112_A442 else {
        return try fail("no STUN magic cookie (found 0x\(String(cookie, radix: 16)))")
      }
      guard available >= 20 + length else { return nil }
      return .stun(take(20 + length, skipping: 0))
    case 1:
      let channel = UInt16(b0) << 8 | UInt16(buffer[start + 1])
      guard channel <= 0x4FFF else {
        return try fail("ChannelData channel 0x\(String(channel, radix: 16)) is reserved")
      }
      let padded = (length + 3) & ~3
      guard 4 + length <= maximumFrameLength else {
        return try fail(
          "ChannelData of \(4 + length) bytes exceeds the \(maximumFrameLength)-byte limit")
      }
      guard available >= 4 + padded else { return nil }
      return .channelData(take(4 + length, skipping: padded - length))
    default:
      return try fail(
        "first byte 0x\(String(b0, radix: 16)) starts neither a STUN message nor ChannelData")
    }
  }

  /// All complete frames now buffered.
  public mutating func drain() throws(StreamFramingError) -> [StreamFrame] {
    var out: [StreamFrame] = []
    while let frame = try next() { out.append(frame) }
    return out
  }

  private mutating func take(_ count: Int, skipping padding: Int) -> [UInt8] {
    let frame = Array(buffer[start..<(start + count)])
    start += count + padding
    consumed += count + padding
    if start == buffer.count {
      buffer.removeAll(keepingCapacity: true)
      start = 0
    }
    return frame
  }

  private mutating func fail(_ message: String) throws(StreamFramingError) -> StreamFrame? {
    let error = StreamFramingError(offset: consumed, message: message)
    failure = error
    buffer = []
    start = 0
    throw error
  }
}
