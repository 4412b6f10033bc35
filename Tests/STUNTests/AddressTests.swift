import STUN
import Testing

@Suite struct AddressTests {
  @Test func parsesAndPrintsIPv4() {
    #expect(IPAddress("192.0.2.1") == .v4(0xC000_0201))
    #expect(IPAddress("192.0.2.1")?.description == "192.0.2.1")
    #expect(IPAddress("256.0.0.1") == nil)
    #expect(IPAddress("1.2.3") == nil)
    #expect(IPAddress("01234.1.1.1") == nil)
  }

  @Test func parsesAndPrintsIPv6Canonically() {
    #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
    #expect(IPAddress("2001:0DB8:0:0:0:0:0:1")?.description == "2001:db8::1")
    #expect(IPAddress("::")?.description == "::")
    #expect(IPAddress("::1") == .loopbackV6)
    #expect(IPAddress("::ffff:192.0.2.1")?.description == "::ffff:c000:201")
    #expect(IPAddress("2001:db8:0:1:1:1:1:1")?.description == "2001:db8:0:1:1:1:1:1")
    #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
    #expect(IPAddress("1::2::3") == nil)
    #expect(IPAddress("12345::") == nil)
  }

  @Test func bytesRoundTrip() {
    for text in ["203.0.113.9", "2001:db8:1234::abcd", "::1", "0.0.0.0"] {
      let ip = IPAddress(text)
      #expect(ip != nil)
      if let ip { #expect(IPAddress(bytes: ip.bytes) == ip) }
    }
    #expect(IPAddress(bytes: [1, 2, 3]) == nil)
  }

  @Test func transportAddressText() {
    #expect(TransportAddress("198.51.100.7:3478")?.port == 3478)
    #expect(TransportAddress("[2001:db8::2]:19302")?.description == "[2001:db8::2]:19302")
    #expect(TransportAddress("2001:db8::2:19302") == nil)
    #expect(TransportAddress("198.51.100.7:70000") == nil)
  }

  @Test func classifiesSpecialRanges() {
    #expect(IPAddress("127.1.2.3")?.isLoopback == true)
    #expect(IPAddress("169.254.1.1")?.isLinkLocal == true)
    #expect(IPAddress("fe80::1")?.isLinkLocal == true)
    #expect(IPAddress("10.1.1.1")?.isPrivate == true)
    #expect(IPAddress("100.64.0.1")?.isPrivate == true)
    #expect(IPAddress("172.16.0.1")?.isPrivate == true)
    #expect(IPAddress("172.32.0.1")?.isPrivate == false)
    #expect(IPAddress("203.0.113.1")?.isPrivate == false)
  }

  @Test func transactionIDBytes() {
    let bytes: [UInt8] = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae]
    let id = TransactionID(bytes: bytes)
    #expect(id?.bytes == bytes)
    #expect(id?.description == "b7e7a701bc34d686fa87dfae")
    #expect(TransactionID(bytes: bytes.dropLast()) == nil)
  }
}
