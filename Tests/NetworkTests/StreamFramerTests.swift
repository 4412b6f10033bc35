import Network
import Report
import Sessions
import Testing

/// A syntactically valid STUN message with `bodyLength` bytes of attributes (a multiple of 4).
func stunMessage(bodyLength: Int, seed: UInt8 = 1) -> [UInt8] {
  var m: [UInt8] = [0x00, 0x01, UInt8(bodyLength >> 8), UInt8(bodyLength & 0xFF)]
  m += [0x21, 0x12, 0xA4, 0x42]
  m += (0..<12).map { UInt8(truncatingIfNeeded: Int(seed) &+ $0) }
  m += (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
  return m
}

/// A ChannelData frame on channel 0x4001 and its padding to 4 bytes.
func channelData(_ data: [UInt8]) -> (frame: [UInt8], padded: [UInt8]) {
  let frame = [0x40, 0x01, UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
  let padding = [UInt8](repeating: 0, count: (4 - data.count % 4) % 4)
  return (frame, frame + padding)
}

@Suite("Stream framing")
struct StreamFramerTests {
  @Test func wholeMessagesOneByOne() throws {
    var framer = StreamFramer()
    let a = stunMessage(bodyLength: 8)
    framer.append(a)
    #expect(try framer.next() == .stun(a))
    #expect(try framer.next() == nil)
    #expect(framer.bufferedByteCount == 0)
  }

  @Test func coalescedMessagesAndChannelData() throws {
    var framer = StreamFramer()
    let a = stunMessage(bodyLength: 0, seed: 1)
    let b = channelData([1, 2, 3, 4, 5])
    let c = stunMessage(bodyLength: 12, seed: 9)
    let d = channelData([])
    let e = channelData([7, 7, 7, 7])
    framer.append(a + b.padded + c + d.padded + e.padded)
    #expect(
      try framer.drain() == [
        .stun(a), .channelData(b.frame), .stun(c), .channelData(d.frame), .channelData(e.frame),
      ])
    #expect(framer.bufferedByteCount == 0)
  }

  @Test(arguments: [1, 2, 3, 5, 7, 19, 20, 21])
  func splitAtEveryChunkSize(_ chunk: Int) throws {
    let a = stunMessage(bodyLength: 24, seed: 3)
    let b = channelData([9, 8, 7])
    let c = stunMessage(bodyLength: 4, seed: 4)
    let stream = a + b.padded + c
    var framer = StreamFramer()
    var frames: [StreamFrame] = []
    var i = 0
    while i < stream.count {
      framer.append(stream[i..<min(i + chunk, stream.count)])
      frames += try framer.drain()
      i += chunk
    }
    #expect(frames == [.stun(a), .channelData(b.frame), .stun(c)])
  }

  @Test func partialHeaderWaits() throws {
    var framer = StreamFramer()
    framer.append([0x00, 0x01, 0x00])
    #expect(try framer.next() == nil)
    framer.append([0x00, 0x21, 0x12, 0xA4])
    #expect(try framer.next() == nil)
    #expect(framer.bufferedByteCount == 7)
  }

  static let bad: [([UInt8], String)] = [
    ([0x80, 0x00, 0x00, 0x00], "neither"),
    ([0xC0, 0x00, 0x00, 0x00], "neither"),
    ([0x00, 0x01, 0x00, 0x03, 0x21, 0x12, 0xA4, 0x42], "multiple of 4"),
    ([0x00, 0x01, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF], "magic cookie"),
    ([0x50, 0x00, 0x00, 0x04], "reserved"),
    ([0x7F, 0xFF, 0xFF, 0xFF], "reserved"),
    (Array("SSH-2.0-OpenSSH\r\n".utf8), "reserved"),
    ([0x00, 0x00, 0x00, 0x00, 0x47, 0x45, 0x54, 0x20], "magic cookie"),
  ]

  @Test(arguments: bad)
  func badInputFailsWithAReason(_ bytes: [UInt8], _ fragment: String) {
    var framer = StreamFramer()
    framer.append(bytes)
    do {
      let frame = try framer.next()
      Issue.record("framed \(String(describing: frame))")
    } catch {
      #expect(error.message.contains(fragment), "\(error)")
      #expect(error.offset == 0)
    }
    // Stays failed.
    framer.append(stunMessage(bodyLength: 0))
    #expect(throws: StreamFramingError.self) { try framer.next() }
  }

  @Test func badFrameAfterGoodOnesReportsItsOffset() throws {
    var framer = StreamFramer()
    let a = stunMessage(bodyLength: 4)
    framer.append(a + [0xFF, 0, 0, 0])
    #expect(try framer.next() == .stun(a))
    #expect(
      throws: StreamFramingError(
        offset: a.count, message: "first byte 0xff starts neither a STUN message nor ChannelData")
    ) {
      try framer.next()
    }
  }

  @Test func asciiThatLooksLikeChannelDataWaitsForItsLength() throws {
    // "HTTP" reads as ChannelData on channel 0x4854 with length 0x5450: plausible, so it waits.
    var framer = StreamFramer()
    framer.append(Array("HTTP/1.1 400 Bad\r\n".utf8))
    #expect(try framer.next() == nil)
  }

  @Test func implausibleLengthIsRefusedBeforeBuffering() {
    var framer = StreamFramer(maximumFrameLength: 548)
    framer.append([0x00, 0x01, 0xFF, 0xFC])
    #expect(throws: StreamFramingError.self) { try framer.next() }
    var cd = StreamFramer(maximumFrameLength: 548)
    cd.append([0x40, 0x00, 0x10, 0x00])
    #expect(throws: StreamFramingError.self) { try cd.next() }
  }

  @Test func randomGarbageNeverTraps() {
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<500 {
      var framer = StreamFramer()
      let n = Int.random(in: 0..<64, using: &rng)
      framer.append((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
      for _ in 0..<8 { _ = try? framer.next() }
    }
  }
}
