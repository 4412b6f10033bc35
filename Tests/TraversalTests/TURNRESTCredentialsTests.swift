import STUN
import Testing
import Traversal

@Suite struct TURNRESTCredentialsTests {
  @Test func restAPICredentialsExpireADayFromNow() {
    let c = TURNCredentials.restAPI(secret: "north-secret", user: "alice", now: 1_767_139_200)
    #expect(c.username == "1767225600:alice")
    // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
    //   b"north-secret", b"1767225600:alice", hashlib.sha1).digest()).decode())'
    #expect(c.password == "PtgFkMyqgR4om/PGc3sDV5OnNo8=")
    #expect(!c.description.contains(c.password))
    #expect(!String(reflecting: c).contains(c.password))
  }

  @Test func restAPIWithoutUserAndOwnValidity() {
    let c = TURNCredentials.restAPI(secret: "s", user: nil, now: 1_699_999_000, validity: 1000)
    #expect(c.username == "1700000000")
    #expect(c.password == "+Glc4MCnwtKtbonw0/9y0Y8aysA=")
  }
}
