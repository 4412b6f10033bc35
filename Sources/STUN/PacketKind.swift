/// What a datagram on a shared socket is, by its first byte (RFC 7983 §7).
public enum PacketKind: Hashable, Sendable {
  /// 0–3, with a sane STUN header (20 bytes or more, magic cookie, length a multiple of 4).
  case stun
  /// 16–19.
  case zrtp
  /// 20–63.
  case dtls
  /// 64–79: TURN ChannelData.
  case channelData
  /// 128–191: RTP or RTCP.
  case rtp
  /// Anything else, including 0–3 without a STUN header, and empty input.
  case other

  /// Classifies one datagram.
  public static func classify<C: RandomAccessCollection>(_ bytes: C) -> PacketKind
  where C.Element == UInt8 {
    guard let first = bytes.first else { return .other }
    switch first {
    case 0...3:
      guard bytes.count >= 20 else { return .other }
      let s = bytes.startIndex
      func at(_ k: Int) -> UInt32 { UInt32(bytes[bytes.index(s, offsetBy: k)]) }
      let cookie = at(4) << 24 | at(5) << 16 | at(6) << 8 | at(7)
      let length = at(2) << 8 | at(3)
      return cookie == stunMagicCookie && length & 3 == 0 ? .stun : .other
    case 16...19: return .zrtp
    case 20...63: return .dtls
    case 64...79: return .channelData
    case 128...191: return .rtp
    default: return .other
    }
  }
}
