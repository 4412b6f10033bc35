import STUN
import Testing
import Traversal

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds `input` in pieces of `size` bytes; returns the response (after finish() if needed).
private func parse(_ input: [UInt8], pieces size: Int, finish: Bool = false) throws -> HTTPResponse?
{
  var p = HTTPResponseParser()
  var i = 0
  while i < input.count {
    let end = min(i + size, input.count)
    if let r = try p.feed(input[i..<end]) { return r }
    i = end
  }
  return finish ? try p.finish() : nil
}

@Suite struct HTTPResponseParserTests {
  @Test func contentLengthInAnyPieces() throws {
    let input = bytes(
      "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 11\r\n\r\nhello world")
    for size in [1, 2, 3, 7, 64, 1000] {
      let r = try #require(try parse(input, pieces: size))
      #expect(r.status == 200 && r.reason == "OK")
      #expect(r.bodyText == "hello world")
      #expect(r.header("content-type") == "text/xml")
      #expect(r.header("CONTENT-LENGTH") == "11")
    }
  }

  @Test func chunkedWithExtensionsAndTrailers() throws {
    let input = bytes(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
    for size in 1...9 {
      let r = try #require(try parse(input, pieces: size))
      #expect(r.bodyText == "hello 0123456789")
    }
    // Bytes after the response are ignored.
    var p = HTTPResponseParser()
    let r = try p.feed(input + bytes("garbage"))
    #expect(r?.bodyText == "hello 0123456789" && p.isComplete)
  }

  @Test func readUntilCloseAndBareLineFeeds() throws {
    let input = bytes("HTTP/1.0 200 OK\nServer: tiny\n\n<root/>")
    #expect(try parse(input, pieces: 3) == nil)
    let r = try #require(try parse(input, pieces: 3, finish: true))
    #expect(r.bodyText == "<root/>")
    #expect(r.header("server") == "tiny")
  }

  @Test func interimResponsesAreSkippedAndNoBodyStatuses() throws {
    let input = bytes(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nok"
    )
    let r = try #require(try parse(input, pieces: 4))
    #expect(r.status == 500 && r.reason == "Internal Server Error" && r.bodyText == "ok")
    let empty = try #require(try parse(bytes("HTTP/1.1 204 No Content\r\n\r\n"), pieces: 100))
    #expect(empty.status == 204 && empty.body.isEmpty)
  }

  @Test func byteAtATimeLongHeadIsLinear() throws {
    let head =
      "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789abcdef\r\n", count: 500)
    let input = bytes(head + "Content-Length: 2\r\n\r\nok")
    let r = try #require(try parse(input, pieces: 1))
    #expect(r.headers.count == 501 && r.bodyText == "ok")
  }

  @Test func foldedHeaders() throws {
    let r = try #require(
      try parse(
        bytes("HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nContent-Length: 0\r\n\r\n"), pieces: 5))
    #expect(r.header("x-long") == "one two")
  }

  @Test func errorsSayWhere() {
    func error(_ s: String, finish: Bool = false) -> HTTPParseError? {
      do {
        _ = try parse(bytes(s), pieces: 4, finish: finish)
        return nil
      } catch let e as HTTPParseError {
        return e
      } catch {
        return nil
      }
    }
    #expect(error("SIP/2.0 200 OK\r\n\r\n") == .badStatusLine("SIP/2.0 200 OK"))
    #expect(error("HTTP/1.1 2000 OK\r\n\r\n") == .badStatusLine("HTTP/1.1 2000 OK"))
    #expect(error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") == .badHeaderLine("no colon here"))
    #expect(
      error("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n") == .badContentLength("1x"))
    #expect(
      error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")
        == .badContentLength("3, 4"))
    #expect(
      error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == .badChunkSize("zz"))
    #expect(
      error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n")
        == .missingChunkTerminator)
    #expect(
      error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", finish: true)
        == .truncated(part: "body", received: 3, expected: 10))
    #expect(error("", finish: true) == .closedBeforeResponse)
    #expect(
      error("HTTP/1.1 200", finish: true)
        == .truncated(part: "headers", received: 12, expected: nil))
    #expect(
      HTTPParseError.truncated(part: "body", received: 3, expected: 10).description
        == "HTTP response: the connection closed in the body after 3 of 10 bytes")
  }

  @Test func limits() {
    var small = HTTPResponseParser(maximumHeaderBytes: 64, maximumBodyBytes: 4)
    #expect(throws: HTTPParseError.headersTooLong(limit: 64)) {
      _ = try small.feed(bytes("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 100)))
    }
    var body = HTTPResponseParser(maximumBodyBytes: 4)
    #expect(throws: HTTPParseError.bodyTooLong(limit: 4)) {
      _ = try body.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
    }
    var chunk = HTTPResponseParser(maximumBodyBytes: 4)
    #expect(throws: HTTPParseError.bodyTooLong(limit: 4)) {
      _ = try chunk.feed(
        bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n"))
    }
    var close = HTTPResponseParser(maximumBodyBytes: 4)
    #expect(throws: HTTPParseError.bodyTooLong(limit: 4)) {
      _ = try close.feed(bytes("HTTP/1.1 200 OK\r\n\r\n123456"))
    }
  }
}

@Suite struct HTTPURLTests {
  @Test func parsing() throws {
    let u = try #require(HTTPURL("http://192.168.1.1:5000/rootDesc.xml"))
    #expect(u.host == "192.168.1.1" && u.port == 5000 && u.path == "/rootDesc.xml")
    #expect(u.address == TransportAddress("192.168.1.1:5000"))
    #expect(u.hostHeader == "192.168.1.1:5000")
    #expect(u.description == "http://192.168.1.1:5000/rootDesc.xml")
    let plain = try #require(HTTPURL("HTTP://router.lan"))
    #expect(plain.port == 80 && plain.path == "/" && plain.hostHeader == "router.lan")
    #expect(plain.address == nil)
    let v6 = try #require(HTTPURL("http://[fe80::1]:49000/igd.xml?x=1#frag"))
    #expect(v6.host == "fe80::1" && v6.hostHeader == "[fe80::1]:49000" && v6.path == "/igd.xml?x=1")
    for bad in [
      "https://192.168.1.1/", "ftp://x/", "http://", "http://a b/", "http://host:99999/",
      "http://user@host/", "http://[zz]/", "http://host:/x\u{7}",
    ] {
      #expect(HTTPURL(bad) == nil, "\(bad)")
    }
  }

  @Test func resolution() throws {
    let base = try #require(HTTPURL("http://192.168.1.1:5000/dev/rootDesc.xml"))
    #expect(base.resolving("/ctl/IPConn")?.description == "http://192.168.1.1:5000/ctl/IPConn")
    #expect(base.resolving("ctl/IPConn")?.description == "http://192.168.1.1:5000/dev/ctl/IPConn")
    #expect(base.resolving("../ctl/./IPConn")?.description == "http://192.168.1.1:5000/ctl/IPConn")
    #expect(base.resolving("http://10.0.0.1:1900/x")?.description == "http://10.0.0.1:1900/x")
    #expect(base.resolving("//10.0.0.2/y")?.description == "http://10.0.0.2/y")
    #expect(base.resolving("?q=1")?.description == "http://192.168.1.1:5000/dev/rootDesc.xml?q=1")
    #expect(base.resolving("")?.description == base.description)
    #expect(base.resolving("https://evil/") == nil)
  }
}
