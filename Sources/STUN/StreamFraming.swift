/// Splitting a TCP (or TLS) byte stream into STUN messages and ChannelData messages
/// (RFC 8489 §6.2.2, RFC 8656 §12.5). Pure functions over a buffer; no I/O.
public enum StreamFraming {
  /// What the next frame in a stream buffer is.
  public enum Frame: Hashable, Sendable {
    /// A STUN message of `length` bytes (20 + message length).
    case stun(length: Int)
    /// A ChannelData message of `length` bytes (4 + data length padded to 4).
    case channelData(length: Int)

    /// The frame's total size in bytes.
    public var length: Int {
      switch self {
      case .stun(let l), .channelData(let l): return l
      }
    }
  }

  /// The next frame at the start of `buffer`, or nil when fewer than 4 bytes are there (or 8 for
  /// STUN, to see the magic cookie). The frame may extend past the buffer: wait for
  /// `frame.length` bytes before taking it.
  ///
  /// - Throws: ``STUNError`` when the stream is not STUN/ChannelData or a header is impossible;
  ///   the connection cannot be resynchronised and should be closed.
  public static func nextFrame(in buffer: ArraySlice<UInt8>) throws(STUNError) -> Frame? {
    guard buffer.count >= 4 else { return nil }
    let first = buffer.byte(0)
    let length = Int(buffer.be16(2))
    switch first {
    case 0...3:
      guard buffer.count >= 8 else { return nil }
      let cookie = buffer.be32(4)
      guard cookie == stunMagicCookie else {
        throw STUNError(.badMagicCookie(cookie), at: buffer.startIndex + 4)
      }
      guard length & 3 == 0 else {
        throw STUNError(.lengthNotMultipleOfFour(length), at: buffer.startIndex + 2)
      }
      return .stun(length: 20 + length)
    case 0x40...0x4F:
      return .channelData(length: 4 + ((length + 3) & ~3))
    default:
      throw STUNError(
        .invalidValue(
          "the stream byte 0x\(hex(first, digits: 2)) starts neither STUN nor ChannelData"),
        at: buffer.startIndex)
    }
  }

  /// Convenience for a whole array.
  public static func nextFrame(in buffer: [UInt8]) throws(STUNError) -> Frame? {
    try nextFrame(in: buffer[...])
  }

  /// How many bytes the next frame needs in total, or nil when the header is not yet complete.
  public static func bytesNeeded(_ buffer: ArraySlice<UInt8>) throws(STUNError) -> Int? {
    try nextFrame(in: buffer)?.length
  }

  /// Splits off every complete frame at the start of `buffer`.
  ///
  /// - Returns: the frames' ranges (indices of `buffer`) and how many bytes they consume; keep the
  ///   rest for the next read.
  public static func split(_ buffer: ArraySlice<UInt8>) throws(STUNError) -> (
    frames: [Range<Int>], consumed: Int
  ) {
    var frames: [Range<Int>] = []
    var i = buffer.startIndex
    while let frame = try nextFrame(in: buffer[i...]), frame.length <= buffer.endIndex - i {
      frames.append(i..<(i + frame.length))
      i += frame.length
    }
    return (frames, i - buffer.startIndex)
  }
}
