import COpenSSL
import STUN
import Traversal

/// How a DTLS endpoint is set up.
public struct DTLSConfiguration: Sendable {
  /// Client (sends the ClientHello) or server.
  public var role: DTLSRole
  /// This side's certificate and key.
  public var certificate: DTLSCertificate
  /// The fingerprint the peer signalled; the peer's certificate must have it. nil accepts any
  /// certificate (and the report says the fingerprint was not checked).
  public var expectedPeerFingerprint: DTLSFingerprint?
  /// The largest datagram the endpoint writes (OpenSSL fragments larger flights to fit); at
  /// least 256.
  public var linkMTU: Int
  /// The first retransmission timeout; OpenSSL doubles it after each retransmission (RFC 6347
  /// §4.2.4.1 suggests 1 s).
  public var initialRetransmission: Duration
  /// How long the handshake may take before the endpoint gives up.
  public var handshakeTimeout: Duration

  /// The SRTP profiles offered with use_srtp, in order of preference, as a WebRTC peer offers
  /// them.
  public static let srtpProfiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

  public init(
    role: DTLSRole, certificate: DTLSCertificate, expectedPeerFingerprint: DTLSFingerprint?,
    linkMTU: Int = 1200, initialRetransmission: Duration = .seconds(1),
    handshakeTimeout: Duration = .seconds(10)
  ) {
    self.role = role
    self.certificate = certificate
    self.expectedPeerFingerprint = expectedPeerFingerprint
    self.linkMTU = linkMTU
    self.initialRetransmission = initialRetransmission
    self.handshakeTimeout = handshakeTimeout
  }
}

/// What OpenSSL's callbacks see: the verify, info, timer and write callbacks are C functions
/// with no context of their own, so they find this object through the SSL's app data (and the
/// write BIO's data pointer). Only touched from within calls into OpenSSL made by the endpoint.
final class DTLSCallbackState {
  var expected: DTLSFingerprint?
  var received: DTLSFingerprint?
  var mismatch = false
  var initialMicroseconds: UInt32
  var alertsReceived: [DTLSAlert] = []
  var alertsSent: [DTLSAlert] = []
  var outbox: [[UInt8]] = []

  init(expected: DTLSFingerprint?, initialMicroseconds: UInt32) {
    self.expected = expected
    self.initialMicroseconds = initialMicroseconds
  }
}

/// One side of a DTLS 1.2 handshake as a sans-IO machine, in the house's machine style:
/// `start(at:)`, `handleInput(_:at:)` and `handleTimeout(at:)` return transmits, events and, last,
/// the next deadline (see `MachineOutput`).
///
/// OpenSSL does the handshake and the record layer, driven through a memory BIO for what
/// arrives and a datagram-keeping BIO for what leaves: each record OpenSSL writes is one
/// transmit, no larger than `linkMTU` (`SSL_OP_NO_QUERY_MTU` with `DTLS_set_link_mtu`, so OpenSSL
/// fragments large flights instead of asking a socket it does not have). use_srtp is offered;
/// the peer's certificate is accepted self-signed but must have the fingerprint the peer
/// signalled, checked in the verify callback (a mismatch ends the handshake with
/// bad_certificate and is reported as such).
///
/// Timing, honestly: OpenSSL 3.0 keeps its retransmission timer on the wall clock
/// (`gettimeofday`) and offers no way to give it another clock. The endpoint sets the timer's
/// durations (`DTLS_set_timer_cb`: `initialRetransmission`, doubled each time), reports as its
/// deadline the instant OpenSSL's timer runs out (OpenSSL's remaining time added to the `now`
/// it was given) and calls `DTLSv1_handle_timeout` from `handleTimeout`. When the caller's clock
/// runs ahead of the wall clock (a simulation that skips idle time), OpenSSL declines to
/// retransmit until wall time catches up, and the endpoint reports the remaining time again:
/// retransmissions then follow real time, while the give-up time (`handshakeTimeout`) follows
/// the caller's clock. OpenSSL also retransmits by itself, inside `handleInput`, when its timer
/// has run out by the time a datagram arrives.
public final class DTLSEndpoint {
  /// The endpoint's state.
  public private(set) var state: DTLSState = .idle
  /// What it counted.
  public private(set) var counters = DTLSCounters()
  /// What the handshake agreed, once it finished.
  public private(set) var result: DTLSHandshakeResult?
  /// Why it failed, when it did.
  public private(set) var failure: DTLSFailure?
  /// When the handshake started (the ClientHello was sent, or the server began to wait).
  public private(set) var startedAt: Instant?
  /// When it finished.
  public private(set) var connectedAt: Instant?
  /// The role this endpoint plays.
  public let role: DTLSRole
  /// Where transmits go (the selected pair's remote address, or the relay's peer).
  public let remote: TransportAddress

