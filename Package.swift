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
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
  ],
  targets: [
    // Wire format: addresses, STUN messages and attributes, integrity, ChannelData, demux.
    .target(
      name: "STUN",
      dependencies: [.product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: strict),
    // Sans-IO protocol machines and the runtime interface drivers implement.
    .target(name: "Traversal", dependencies: ["STUN"], swiftSettings: strict),
    // The one module that opens sockets (SwiftNIO).
    .target(
      name: "Network",
      dependencies: [
        "STUN", "Traversal",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: strict),
    // Discrete-event simulated network with configurable NAT boxes.
    .target(name: "Simulation", dependencies: ["STUN", "Traversal"], swiftSettings: strict),
    .systemLibrary(
      name: "CNcursesw", path: "Sources/CNcursesw",
      providers: [.apt(["libncurses-dev"])]),
    // Terminal front: cell grid, model/update/view, ncurses blit. Only module importing CNcursesw.
    .target(name: "Console", dependencies: ["CNcursesw", "Traversal", "STUN"], swiftSettings: strict),
    .executableTarget(
      name: "natscope",
      dependencies: [
        "STUN", "Traversal", "Network", "Simulation", "Console",
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
    .testTarget(
      name: "TraversalTests", dependencies: ["Traversal", "STUN"], swiftSettings: strict),
    .testTarget(
      name: "NetworkTests", dependencies: ["Network", "Traversal", "STUN"], swiftSettings: strict),
    .testTarget(
      name: "SimulationTests", dependencies: ["Simulation", "Traversal", "STUN"],
      swiftSettings: strict),
    // Golden frames, update() tests and an end-to-end run under tmux.
    .testTarget(
      name: "ConsoleTests", dependencies: ["Console", "Traversal", "STUN", "Simulation"],
      exclude: ["Snapshots"], swiftSettings: strict),
    .testTarget(name: "NatscopeCLITests", dependencies: ["natscope"], swiftSettings: strict),
  ]
)
