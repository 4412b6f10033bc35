import STUN

/// A step of the UPnP IGD sequence.
public enum UPnPIGDStep: String, Sendable, Hashable, Codable {
  case fetchDescription
  case getExternalIPAddress
  case addPortMapping
  case addAnyPortMapping
  case deletePortMapping

}

/// Why a step of the UPnP IGD sequence failed, typed (the report words it).
public enum UPnPIGDFailureReason: Sendable, Hashable {
  /// The URL's host is a name, not an IP address (`location`: the SSDP LOCATION itself), and
  /// natscope only follows IP addresses. The host is as sent.
  case hostNotAnIPAddress(String, location: Bool)
  /// The HTTP response could not be read.
  case badHTTP(HTTPParseError)
  /// The TCP connection to `host` could not be opened, or broke (refused, timed out, or the
  /// system's words), typed.
  case connectionFailed(host: String, reason: StreamCloseReason)
  /// No complete HTTP response arrived within `timeout`.
  case timeout(Duration)
  /// The device answered with an HTTP status other than 200 (the reason phrase as sent).
  case httpStatus(Int, reason: String)
  /// The device description or the SOAP answer could not be used.
  case badDocument(UPnPXMLError)
  /// The device lists no WANIPConnection or WANPPPConnection service with a usable control
  /// URL.
  case noConnectionService
  /// An AddAnyPortMapping answer without a usable NewReservedPort.
  case noReservedPort
  /// The device answered with a SOAP fault (its code and its own description are in it).
  case fault(UPnPSOAPFault)
}

/// Why a step of the UPnP IGD sequence failed.
public struct UPnPIGDFailure: Error, Sendable, Hashable {
  /// The step.
  public var step: UPnPIGDStep
  /// The URL asked.
  public var url: HTTPURL
  /// What went wrong.
  public var reason: UPnPIGDFailureReason

  public init(step: UPnPIGDStep, url: HTTPURL, reason: UPnPIGDFailureReason) {
    self.step = step
    self.url = url
    self.reason = reason
  }

  /// The UPnP error code, when the device answered with a SOAP fault that has one.
  public var errorCode: UPnPErrorCode? {
    if case .fault(let f) = reason { f.errorCode } else { nil }
  }
}

/// What kept a UPnP IGD run from a full answer, typed (the report words it).
public enum UPnPIGDProblem: Sendable, Hashable {
  /// A step failed.
  case failed(UPnPIGDFailure)
  /// GetExternalIPAddress at `url` reported no usable address (`said` as sent); the device's
  /// WAN link may be down.
  case noExternalAddress(url: HTTPURL, said: String)
}

/// What a ``UPnPIGDClient`` reports.
public enum UPnPIGDEvent: Sendable, Hashable {
  /// The description was read; `service` is the WAN connection service to be driven.
  case described(deviceType: String, friendlyName: String?, service: UPnPService)
  /// GetExternalIPAddress answered (nil: the device reported no usable address).
  case externalAddress(IPAddress?, rtt: Duration)
  /// A step is retried differently after a fault: AddAnyPortMapping after a conflict, or a
  /// permanent lease after error 725.
  case retrying(UPnPIGDStep, because: UPnPErrorCode)
  /// The mapping exists: `externalPort` on the device forwards to the requested internal port;
  /// `leaseDuration` 0 means permanent.
  case mapped(externalPort: UInt16, leaseDuration: UInt32, step: UPnPIGDStep)
  /// DeletePortMapping succeeded.
  case deleted(externalPort: UInt16)
  /// A step failed; the sequence stops (after a mapping failure, nothing is left to delete).
  case failed(UPnPIGDFailure)
  /// The sequence ended (after success or failure) with this summary (its `error` left for
  /// the report to word from `problem`).
  case finished(PortMappingResult, problem: UPnPIGDProblem?)
}

