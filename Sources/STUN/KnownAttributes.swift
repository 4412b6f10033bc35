extension Message {
  /// Decodes every visible attribute whose type natscope knows, and throws the first error.
  ///
  /// A server can answer 400 (Bad Request) when this throws, and 420 (Unknown Attribute) when
  /// ``unknownComprehensionRequired`` is not empty. Unknown types are not checked.
  public func validateKnownAttributes() throws(STUNError) {
    for a in attributes {
      try Message.decodeKnown(a, transactionID: transactionID)
    }
  }

  /// Decodes `attribute` with the typed decoder for its type, if there is one.
  static func decodeKnown(_ a: RawAttribute, transactionID t: TransactionID) throws(STUNError) {
    let v = a.value
    switch a.type {
    case .mappedAddress: _ = try MappedAddress(value: v, transactionID: t)
    case .xorMappedAddress: _ = try XORMappedAddress(value: v, transactionID: t)
    case .alternateServer: _ = try AlternateServer(value: v, transactionID: t)
    case .responseOrigin: _ = try ResponseOrigin(value: v, transactionID: t)
    case .otherAddress: _ = try OtherAddress(value: v, transactionID: t)
    case .xorPeerAddress: _ = try XORPeerAddress(value: v, transactionID: t)
    case .xorRelayedAddress: _ = try XORRelayedAddress(value: v, transactionID: t)
    case .username: _ = try Username(value: v, transactionID: t)
    case .realm: _ = try Realm(value: v, transactionID: t)
    case .nonce: _ = try Nonce(value: v, transactionID: t)
    case .software: _ = try Software(value: v, transactionID: t)
    case .alternateDomain: _ = try AlternateDomain(value: v, transactionID: t)
    case .userhash: _ = try Userhash(value: v, transactionID: t)
    case .messageIntegrity: _ = try MessageIntegrity(value: v, transactionID: t)
    case .messageIntegritySHA256: _ = try MessageIntegritySHA256(value: v, transactionID: t)
    case .fingerprint: _ = try Fingerprint(value: v, transactionID: t)
    case .errorCode: _ = try ErrorCodeAttribute(value: v, transactionID: t)
    case .unknownAttributes: _ = try UnknownAttributes(value: v, transactionID: t)
    case .passwordAlgorithms: _ = try PasswordAlgorithms(value: v, transactionID: t)
    case .passwordAlgorithm: _ = try PasswordAlgorithmAttribute(value: v, transactionID: t)
    case .changeRequest: _ = try ChangeRequest(value: v, transactionID: t)
    case .responsePort: _ = try ResponsePort(value: v, transactionID: t)
    case .padding: _ = try Padding(value: v, transactionID: t)
    case .responseSize: _ = try ResponseSize(value: v, transactionID: t)
    case .priority: _ = try Priority(value: v, transactionID: t)
    case .useCandidate: _ = try UseCandidate(value: v, transactionID: t)
    case .iceControlled: _ = try ICEControlled(value: v, transactionID: t)
    case .iceControlling: _ = try ICEControlling(value: v, transactionID: t)
    case .channelNumber: _ = try ChannelNumber(value: v, transactionID: t)
    case .lifetime: _ = try Lifetime(value: v, transactionID: t)
    case .data: _ = try DataAttribute(value: v, transactionID: t)
    case .requestedAddressFamily: _ = try RequestedAddressFamily(value: v, transactionID: t)
    case .evenPort: _ = try EvenPort(value: v, transactionID: t)
    case .requestedTransport: _ = try RequestedTransport(value: v, transactionID: t)
    case .dontFragment: _ = try DontFragment(value: v, transactionID: t)
    case .reservationToken: _ = try ReservationToken(value: v, transactionID: t)
    case .additionalAddressFamily: _ = try AdditionalAddressFamily(value: v, transactionID: t)
    case .addressErrorCode: _ = try AddressErrorCode(value: v, transactionID: t)
    case .icmp: _ = try ICMPAttribute(value: v, transactionID: t)
    default: break
    }
  }
}

extension Message {
  /// A one-line rendering of `attribute` for logs and the TUI, e.g.
  /// `XOR-MAPPED-ADDRESS 192.0.2.1:32853` or `SOFTWARE "STUN test client"`. Unknown types show
  /// their length; malformed values show the decoding error.
  public func describe(_ attribute: RawAttribute) -> String {
    let t = transactionID
    let v = attribute.value
    let name = attribute.type.name
    func quoted(_ s: String) -> String { "\(name) \"\(s)\"" }
    do {
      switch attribute.type {
      case .mappedAddress: return "\(name) \(try MappedAddress(value: v, transactionID: t).address)"
      case .xorMappedAddress:
        return "\(name) \(try XORMappedAddress(value: v, transactionID: t).address)"
      case .alternateServer:
        return "\(name) \(try AlternateServer(value: v, transactionID: t).address)"
      case .responseOrigin:
        return "\(name) \(try ResponseOrigin(value: v, transactionID: t).address)"
      case .otherAddress: return "\(name) \(try OtherAddress(value: v, transactionID: t).address)"
      case .xorPeerAddress:
        return "\(name) \(try XORPeerAddress(value: v, transactionID: t).address)"
      case .xorRelayedAddress:
        return "\(name) \(try XORRelayedAddress(value: v, transactionID: t).address)"
      case .username: return quoted(try Username(value: v, transactionID: t).text)
      case .realm: return quoted(try Realm(value: v, transactionID: t).text)
      case .nonce: return quoted(try Nonce(value: v, transactionID: t).text)
      case .software: return quoted(try Software(value: v, transactionID: t).text)
      case .alternateDomain: return quoted(try AlternateDomain(value: v, transactionID: t).text)
      case .errorCode:
        let e = try ErrorCodeAttribute(value: v, transactionID: t)
        return "\(name) \(e.code.rawValue) \"\(e.reason)\""
      case .unknownAttributes:
        let u = try UnknownAttributes(value: v, transactionID: t)
        return "\(name) " + u.types.map(\.name).joined(separator: ", ")
      case .priority: return "\(name) \(try Priority(value: v, transactionID: t).value)"
      case .iceControlled:
        return
          "\(name) \(hex(try ICEControlled(value: v, transactionID: t).tieBreaker, digits: 16))"
      case .iceControlling:
        return
          "\(name) \(hex(try ICEControlling(value: v, transactionID: t).tieBreaker, digits: 16))"
      case .changeRequest:
        let c = try ChangeRequest(value: v, transactionID: t)
        return "\(name) ip=\(c.changeIP) port=\(c.changePort)"
      case .responsePort: return "\(name) \(try ResponsePort(value: v, transactionID: t).port)"
      case .lifetime: return "\(name) \(try Lifetime(value: v, transactionID: t).seconds)s"
      case .channelNumber:
        return "\(name) 0x\(hex(try ChannelNumber(value: v, transactionID: t).number, digits: 4))"
      case .requestedTransport:
        return "\(name) \(try RequestedTransport(value: v, transactionID: t).protocolNumber)"
      case .fingerprint:
        return "\(name) 0x\(hex(try Fingerprint(value: v, transactionID: t).value, digits: 8))"
      default:
        try Message.decodeKnown(attribute, transactionID: t)
        return "\(name) (\(v.count) bytes)"
      }
    } catch {
      return "\(name) (malformed: \(error))"
    }
  }
}
