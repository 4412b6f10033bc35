import DTLS
import Report
import Runtime
import STUN
import Traversal

/// What a ``ConnectSession`` runs on the selected pair once ICE has one: the DTLS handshake
/// (when configured and the peer offered it), then the search for the largest datagram the
/// pair carries (when configured). Both are sans-IO machines; this owns them and their
/// drivers, feeds them what the ICE session hands over, and says when both are done.
///
/// All calls and callbacks happen on the runtime's serial context.
final class ConnectAfterICE {
  private let runtime: any NetworkRuntime
  private let ice: ICESession
  private let dtls: ConnectDTLSSettings?
  private let dtlsTurnedOff: Bool
  private let pathMTU: PathMTUConfiguration?
  private let role: SignalingRole
  /// Records an event of the session (the handshake's start and outcome).
  private let record: (ConnectEvent) -> Void
  /// Whether the session still waits for a verdict (no report yet, not closed).
  private let live: () -> Bool
  /// Called once the handshake and the search (those that ran) are over.
  private let done: () -> Void

  /// The DTLS handshake on the selected pair, once ICE selected one.
  private var dtlsRun: ConnectDTLSRun?
  /// Its outcome (or why none ran), once known.
  private var dtlsOutcome: ConnectReport.DTLS?
  /// DTLS datagrams that came before the handshake started (the peer's ClientHello may beat
  /// this side's own nomination), with their source; at most 16.
  private var dtlsEarly: [([UInt8], TransportAddress)] = []
  /// The path MTU search on the selected pair, once it started, and its driver.
  private var mtuSearch: PathMTUSearch?
  private var mtuDriver: MachineDriver<PathMTUEvent>?
  /// What the search found.
  private var mtuResult: PathMTUResult?

  init(
    runtime: any NetworkRuntime, ice: ICESession, configuration: ConnectSessionConfiguration,
    record: @escaping (ConnectEvent) -> Void, live: @escaping () -> Bool,
    done: @escaping () -> Void
  ) {
    self.runtime = runtime
    self.ice = ice
    self.dtls = configuration.dtls
    self.dtlsTurnedOff = configuration.dtlsTurnedOff
    self.pathMTU = configuration.pathMTU
    self.role = configuration.role
    self.record = record
    self.live = live
    self.done = done
  }

  /// Whether the handshake or the search is under way (each has its own time limit: the
  /// check timeout does not cut them short).
  var running: Bool {
    (dtlsRun != nil && dtlsOutcome == nil) || (mtuSearch != nil && mtuResult == nil)
  }

  /// This side's `a=setup`: the offerer offers actpass; the answerer takes the client role
  /// (active) unless the offer insists on it (RFC 8842 §5.3).
  func localSetup(remote: SessionDescription?) -> DTLSSetupRole {
    if role == .offer { return .actpass }
    return remote?.dtls?.setup == .active ? .passive : .active
  }

  /// Starts what is configured on the selected pair: true while something runs (the verdict
  /// waits for ``done``), false when there is nothing to wait for.
  func start(local: SessionDescription?, remote: SessionDescription?) -> Bool {
    startDTLSIfWanted(local: local, remote: remote) || startPathMTUIfWanted()
  }

  /// A DTLS datagram from the ICE session's sockets.
  func input(_ bytes: [UInt8], from: TransportAddress) {
    guard let run = dtlsRun else {
      if dtlsEarly.count < 16 { dtlsEarly.append((bytes, from)) }
      return
    }
    // Only the selected pair's peer speaks DTLS to us.
    guard from == run.endpoint.remote else { return }
    dtlsApply(run.endpoint.handleInput(bytes, at: runtime.now))
  }

  /// Stops both: close_notify to the peer when the association is up.
  func stop() {
    mtuDriver?.stop()
    if let run = dtlsRun {
      for t in run.endpoint.close(at: runtime.now).transmits() {
        ice.send(t.bytes, from: run.base, to: t.to)
      }
      run.stop()
    }
  }

  /// The DTLS evidence for the report.
  func dtlsEvidence(remote: SessionDescription?) -> ConnectReport.DTLS? {
    guard dtls != nil else { return dtlsTurnedOff ? ConnectReport.DTLS(state: .off) : nil }
    if let o = dtlsOutcome { return o }
    if let run = dtlsRun { return run.report(now: runtime.now) }
    if ice.agent.selectedPair != nil, remote != nil, remote?.dtls == nil {
      return ConnectReport.DTLS(state: .peerOfferedNone)
    }
    return ConnectReport.DTLS(state: .notRun)
  }

  /// What the path MTU search found; when the session ends while it runs, what it knows so
  /// far, marked unfinished.
  func pathMTUEvidence() -> PathMTUResult? {
    if mtuResult == nil, var s = mtuSearch {
      _ = s.cancel(at: runtime.now)
      return s.result
    }
    return mtuResult
  }

  // MARK: - DTLS

