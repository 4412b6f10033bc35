import CZlib

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why an input cannot be explained: one sentence for the person who gave it.
public struct ExplainError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Bytes read in chunks: a file, standard input, or the inflated content of either.
public protocol ByteSource: AnyObject {
  /// Up to `max` bytes; empty at the end of the input.
  func read(max: Int) throws(ExplainError) -> [UInt8]
}

/// A file descriptor's bytes (a file, or standard input for `-`).
public final class FileSource: ByteSource {
  let fd: Int32
  let owns: Bool
  let name: String

  /// Opens `path` (`-` is standard input).
  public init(path: String) throws(ExplainError) {
    name = path
    if path == "-" {
      fd = 0
      owns = false
      return
    }
    let d = open(path, O_RDONLY)
    guard d >= 0 else {
      let reason = String(cString: strerror(errno))
      throw ExplainError("cannot read \(path): \(reason.lowercased())")
    }
    var st = stat()
    if fstat(d, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
      close(d)
      throw ExplainError("cannot read \(path): it is a directory")
    }
    fd = d
    owns = true
  }

  deinit { if owns { close(fd) } }

  public func read(max: Int) throws(ExplainError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: max)
    while true {
      let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, max) }
      if n < 0 {
        if errno == EINTR { continue }
        throw ExplainError("cannot read \(name): \(String(cString: strerror(errno)).lowercased())")
      }
      buffer.removeSubrange(n...)
      return buffer
    }
  }
}

/// Bytes held in memory (tests, fuzzing).
public final class MemorySource: ByteSource {
  var bytes: [UInt8]
  var offset = 0

  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  public func read(max: Int) throws(ExplainError) -> [UInt8] {
    let end = min(bytes.count, offset + max)
    defer { offset = end }
    return Array(bytes[offset..<end])
  }
}

/// Some bytes already read (to sniff the format), then the rest of the source.
final class PrefixedSource: ByteSource {
  var prefix: [UInt8]
  let rest: any ByteSource

  init(prefix: [UInt8], rest: any ByteSource) {
    self.prefix = prefix
    self.rest = rest
  }

  func read(max: Int) throws(ExplainError) -> [UInt8] {
    if !prefix.isEmpty {
      let n = min(max, prefix.count)
      let out = Array(prefix[..<n])
      prefix.removeFirst(n)
      return out
    }
    return try rest.read(max: max)
  }
}

/// The inflated content of a gzip stream (RFC 1952; several members in a row, as `cat a.gz
/// b.gz` makes, are read one after the other), in bounded memory: one input chunk and one
/// output chunk at a time.
public final class GzipSource: ByteSource {
  let inner: any ByteSource
  let name: String
  var stream = z_stream()
  var input: [UInt8] = []
  var inputOffset = 0
  var ended = false
  var initialised = false
  /// Whether the gzip data ended before its end marker.
  public private(set) var truncated = false

  public init(_ inner: any ByteSource, name: String) throws(ExplainError) {
    self.inner = inner
    self.name = name
    guard natscope_inflate_init(&stream) == Z_OK else {
      throw ExplainError("cannot inflate \(name): zlib did not start")
    }
    initialised = true
  }

  deinit { if initialised { inflateEnd(&stream) } }

  public func read(max: Int) throws(ExplainError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: max)
    var produced = 0
    while produced == 0 && !ended {
      if inputOffset >= input.count {
        input = try inner.read(max: 64 * 1024)
        inputOffset = 0
        if input.isEmpty {
          // The input ended inside a member (a download cut short): what was inflated
          // stands, and the reader says the input was truncated.
          ended = true
          truncated = true
          break
        }
      }
      let before = inputOffset
      let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
        out.withUnsafeMutableBufferPointer { outBuf in
          stream.next_in = inBuf.baseAddress.map { $0 + before }
          stream.avail_in = UInt32(inBuf.count - before)
          stream.next_out = outBuf.baseAddress.map { $0 + produced }
          stream.avail_out = UInt32(outBuf.count - produced)
          let r = inflate(&stream, Z_NO_FLUSH)
          produced = outBuf.count - Int(stream.avail_out)
          inputOffset = inBuf.count - Int(stream.avail_in)
          stream.next_in = nil
          stream.next_out = nil
          return r
        }
      }
      switch status {
      case Z_OK, Z_BUF_ERROR:
        continue
      case Z_STREAM_END:
        // Another member may follow.
        if inputOffset >= input.count {
          input = try inner.read(max: 64 * 1024)
          inputOffset = 0
        }
        if input.isEmpty || input[inputOffset] != 0x1F {
          ended = true
        } else {
          inflateReset(&stream)
        }
      default:
        throw ExplainError("cannot inflate \(name): its gzip data is damaged")
      }
    }
    out.removeSubrange(produced...)
    return out
  }
}

/// Splits a byte source into lines (LF or CRLF), each at most `maxLine` bytes (a longer line
/// is cut there and the rest of it skipped), so a file of any size is read in bounded memory.
public struct LineSplitter {
  let source: any ByteSource
  let maxLine: Int
  var buffer: [UInt8] = []
  var offset = 0
  var done = false
  /// Bytes read so far.
  public private(set) var bytes = 0

  public init(_ source: any ByteSource, maxLine: Int = 256 * 1024) {
    self.source = source
    self.maxLine = maxLine
  }

  /// The next line, without its line ending; nil at the end.
  public mutating func next() throws(ExplainError) -> String? {
    var line: [UInt8] = []
    var skipping = false
    while true {
      if offset >= buffer.count {
        if done { break }
        buffer = try source.read(max: 64 * 1024)
        offset = 0
        bytes += buffer.count
        if buffer.isEmpty {
          done = true
          break
        }
      }
      if let nl = buffer[offset...].firstIndex(of: 0x0A) {
        if !skipping { line += buffer[offset..<min(nl, offset + max(0, maxLine - line.count))] }
        offset = nl + 1
        return Self.text(line)
      }
      if !skipping {
        let room = max(0, maxLine - line.count)
        line += buffer[offset..<min(buffer.count, offset + room)]
        if line.count >= maxLine { skipping = true }
      }
      offset = buffer.count
    }
    if line.isEmpty && done && !skipping { return nil }
    return Self.text(line)
  }

  static func text(_ bytes: [UInt8]) -> String {
    var b = bytes[...]
    if b.last == 0x0D { b = b.dropLast() }
    return String(decoding: b, as: UTF8.self)
  }
}
