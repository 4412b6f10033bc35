import Foundation

/// The interactive loop: polls keys with a timeout, lets the engine feed events in between,
/// and redraws only when the model changed, at most 15 frames per second. No busy loop: each
/// pass waits in `wget_wch` until a key arrives or the next frame is due.
public enum ConsoleRunLoop {
  /// How the loop ended.
  public enum Exit: Equatable, Sendable {
    /// `q` or Ctrl-C.
    case quit
    /// SIGTERM or SIGHUP (after the terminal was restored).
    case signal(Int32)
  }

  /// Runs until the user quits or a signal arrives.
  /// - Parameters:
  ///   - engine: called every pass (at least every frame); applies pending engine events to
  ///     the model.
  ///   - perform: the commands `update` returned that go to the engine (`rerun` on `r`,
  ///     `setRemoteDescription` on an accepted token); the loop itself handles quit, JSON and
  ///     the clipboard.
  ///   - directory: where `j` writes its JSON file.
  ///   - deadline: a `now()` at which the loop ends by itself (benchmarks).
  public static func run<S: ConsoleScreen>(
    terminal: Terminal, model: inout S, directory: String,
    engine: (inout S) -> Void, perform: (ConsoleCommand, inout S) -> Void,
    stopAt deadline: Double? = nil,
    now: () -> Double = { ProcessInfo.processInfo.systemUptime }
  ) -> Exit {
    let frame = 1.0 / Double(ConsoleLayout.maximumFramesPerSecond)
    let size = terminal.size
    ConsoleUpdate.update(&model, key: .resize(rows: size.rows, cols: size.cols))
    var drawn: S?
    var lastDraw = -Double.infinity
    while true {
      if let sig = terminal.pendingSignal {
        return sig == SIGINT ? .quit : .signal(sig)
      }
      engine(&model)
      let t = now()
      if let deadline, t >= deadline { return .quit }
      if drawn != model && t - lastDraw >= frame {
        terminal.draw(ConsoleView.view(model, options: terminal.options))
        drawn = model
        lastDraw = t
      }
      // Wait for keys until the next frame is due when a change is waiting to be drawn,
      // else a whole frame: the engine is polled at the frame rate, never in a busy loop.
      let frameMs = Int(frame * 1000)
      let wait =
        drawn != model ? max(1, Int(((lastDraw + frame) - now()) * 1000)) : frameMs
      for key in terminal.readKeys(timeoutMs: min(wait, frameMs)) {
        for command in ConsoleUpdate.update(&model, key: key) {
          switch command {
          case .quit: return .quit
          case .rerun:
            // Said first, so that the run (or its failure to start) can say better, and the
            // screen clears it once the run is done.
            model.chrome.status = "running again"
            perform(command, &model)
          case .setRemoteDescription:
            perform(command, &model)
          case .writeJSON:
            model.chrome.status = writeJSON(model, directory: directory)
          case .copy(let text):
            // Write-only: whether it reached a clipboard is unknown; the screen says so.
            terminal.copyToClipboard(text)
          }
        }
      }
    }
  }

  /// Writes `natscope-<screen>-<time>-<pid>.json` (then `-2`, `-3`, … when that name is
  /// taken) and returns the status line to show. The file is created exclusively (`O_EXCL`):
  /// two consoles writing in the same second, or one writing twice, never overwrite a report.
  public static func writeJSON<S: ConsoleScreen>(_ model: S, directory: String) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    let stem = "natscope-\(model.name)-\(formatter.string(from: Date()))-\(getpid())"
    let data: Data
    do {
      data = try model.jsonData()
    } catch let unavailable as ConsoleFileUnavailable {
      return unavailable.message
    } catch {
      return "could not write \(stem).json: \(error.localizedDescription)"
    }
    switch createExclusively(directory: directory, stem: stem, data: data) {
    case .success(let path): return "wrote \(path)"
    case .failure(let failure): return failure.message
    }
  }

  /// The most names `writeJSON` tries (`stem.json`, `stem-2.json`, …) before giving up.
  static let nameAttempts = 1000

  /// Creates `directory/stem.json`, or the first free `stem-N.json`, with `O_CREAT | O_EXCL`,
  /// and writes `data` whole; an existing file is never opened.
  static func createExclusively(directory: String, stem: String, data: Data)
    -> Result<String, ConsoleFileUnavailable>
  {
    for n in 1...nameAttempts {
      let name = n == 1 ? "\(stem).json" : "\(stem)-\(n).json"
      let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      if fd < 0 {
        if errno == EEXIST { continue }
        let reason = String(cString: strerror(errno))
        return .failure(ConsoleFileUnavailable("could not write \(name): \(reason)"))
      }
      defer { close(fd) }
      let written = data.withUnsafeBytes { buffer -> Bool in
        guard let base = buffer.baseAddress else { return true }
        var offset = 0
        while offset < buffer.count {
          let n = write(fd, base + offset, buffer.count - offset)
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else { return false }
          offset += n
        }
        return true
      }
      guard written else {
        let reason = String(cString: strerror(errno))
        unlink(path)
        return .failure(ConsoleFileUnavailable("could not write \(name): \(reason)"))
      }
      return .success(path)
    }
    return .failure(
      ConsoleFileUnavailable(
        "could not write \(stem).json: \(nameAttempts) files of that name exist already"))
  }
}
