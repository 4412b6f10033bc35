import Network
import Testing

@Suite struct STUNServerURITests {
  @Test(arguments: [
    ("stuns:stun.example.org", "stun.example.org", 5349, true),
    ("STUNS:stun.example.org:443", "stun.example.org", 443, true),
    ("stuns://192.0.2.1", "192.0.2.1", 5349, true),
    ("stuns:[2001:db8::1]", "2001:db8::1", 5349, true),
    ("stuns:[2001:db8::1]:8443", "2001:db8::1", 8443, true),
    ("stun:stun.example.org", "stun.example.org", 3478, false),
    ("192.0.2.1:19302", "192.0.2.1", 19302, false),
  ])
  func parses(_ input: String, _ host: String, _ port: Int, _ secure: Bool) throws {
    let uri = try STUNServerURI.parse(input)
    #expect(uri.server.host == host)
    #expect(Int(uri.server.port) == port)
    #expect(uri.secure == secure)
  }

  @Test func serverNameIsTheHostNameOnly() throws {
    #expect(try STUNServerURI.parse("stuns:Stun.Example.org").serverName == "stun.example.org")
    #expect(try STUNServerURI.parse("stuns:192.0.2.1").serverName == nil)
    #expect(
      try STUNServerURI.parse("stuns:stun.example.org").description
        == "stuns:stun.example.org:5349")
  }

  @Test(arguments: [
    ("stuns:", "no host"), ("stuns:host:0", "port 0"), ("stuns:host?transport=udp", "query"),
    ("stuns:stun:host", "not a STUN server URI"), ("turns:host", "TURN"),
  ])
  func refuses(_ input: String, _ fragment: String) {
    do {
      _ = try STUNServerURI.parse(input)
      Issue.record("\(input) was accepted")
    } catch {
      #expect(error.message.contains(fragment), "\(error.message)")
    }
  }
}
