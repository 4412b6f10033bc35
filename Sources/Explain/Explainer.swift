import Report

#if canImport(Glibc)
  import Glibc
#endif

/// Reads one input (a file, or standard input for `-`; gzip-compressed or not) and returns the
/// ICE sessions it shows, the format recognised from its content, never from its name.
public enum Explainer {
  /// How many bytes of the (inflated) start of an input are looked at to recognise it.
  static let sniffBytes = 256 * 1024

  /// The result of reading one input.
  public struct Result: Sendable {
    public var input: ExplainInput
    public var sessions: [ExplainEvidence]
  }

  /// Reads the input `name` from `source`; `pc` picks one PeerConnection of a dump.
  public static func read(
    name: String, source: any ByteSource, pc: String? = nil, secrets: SecretSet
  ) throws(ExplainError) -> Result {
    var head = try source.read(max: 4096)
    var gzip = false
    var content: any ByteSource = PrefixedSource(prefix: head, rest: source)
    if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B {
      gzip = true
      content = try GzipSource(content, name: name)
    }
    // `content` starts with what was read: sniff again from its start.
    head = []
    // The start of the content, to recognise it.
    while head.count < sniffBytes {
      let more = try content.read(max: sniffBytes - head.count)
      if more.isEmpty { break }
      head += more
    }
    let rest = content
    let format = try recognise(head, name: name)
    let stream = PrefixedSource(prefix: head, rest: rest)
    switch format {
    case .pcap:
      // libpcap reads from a FILE*: the (inflated) capture is spooled to a temporary file,
      // which takes disk, not memory, and is gone when closed.
      guard let file = tmpfile() else {
        throw ExplainError("cannot read \(name): no temporary file for the capture")
      }
      var bytes = 0
      while true {
        let chunk = try stream.read(max: 1 << 20)
        if chunk.isEmpty { break }
        bytes += chunk.count
        guard chunk.withUnsafeBytes({ fwrite($0.baseAddress, 1, chunk.count, file) }) == chunk.count
        else {
          fclose(file)
          throw ExplainError("cannot read \(name): the temporary file for the capture is full")
        }
      }
      rewind(file)
      // PcapReader closes the file (libpcap's pcap_close closes the FILE* it was given).
      var e = try PcapReader.read(file: file, name: name)
      e.credentialsSeen = secrets.count
      guard !(e.local.isEmpty && e.remote.isEmpty && e.pairs.isEmpty && e.timeline.isEmpty) else {
        throw ExplainError(
          "\(name) is a packet capture with no STUN or DTLS traffic natscope can read (\(e.linesRead) packets)"
        )
      }
      return Result(
        input: ExplainInput(name: name, format: format, gzip: gzip, bytes: bytes), sessions: [e])
    case .webrtcInternals:
      var all: [UInt8] = []
      while true {
        let chunk = try stream.read(max: 1 << 20)
        if chunk.isEmpty { break }
        all += chunk
        guard all.count <= WebRTCInternalsReader.maxBytes else {
          throw ExplainError(
            "\(name) is a webrtc-internals dump larger than \(WebRTCInternalsReader.maxBytes >> 20) MiB, more than natscope reads"
          )
        }
      }
      let sessions = try WebRTCInternalsReader.read(all, pc: pc, secrets: secrets, name: name)
      return Result(
        input: ExplainInput(name: name, format: format, gzip: gzip, bytes: all.count),
        sessions: sessions)
    default:
      if pc != nil {
        throw ExplainError(
          "--pc picks a PeerConnection of a webrtc-internals dump; \(name) is not one")
      }
      var splitter = LineSplitter(stream)
      var reader = TextLogReader(format: format, secrets: secrets)
      try reader.read(&splitter)
      var sessions = reader.sessions()
      if let g = content as? GzipSource, g.truncated {
        for i in sessions.indices { sessions[i].truncated = true }
      }
      if sessions.allSatisfy({
        $0.local.isEmpty && $0.remote.isEmpty && $0.pairs.isEmpty && $0.timeline.isEmpty
      }) {
        throw ExplainError(
          "\(name) has no ICE session natscope can read: no candidate line, pair or ICE state in it"
        )
      }
      return Result(
        input: ExplainInput(name: name, format: format, gzip: gzip, bytes: splitter.bytes),
        sessions: sessions)
    }
  }

  /// The format of an input from its first bytes.
  public static func recognise(_ head: [UInt8], name: String) throws(ExplainError)
    -> ExplainEvidence.Format
  {
    if head.isEmpty { throw ExplainError("\(name) is empty") }
    if head.count >= 4 {
      let m =
        (UInt32(head[0]) << 24) | (UInt32(head[1]) << 16) | (UInt32(head[2]) << 8) | UInt32(head[3])
      if [0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0x0A0D_0D0A].contains(m) {
        return .pcap
      }
    }
    let nul = head.prefix(4096).filter { $0 == 0 }.count
    if nul > 0 {
      throw ExplainError(
        "\(name) is binary data that natscope does not recognise (not a webrtc-internals dump, a libnice, aioice or pion log, or a log with SDP candidate lines)"
      )
    }
    let text = String(decoding: head, as: UTF8.self)
    let trimmed = text.drop {
      $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\u{FEFF}"
    }
    if trimmed.first == "{",
      text.contains("\"PeerConnections\"") || text.contains("\"getUserMedia\"")
    {
      return .webrtcInternals
    }
    if text.contains(" aioice.") || text.contains(":aioice.") { return .aioice }
    if text.contains("ice TRACE:") || text.contains("ice DEBUG:") || text.contains("ice INFO:")
      || text.contains("Ping STUN from")
    {
      return .pion
    }
    if text.contains("libnice-DEBUG") || text.contains("libnice-INFO") || text.contains("STUN-CC")
      || text.contains("STATE-CHANGE")
      || text.contains("Local selected pair")
    {
      return .libnice
    }
    if text.contains("candidate:") { return .text }
    throw ExplainError(
      "\(name) is not a format natscope recognises: no webrtc-internals dump, libnice or aioice log, and no SDP candidate line in its first \(sniffBytes >> 10) KiB"
    )
  }
}
