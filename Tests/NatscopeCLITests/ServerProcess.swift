import Foundation

/// A `natscope serve` process on loopback, started for one test and stopped by PID (SIGTERM,
/// then SIGKILL) when the test ends, also on failure.
final class ServerProcess {
  let process = Process()
  let port: UInt16
  private let errPipe = Pipe()

  /// Starts `natscope serve` on 127.0.0.1 (and 127.0.0.2 when `alternate`) at a port derived
  /// from the test's PID (`portOffset` 1 for a second server in the same test), waiting at
  /// most 5 s for it to listen.
  init(
    alternate: Bool = true, primary: String = "127.0.0.1", extra: [String] = [],
    portOffset: UInt16 = 0
  ) throws {
    // Four ports per PID: this server's two at offset 0, a second server's at offset 1.
    port = 20000 + UInt16(getpid() % 4000) * 4 + (portOffset % 2) * 2
    process.executableURL = Binary.url
    var args = [
      "serve", "--primary", primary, "--port", "\(port)", "--alt-port", "\(port + 1)",
    ]
    if alternate { args += ["--alternate", "127.0.0.2"] }
    process.arguments = args + extra
    process.standardError = errPipe
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    // Wait for the "listening" line (bounded).
    let deadline = Date().addingTimeInterval(5)
    var seen = ""
    while Date() < deadline && !seen.contains("listening") && process.isRunning {
      let data = errPipe.fileHandleForReading.availableData
      seen += String(decoding: data, as: UTF8.self)
    }
    guard seen.contains("listening") else {
      stop()
      throw NSError(
        domain: "natscope-test", code: 1,
        userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(seen)"])
    }
  }

  /// Stops the server and returns what it printed afterwards (its statistics line).
  @discardableResult
  func stop() -> String {
    guard process.isRunning else { return "" }
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(5)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  }

  deinit { stop() }
}
