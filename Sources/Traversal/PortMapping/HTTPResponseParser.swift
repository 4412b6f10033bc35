/// One HTTP header line.
public struct HTTPHeader: Sendable, Hashable {
  public var name: String
  public var value: String

  public init(name: String, value: String) {
    self.name = name
    self.value = value
  }
}

/// A complete HTTP/1.x response.
public struct HTTPResponse: Sendable, Hashable {
  /// The status code, for example 200 or 500.
  public var status: Int
  /// The reason phrase as sent (may be empty).
  public var reason: String
  /// The headers in order.
  public var headers: [HTTPHeader]
  /// The body, de-chunked.
  public var body: [UInt8]

  public init(status: Int, reason: String, headers: [HTTPHeader], body: [UInt8]) {
    self.status = status
    self.reason = reason
    self.headers = headers
    self.body = body
  }

  /// The first header called `name` (case-insensitive), trimmed.
  public func header(_ name: String) -> String? {
    let n = name.lowercased()
    return headers.first { $0.name.lowercased() == n }?.value
  }

  /// The body as text (invalid UTF-8 repaired).
  public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why bytes are not an HTTP/1.x response, or stopped before one was complete.
public enum HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The status line is not `HTTP/1.x NNN reason`.
  case badStatusLine(String)
  /// A header line has no colon, or a bad name.
  case badHeaderLine(String)
  /// The status line and headers are longer than the limit.
  case headersTooLong(limit: Int)
  /// Content-Length is not a number, or two disagree.
  case badContentLength(String)
  /// A chunk-size line is not hexadecimal.
  case badChunkSize(String)
  /// A chunk's data is not followed by CRLF.
  case missingChunkTerminator
  /// The body is longer than the limit.
  case bodyTooLong(limit: Int)
  /// The connection closed before anything arrived.
  case closedBeforeResponse
  /// The connection closed in the middle of `part` (headers, body, chunk).
  case truncated(part: String, received: Int, expected: Int?)

  public var description: String {
    switch self {
    case .badStatusLine(let l):
      return "HTTP response: status line \"\(WireText.display(l))\" is not 'HTTP/1.x code reason'"
    case .badHeaderLine(let l):
      return "HTTP response: header line \"\(WireText.display(l))\" is not 'Name: value'"
    case .headersTooLong(let n):
      return "HTTP response: status line and headers exceed \(n) bytes"
    case .badContentLength(let v):
      return "HTTP response: Content-Length \"\(WireText.display(v))\" is not one number"
    case .badChunkSize(let l):
      return "HTTP response: chunk size line \"\(WireText.display(l))\" is not hexadecimal"
    case .missingChunkTerminator:
      return "HTTP response: a chunk's data is not followed by CRLF"
    case .bodyTooLong(let n):
      return "HTTP response: body exceeds \(n) bytes"
    case .closedBeforeResponse:
      return "HTTP response: the connection closed before any response arrived"
    case .truncated(let part, let got, let expected):
      let of = expected.map { " of \($0)" } ?? ""
      return "HTTP response: the connection closed in the \(part) after \(got)\(of) bytes"
    }
  }
}

/// An incremental HTTP/1.x response parser: feed it bytes as they arrive; it returns the
/// response once complete. It handles Content-Length, chunked transfer coding (with trailers)
/// and bodies that end when the connection closes (call ``finish()``), skips 1xx interim
/// responses, and never traps on hostile input (sizes are capped).
///
/// ```swift
/// var p = HTTPResponseParser()
/// if let r = try p.feed(someBytes) { … }   // nil: need more
/// let r = try p.finish()                   // at end of stream
/// ```
public struct HTTPResponseParser: Sendable {
  private enum State: Sendable, Hashable {
    case head
    case fixed(remaining: Int)
    case chunkSize
    case chunkData(remaining: Int)
    case chunkEnd
    case trailers
    case untilClose
    case done
  }

  /// The most bytes the status line and headers may take.
  public let maximumHeaderBytes: Int
  /// The most bytes the body may take.
  public let maximumBodyBytes: Int
  /// True when the request was HEAD (the response then has no body).
  public let isHeadRequest: Bool

  private var state: State = .head
  private var buffer: [UInt8] = []
  private var cursor = 0
  private var scanFrom = 0
  private var status = 0
  private var reason = ""
  private var headers: [HTTPHeader] = []
  private var body: [UInt8] = []
  private var expectedLength: Int?
  private var received = 0
  private var result: HTTPResponse?