/// What a ``UPnPIGDClient`` asks its driver to do, or reports.
public enum UPnPIGDClientOutput: Sendable, Hashable {
  /// Open a TCP connection to `to`, write `bytes`, and hand every received chunk to
  /// ``UPnPIGDClient/handleInput(id:bytes:at:)`` and the end of the stream to
  /// ``UPnPIGDClient/handleClosed(id:at:)`` (or a connect/IO error to
  /// ``UPnPIGDClient/handleConnectionFailed(id:reason:at:)``).
  case request(id: Int, to: TransportAddress, bytes: [UInt8])
  /// The client is done with connection `id` (its response is complete, or it timed out):
  /// close it.
  case close(id: Int)
  /// Call ``UPnPIGDClient/handleTimeout(at:)`` at this instant (replaces any earlier timeout).
  /// As in `MachineOutput`, it comes last in a call's outputs when the client has a deadline,
  /// and a call without it leaves the client with none.
  case timeout(Instant)
  /// Something happened.
  case event(UPnPIGDEvent)
}

/// A sans-IO UPnP IGD control point for one device, found by SSDP at `location`.
///
/// It sequences: fetch the device description → GetExternalIPAddress → (when a mapping is
/// configured) AddPortMapping, falling back to AddAnyPortMapping on a conflict (718, IGD:2
/// only) and to a permanent lease on 725 → DeletePortMapping (when configured). Every step is
/// one HTTP/1.1 request on its own connection (`Connection: close`), expressed as a
/// `.request` output; the driver feeds back bytes, end of stream, or a connection error. Each
/// step has a timeout. Input for a connection the client no longer waits on is ignored and
/// counted.
///
/// ```swift
/// var c = UPnPIGDClient(location: ssdp.location, configuration: .init(mapping: m))
/// out = c.start(at: now)     // [.request(id: 1, to: 192.168.1.1:5000, bytes: GET …), .timeout]
/// out = c.handleInput(id: 1, bytes: chunk, at: now)   // … → .request(id: 2, SOAP …)
/// ```
public struct UPnPIGDClient: Sendable {
  /// What to do and how long to wait.
  public struct Configuration: Sendable, Hashable {
    /// The mapping to add; nil only reads the description and the external address.
    public var mapping: UPnPPortMappingRequest?
    /// Delete the mapping again once made (a diagnostic probe leaves nothing behind).
    public var deleteAfterMapping: Bool
    /// How long each HTTP exchange (connect, send, whole response) may take.
    public var requestTimeout: Duration
    /// The most bytes a response body may have.
    public var maximumBodyBytes: Int

    public init(
      mapping: UPnPPortMappingRequest? = nil, deleteAfterMapping: Bool = true,
      requestTimeout: Duration = .seconds(5), maximumBodyBytes: Int = 256 * 1024
    ) {
      self.mapping = mapping
      self.deleteAfterMapping = deleteAfterMapping
      self.requestTimeout = max(.milliseconds(10), requestTimeout)
      self.maximumBodyBytes = max(1024, maximumBodyBytes)
    }
  }

  /// Where the sequence stands.
  public enum State: Sendable, Hashable {
    case idle
    case running(UPnPIGDStep)
    /// A mapping is in place and the client waits for ``deleteMapping(at:)``.
    case holdingMapping
    case finished
  }

  /// Counters for reports.
  public struct Stats: Sendable, Hashable, Codable {
    /// Inputs for a connection the client was no longer waiting on.
    public var ignoredInputs = 0
    /// HTTP requests sent.
    public var requests = 0
    public init() {}
  }

  private struct Exchange: Sendable {
    var id: Int
    var step: UPnPIGDStep
    var url: HTTPURL
    var action: UPnPAction?
    var parser: HTTPResponseParser
    var sentAt: Instant
    var deadline: Instant
  }

  /// The description URL (SSDP LOCATION).
  public let location: HTTPURL
  /// Settings.
  public let configuration: Configuration
  /// Where the sequence stands.
  public private(set) var state: State = .idle
  /// The device description, once read.
  public private(set) var deviceDescription: UPnPDeviceDescription?
  /// The connection service driven.
  public private(set) var service: UPnPService?
  /// The external address GetExternalIPAddress reported.
  public private(set) var externalAddress: IPAddress?
  /// The external port that was mapped (kept after a deletion, for the result).
  public private(set) var mappedExternalPort: UInt16?
  /// The lease granted to the mapping (0: permanent).
  public private(set) var leaseDuration: UInt32?
  /// Counters.
  public private(set) var stats = Stats()

