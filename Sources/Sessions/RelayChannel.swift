import Runtime
import STUN
import Traversal

/// A relayed transport address from a TURN allocation, as an ICE session uses it: the seam
/// between the ICE agent's sessions and the TURN client.
///
/// All calls and callbacks happen on the owning runtime's serial context.
public protocol RelayChannel: AnyObject {
  /// XOR-RELAYED-ADDRESS: where peers send to reach us through the relay.
  var relayedAddress: TransportAddress { get }
  /// XOR-MAPPED-ADDRESS from the Allocate response (a server-reflexive address for free).
  var mappedAddress: TransportAddress? { get }
  /// The TURN server's address, as the related address of the relayed candidate.
  var serverAddress: TransportAddress { get }
  /// Sends `bytes` to `peer` through the relay, installing a permission (and a channel, where
  /// the client uses them) first if needed. Never throws: failures surface as events.
  func send(_ bytes: [UInt8], to peer: TransportAddress)
  /// Data that arrived from a peer through the relay (Data indication or ChannelData).
  var onReceive: ((_ bytes: [UInt8], _ from: TransportAddress) -> Void)? { get set }
  /// Releases the allocation (Refresh with LIFETIME 0) and closes its socket or connection.
  func close()
}
