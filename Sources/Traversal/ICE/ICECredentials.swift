/// An ICE username fragment and password (RFC 8445 §5.3, RFC 8839 §5.4).
///
/// The password never appears in a description, a mirror (`dump`) or JSON: the type is not
/// `Codable`, and its descriptions print the ufrag only.
public struct ICECredentials: Sendable, Hashable {
  /// The username fragment (4–256 ICE characters).
  public var ufrag: String
  /// The password (22–256 ICE characters).
  public var password: String

  public init(ufrag: String, password: String) {
    self.ufrag = ufrag
    self.password = password
  }

  /// The ICE character set (RFC 8839 `ice-char`): letters, digits, "+" and "/": 6 bits each.
  public static let alphabet: [Character] = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

  /// Fresh credentials: an 8-character ufrag (48 bits) and a 24-character password (144 bits),
  /// above RFC 8445's minimums of 24 and 128 bits.
  public static func random<G: RandomNumberGenerator>(using generator: inout G) -> ICECredentials {
    func string(_ n: Int) -> String {
      String((0..<n).map { _ in alphabet[Int(generator.next() % 64)] })
    }
    let ufrag = string(8)
    return ICECredentials(ufrag: ufrag, password: string(24))
  }

  /// Fresh credentials from `SystemRandomNumberGenerator`.
  public static func random() -> ICECredentials {
    var g = SystemRandomNumberGenerator()
    return random(using: &g)
  }

  /// Whether both parts have RFC 8839's lengths and use only ICE characters.
  public var isValid: Bool {
    (4...256).contains(ufrag.count) && (22...256).contains(password.count)
      && ufrag.allSatisfy(\.isSignalingICEChar) && password.allSatisfy(\.isSignalingICEChar)
  }
}

extension ICECredentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  /// `ufrag KDyD, password (24 characters, hidden)`.
  public var description: String {
    "ufrag \(ufrag), password (\(password.count) characters, hidden)"
  }
  public var debugDescription: String { description }
  public var customMirror: Mirror {
    Mirror(self, children: ["ufrag": ufrag, "password": "(hidden)"])
  }
}

/// A type-erased random number generator the ICE machines keep.
struct AnyRandomGenerator: RandomNumberGenerator, Sendable {
  var base: any RandomNumberGenerator & Sendable
  init(_ base: any RandomNumberGenerator & Sendable) { self.base = base }
  mutating func next() -> UInt64 { base.next() }
}
