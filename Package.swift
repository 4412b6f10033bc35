// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
  name: "natscope",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "natscope", targets: ["natscope"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    // The exporter: swift-prometheus for the metric registry and its exposition (never the
    // text format by hand), Yams (libyaml) for its YAML config file.
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    // WHIP/WHEP (connect --whip/--whep): HTTP/1.1 and HTTP/2 over NIO with swift-nio-ssl's
    // verified TLS, redirects, timeouts; the server-side Swift HTTP client, in the mirror.
    .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
  ],
  targets: [
    // The layers, bottom to top (each arrow is a dependency the compiler enforces):
    //   STUN (wire codec) <- Traversal (sans-IO machines) <- Runtime (the runtime interface)
    //   <- Report (findings from evidence, renderers) <- Sessions (sessions record evidence)
    //   <- Console / Scenarios <- natscope (CLI).
    //   Network and Simulation implement Runtime; Traversal never sees a runtime, and the
    //   fronts (Console, CLI) see sessions only through their events and commands.
    // Wire format: addresses, STUN messages and attributes, integrity, ChannelData, demux.
    .target(
      name: "STUN",
      dependencies: [.product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: strict + [
        .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
      ]),
    // Sans-IO protocol machines: transactions, RFC 5780 probe, STUN server, ICE agent, TURN
    // client and server, NAT behaviour, signalling codec. No sockets, clocks or threads.
    .target(name: "Traversal", dependencies: ["STUN"], swiftSettings: strict),
    // What a session needs from the world (clock, timers, UDP sockets, streams); implemented
    // by Network (real sockets) and Simulation (the simulated network).
    .target(
      name: "Runtime",
      dependencies: ["STUN", "Traversal", .product(name: "Logging", package: "swift-log")],
      swiftSettings: strict),
    // Findings from evidence and the reports built from them, with their text and JSON
    // renderers: the one home for every sentence natscope says about what happened on the
    // network. Pure values: no runtime, no sockets, no clock.
    .target(
      name: "Report", dependencies: ["STUN", "Traversal", "Runtime"], swiftSettings: strict),
    // Sessions that drive machines over a runtime and record evidence, which they hand to
    // Report.
    .target(
      name: "Sessions",
      dependencies: [
        "STUN", "Traversal", "Runtime", "Report", "DTLS",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    // The real runtime and the one module that opens sockets (SwiftNIO). It also holds the
    // WHIP/WHEP HTTP driver (AsyncHTTPClient): HTTP opens sockets too, so it lives here, and
    // drives Traversal's sans-IO WHIP exchange.
    // Known hazard: AsyncHTTPClient asks `#if canImport(Network)` to choose Apple's transport,
    // and this module's name answers yes once it is built. A fresh build compiles
    // AsyncHTTPClient first (it is a dependency) and is fine; if AsyncHTTPClient alone must be
    // rebuilt later, remove .build/debug/Modules/Network.* first. Renaming this module ends it.
    .target(
      name: "Network",
      dependencies: [
        "STUN", "Traversal", "Runtime",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: strict),
    // The simulated runtime: a discrete-event network of hosts, links and NAT boxes.
    .target(
      name: "Simulation", dependencies: ["STUN", "Traversal", "Runtime"], swiftSettings: strict),
    // Simulated labs and demo scenarios built on the simulated network and the sessions.
    .target(
      name: "Scenarios",
      dependencies: [
        "STUN", "Traversal", "Runtime", "Simulation", "Sessions", "Report", "DTLS",
      ],
      swiftSettings: strict),
    // OpenSSL 3 (Debian libssl-dev) for DTLS 1.2 with use_srtp over memory BIOs: swift-nio-ssl
    // has no DTLS. Its BoringSSL is vendored with prefixed symbols (CNIOBoringSSL_…), so the two
    // link side by side.
    .systemLibrary(
      name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
      providers: [.apt(["libssl-dev"])]),
    // The DTLS handshake as a sans-IO machine (OpenSSL driven through BIOs; no sockets, no
    // runtime). The only module importing COpenSSL.
    .target(name: "DTLS", dependencies: ["COpenSSL", "STUN", "Traversal"], swiftSettings: strict),
    // zlib (Debian zlib1g-dev): `explain` reads gzip-compressed dumps and logs as they come
    // (Chrome's webrtc-internals page writes `.gz` by default), inflating them as a stream in
    // bounded memory; Foundation has no inflate on Linux, and zlib is the reference
    // implementation every distribution ships.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    // libpcap (Debian libpcap-dev): `explain` reads pcap and pcapng captures as tcpdump,
    // Wireshark and dumpcap write them, one packet at a time.
    .systemLibrary(name: "CPcap", path: "Sources/CPcap", providers: [.apt(["libpcap-dev"])]),
    // Readers of what other stacks left behind (webrtc-internals dumps, libnice, aioice and
    // any log with SDP candidate lines), streamed, into Report's evidence of an ICE session.
    // Pure values: no sockets.
    .target(
      name: "Explain", dependencies: ["STUN", "Traversal", "Report", "CZlib", "CPcap"],
      swiftSettings: strict),
    .systemLibrary(
      name: "CNcursesw", path: "Sources/CNcursesw",
      providers: [.apt(["libncurses-dev"])]),
    // Terminal front: cell grid, model/update/view, ncurses blit. Only module importing CNcursesw.
    .target(
      name: "Console", dependencies: ["CNcursesw", "Sessions", "Report", "Traversal", "STUN"],
      swiftSettings: strict),
    // The Prometheus exporter, a front like Console: a small HTTP/1.1 server on NIOHTTP1
    // (already in swift-nio, so no HTTP framework), its YAML config (Yams), a bounded queue
    // of probes, and the mapping of reports to metrics (swift-prometheus, pure functions of
    // the reports). Its checks run as sessions on Network's real runtime, as the CLI's do;
    // its only socket of its own is the HTTP listener. A module of its own rather than part of
    // Network, so Network stays free of HTTP, YAML and Prometheus.
    .target(
      name: "Exporter",
      dependencies: [
        "STUN", "Traversal", "Runtime", "Report", "Sessions", "Network",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .executableTarget(
      name: "natscope",
      dependencies: [
        "STUN", "Traversal", "Runtime", "Report", "Sessions", "Network", "Simulation",
        "Scenarios", "Console", "DTLS", "Explain", "Exporter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    // Release-mode codec benchmark: `swift run -c release natscope-bench` (see scripts/bench).
    .executableTarget(
      name: "natscope-bench", dependencies: ["STUN", "CAllocCounter"],
      path: "Benchmarks/natscope-bench", swiftSettings: strict),
    // Counts heap allocations for the benchmark by interposing malloc and friends (glibc).
    .target(name: "CAllocCounter", path: "Benchmarks/CAllocCounter"),
    .testTarget(
      name: "STUNTests",
      dependencies: ["STUN", .product(name: "PropertyBased", package: "swift-property-based")],
      swiftSettings: strict),
    // Fixtures shared by the test targets (signalling descriptions, browser SDP).
    .target(
      name: "TestSupport", dependencies: ["Report", "Traversal", "STUN"], path: "Tests/TestSupport",
      swiftSettings: strict),
    .testTarget(
      name: "DTLSTests", dependencies: ["DTLS", "Traversal", "STUN"], swiftSettings: strict),
    .testTarget(
      name: "TraversalTests", dependencies: ["Traversal", "STUN", "TestSupport", "Report"],
      swiftSettings: strict),
    // The report builder and text (pure values), without a runtime.
    .testTarget(
      name: "SessionsTests",
      dependencies: ["Sessions", "Report", "Traversal", "STUN", "TestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "NetworkTests",
      dependencies: ["Network", "Runtime", "Sessions", "Report", "Traversal", "STUN"],
      swiftSettings: strict),
    // The simulated network, and every session and scenario on it.
    .testTarget(
      name: "SimulationTests",
      dependencies: [
        "Simulation", "Scenarios", "Sessions", "Report", "Runtime", "Traversal", "STUN",
        "TestSupport",
      ],
      swiftSettings: strict),
    // Golden frames, update() tests and an end-to-end run under tmux.
    .testTarget(
      name: "ConsoleTests",
      dependencies: [
        "Console", "Sessions", "Report", "Runtime", "Traversal", "STUN", "Simulation",
        "Scenarios",
      ],
      exclude: ["Snapshots"], swiftSettings: strict),
    // The readers and the explanation of what they read (pure values; aioice runs for real).
    .testTarget(
      name: "ExplainTests",
      dependencies: ["Explain", "Report", "Traversal", "STUN", "TestSupport"],
      exclude: ["Fixtures"], swiftSettings: strict),
    // Metric mapping, config and query parsing (pure), and the HTTP server on loopback.
    .testTarget(
      name: "ExporterTests",
      dependencies: [
        "Exporter", "Network", "Sessions", "Report", "Runtime", "Traversal", "STUN", "Simulation",
        "Scenarios",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "NatscopeCLITests", dependencies: ["natscope", "Report", "TestSupport"],
      swiftSettings: strict),
  ]
)
