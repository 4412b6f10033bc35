import STUN
import Testing

@Suite struct ChannelDataTests {
  @Test func encodeDecodeUnpaddedAndPadded() throws {
    let cd = ChannelData(channel: 0x4001, payload: Array("hello".utf8)[...])
    let udp = cd.encoded(padded: false)
    #expect(udp == [0x40, 0x01, 0x00, 0x05] + Array("hello".utf8))
    let tcp = cd.encoded(padded: true)
    #expect(tcp.count == 12)
    #expect(try ChannelData(bytes: udp) == ChannelData(channel: 0x4001, payload: udp[4..<9]))
    let fromTCP = try ChannelData(bytes: tcp)
    #expect(Array(fromTCP.payload) == Array("hello".utf8))
    #expect(PacketKind.classify(udp) == .channelData)
  }

  @Test func rejectsBadInput() {
    #expect(throws: STUNError(.truncated(needed: 4, available: 3), at: 0)) {
      try ChannelData(bytes: [0x40, 0, 0])
    }
    #expect(throws: STUNError(.badChannelNumber(0x5000), at: 0)) {
      try ChannelData(bytes: [0x50, 0, 0, 0])
    }
    #expect(throws: STUNError(.truncated(needed: 9, available: 8), at: 2)) {
      try ChannelData(bytes: [0x40, 0, 0, 5, 1, 2, 3, 4])
    }
    #expect(throws: STUNError(.lengthMismatch(declared: 1, actual: 2), at: 2)) {
      try ChannelData(bytes: [0x40, 0, 0, 1, 1, 2])
    }
  }

  @Test func classifiesFirstBytes() throws {
    #expect(PacketKind.classify(Vectors.request) == .stun)
    #expect(PacketKind.classify([UInt8]()) == .other)
    #expect(PacketKind.classify([0x00, 0x01]) == .other)
    var noCookie = Vectors.request
    noCookie[4] = 0
    #expect(PacketKind.classify(noCookie) == .other)
    #expect(PacketKind.classify([17]) == .zrtp)
    #expect(PacketKind.classify([22, 0xFE, 0xFD]) == .dtls)
    #expect(PacketKind.classify([0x80, 0x60]) == .rtp)
    #expect(PacketKind.classify([191]) == .rtp)
    #expect(PacketKind.classify([192]) == .other)
    #expect(PacketKind.classify([79]) == .channelData)
    #expect(PacketKind.classify([80]) == .other)
    #expect(PacketKind.classify(([0xFF] + Vectors.request)[1...]) == .stun)
  }

  @Test func framesATCPStream() throws {
    let cd = ChannelData(channel: 0x4002, payload: [1, 2, 3, 4, 5][...]).encoded(padded: true)
    let empty = ChannelData(channel: 0x4003, payload: [][...]).encoded(padded: true)
    let stream = Vectors.ipv4Response + cd + empty + Vectors.request.prefix(10)
    let (frames, consumed) = try StreamFraming.split(stream[...])
    #expect(frames == [0..<80, 80..<92, 92..<96])
    #expect(consumed == 96)
    #expect(try StreamFraming.nextFrame(in: stream[96...]) == .stun(length: 108))
    #expect(try StreamFraming.nextFrame(in: [0x40, 0x00]) == nil)
    #expect(try StreamFraming.nextFrame(in: [0x40, 0x00, 0x00, 0x05]) == .channelData(length: 12))
    #expect(try StreamFraming.nextFrame(in: [0x00, 0x01, 0x00, 0x00, 0x21]) == nil)
    #expect(throws: STUNError.self) { try StreamFraming.nextFrame(in: [0x80, 0, 0, 0]) }
    #expect(throws: STUNError(.lengthNotMultipleOfFour(2), at: 2)) {
      try StreamFraming.nextFrame(in: [0, 1, 0, 2, 0x21, 0x12, 0xA4, 0x42])
    }
    #expect(throws: STUNError(.badMagicCookie(0x0102_0304), at: 4)) {
      try StreamFraming.nextFrame(in: [0, 1, 0, 0, 1, 2, 3, 4])
    }
    for f in frames {
      let bytes = Array(stream[f])
      switch PacketKind.classify(bytes) {
      case .stun: #expect(throws: Never.self) { try Message(bytes: bytes) }
      case .channelData: #expect(throws: Never.self) { try ChannelData(bytes: bytes) }
      default: Issue.record("unexpected frame kind")
      }
    }
  }
}