  private var exchange: Exchange?
  private var nextID = 1
  private var mappingRequest: UPnPPortMappingRequest?
  private var triedPermanent = false
  private var firstRTT: Duration?
  private var anyAnswer = false
  /// The first thing that kept the run from a full answer.
  public private(set) var problem: UPnPIGDProblem?
  /// A renewal (AddPortMapping again) is in flight: its failure leaves the mapping held.
  private var renewing = false

  /// A client for the device whose description is at `location`.
  public init(location: HTTPURL, configuration: Configuration = Configuration()) {
    self.location = location
    self.configuration = configuration
    self.mappingRequest = configuration.mapping
  }

  /// The instant the current step times out.
  public var nextWake: Instant? { exchange?.deadline }

  // MARK: - Inputs

  /// Starts the sequence by fetching the description.
  public mutating func start(at now: Instant) -> [UPnPIGDClientOutput] {
    guard state == .idle else { return finish([]) }
    guard location.address != nil else {
      state = .finished
      return finish(
        finishRun(
          failure: UPnPIGDFailure(
            step: .fetchDescription, url: location,
            reason: .hostNotAnIPAddress(location.host, location: true))))
    }
    let out = begin(.fetchDescription, url: location, action: nil, at: now)
    return finish(out)
  }

  /// Bytes arrived on connection `id`.
  public mutating func handleInput(id: Int, bytes: [UInt8], at now: Instant)
    -> [UPnPIGDClientOutput]
  {
    guard var ex = exchange, ex.id == id else {
      stats.ignoredInputs += 1
      return finish([])
    }
    let response: HTTPResponse?
    do {
      response = try ex.parser.feed(bytes)
    } catch {
      exchange = nil
      let out: [UPnPIGDClientOutput] = [.close(id: id)]
      return finish(out + stepFailed(ex, reason: .badHTTP(error)))
    }
    exchange = ex
    guard let response else { return finish([]) }
    exchange = nil
    let out: [UPnPIGDClientOutput] = [.close(id: id)]
    return finish(out + completed(ex, response, at: now))
  }

  /// Connection `id` reached end of stream.
  public mutating func handleClosed(id: Int, at now: Instant) -> [UPnPIGDClientOutput] {
    guard var ex = exchange, ex.id == id else {
      stats.ignoredInputs += 1
      return finish([])
    }
    exchange = nil
    do {
      let response = try ex.parser.finish()
      return finish(completed(ex, response, at: now))
    } catch {
      return finish(stepFailed(ex, reason: .badHTTP(error)))
    }
  }

  /// Connection `id` could not be opened, or broke.
  public mutating func handleConnectionFailed(
    id: Int, reason: StreamCloseReason, at now: Instant
  )
    -> [UPnPIGDClientOutput]
  {
    guard let ex = exchange, ex.id == id else {
      stats.ignoredInputs += 1
      return finish([])
    }
    exchange = nil
    let host = ex.url.address?.description ?? ex.url.hostHeader
    return finish(
      [.close(id: id)]
        + stepFailed(ex, reason: .connectionFailed(host: host, reason: reason)))
  }

  /// Advances time: the current step fails if its deadline passed.
  public mutating func handleTimeout(at now: Instant) -> [UPnPIGDClientOutput] {
    guard let ex = exchange, ex.deadline <= now else { return finish([]) }
    exchange = nil
    return finish(
      [.close(id: ex.id)] + stepFailed(ex, reason: .timeout(configuration.requestTimeout)))
  }

  /// Renews the mapping held (when `deleteAfterMapping` was false): sends AddPortMapping again
  /// for the same external port, internal client and lease, which a device takes as a refresh
  /// of its own entry. Success reports `.mapped` again; a failure reports `.failed` and leaves
  /// the client holding the mapping (it lives until its lease ends), so ``deleteMapping(at:)``
  /// can still remove it. Nothing happens unless a mapping is held.
  public mutating func renewMapping(at now: Instant) -> [UPnPIGDClientOutput] {
    guard state == .holdingMapping, let port = mappedExternalPort, var m = mappingRequest,
      let service, let url = service.controlURL
    else { return finish([]) }
    m.externalPort = port
    mappingRequest = m
    renewing = true
    let out = begin(.addPortMapping, url: url, action: .addPortMapping(m), at: now)
    return finish(out)
  }

