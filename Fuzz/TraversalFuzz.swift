// libFuzzer targets for every parser in Traversal that reads outside input: a pasted token, SDP
// lines and a=candidate attributes (from a person or another stack), PCP and NAT-PMP answers
// and SSDP answers (from any device on the LAN), HTTP responses and the UPnP XML inside them
// (from the router), and a WHIP/WHEP server's response (Link values, Location, the SDP answer,
// a refusal's reason). Not built by SwiftPM: `scripts/fuzz` compiles Sources/STUN and
// Sources/Traversal together with this file into one module (so their imports of STUN are
// ignored), with `-sanitize=fuzzer,address`, and runs the binary once per target, choosing the
// target with NATSCOPE_FUZZ_TARGET.
//
// Beyond "never crash", each target checks an invariant and traps (on purpose) when it breaks:
// - what decodes re-encodes to something that decodes to an equal value (token, SDP,
//   candidate, PCP, NAT-PMP);
// - the HTTP parser gives the same response whether the bytes come at once or in two pieces;
// - parsed values stay inside what the parser promises (XML nesting, body limits).

import Foundation

/// Traps with a message; fuzzing turns this into a reported crash with the input saved.
func traversalFuzzFail(_ what: String) -> Never {
  print("invariant violated: \(what)")
  fatalError(what)
}

/// The parsers, by the name NATSCOPE_FUZZ_TARGET gives.
enum TraversalFuzzTarget: String, CaseIterable {
  case token, sdp, candidate, pcp, natpmp, ssdp, http, upnp, whip

  static let selected: TraversalFuzzTarget = {
    let name = ProcessInfo.processInfo.environment["NATSCOPE_FUZZ_TARGET"] ?? "token"
    guard let t = TraversalFuzzTarget(rawValue: name) else {
      print(
        "NATSCOPE_FUZZ_TARGET=\(name) is no target; the targets are "
          + allCases.map(\.rawValue).joined(separator: ", "))
      exit(1)
    }
    return t
  }()

  func run(_ bytes: [UInt8]) {
    switch self {
    case .token: fuzzToken(bytes)
    case .sdp: fuzzSDP(bytes)
    case .candidate: fuzzCandidate(bytes)
    case .pcp: fuzzPCP(bytes)
    case .natpmp: fuzzNATPMP(bytes)
    case .ssdp: _ = try? SSDPResponse(bytes: bytes)
    case .http: fuzzHTTP(bytes)
    case .upnp: fuzzUPnP(bytes)
    case .whip: fuzzWHIP(bytes)
    }
  }
}

/// A WHIP/WHEP server's response: the first line is a Link field value, the second a
/// Location, the rest the body, tried as a 201 answer and as a refusal. The answer keeps only
/// component-1 candidates, each once; a quoted reason stays bounded.
func fuzzWHIP(_ bytes: [UInt8]) {
  let parts = bytes.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
  let link = String(decoding: parts.first ?? [], as: UTF8.self)
  let location = String(decoding: parts.count > 1 ? parts[1] : [], as: UTF8.self)
  let body = parts.count > 2 ? Array(parts[2]) : []
  _ = WHIPICEServer.servers(linkFields: [link])
  guard let endpoint = URL(string: "http://192.0.2.1/whip") else { return }
  for status in [201, 400, 307, 503] {
    var x = WHIPExchange(kind: .whip, endpoint: endpoint, offer: "v=0", hasToken: true)
    _ = x.start()
    let r = WHIPResponse(
      status: status,
      headers: [
        WHIPHeader("Content-Type", "application/sdp"), WHIPHeader("Link", link),
        WHIPHeader("Location", location),
      ], body: body)
    _ = x.receive(r)
    if let e = x.established {
      let keys = e.answer.description.candidates.map { "\($0.address) \($0.port) \($0.transport)" }
      guard Set(keys).count == keys.count,
        e.answer.description.candidates.allSatisfy({ $0.component == 1 })
      else { traversalFuzzFail("an answer kept a repeated or RTCP candidate") }
    }
    if case .offerRefused(_, let reason?) = x.failure,
      reason.count > WHIPExchange.reasonLimit + 1
    {
      traversalFuzzFail("a quoted reason is longer than the limit")
    }
  }
}