  private let configuration: DTLSConfiguration
  private let context: OpaquePointer
  private let ssl: OpaquePointer
  private let readBIO: OpaquePointer
  private let method: OpaquePointer
  private let callbacks: DTLSCallbackState
  private var giveUpAt: Instant?
  private var retransmitAt: Instant?

  /// Sets up OpenSSL for one handshake; nothing is sent until `start(at:)` (or, for a server,
  /// the first datagram).
  ///
  /// - Throws: `DTLSError.setup` when OpenSSL refuses the configuration (e.g. a link MTU under
  ///   256).
  public init(configuration: DTLSConfiguration, remote: TransportAddress) throws(DTLSError) {
    guard configuration.linkMTU >= 256, configuration.linkMTU <= 65_507 else {
      throw DTLSError.setup("the link MTU must be between 256 and 65507 bytes")
    }
    ERR_clear_error()
    let initial = max(1, min(configuration.initialRetransmission.nanoseconds / 1000, 60_000_000))
    let callbacks = DTLSCallbackState(
      expected: configuration.expectedPeerFingerprint, initialMicroseconds: UInt32(initial))
    guard let context = SSL_CTX_new(DTLS_method()) else {
      throw DTLSError.setup(OpenSSLErrors.drain())
    }
    guard natscope_ctx_dtls12_only(context) == 1,
      SSL_CTX_use_certificate(context, configuration.certificate.certificate) == 1,
      SSL_CTX_use_PrivateKey(context, configuration.certificate.key) == 1,
      SSL_CTX_check_private_key(context) == 1,
      // Returns 0 on success.
      SSL_CTX_set_tlsext_use_srtp(context, DTLSConfiguration.srtpProfiles) == 0
    else {
      let reason = OpenSSLErrors.drain()
      SSL_CTX_free(context)
      throw DTLSError.setup(reason)
    }
    SSL_CTX_set_verify(context, natscope_verify_peer_required(), dtlsVerify)
    guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "natscope-dtls")
    else {
      SSL_CTX_free(context)
      throw DTLSError.setup("OpenSSL could not make a BIO method")
    }
    BIO_meth_set_write(method, dtlsBIOWrite)
    BIO_meth_set_ctrl(method, dtlsBIOControl)
    BIO_meth_set_create(method, dtlsBIOCreate)
    guard let ssl = SSL_new(context), let readBIO = BIO_new(BIO_s_mem()),
      let writeBIO = BIO_new(method)
    else {
      let reason = OpenSSLErrors.drain()
      BIO_meth_free(method)
      SSL_CTX_free(context)
      throw DTLSError.setup(reason)
    }
    natscope_bio_set_mem_eof_return(readBIO, -1)
    BIO_set_data(writeBIO, Unmanaged.passUnretained(callbacks).toOpaque())
    SSL_set_bio(ssl, readBIO, writeBIO)
    _ = natscope_ssl_set_app_data(ssl, Unmanaged.passUnretained(callbacks).toOpaque())
    _ = natscope_ssl_set_options(ssl, natscope_op_no_query_mtu())
    _ = natscope_dtls_set_link_mtu(ssl, configuration.linkMTU)
    DTLS_set_timer_cb(ssl, dtlsTimer)
    SSL_set_info_callback(ssl, dtlsInfo)
    if configuration.role == .client {
      SSL_set_connect_state(ssl)
    } else {
      SSL_set_accept_state(ssl)
    }
    self.configuration = configuration
    self.context = context
    self.ssl = ssl
    self.readBIO = readBIO
    self.method = method
    self.callbacks = callbacks
    self.role = configuration.role
    self.remote = remote
  }

  deinit {
    SSL_free(ssl)  // frees both BIOs
    SSL_CTX_free(context)
    BIO_meth_free(method)
  }

  /// Starts the handshake: a client sends its ClientHello; a server starts waiting for one.
  public func start(at now: Instant) -> [MachineOutput<DTLSEvent>] {
    var out: [MachineOutput<DTLSEvent>] = []
    if state == .idle {
      begin(now)
      if role == .client { drive(now, &out) }
    }
    finish(now, &out)
    return out
  }

  /// A datagram from the peer. Only datagrams whose first byte is 20–63 (RFC 7983) reach
  /// OpenSSL; others, and empty ones, are dropped and counted. A server that was not started
  /// starts here.
  public func handleInput(_ bytes: [UInt8], at now: Instant) -> [MachineOutput<DTLSEvent>] {
    var out: [MachineOutput<DTLSEvent>] = []
    guard let first = bytes.first, (20...63).contains(first), bytes.count <= 65_535 else {
      counters.datagramsDropped += 1
      finish(now, &out)
      return out
    }
    if state == .idle { begin(now) }
    guard state == .handshaking || state == .connected else {
      finish(now, &out)
      return out
    }
    counters.datagramsReceived += 1
    _ = bytes.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
    drive(now, &out)
    // What OpenSSL left unread (a malformed record) must not run into the next datagram.
    if natscope_bio_pending(readBIO) > 0 { _ = BIO_ctrl(readBIO, BIO_CTRL_RESET, 0, nil) }
    finish(now, &out)
    return out
  }

  /// Time has passed: gives up after `handshakeTimeout`, and asks OpenSSL to retransmit the
  /// last flight when its timer has run out.
  public func handleTimeout(at now: Instant) -> [MachineOutput<DTLSEvent>] {
    var out: [MachineOutput<DTLSEvent>] = []
    guard state == .handshaking else {
      finish(now, &out)
      return out
    }
    if let giveUp = giveUpAt, now >= giveUp {
      let why: DTLSFailure =
        counters.datagramsReceived == 0
        ? .noAnswer : .stalled(datagramsReceived: counters.datagramsReceived)
      fail(why, &out)
      return out
    }
    if let at = retransmitAt, now >= at {
      ERR_clear_error()
      let r = natscope_dtls_handle_timeout(ssl)
      if r > 0 {
        counters.retransmissions += 1
        flush(&out)
        out.append(.event(.retransmitted(count: counters.retransmissions)))
      } else if r < 0 {
        flush(&out)
        fail(classifyFailure(), &out)
        return out
      }
    }
    finish(now, &out)
    return out
  }

  /// Ends the association with close_notify (after a handshake) or stops the handshake.
  public func close(at now: Instant) -> [MachineOutput<DTLSEvent>] {
    var out: [MachineOutput<DTLSEvent>] = []
    if state == .connected {
      ERR_clear_error()
      _ = SSL_shutdown(ssl)
      flush(&out)
      state = .closed
    } else if state == .handshaking || state == .idle {
      state = .closed
    }
    giveUpAt = nil
    retransmitAt = nil
    return out
  }

  // MARK: - Driving OpenSSL

  private func begin(_ now: Instant) {
    state = .handshaking
    startedAt = now
    giveUpAt = now + configuration.handshakeTimeout
  }

  private func drive(_ now: Instant, _ out: inout [MachineOutput<DTLSEvent>]) {
    ERR_clear_error()
    switch state {
    case .handshaking:
      let r = SSL_do_handshake(ssl)
      flush(&out)
      if r == 1 {
        connected(now, &out)
      } else {
        let e = SSL_get_error(ssl, r)
        if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE { fail(classifyFailure(), &out) }
      }
    case .connected:
      // After the handshake: read what came (a retransmitted flight is answered by OpenSSL
      // inside SSL_read; application data, which natscope does not send, is discarded).
      var buffer = [UInt8](repeating: 0, count: 2048)
      for _ in 0..<16 {
        let r = SSL_read(ssl, &buffer, Int32(buffer.count))
        if r > 0 { continue }
        let e = SSL_get_error(ssl, r)
        flush(&out)
        if e == SSL_ERROR_ZERO_RETURN {
          state = .closed
          out.append(.event(.closedByPeer))
        } else if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE {
          state = .closed
          out.append(.event(.failed(classifyFailure())))
        }
        break
      }
      flush(&out)
    default:
      break
    }
  }

  private func connected(_ now: Instant, _ out: inout [MachineOutput<DTLSEvent>]) {
    var cipher = "unknown"
    if let c = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(c) {
      cipher = String(cString: name)
    }
    var profile: String?
    if let p = SSL_get_selected_srtp_profile(ssl), let name = p.pointee.name {
      profile = String(cString: name)
    }
    var peer: DTLSFingerprint?
    if let cert = natscope_peer_certificate(ssl) {
      peer = DTLSCertificate.fingerprint(of: cert)
      X509_free(cert)
    }
    if let expected = configuration.expectedPeerFingerprint, peer != expected {
      // The verify callback should have stopped this; never report a mismatch as connected.
      fail(.fingerprintMismatch(expected: expected, received: peer), &out)
      return
    }
    let result = DTLSHandshakeResult(cipher: cipher, srtpProfile: profile, peerFingerprint: peer)
    self.result = result
    state = .connected
    connectedAt = now
    giveUpAt = nil
    retransmitAt = nil
    out.append(.event(.connected(result)))
  }

  private func classifyFailure() -> DTLSFailure {
    let reason = OpenSSLErrors.drain()
    if callbacks.mismatch, let expected = callbacks.expected {
      return .fingerprintMismatch(expected: expected, received: callbacks.received)
    }
    if let alert = callbacks.alertsReceived.last(where: { $0.fatal }) {
      return .alertReceived(alert)
    }
    if let alert = callbacks.alertsSent.last(where: { $0.fatal }) {
      return .alertSent(alert, reason: reason)
    }
    return .error(reason)
  }

  private func fail(_ why: DTLSFailure, _ out: inout [MachineOutput<DTLSEvent>]) {
    failure = why
    state = .failed
    giveUpAt = nil
    retransmitAt = nil
    out.append(.event(.failed(why)))
  }

  private func flush(_ out: inout [MachineOutput<DTLSEvent>]) {
    for datagram in callbacks.outbox {
      counters.datagramsSent += 1
      counters.largestDatagramSent = max(counters.largestDatagramSent, datagram.count)
      out.append(.transmit(Transmit(bytes: datagram, to: remote)))
    }
    callbacks.outbox.removeAll()
  }

  private func finish(_ now: Instant, _ out: inout [MachineOutput<DTLSEvent>]) {
    guard state == .handshaking else { return }
    var tv = timeval()
    if natscope_dtls_get_timeout(ssl, &tv) == 1 {
      retransmitAt = now + .seconds(Int64(tv.tv_sec)) + .microseconds(Int64(tv.tv_usec))
    } else {
      retransmitAt = nil
    }
    let deadline = [retransmitAt, giveUpAt].compactMap { $0 }.min()
    if let deadline { out.append(.timeout(deadline)) }
  }
}

