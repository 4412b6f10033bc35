/// A TURN ChannelData message (RFC 8656 §12): channel number, length, application data.
///
/// Decoding keeps a slice of the caller's bytes (no copy). Over TCP the message is padded to a
/// multiple of 4; over UDP padding is optional, and decoding accepts both.
public struct ChannelData: Hashable, Sendable {
  /// The channel number, 0x4000–0x4FFF.
  public var channel: UInt16
  /// The application data; when decoded, its indices are offsets into the input.
  public var payload: ArraySlice<UInt8>

  /// The valid channel numbers.
  public static let channelRange: ClosedRange<UInt16> = 0x4000...0x4FFF

  public init(channel: UInt16, payload: ArraySlice<UInt8>) {
    self.channel = channel
    self.payload = payload
  }

  /// Decodes one ChannelData message that fills `bytes` (with or without padding to 4).
  public init(bytes: [UInt8]) throws(STUNError) {
    try self.init(slice: bytes[...])
  }

  /// Decodes one ChannelData message that fills `slice`; error offsets are indices of `slice`.
  public init(slice bytes: ArraySlice<UInt8>) throws(STUNError) {
    let start = bytes.startIndex
    guard bytes.count >= 4 else {
      throw STUNError(.truncated(needed: 4, available: bytes.count), at: start)
    }
    let channel = bytes.be16(0)
    guard Self.channelRange.contains(channel) else {
      throw STUNError(.badChannelNumber(channel), at: start)
    }
    let length = Int(bytes.be16(2))
    let available = bytes.count - 4
    guard length <= available else {
      throw STUNError(.truncated(needed: 4 + length, available: bytes.count), at: start + 2)
    }
    let padded = (length + 3) & ~3
    guard available == length || available == padded else {
      throw STUNError(.lengthMismatch(declared: length, actual: available), at: start + 2)
    }
    self.channel = channel
    self.payload = bytes[(start + 4)..<(start + 4 + length)]
  }

  /// The wire form; `padded` pads to a multiple of 4 with zeros (required over TCP).
  /// Payloads longer than 65535 bytes cannot be represented and are cut to that length.
  public func encoded(padded: Bool) -> [UInt8] {
    var out: [UInt8] = []
    encode(into: &out, padded: padded)
    return out
  }

  /// Appends the wire form to `out`.
  public func encode(into out: inout [UInt8], padded: Bool) {
    let length = min(payload.count, 0xFFFF)
    out.reserveCapacity(out.count + 4 + length + 3)
    out.appendBE16(channel)
    out.appendBE16(UInt16(length))
    out.append(contentsOf: payload.prefix(length))
    if padded {
      for _ in 0..<((4 - length & 3) & 3) { out.append(0) }
    }
  }
}