  public init(
    maximumHeaderBytes: Int = 16 * 1024, maximumBodyBytes: Int = 1024 * 1024,
    isHeadRequest: Bool = false
  ) {
    self.maximumHeaderBytes = max(64, maximumHeaderBytes)
    self.maximumBodyBytes = max(0, maximumBodyBytes)
    self.isHeadRequest = isHeadRequest
  }

  /// The response, once complete.
  public var response: HTTPResponse? { result }

  /// True once a complete response has been parsed.
  public var isComplete: Bool { state == .done }

  /// Total bytes fed so far.
  public private(set) var bytesFed = 0

  /// Feeds bytes; returns the response when it is complete (and every later call returns it
  /// again, ignoring further bytes), nil while more is needed.
  public mutating func feed(_ bytes: some Sequence<UInt8>) throws(HTTPParseError) -> HTTPResponse? {
    if let result { return result }
    let before = buffer.count
    buffer.append(contentsOf: bytes)
    bytesFed += buffer.count - before
    try run()
    return result
  }

  /// Tells the parser the connection closed; returns the response, or throws if the stream
  /// ended early.
  public mutating func finish() throws(HTTPParseError) -> HTTPResponse {
    if let result { return result }
    switch state {
    case .untilClose:
      return complete()
    case .head:
      if bytesFed == 0 { throw .closedBeforeResponse }
      throw .truncated(part: "headers", received: buffer.count - cursor, expected: nil)
    case .fixed:
      throw .truncated(part: "body", received: received, expected: expectedLength)
    case .chunkSize, .chunkData, .chunkEnd, .trailers:
      throw .truncated(part: "chunked body", received: received, expected: nil)
    case .done:
      return complete()
    }
  }

  // MARK: - Internals

  private mutating func run() throws(HTTPParseError) {
    while true {
      switch state {
      case .done:
        return
      case .head:
        guard let end = headEnd() else {
          if buffer.count - cursor > maximumHeaderBytes {
            throw .headersTooLong(limit: maximumHeaderBytes)
          }
          // Resume the search where it stopped (less the 3 bytes of a split terminator), so
          // byte-at-a-time input costs linear time.
          scanFrom = max(cursor, buffer.count - 3)
          return
        }
        if end.bodyStart - cursor > maximumHeaderBytes + 4 {
          throw .headersTooLong(limit: maximumHeaderBytes)
        }
        try parseHead(Array(buffer[cursor..<end.headEnd]))
        cursor = end.bodyStart
      case .fixed(let remaining):
        let n = min(remaining, buffer.count - cursor)
        body += buffer[cursor..<cursor + n]
        cursor += n
        received += n
        if remaining - n == 0 {
          _ = complete()
          return
        }
        state = .fixed(remaining: remaining - n)
        compact()
        return
      case .untilClose:
        let n = buffer.count - cursor
        guard body.count + n <= maximumBodyBytes else {
          throw .bodyTooLong(limit: maximumBodyBytes)
        }
        body += buffer[cursor...]
        received += n
        cursor = buffer.count
        compact()
        return
      case .chunkSize:
        guard let line = takeLine() else {
          if buffer.count - cursor > 1024 { throw .badChunkSize("(over 1024 bytes)") }
          return
        }
        let sizeText = String(line.prefix { $0 != ";" }).trimmingWhitespace
        guard !sizeText.isEmpty, sizeText.count <= 16,
          let size = Int(sizeText, radix: 16), size >= 0
        else { throw .badChunkSize(line) }
        guard size <= maximumBodyBytes - body.count else {
          throw .bodyTooLong(limit: maximumBodyBytes)
        }
        state = size == 0 ? .trailers : .chunkData(remaining: size)
      case .chunkData(let remaining):
        let n = min(remaining, buffer.count - cursor)
        body += buffer[cursor..<cursor + n]
        cursor += n
        received += n
        if remaining - n > 0 {
          state = .chunkData(remaining: remaining - n)
          compact()
          return
        }
        state = .chunkEnd
      case .chunkEnd:
        guard let line = takeLine() else {
          if buffer.count - cursor >= 2 { throw .missingChunkTerminator }
          return
        }
        guard line.isEmpty else { throw .missingChunkTerminator }
        state = .chunkSize
      case .trailers:
        guard let line = takeLine() else { return }
        if line.isEmpty {
          _ = complete()
          return
        }
        guard buffer.count <= maximumHeaderBytes * 2 else {
          throw .headersTooLong(limit: maximumHeaderBytes)
        }
      }
    }
  }

