import Dispatch
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Network
import Prometheus

/// `natscope exporter`: an HTTP/1.1 server (NIOHTTP1) in the Prometheus conventions.
/// `/metrics` holds the process's own metrics and the results of the config's scheduled checks;
/// `/probe?target=…&module=…` runs one check and answers with its metrics alone
/// (blackbox_exporter's multi-target pattern). Checks go through a ``ProbeExecutor`` (bounded
/// concurrency, a queue). The exposition is swift-prometheus's text format (0.0.4), which has
/// no OpenMetrics writer, so an `Accept` asking for OpenMetrics gets the text format too.
public final class ExporterServer: @unchecked Sendable {
  public let config: ExporterConfig
  public let executor: ProbeExecutor
  /// `/metrics`: process metrics, the exporter's counters, scheduled checks' results.
  public let registry = PrometheusCollectorRegistry()
  let logger: Logger
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  private var channel: (any Channel)?
  private let process: ProcessMetrics
  private let scheduler: CheckScheduler

  public init(config: ExporterConfig, runtime: NIORuntime, logger: Logger) {
    self.config = config
    self.logger = logger
    self.executor = ProbeExecutor(
      runtime: runtime, concurrency: config.concurrency, queueLength: config.queueLength)
    self.process = ProcessMetrics(registry: registry)
    self.scheduler = CheckScheduler(config: config, registry: registry, logger: logger)
  }

  /// Binds `host:port` (port 0: any free port) and starts serving and the scheduled checks.
  /// Returns the bound port.
  public func start(host: String, port: Int) throws -> Int {
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { [self] channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(HTTPHandler(server: self))
        }
      }
      .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
    let channel = try bootstrap.bind(host: host, port: port).wait()
    self.channel = channel
    scheduler.start(executor: executor)
    return channel.localAddress?.port ?? port
  }

  /// Stops listening, the scheduled checks, and the server's threads.
  public func stop() {
    scheduler.stop()
    try? channel?.close().wait()
    try? group.syncShutdownGracefully()
  }

  /// Blocks until the listening channel closes (``stop()`` from another thread).
  public func wait() {
    try? channel?.closeFuture.wait()
  }

  // MARK: Routes

  /// A response: status, content type and body.
  struct Response: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static let exposition = "text/plain; version=0.0.4; charset=utf-8"

    static func text(_ status: HTTPResponseStatus, _ line: String) -> Response {
      Response(
        status: status, contentType: "text/plain; charset=utf-8", body: Array((line + "\n").utf8))
    }
  }

  /// Answers a request, at once or through `respond` when a check has to run.
  func handle(
    method: HTTPMethod, uri: String, headers: HTTPHeaders,
    respond: @escaping @Sendable (Response) -> Void
  ) {
    guard method == .GET || method == .HEAD else {
      return respond(.text(.methodNotAllowed, "only GET is served."))
    }
    let pieces = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let path = pieces.first.map(String.init) ?? ""
    let query = pieces.count > 1 ? String(pieces[1]) : ""
    switch path {
    case "/metrics":
      process.update(executor: executor)
      respond(
        Response(status: .ok, contentType: Response.exposition, body: registry.emitToBuffer()))
    case "/probe":
      let parsed: ProbeQuery
      do {
        parsed = try ProbeQuery.parse(
          query: query, scrapeTimeout: headers.first(name: "X-Prometheus-Scrape-Timeout-Seconds"),
          modules: config.modules)
      } catch {
        return respond(.text(.badRequest, error.message))
      }
      let job = ProbeJob(
        moduleName: parsed.moduleName, module: parsed.module, target: parsed.target,
        timeout: parsed.timeout)
      let accepted = executor.submit(job) { result, duration in
        let samples = ExporterMetrics.samples(result, duration: duration)
        let body = ExporterMetrics.registry(samples).emitToBuffer()
        respond(Response(status: .ok, contentType: Response.exposition, body: body))
      }
      if !accepted {
        respond(.text(.serviceUnavailable, "too many probes are queued; try again later."))
      }
    case "/", "":
      respond(
        .text(
          .ok,
          "natscope exporter: /metrics, /probe?target=HOST:PORT&module=NAME (modules: \(config.modules.keys.sorted().joined(separator: ", ")))."
        ))
    default:
      respond(.text(.notFound, "no such page; the pages are /metrics and /probe."))
    }
  }
}

/// One connection's requests (NIOHTTP1's pipeline helper keeps them in order).
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let server: ExporterServer
  private var head: HTTPRequestHead?

  init(server: ExporterServer) { self.server = server }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let h): head = h
    case .body: break
    case .end:
      guard let head else { return }
      self.head = nil
      let keepAlive = head.isKeepAlive
      let version = head.version
      let isHead = head.method == .HEAD
      let loop = context.eventLoop
      let bound = NIOLoopBound((self, context), eventLoop: loop)
      server.handle(method: head.method, uri: head.uri, headers: head.headers) { response in
        loop.execute {
          let (handler, context) = bound.value
          handler.write(
            response, context: context, version: version, keepAlive: keepAlive, isHead: isHead)
        }
      }
    }
  }

  func write(
    _ response: ExporterServer.Response, context: ChannelHandlerContext, version: HTTPVersion,
    keepAlive: Bool, isHead: Bool
  ) {
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: response.contentType)
    headers.add(name: "Content-Length", value: "\(response.body.count)")
    headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
    context.write(
      wrapOutboundOut(
        .head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
      promise: nil)
    if !isHead {
      var buffer = context.channel.allocator.buffer(capacity: response.body.count)
      buffer.writeBytes(response.body)
      context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }
    let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
    if !keepAlive {
      let channel = context.channel
      done.whenComplete { _ in channel.close(promise: nil) }
    }
  }
}
