import Runtime
import STUN

/// A topology the simulator cannot build. Each case says what to change.
public enum SimulationError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The address is already used by another interface in the same realm.
  case duplicateAddress(IPAddress, realm: String)
  /// The address lies outside every prefix of the realm.
  case addressOutsideRealm(IPAddress, realm: String)
  /// The realm already has a gateway (a NAT box whose inside it is).
  case realmHasGateway(String)
  /// A configuration value is invalid; the text says which and why.
  case invalidConfiguration(String)

  public var description: String {
    switch self {
    case .duplicateAddress(let ip, let realm):
      return "address \(ip) is already in use in realm \(realm); pick another address"
    case .addressOutsideRealm(let ip, let realm):
      return "address \(ip) is not inside any prefix of realm \(realm); pick an address in it"
    case .realmHasGateway(let realm):
      return "realm \(realm) already has a gateway; give each NAT its own inside realm"
    case .invalidConfiguration(let text):
      return text
    }
  }
}