  /// The end of the head (excluding the blank line) and where the body starts; accepts CRLF
  /// or bare LF line ends.
  private func headEnd() -> (headEnd: Int, bodyStart: Int)? {
    var i = max(cursor, scanFrom)
    while i < buffer.count {
      if buffer[i] == 0x0A {
        if i + 1 < buffer.count, buffer[i + 1] == 0x0A { return (i, i + 2) }
        if i + 2 < buffer.count, buffer[i + 1] == 0x0D, buffer[i + 2] == 0x0A {
          return (i, i + 3)
        }
      }
      i += 1
    }
    return nil
  }

  /// The next line (without CR/LF), consuming it; nil if no full line is buffered.
  private mutating func takeLine() -> String? {
    guard let lf = buffer[cursor...].firstIndex(of: 0x0A) else { return nil }
    var end = lf
    if end > cursor, buffer[end - 1] == 0x0D { end -= 1 }
    let line = String(decoding: buffer[cursor..<end], as: UTF8.self)
    cursor = lf + 1
    return line
  }

  private mutating func parseHead(_ head: [UInt8]) throws(HTTPParseError) {
    var lines = httpLines(head)
    // Tolerate blank lines before the status line (RFC 9112 §2.2).
    while let first = lines.first, first.isEmpty { lines.removeFirst() }
    guard let statusLine = lines.first else { throw .badStatusLine("") }
    let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3,
      let code = Int(parts[1]), (100...999).contains(code)
    else { throw .badStatusLine(statusLine) }
    var parsed: [HTTPHeader] = []
    for line in lines.dropFirst() {
      if line.isEmpty { continue }
      if line.first == " " || line.first == "\t", let last = parsed.popLast() {
        parsed.append(
          HTTPHeader(name: last.name, value: last.value + " " + line.trimmingWhitespace))
        continue
      }
      guard let colon = line.firstIndex(of: ":") else { throw .badHeaderLine(line) }
      let name = String(line[..<colon])
      guard !name.isEmpty, !name.contains(" "), !name.contains("\t") else {
        throw .badHeaderLine(line)
      }
      parsed.append(
        HTTPHeader(name: name, value: String(line[line.index(after: colon)...]).trimmingWhitespace))
    }
    if (100..<200).contains(code) {
      return  // interim response: the real one follows
    }
    status = code
    reason = parts.count > 2 ? String(parts[2]) : ""
    headers = parsed
    let lowered = parsed.map { ($0.name.lowercased(), $0.value) }
    let encodings = lowered.filter { $0.0 == "transfer-encoding" }.map { $0.1.lowercased() }
    let lengths = Set(
      lowered.filter { $0.0 == "content-length" }.flatMap {
        $0.1.split(separator: ",").map { $0.trimmingCharacters() }
      })
    if isHeadRequest || code == 204 || code == 304 {
      state = .fixed(remaining: 0)
    } else if let last = encodings.last,
      last.split(separator: ",").last?.trimmingCharacters() == "chunked"
    {
      state = .chunkSize
    } else if !lengths.isEmpty {
      guard lengths.count == 1, let only = lengths.first, !only.isEmpty, only.count <= 18,
        only.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(only)
      else { throw .badContentLength(lengths.sorted().joined(separator: ", ")) }
      guard n <= maximumBodyBytes else { throw .bodyTooLong(limit: maximumBodyBytes) }
      expectedLength = n
      state = .fixed(remaining: n)
    } else {
      state = .untilClose
    }
    if case .fixed(0) = state { _ = complete() }
  }

  private mutating func compact() {
    if cursor > 4096 {
      buffer.removeFirst(cursor)
      cursor = 0
    }
  }

  private mutating func complete() -> HTTPResponse {
    let r = HTTPResponse(status: status, reason: reason, headers: headers, body: body)
    result = r
    state = .done
    buffer = []
    cursor = 0
    scanFrom = 0
    return r
  }
}

extension Substring {
  fileprivate func trimmingCharacters() -> String { String(self).trimmingWhitespace }
}

/// The lines of `bytes`, split at LF with a CR before it removed. (Splitting a `String` at
/// "\n" would not work: Swift treats CR LF as one character.)
func httpLines(_ bytes: some Collection<UInt8>) -> [String] {
  bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
    let trimmed = line.last == 0x0D ? line.dropLast() : line[...]
    return String(decoding: trimmed, as: UTF8.self)
  }
}