  /// Deletes the mapping now, when `deleteAfterMapping` was false and a mapping is held.
  public mutating func deleteMapping(at now: Instant) -> [UPnPIGDClientOutput] {
    guard state == .holdingMapping, let port = mappedExternalPort, let m = mappingRequest,
      let service, let url = service.controlURL
    else { return finish([]) }
    let out = begin(
      .deletePortMapping, url: url,
      action: .deletePortMapping(externalPort: port, proto: m.proto, remoteHost: m.remoteHost),
      at: now)
    return finish(out)
  }

  /// The summary so far (final once `.finished` was reported).
  public var result: PortMappingResult {
    PortMappingResult(
      name: .upnpIGD, gateway: service?.controlURL?.address ?? location.address,
      answered: anyAnswer, rtt: firstRTT, externalAddress: externalAddress,
      externalPort: mappedExternalPort, lifetime: mappedExternalPort == nil ? nil : leaseDuration)
  }

  // MARK: - Internals

  private mutating func begin(
    _ step: UPnPIGDStep, url: HTTPURL, action: UPnPAction?, at now: Instant
  ) -> [UPnPIGDClientOutput] {
    guard let address = url.address else {
      return finishRun(
        failure: UPnPIGDFailure(
          step: step, url: url, reason: .hostNotAnIPAddress(url.host, location: false)))
    }
    let bytes: [UInt8]
    if let action, let service {
      bytes = UPnPSOAP.request(action, serviceType: service.serviceType, controlURL: url)
    } else {
      bytes = UPnPSOAP.get(url)
    }
    let id = nextID
    nextID += 1
    stats.requests += 1
    state = .running(step)
    exchange = Exchange(
      id: id, step: step, url: url, action: action,
      parser: HTTPResponseParser(maximumBodyBytes: configuration.maximumBodyBytes), sentAt: now,
      deadline: now + configuration.requestTimeout)
    return [.request(id: id, to: address, bytes: bytes)]
  }

  private mutating func completed(_ ex: Exchange, _ response: HTTPResponse, at now: Instant)
    -> [UPnPIGDClientOutput]
  {
    anyAnswer = true
    let rtt = now - ex.sentAt
    switch ex.step {
    case .fetchDescription:
      guard response.status == 200 else {
        return stepFailed(ex, reason: .httpStatus(response.status, reason: response.reason))
      }
      let description: UPnPDeviceDescription
      do {
        description = try UPnPDeviceDescription(xml: response.body, location: location)
      } catch {
        return stepFailed(ex, reason: .badDocument(error))
      }
      deviceDescription = description
      guard let service = description.connectionService, let url = service.controlURL else {
        return stepFailed(ex, reason: .noConnectionService)
      }
      self.service = service
      var out: [UPnPIGDClientOutput] = [
        .event(
          .described(
            deviceType: description.deviceType, friendlyName: description.friendlyName,
            service: service))
      ]
      out += begin(.getExternalIPAddress, url: url, action: .getExternalIPAddress, at: now)
      return out
    case .getExternalIPAddress:
      firstRTT = rtt
      switch soap(ex, response, at: now) {
      case .failure(let out):
        return out
      case .success(let args):
        let text = args["NewExternalIPAddress"] ?? ""
        let ip = IPAddress(text).flatMap { $0.isUnspecified ? nil : $0 }
        externalAddress = ip
        if ip == nil, problem == nil { problem = .noExternalAddress(url: ex.url, said: text) }
        var out: [UPnPIGDClientOutput] = [.event(.externalAddress(ip, rtt: rtt))]
        if let m = mappingRequest {
          out += begin(.addPortMapping, url: ex.url, action: .addPortMapping(m), at: now)
        } else {
          out += finishRun(failure: nil)
        }
        return out
      }
    case .addPortMapping, .addAnyPortMapping:
      switch soap(ex, response, retryable: true, at: now) {
      case .failure(let out):
        return out
      case .success(let args):
        guard let m = mappingRequest else { return finishRun(failure: nil) }
        var port = m.externalPort
        if ex.step == .addAnyPortMapping {
          guard let reserved = args["NewReservedPort"].flatMap({ UInt16($0) }), reserved != 0
          else {
            return stepFailed(ex, reason: .noReservedPort)
          }
          port = reserved
        }
        renewing = false
        mappedExternalPort = port
        leaseDuration = m.leaseDuration
        var out: [UPnPIGDClientOutput] = [
          .event(.mapped(externalPort: port, leaseDuration: m.leaseDuration, step: ex.step))
        ]
        if configuration.deleteAfterMapping {
          out += begin(
            .deletePortMapping, url: ex.url,
            action: .deletePortMapping(
              externalPort: port, proto: m.proto, remoteHost: m.remoteHost),
            at: now)
        } else {
          state = .holdingMapping
        }
        return out
      }
    case .deletePortMapping:
      switch soap(ex, response, at: now) {
      case .failure(let out):
        return out
      case .success:
        let port = mappedExternalPort ?? 0
        var out: [UPnPIGDClientOutput] = [.event(.deleted(externalPort: port))]
        out += finishRun(failure: nil)
        return out
      }
    }
  }