func fuzzToken(_ bytes: [UInt8]) {
  let text = String(decoding: bytes, as: UTF8.self)
  for role in [nil, SignalingRole.offer, .answer] {
    guard let d = try? SessionToken.decode(text, expecting: role) else { continue }
    let again = SessionToken.encode(d)
    guard let d2 = try? SessionToken.decode(again, expecting: role) else {
      traversalFuzzFail("a decoded token re-encodes to one that does not decode")
    }
    guard d2 == d else { traversalFuzzFail("a token does not round-trip") }
  }
  // The line reader the console and --no-tui use takes the same text, line by line.
  _ = DescriptionReader.read(text, expecting: .offer)
}

func fuzzSDP(_ bytes: [UInt8]) {
  let text = String(decoding: bytes, as: UTF8.self)
  guard let d = try? SessionDescription(sdp: text, assumedRole: .answer) else { return }
  guard let d2 = try? SessionDescription(sdp: d.sdp, assumedRole: .answer) else {
    traversalFuzzFail("parsed SDP renders to SDP that does not parse")
  }
  guard d2.candidates == d.candidates, d2.ufrag == d.ufrag, d2.password == d.password else {
    traversalFuzzFail("SDP does not round-trip")
  }
}

func fuzzCandidate(_ bytes: [UInt8]) {
  let text = String(decoding: bytes, as: UTF8.self)
  guard let c = try? SignaledCandidate(sdpAttribute: text) else { return }
  guard let c2 = try? SignaledCandidate(sdpAttribute: c.sdpAttribute) else {
    traversalFuzzFail("a parsed candidate renders to a line that does not parse")
  }
  guard c2 == c else { traversalFuzzFail("a candidate does not round-trip") }
}

func fuzzPCP(_ bytes: [UInt8]) {
  guard let r = try? PCPResponse(bytes: bytes) else { return }
  guard let r2 = try? PCPResponse(bytes: r.bytes) else {
    traversalFuzzFail("a decoded PCP response re-encodes to one that does not decode")
  }
  guard r2 == r else { traversalFuzzFail("a PCP response does not round-trip") }
}

func fuzzNATPMP(_ bytes: [UInt8]) {
  guard let r = try? NATPMPResponse(bytes: bytes) else { return }
  guard let r2 = try? NATPMPResponse(bytes: r.bytes) else {
    traversalFuzzFail("a decoded NAT-PMP response re-encodes to one that does not decode")
  }
  guard r2 == r else { traversalFuzzFail("a NAT-PMP response does not round-trip") }
}

/// Feeds the pieces in turn, then tells the parser the connection closed.
func parseHTTP(_ pieces: [ArraySlice<UInt8>], head: Bool) -> HTTPResponse? {
  var parser = HTTPResponseParser(isHeadRequest: head)
  do {
    for piece in pieces {
      if let r = try parser.feed(piece) { return r }
    }
    return try parser.finish()
  } catch {
    return nil
  }
}

/// Parses the bytes whole, then split where the first byte says: the same response (or the
/// same failure) either way.
func fuzzHTTP(_ bytes: [UInt8]) {
  guard !bytes.isEmpty else { return }
  let head = bytes[0] & 1 == 1
  let whole = parseHTTP([bytes[...]], head: head)
  let cut = Int(bytes[0]) % bytes.count
  let split = parseHTTP([bytes[..<cut], bytes[cut...]], head: head)
  guard whole == split else {
    traversalFuzzFail("the HTTP parser gives another result for the same bytes split in two")
  }
  if let r = whole {
    guard (100...999).contains(r.status) else {
      traversalFuzzFail("an HTTP status outside 100–999: \(r.status)")
    }
    // The SOAP answer reader takes any response.
    _ = try? UPnPSOAPResult(response: r, action: "AddPortMapping")
  }
}

func fuzzUPnP(_ bytes: [UInt8]) {
  let location = HTTPURL(host: "192.0.2.1", port: 5000, path: "/rootDesc.xml")
  _ = try? UPnPDeviceDescription(xml: bytes, location: location)
  let response = HTTPResponse(
    status: 500, reason: "Internal Server Error", headers: [], body: bytes)
  _ = try? UPnPSOAPResult(response: response, action: "GetExternalIPAddress")
  let ok = HTTPResponse(status: 200, reason: "OK", headers: [], body: bytes)
  _ = try? UPnPSOAPResult(response: ok, action: "GetExternalIPAddress")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func traversalFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let target = TraversalFuzzTarget.selected
  guard let data, size > 0 else {
    target.run([])
    return 0
  }
  target.run(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
