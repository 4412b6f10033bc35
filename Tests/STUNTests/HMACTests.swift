import Testing

@testable import STUN

/// The prepared HMAC against RFC 2202 (SHA-1) and RFC 4231 (SHA-256) vectors, including keys
/// longer than the hash block.
@Suite struct HMACTests {
  let longKeyData = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
  let jefeData = Array("what do ya want for nothing?".utf8)

  @Test func sha1() {
    #expect(
      IntegrityKey(bytes: [UInt8](repeating: 0x0b, count: 20)).hmacSHA1(Array("Hi There".utf8))
        == hex("b617318655057264e28bc0b6fb378c8ef146be00"))
    #expect(
      IntegrityKey(bytes: Array("Jefe".utf8)).hmacSHA1(jefeData)
        == hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
    #expect(
      IntegrityKey(bytes: [UInt8](repeating: 0xaa, count: 80)).hmacSHA1(longKeyData)
        == hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"))
  }

  @Test func sha256() {
    #expect(
      IntegrityKey(bytes: Array("Jefe".utf8)).hmacSHA256(jefeData)
        == hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    #expect(
      IntegrityKey(bytes: [UInt8](repeating: 0xaa, count: 131)).hmacSHA256(longKeyData)
        == hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
    #expect(
      IntegrityKey(bytes: [UInt8](repeating: 0x01, count: 64)).hmacSHA256([])
        == hex("11581ebc1f05ecefdee13d63845c1a43b219a7bc8e0e90d3396baeb2a55677d7"))
  }
}
