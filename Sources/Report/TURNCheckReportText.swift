import STUN
import Traversal

extension TURNCheckReport {
  /// The text report of `natscope turn`, unwrapped: a table per server (✓ done, ✗ failed,
  /// – not tried) with one sentence per problem and note, then the warnings and the verdict.
  public var text: String { text(width: nil) }

  /// The text report, with every line longer than `width` wrapped under its own hanging
  /// indent (nil: not wrapped). Each server's block is ``TURNServerCheck/text(width:)``,
  /// followed by ``closingText(width:)``: what is printed block by block as checks finish.
  public func text(width: Int?) -> String {
    (servers.map { $0.text(width: width) } + [closingText(width: width)])
      .joined(separator: "\n\n")
  }

  /// The lines after the servers' blocks: the warnings, then the verdict (the finding of the
  /// whole check).
  public func closingText(width: Int?) -> String {
    var lines: [String] = []
    for w in warnings { lines += Self.wrap("warning: ", w, hang: "  ", width: width) }
    if let verdict = findings.first(where: {
      $0.subject == .session && TURNFindings.isVerdict($0)
    }) {
      lines += Self.wrap("verdict: ", verdict.text, hang: "  ", width: width)
    }
    return lines.joined(separator: "\n")
  }

  /// `head` then `text`, wrapped at `width` with `hang` before every further line.
  static func wrap(_ head: String, _ text: String, hang: String, width: Int?) -> [String] {
    guard let width, head.count + text.count > width else { return [head + text] }
    return TextWrap.lines(text, width: width, indent: hang, first: head)
  }
}

extension TURNServerCheck {
  /// This server's block: its heading, a row per stage, then its problems and notes, each
  /// the sentence of a finding (``TURNFindings``); lines wrapped at `width` (nil: not).
  public func text(width: Int?) -> String {
    let findings = TURNFindings.derive(self)
    var lines = TURNCheckReport.wrap(
      "", "\(uri)  (\(server), \(transport))", hang: "  ", width: width)
    let rowFindings = findings.filter(TURNFindings.isRow)
    for (aspect, label) in TURNFindings.rows {
      // "nothing to release" has no aspect of its own: it is the releases row.
      let finding = rowFindings.first {
        $0.aspect == aspect || (aspect == .turnRelease && $0.code == .turnNothingToRelease)
      }
      guard let finding else { continue }
      let mark: String =
        switch TURNFindings.mark(finding) {
        case .done: "✓"
        case .failed: "✗"
        case .notTried: "–"
        }
      let head = "  \(mark) " + label.padding(toLength: 15, withPad: " ", startingAt: 0)
      lines += TURNCheckReport.wrap(
        head, finding.text, hang: String(repeating: " ", count: head.count), width: width)
    }
    for f in findings {
      if let code = TURNFindings.problemCode(f) {
        lines += TURNCheckReport.wrap(
          "  problem (\(code.rawValue)): ", f.text, hang: "    ", width: width)
      } else if f.code == .turnPeerForbidden {
        lines += TURNCheckReport.wrap("  note: ", f.text, hang: "    ", width: width)
      }
    }
    return lines.joined(separator: "\n")
  }
}