// MARK: - OpenSSL callbacks (C functions; they reach the endpoint's state through app data)

private func callbackState(_ raw: UnsafeMutableRawPointer?) -> DTLSCallbackState? {
  guard let raw else { return nil }
  return Unmanaged<DTLSCallbackState>.fromOpaque(raw).takeUnretainedValue()
}

/// Accepts a self-signed certificate but compares the leaf's SHA-256 digest with the
/// fingerprint the peer signalled.
private func dtlsVerify(_ preverify: Int32, _ store: OpaquePointer?) -> Int32 {
  guard let store, let ssl = natscope_store_ssl(store),
    let state = callbackState(natscope_ssl_get_app_data(ssl))
  else { return 0 }
  guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
  guard let cert = X509_STORE_CTX_get_current_cert(store) else { return 0 }
  let received = DTLSCertificate.fingerprint(of: cert)
  state.received = received
  guard let expected = state.expected else { return 1 }
  if received == expected { return 1 }
  state.mismatch = true
  // So OpenSSL's alert says bad_certificate (42), not unknown_ca.
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
  return 0
}

/// Records alerts sent and received.
private func dtlsInfo(_ ssl: OpaquePointer?, _ kind: Int32, _ value: Int32) {
  guard kind & SSL_CB_ALERT != 0, let ssl, let state = callbackState(natscope_ssl_get_app_data(ssl))
  else { return }
  var name = "alert \(value & 0xff)"
  if let long = SSL_alert_desc_string_long(value) { name = String(cString: long) }
  let alert = DTLSAlert(code: Int(value & 0xff), fatal: (value >> 8) == 2, name: name)
  if kind & SSL_CB_READ != 0 {
    state.alertsReceived.append(alert)
  } else {
    state.alertsSent.append(alert)
  }
}

/// The retransmission timer's durations: the configured first one, then doubled (at most 60 s).
private func dtlsTimer(_ ssl: OpaquePointer?, _ previous: UInt32) -> UInt32 {
  guard previous > 0 else {
    guard let ssl, let state = callbackState(natscope_ssl_get_app_data(ssl)) else {
      return 1_000_000
    }
    return state.initialMicroseconds
  }
  return previous >= 30_000_000 ? 60_000_000 : previous * 2
}

private func dtlsBIOCreate(_ bio: OpaquePointer?) -> Int32 {
  BIO_set_init(bio, 1)
  return 1
}

/// Each write is one datagram: kept whole, in order.
private func dtlsBIOWrite(_ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int32)
  -> Int32
{
  guard let bio, let data, length >= 0, let state = callbackState(BIO_get_data(bio)) else {
    return -1
  }
  let bytes = UnsafeRawBufferPointer(start: data, count: Int(length))
  state.outbox.append(Array(bytes))
  return length
}

private func dtlsBIOControl(
  _ bio: OpaquePointer?, _ command: Int32, _ number: Int, _ pointer: UnsafeMutableRawPointer?
) -> Int {
  command == BIO_CTRL_FLUSH ? 1 : 0
}
