import STUN
import Testing

@Suite struct CredentialTests {
  @Test func opaqueString() throws {
    #expect(try OpaqueString.prepare("abc") == "abc")
    #expect(try OpaqueString.prepare("a\u{00A0}b\u{3000}c") == "a b c")
    // NFC: e + combining acute becomes U+00E9.
    #expect(Array(try OpaqueString.prepare("e\u{301}").utf8) == [0xC3, 0xA9])
    #expect(throws: CredentialError.self) { try OpaqueString.prepare("") }
    #expect(throws: CredentialError.self) { try OpaqueString.prepare("a\u{7}b") }
    #expect(throws: CredentialError.self) { try OpaqueString.prepare("a\u{AD}b") }
    #expect(throws: CredentialError.self) { try OpaqueString.prepare("\u{FFFF}") }
  }

  @Test func shortTermKeyIsThePassword() throws {
    #expect(
      try IntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt").bytes
        == Array("VOkJxbRl1RmTxUk/WvJxBt".utf8))
  }

  @Test func longTermKeys() throws {
    // MD5("user:realm:pass") and SHA-256 of the same, computed independently.
    let md5 = try IntegrityKey.longTerm(username: "user", realm: "realm", password: "pass")
    #expect(md5.bytes == hex("8493fbc53ba582fb4c044c456bdc40eb"))
    let sha = try IntegrityKey.longTerm(
      username: "user", realm: "realm", password: "pass", algorithm: .sha256)
    #expect(sha.bytes == hex("07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b"))
    #expect(throws: CredentialError.self) {
      try IntegrityKey.longTerm(
        username: "u", realm: "r", password: "p", algorithm: PasswordAlgorithm(rawValue: 7))
    }
  }

  @Test func userhash() throws {
    let h = try Userhash.compute(username: "user", realm: "realm")
    #expect(h.hash == hex("6a3029116b47aa98bcaa325399733dc1a23cd57e26b81bef3ff6531ce624e2da"))
    #expect(h == (try Userhash.compute(username: "user", realm: "realm")))
    #expect(h != (try Userhash.compute(username: "user2", realm: "realm")))
  }
}

@Suite struct ChecksumTests {
  @Test func crc32CheckValue() {
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(CRC32.checksum([]) == 0)
    // Slicing-by-8 against the bytewise definition, for every length up to 40.
    let data = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    for n in 0...data.count {
      var c: UInt32 = 0xFFFF_FFFF
      for b in data.prefix(n) {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      }
      #expect(CRC32.checksum(Array(data.prefix(n))) == ~c)
    }
  }
}

@Suite struct IntegrityKeyRedactionTests {
  @Test func keyBytesNeverPrint() throws {
    let key = try IntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
    var dumped = ""
    dump(key, to: &dumped)
    for text in ["\(key)", String(describing: key), String(reflecting: key), dumped] {
      #expect(!text.contains("VOkJ"))
      #expect(!text.contains(key.bytes.map(String.init).joined(separator: ", ")))
      #expect(!text.contains("86"))  // 'V' = 86, the first key byte
    }
  }
}
