/// How natscope speaks TLS to a server (turns:, stuns:, https: for WHIP): certificate
/// verification against the system trust store by default, or a private CA from a PEM file,
/// or none (`insecure`, which reports say). Plain data: the sessions carry it, and the
/// network runtime turns it into a TLS configuration.
public struct TLSClientSettings: Sendable, Hashable {
  /// The name the certificate must carry, also sent as SNI; nil when the server was named by
  /// an IP address (the certificate must then carry that IP).
  public var serverName: String?
  /// A PEM file of CA certificates to trust instead of the system's.
  public var caFile: String?
  /// Skip verification entirely (reports say so).
  public var insecure: Bool

  public init(serverName: String?, caFile: String? = nil, insecure: Bool = false) {
    self.serverName = serverName
    self.caFile = caFile
    self.insecure = insecure
  }
}