  private enum SOAPOutcome {
    case success([String: String])
    case failure([UPnPIGDClientOutput])
  }

  /// Reads a SOAP answer; on a fault, retries (AddAnyPortMapping after 718 on IGD:2, a
  /// permanent lease after 725) when allowed, else fails the step.
  private mutating func soap(
    _ ex: Exchange, _ response: HTTPResponse, retryable: Bool = false, at now: Instant
  ) -> SOAPOutcome {
    let actionName = ex.action?.name ?? ex.step.rawValue
    let result: UPnPSOAPResult
    do {
      result = try UPnPSOAPResult(response: response, action: actionName)
    } catch {
      return .failure(stepFailed(ex, reason: .badDocument(error)))
    }
    switch result {
    case .success(let args):
      return .success(args)
    case .fault(let fault):
      if retryable, !renewing, let code = fault.errorCode, var m = mappingRequest {
        if code == .onlyPermanentLeasesSupported, !triedPermanent, m.leaseDuration != 0 {
          triedPermanent = true
          m.leaseDuration = 0
          mappingRequest = m
          let action: UPnPAction =
            ex.step == .addAnyPortMapping ? .addAnyPortMapping(m) : .addPortMapping(m)
          return .failure(
            [.event(.retrying(ex.step, because: code))]
              + begin(ex.step, url: ex.url, action: action, at: now))
        }
        let isIGD2 = service?.serviceType.hasSuffix(":2") == true
        if code == .conflictInMappingEntry, ex.step == .addPortMapping, isIGD2 {
          return .failure(
            [.event(.retrying(.addAnyPortMapping, because: code))]
              + begin(.addAnyPortMapping, url: ex.url, action: .addAnyPortMapping(m), at: now))
        }
      }
      return .failure(stepFailed(ex, reason: .fault(fault)))
    }
  }

  private mutating func stepFailed(_ ex: Exchange, reason: UPnPIGDFailureReason)
    -> [UPnPIGDClientOutput]
  {
    if renewing {
      // The mapping made before still stands until its lease ends: keep holding it.
      renewing = false
      exchange = nil
      state = .holdingMapping
      let failure = UPnPIGDFailure(step: ex.step, url: ex.url, reason: reason)
      return [.event(.failed(failure))]
    }
    return finishRun(
      failure: UPnPIGDFailure(step: ex.step, url: ex.url, reason: reason))
  }

  private mutating func finishRun(failure: UPnPIGDFailure?) -> [UPnPIGDClientOutput] {
    exchange = nil
    state = .finished
    var out: [UPnPIGDClientOutput] = []
    if let failure {
      problem = .failed(failure)
      out.append(.event(.failed(failure)))
    }
    out.append(.event(.finished(result, problem: problem)))
    return out
  }

  private func finish(_ out: [UPnPIGDClientOutput]) -> [UPnPIGDClientOutput] {
    guard let next = nextWake else { return out }
    return out + [.timeout(next)]
  }
}
