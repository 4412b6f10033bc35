import Network
import Report
import STUN
import Sessions
import Testing

@Suite struct TURNServerURITests {
  @Test func parsesRFC7065Forms() throws {
    let a = try TURNServerURI.parse("turn:203.0.113.10")
    #expect(a.server.literal == IPAddress("203.0.113.10") && a.server.port == 3478)
    #expect(a.transport == .udp)
    let b = try TURNServerURI.parse("turn:turn.example.org:5349?transport=tcp")
    #expect(b.server.host == "turn.example.org" && b.server.port == 5349 && b.transport == .tcp)
    let c = try TURNServerURI.parse("[2001:db8::1]:3479?transport=UDP")
    #expect(c.server.literal == IPAddress("2001:db8::1") && c.server.port == 3479)
    #expect(c.description == "turn:[2001:db8::1]:3479?transport=udp")
  }

  @Test func parsesTURNOverTLS() throws {
    let a = try TURNServerURI.parse("turns:turn.example.org")
    #expect(a.secure && a.transport == .tcp && a.server.port == 5349)
    #expect(a.description == "turns:turn.example.org:5349?transport=tcp")
    let b = try TURNServerURI.parse("turns:203.0.113.10:443?transport=tcp")
    #expect(b.secure && b.server.port == 443)
    let c = try TURNServerURI.parse("turns:[2001:db8::1]")
    #expect(c.server.port == 5349 && c.server.literal == IPAddress("2001:db8::1"))
    #expect(!(try TURNServerURI.parse("turn:203.0.113.10")).secure)
  }

  @Test(arguments: [
    // turns: is TLS over TCP; DTLS is refused (connect refuses turns: itself: ConnectCommandTests).
    ("turns:203.0.113.10?transport=udp", "DTLS"), ("stun:203.0.113.10", "STUN server URI"),
    ("turn:203.0.113.10?transport=sctp", "use udp or tcp"),
    ("turn:203.0.113.10?foo=bar", "unknown query"), ("turn:", "names no host"),
    ("http://203.0.113.10", "is not a TURN server URI; write turn:host"),
  ])
  func refusesWithOneSentence(_ text: String, _ words: String) {
    #expect {
      _ = try TURNServerURI.parse(text)
    } throws: { error in
      (error as? ServerAddressError)?.message.contains(words) == true
    }
  }
}
