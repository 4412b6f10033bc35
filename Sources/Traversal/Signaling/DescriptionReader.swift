/// Reads the peer's description from input that is either one token (possibly wrapped over
/// several lines by a terminal) or SDP lines up to an empty line or the end of input — for
/// `--token-in PATH` (a file, a FIFO or stdin) as well as interactive pasting.
///
/// Feed lines as they arrive:
/// ```swift
/// var reader = DescriptionReader(expecting: .answer)
/// for line in lines {
///   switch reader.feed(line) {
///   case .needMore: continue
///   case .complete(let peer): start(peer)
///   case .error(let e): print(e.message)
///   }
/// }
/// // end of input:
/// let last = reader.finish()
/// ```
public struct DescriptionReader: Sendable {
  /// The result of feeding one line.
  public enum Step: Hashable, Sendable {
    /// Keep reading.
    case needMore
    /// A whole description was read.
    case complete(SessionDescription)
    /// The input cannot become a description.
    case error(SignalingError)
  }

  private enum Mode: Sendable { case undecided, token, sdp, done }

  /// The role being waited for: a token of the other role is an error, SDP without a role line
  /// is taken to be this role.
  public let expecting: SignalingRole
  private var mode = Mode.undecided
  private var buffer: [String] = []
  private var lastStep = Step.needMore

  public init(expecting: SignalingRole) { self.expecting = expecting }

  /// Adds one line of input (with or without its line break).
  public mutating func feed(_ line: some StringProtocol) -> Step {
    let trimmed = Substring(line).trimmingSignalingWhitespace()
    switch mode {
    case .done:
      return lastStep
    case .undecided:
      if trimmed.isEmpty { return .needMore }
      if SessionToken.looksLikeToken(trimmed) {
        mode = .token
        return feedToken(trimmed)
      }
      if DescriptionReader.looksLikeSDP(trimmed) {
        mode = .sdp
        buffer.append(String(trimmed))
        return .needMore
      }
      return finish(with: .error(.unrecognizedInput))
    case .token:
      if trimmed.isEmpty { return finishToken() }
      return feedToken(trimmed)
    case .sdp:
      if trimmed.isEmpty { return finishSDP() }
      buffer.append(String(trimmed))
      return .needMore
    }
  }

  /// Signals the end of input and returns the final step (never `.needMore`).
  public mutating func finish() -> Step {
    switch mode {
    case .done: return lastStep
    case .undecided: return finish(with: .error(.empty))
    case .token: return finishToken()
    case .sdp: return finishSDP()
    }
  }

  /// Reads a whole input at once.
  public static func read(_ text: String, expecting: SignalingRole) -> Result<
    SessionDescription, SignalingError
  > {
    read(lines: SessionDescription.splitLines(text), expecting: expecting)
  }

  /// Reads an array of lines at once; lines after the description are ignored.
  public static func read(lines: [some StringProtocol], expecting: SignalingRole) -> Result<
    SessionDescription, SignalingError
  > {
    var reader = DescriptionReader(expecting: expecting)
    var step = Step.needMore
    for line in lines {
      step = reader.feed(line)
      if step != .needMore { break }
    }
    if step == .needMore { step = reader.finish() }
    switch step {
    case .complete(let d): return .success(d)
    case .error(let e): return .failure(e)
    case .needMore: return .failure(.empty)
    }
  }

  /// Whether a line reads as SDP (`x=…`, or an attribute without its `a=`).
  public static func looksLikeSDP(_ line: Substring) -> Bool {
    let l = line.lowercased()
    if l.count >= 2, l.dropFirst().first == "=" { return true }
    return ["candidate:", "ice-ufrag:", "ice-pwd:", "end-of-candidates", "ice-options:"].contains {
      l.hasPrefix($0)
    }
  }

  private mutating func feedToken(_ line: Substring) -> Step {
    buffer.append(String(line))
    guard buffer.count <= 64 else {
      return finish(with: .error(.tooLong(characters: joined.count)))
    }
    do {
      return finish(with: .complete(try SessionToken.decode(joined, expecting: expecting)))
    } catch {
      if case .truncated = error {
        lastStep = .error(error)
        return .needMore
      }
      return finish(with: .error(error))
    }
  }

  private var joined: String { buffer.joined() }

  private mutating func finishToken() -> Step {
    do {
      return finish(with: .complete(try SessionToken.decode(joined, expecting: expecting)))
    } catch {
      return finish(with: .error(error))
    }
  }

  private mutating func finishSDP() -> Step {
    do {
      let d = try SessionDescription(sdpLines: buffer, assumedRole: expecting)
      guard d.role == expecting else {
        return finish(with: .error(.wrongRole(got: d.role, expected: expecting)))
      }
      return finish(with: .complete(d))
    } catch {
      return finish(with: .error(error))
    }
  }

  private mutating func finish(with step: Step) -> Step {
    mode = .done
    lastStep = step
    buffer = []
    return step
  }
}
