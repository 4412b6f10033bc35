import STUN
import Traversal

extension PortMappingTestReport {
  /// One line for reports, for example `PCP: UDP 192.168.1.10:40000 → 203.0.113.7:40000 for
  /// 30 s; peers got in; deleted`.
  public var summary: String {
    guard let method = `protocol` else { return error ?? "no test mapping was made" }
    guard created else {
      return "\(method.displayName): no mapping — \(error ?? "the router did not grant it")"
    }
    var parts: [String] = []
    let inside = "\(internalAddress.map { "\($0)" } ?? "this host"):\(internalPort ?? 0)"
    let outside =
      "\(externalAddress.map { "\($0)" } ?? "?"):\(externalPort.map { "\($0)" } ?? "?")"
    let life = lifetime.map { $0 == 0 ? " (permanent)" : " for \($0) s" } ?? ""
    parts.append("\(method.displayName): UDP \(inside) → \(outside)\(life)")
    switch verified {
    case true?: parts.append("peers got in")
    case false?: parts.append("nothing got in")
    case nil: parts.append("not tested")
    }
    parts.append(deleted ? "deleted" : "NOT confirmed deleted")
    return parts.joined(separator: "; ")
  }
}
