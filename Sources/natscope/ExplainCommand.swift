import ArgumentParser
import Explain
import Foundation
import Report

struct ExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain",
    abstract:
      "Read what a real ICE session left behind (a dump, a log) and say what happened and why.",
    discussion: """
      Reads each FILE (- is standard input; gzip-compressed or not), recognises its format from \
      its content, never its name, and explains every ICE session in it: both sides' \
      candidates and what each address is (private, link-local, carrier-grade NAT, mDNS, \
      loopback, public), the check list with each pair's state, requests and answers, the \
      timeline (gathering, remote candidates, checking, connected, selected pair, DTLS), each \
      path (direct, through the NATs, relay) with its reason, and a cause with how sure it is. \
      Where the input cannot tell (no peer side, no checks), it says what is missing.

      Inputs: chrome://webrtc-internals dumps (every PeerConnection, or --pc ID), libnice \
      debug logs (NICE_DEBUG=all, also inside Janus or GStreamer logs), aioice logs (Python \
      logging at DEBUG), pion/ice logs (PION_LOG_TRACE=ice), packet captures (pcap, pcapng; read with libpcap: STUN checks and \
      answers matched by transaction ID, USE-CANDIDATE, error codes such as 487, TURN \
      allocations, DTLS records), and any other text log with SDP candidate lines \
      (a=candidate:), ufrag and state words, such as a Licode/erizo log. Log lines and \
      packets are streamed (bounded memory; a capture is spooled to a temporary file for \
      libpcap); a dump is parsed whole, up to 512 MiB.

      ICE passwords, TURN credentials and REST secrets in the input never reach the output.

      The report is plain text on a terminal too (the console replay of a session is not \
      built yet): --no-tui is accepted and changes nothing; --json prints \
      urn:natscope:schema:explain-1.

      Exit status: 0 explained (also when the session failed: that is the result), 1 usage \
      error, or a file that cannot be read, is not recognised or holds no ICE session; 130 or \
      143 when interrupted by SIGINT (Ctrl-C) or SIGTERM.
      """)

  @Argument(
    help: ArgumentHelp(
      "Dumps or logs to explain (- is standard input; gzip is recognised).", valueName: "file"),
    completion: .file())
  var files: [String] = []

  @Option(
    name: .customLong("pc"),
    help: ArgumentHelp(
      "Explain only this PeerConnection of a webrtc-internals dump (its ID, e.g. 12345-1).",
      valueName: "id"))
  var pc: String?

  @Flag(help: "Print the explanation as JSON.")
  var json = false

  @Flag(
    name: .customLong("no-tui"),
    help: "Print the plain report (the default: there is no console replay yet).")
  var noTUI = false

  @OptionGroup var global: GlobalOptions

  func validate() throws {
    guard !files.isEmpty else {
      throw ValidationError("Give at least one file to explain (- for standard input).")
    }
    guard files.filter({ $0 == "-" }).count <= 1 else {
      throw ValidationError("Standard input (-) can be read only once.")
    }
  }

  func run() throws {
    global.bootstrapLogging()
    InterruptExit.install()
    let secrets = SecretSet()
    var inputs: [ExplainInput] = []
    var sessions: [ExplainSession] = []
    for file in files {
      switch Self.read(file, pc: pc, secrets: secrets) {
      case .success(let result):
        inputs.append(result.input)
        sessions += result.sessions.map { ExplainSession(input: file, evidence: $0) }
      case .failure(let error):
        throw fail(secrets.scrub(error.message))
      }
    }
    let report = ExplainReport(inputs: inputs, sessions: sessions)
    let output =
      json
      ? try JSONOutput.encode(SchemaTaggedDocument(report, schema: .explain))
      : report.text
    // The readers keep no credential, and the sentences name none; this is the second guard.
    print(secrets.scrub(output))
  }

  /// One file read and explained, or the one sentence that says why not.
  static func read(_ file: String, pc: String?, secrets: SecretSet) -> Result<
    Explainer.Result, ExplainError
  > {
    Result { () throws(ExplainError) -> Explainer.Result in
      let source = try FileSource(path: file)
      let name = file == "-" ? "standard input" : file
      return try Explainer.read(name: name, source: source, pc: pc, secrets: secrets)
    }
  }
}