  /// Starts the handshake on the selected pair when DTLS is configured and the peer offered
  /// it; true while it runs, false when there is nothing to wait for (the outcome then says
  /// why none ran).
  private func startDTLSIfWanted(local: SessionDescription?, remote: SessionDescription?) -> Bool {
    if dtlsRun != nil { return dtlsOutcome == nil }
    guard dtlsOutcome == nil, let settings = dtls else { return false }
    guard let peer = remote?.dtls else {
      dtlsOutcome = ConnectReport.DTLS(state: .peerOfferedNone)
      return false
    }
    guard let selected = ice.agent.selectedPair else { return false }
    let mine = local?.dtls?.setup ?? localSetup(remote: remote)
    guard let role = DTLSRole.from(local: mine, remote: peer.setup) else {
      dtlsOutcome = ConnectReport.DTLS(state: .failed, failure: .roleConflict)
      return false
    }
    let base = selected.local.base ?? selected.local.address
    let endpoint: DTLSEndpoint
    do {
      endpoint = try DTLSEndpoint(
        configuration: DTLSConfiguration(
          role: role, certificate: settings.certificate,
          expectedPeerFingerprint: peer.fingerprint, linkMTU: settings.linkMTU,
          initialRetransmission: settings.initialRetransmission,
          handshakeTimeout: settings.handshakeTimeout),
        remote: selected.remote.address)
    } catch {
      dtlsOutcome = ConnectReport.DTLS(
        state: .failed, role: role.rawValue, failure: .error, detail: error.message)
      return false
    }
    let run = ConnectDTLSRun(
      endpoint: endpoint, base: base, expected: peer.fingerprint, linkMTU: settings.linkMTU,
      certificateBytes: settings.certificate.derLength, runtime: runtime,
      send: { [weak self] t in self?.ice.send(t.bytes, from: base, to: t.to) },
      timeout: { [weak self, weak endpoint] now in
        guard let self, let endpoint else { return }
        self.dtlsApply(endpoint.handleTimeout(at: now))
      })
    dtlsRun = run
    var started = run.report(now: runtime.now)
    started.state = .handshaking
    record(.dtls(started))
    dtlsApply(endpoint.start(at: runtime.now))
    let early = dtlsEarly
    dtlsEarly = []
    for (bytes, from) in early where from == endpoint.remote && dtlsOutcome == nil {
      dtlsApply(endpoint.handleInput(bytes, at: runtime.now))
    }
    return dtlsOutcome == nil
  }

  private func dtlsApply(_ outputs: [MachineOutput<DTLSEvent>]) {
    guard let run = dtlsRun else { return }
    for event in run.carryOut(outputs) {
      switch event {
      case .connected, .failed:
        guard dtlsOutcome == nil else { continue }
        let outcome = run.report(now: runtime.now)
        dtlsOutcome = outcome
        record(.dtls(outcome))
        if live(), !startPathMTUIfWanted() { done() }
      case .retransmitted, .closedByPeer:
        break
      }
    }
  }

  // MARK: - Path MTU

  /// Starts the search for the largest datagram on the selected pair when configured; true
  /// while it runs.
  private func startPathMTUIfWanted() -> Bool {
    if mtuSearch != nil { return mtuResult == nil }
    guard let settings = pathMTU, live(), let selected = ice.agent.selectedPair,
      let identity = ice.agent.pathProbeIdentity
    else { return false }
    let base = selected.localBase
    var search = PathMTUSearch(
      configuration: settings, identity: identity, base: base, remote: selected.remote.address,
      viaRelay: selected.local.type == .relay)
    let driver = MachineDriver<PathMTUEvent>(
      runtime: runtime, transmit: { [weak self] t in self?.ice.send(t) },
      timeout: { [weak self] now in
        guard let self, var s = self.mtuSearch else { return }
        let out = s.handleTimeout(at: now)
        self.mtuSearch = s
        self.mtuApply(out)
      })
    mtuDriver = driver
    ice.onSTUNResponse = { [weak self] message, length, from, arrivedOn in
      guard let self, var s = self.mtuSearch, arrivedOn == s.base,
        s.owns(message.transactionID)
      else { return false }
      let out = s.handleInput(message, length: length, from: from, at: self.runtime.now)
      self.mtuSearch = s
      self.mtuApply(out)
      return true
    }
    ice.onTooBig = { [weak self] destination, from, mtu, reporter in
      guard let self, var s = self.mtuSearch, from == s.base, destination == s.remote else {
        return
      }
      let out = s.handleTooBig(mtu: mtu, reporter: reporter, at: self.runtime.now)
      self.mtuSearch = s
      self.mtuApply(out)
    }
    let out = search.start(at: runtime.now)
    mtuSearch = search
    mtuApply(out)
    return mtuResult == nil
  }

  private func mtuApply(_ outputs: [MachineOutput<PathMTUEvent>]) {
    guard let driver = mtuDriver else { return }
    for event in driver.carryOut(outputs) {
      switch event {
      case .finished(let r):
        guard mtuResult == nil else { continue }
        mtuResult = r
        driver.stop()
        if live() { done() }
      }
    }
  }
}
