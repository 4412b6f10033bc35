import STUN
import Testing

@Suite struct TURNRESTCredentialTests {
  @Test func usernameIsExpiryAndUser() {
    #expect(TURNRESTCredential.username(expiry: 1_767_225_600, user: "alice") == "1767225600:alice")
    #expect(TURNRESTCredential.username(expiry: 1_700_000_000, user: nil) == "1700000000")
    #expect(TURNRESTCredential.username(expiry: 1_700_000_000, user: "") == "1700000000")
  }

  @Test func passwordMatchesAnIndependentHMAC() {
    // python3: base64.b64encode(hmac.new(b"north-secret", b"1767225600:alice", hashlib.sha1)
    // .digest()) and the same for (b"s", b"1700000000").
    #expect(
      TURNRESTCredential.password(secret: "north-secret", username: "1767225600:alice")
        == "PtgFkMyqgR4om/PGc3sDV5OnNo8=")
    #expect(
      TURNRESTCredential.password(secret: "s", username: "1700000000")
        == "+Glc4MCnwtKtbonw0/9y0Y8aysA=")
    #expect(
      TURNRESTCredential.password(secret: "north-secret", username: "1767225601:alice")
        != "PtgFkMyqgR4om/PGc3sDV5OnNo8=")
  }
}
