import CPcap
import Report
import STUN
import Traversal

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a packet capture (pcap or pcapng, as tcpdump, Wireshark and dumpcap write them) with
/// libpcap, one packet at a time, into the evidence of the ICE session it shows: STUN Binding
/// checks and their answers matched by transaction ID (who checked whom from which address,
/// USE-CANDIDATE, error responses such as 487 and 401, XOR-MAPPED-ADDRESS), Binding requests to
/// STUN servers (server-reflexive candidates), TURN Allocate answers (relayed candidates,
/// error codes), ChannelData, and DTLS records after the checks (ClientHello, then records
/// both ways). "This host" is the side that sent the first connectivity check.
public struct PcapReader {
  /// An open transaction: who sent the request, to whom, what it was.
  struct Pending {
    var from: TransportAddress
    var to: TransportAddress
    var method: STUN.Method
    var check: Bool
    var useCandidate: Bool
  }

  var b = SessionBuilder(format: .pcap)
  var pending: [TransactionID: Pending] = [:]
  var localAddresses: Set<TransportAddress> = []
  var packets = 0
  var understood = 0
  var firstDTLS: Set<String> = []

  /// Reads the capture in `file` (libpcap takes a FILE*; the caller rewinds it) and closes
  /// the file.
  public static func read(file: UnsafeMutablePointer<FILE>, name: String) throws(ExplainError)
    -> ExplainEvidence
  {
    var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
    guard let handle = pcap_fopen_offline(file, &errbuf) else {
      fclose(file)
      let reason = String(
        decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      throw ExplainError("\(name) is not a capture libpcap can read: \(reason)")
    }
    defer { pcap_close(handle) }
    let link = pcap_datalink(handle)
    var reader = PcapReader()
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    while true {
      let r = pcap_next_ex(handle, &header, &data)
      if r == 1, let h = header, let d = data {
        let ms = Double(h.pointee.ts.tv_sec) * 1000 + Double(h.pointee.ts.tv_usec) / 1000
        let bytes = Array(UnsafeBufferPointer(start: d, count: Int(h.pointee.caplen)))
        reader.packet(bytes, link: link, atMs: ms)
      } else if r == 0 {
        continue
      } else {
        // -2: the end; -1: a damaged packet ends the capture (what came before stands).
        if r == -1 { reader.b.evidence.truncated = true }
        break
      }
    }
    return reader.finish()
  }

  mutating func finish() -> ExplainEvidence {
    // Checks never answered by the end of the capture failed; answered ones succeeded.
    for i in b.evidence.pairs.indices where b.evidence.pairs[i].states.isEmpty {
      b.pairState(
        i, (b.evidence.pairs[i].responsesReceived ?? 0) > 0 ? "succeeded" : "failed", at: nil)
    }
    b.evidence.linesRead = packets
    b.evidence.linesUnderstood = understood
    return b.evidence
  }

  /// One captured frame.
  mutating func packet(_ frame: [UInt8], link: Int32, atMs: Double) {
    packets += 1
    guard let ip = Self.ipOffset(frame, link: link) else { return }
    guard let (src, dst, payload) = Self.udp(frame, at: ip) else { return }
    let at = b.time(atMs)
    if let m = try? Message(bytes: Array(payload)) {
      understood += 1
      stun(m, from: src, to: dst, at: at)
    } else if let first = payload.first, (20...63).contains(first), payload.count >= 13 {
      // DTLS (RFC 9147 §4.1 demultiplexing): a ClientHello starts the handshake; records both
      // ways afterwards (application data) mean it finished.
      understood += 1
      let key = "\(src)>\(dst)"
      if first == 22, payload.count >= 14, payload[payload.startIndex + 13] == 1 {
        b.eventOnce(.dtlsStarted, at: at)
      } else if first == 23 {
        firstDTLS.insert(key)
        if firstDTLS.contains("\(dst)>\(src)") { b.eventOnce(.dtlsConnected, at: at) }
      } else if first == 21 {
        b.eventOnce(.dtlsFailed, at: at, detail: "alert")
      }
    }
  }

  mutating func stun(_ m: Message, from: TransportAddress, to: TransportAddress, at: Double?) {
    let check =
      m.method == .binding
      && (m.contains(.priority) || m.contains(.iceControlling)
        || m.contains(.iceControlled) || m.contains(.useCandidate))
    switch m.messageClass {
    case .request:
      pending[m.transactionID] = Pending(
        from: from, to: to, method: m.method, check: check, useCandidate: m.contains(.useCandidate))
      if pending.count > 100_000 { pending.removeAll() }
      guard check else { return }
      if localAddresses.isEmpty { localAddresses.insert(from) }
      b.eventOnce(.checking, at: at)
      if localAddresses.contains(from) || !localAddresses.contains(to) {
        localAddresses.insert(from)
        if let i = pairIndex(local: from, remote: to) { b.count(i, \.requestsSent) }
      } else if let i = pairIndex(local: to, remote: from) {
        b.count(i, \.requestsReceived)
      }
    case .successResponse, .errorResponse:
      guard let p = pending.removeValue(forKey: m.transactionID) else { return }
      let code = (try? m.get(ErrorCodeAttribute.self))?.map { Int($0.code.rawValue) }
      let mapped = (try? m.get(XORMappedAddress.self))?.map(\.address)
      if p.check {
        let ours = localAddresses.contains(p.from)
        guard
          let i = ours
            ? pairIndex(local: p.from, remote: p.to) : pairIndex(local: p.to, remote: p.from)
        else { return }
        if ours {
          if let code {
            b.checkError(code, remote: p.to.description)
          } else {
            b.count(i, \.responsesReceived)
            b.pairState(i, "succeeded", at: at)
            if let mapped, mapped != p.from, !localKnown(mapped) {
              // A peer-reflexive address of this host, as the peer saw it.
              var c = ObservedCandidate(
                kind: .prflx, address: mapped.ip.description, port: Int(mapped.port), atMs: at)
              c.relatedAddress = p.from.ip.description
              c.relatedPort = Int(p.from.port)
              b.candidate(c, local: true)
            }
            if p.useCandidate, b.evidence.selected == nil {
              b.evidence.pairs[i].nominated = true
              let pair = b.evidence.pairs[i]
              b.evidence.selected = SelectedPair(local: pair.local, remote: pair.remote, atMs: at)
              b.event(.connected, at: at)
              b.event(.selectedPair, at: at, detail: "\(pair.local.text) ↔ \(pair.remote.text)")
            }
          }
        } else if code == nil {
          b.count(i, \.responsesSent)
          if p.useCandidate, b.evidence.selected == nil {
            b.evidence.pairs[i].nominated = true
            let pair = b.evidence.pairs[i]
            b.evidence.selected = SelectedPair(local: pair.local, remote: pair.remote, atMs: at)
            b.event(.connected, at: at)
            b.event(.selectedPair, at: at, detail: "\(pair.local.text) ↔ \(pair.remote.text)")
          }
        }
        return
      }
      let server = "\(p.method == .binding ? "stun" : "turn"):\(p.to)"
      if let code {
        if p.method != .binding { b.serverError(uri: server, code: code, at: at) }
        return
      }
      if p.method == .binding, let mapped {
        b.server(.stun, server)
        var c = ObservedCandidate(
          kind: mapped == p.from ? .host : .srflx, address: mapped.ip.description,
          port: Int(mapped.port), atMs: at)
        if c.kind == .srflx {
          c.relatedAddress = p.from.ip.description
          c.relatedPort = Int(p.from.port)
        }
        c.server = server
        b.candidate(
          ObservedCandidate(
            kind: .host, address: p.from.ip.description, port: Int(p.from.port), atMs: at),
          local: true)
        if c.kind == .srflx { b.candidate(c, local: true) }
      } else if p.method == .allocate,
        let relayed = (try? m.get(XORRelayedAddress.self))?.map(\.address)
      {
        b.server(.turn, server)
        var c = ObservedCandidate(
          kind: .relay, address: relayed.ip.description, port: Int(relayed.port), atMs: at)
        c.server = server
        if let mapped {
          c.relatedAddress = mapped.ip.description
          c.relatedPort = Int(mapped.port)
        }
        b.candidate(c, local: true)
      }
    default:
      return
    }
  }

  func localKnown(_ a: TransportAddress) -> Bool {
    b.evidence.local.contains { $0.transportAddress == a }
  }

  /// The pair `local` → `remote`, created (with the candidates' types when known) when new.
  mutating func pairIndex(local: TransportAddress, remote: TransportAddress) -> Int? {
    let l = ObservedCandidate(
      kind: .host, address: local.ip.description, port: Int(local.port), atMs: b.lastTime)
    if !localKnown(local) { b.candidate(l, local: true) }
    // The peer's addresses are the pairs' remote ends: their candidate types are not in the
    // capture, so no remote candidate is claimed.
    let lk = b.evidence.local.first { $0.transportAddress == local }?.kind
    return b.pair(
      "\(local)>\(remote)",
      local: PairEnd(address: local.ip.description, port: Int(local.port), kind: lk),
      remote: PairEnd(address: remote.ip.description, port: Int(remote.port), kind: nil))
  }

  /// Where the IP header starts, for the link types captures use.
  static func ipOffset(_ f: [UInt8], link: Int32) -> Int? {
    switch link {
    case 1:  // Ethernet, with up to two VLAN tags.
      var o = 12
      while f.count >= o + 2 {
        let type = Int(f[o]) << 8 | Int(f[o + 1])
        if type == 0x8100 || type == 0x88A8 {
          o += 4
          continue
        }
        return type == 0x0800 || type == 0x86DD ? o + 2 : nil
      }
      return nil
    case 0, 108: return f.count > 4 ? 4 : nil  // BSD loopback: a 4-byte family.
    case 12, 14, 101, 228, 229: return 0  // raw IP
    case 113: return f.count > 16 ? 16 : nil  // Linux cooked (SLL)
    case 276: return f.count > 20 ? 20 : nil  // Linux cooked v2 (SLL2)
    default: return nil
    }
  }

  /// The UDP datagram in an IPv4 or IPv6 packet at `o`: its ends and payload.
  static func udp(_ f: [UInt8], at o: Int) -> (
    TransportAddress, TransportAddress, ArraySlice<UInt8>
  )? {
    guard f.count > o else { return nil }
    let version = f[o] >> 4
    var src: IPAddress
    var dst: IPAddress
    var u: Int
    if version == 4 {
      let ihl = Int(f[o] & 0x0F) * 4
      guard ihl >= 20, f.count >= o + ihl + 8, f[o + 9] == 17 else { return nil }
      // A fragment other than the first carries no UDP header.
      guard (Int(f[o + 6] & 0x1F) << 8 | Int(f[o + 7])) == 0 else { return nil }
      func v4(_ i: Int) -> IPAddress {
        .v4(UInt32(f[i]) << 24 | UInt32(f[i + 1]) << 16 | UInt32(f[i + 2]) << 8 | UInt32(f[i + 3]))
      }
      src = v4(o + 12)
      dst = v4(o + 16)
      u = o + ihl
    } else if version == 6 {
      guard f.count >= o + 48, f[o + 6] == 17 else { return nil }
      func v6(_ i: Int) -> IPAddress {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<8 { hi = hi << 8 | UInt64(f[i + k]) }
        for k in 8..<16 { lo = lo << 8 | UInt64(f[i + k]) }
        return .v6(hi, lo)
      }
      src = v6(o + 8)
      dst = v6(o + 24)
      u = o + 40
    } else {
      return nil
    }
    let sport = UInt16(f[u]) << 8 | UInt16(f[u + 1])
    let dport = UInt16(f[u + 2]) << 8 | UInt16(f[u + 3])
    let length = Int(f[u + 4]) << 8 | Int(f[u + 5])
    let end = min(f.count, u + max(8, length))
    return (
      TransportAddress(ip: src, port: sport), TransportAddress(ip: dst, port: dport),
      f[(u + 8)..<end]
    )
  }
}
