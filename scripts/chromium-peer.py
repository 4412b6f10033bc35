#!/usr/bin/env python3
"""A headless Chromium WebRTC peer that speaks natscope's SDP form (`natscope connect --sdp`).

The browser makes an RTCPeerConnection with one data channel (so its description has ICE, a
DTLS fingerprint and a=setup, as every WebRTC session's has). This script serves the page on
127.0.0.1 and carries descriptions between the page and natscope:

- the browser's description goes to --out as natscope reads it: a=ice-ufrag, a=ice-pwd,
  a=fingerprint, a=setup, a=candidate lines, a=end-of-candidates and an empty line;
- natscope's lines (read from --in, up to an empty line) become the browser's remote
  description (one BUNDLEd m=application section).

It prints one JSON object on stdout once DTLS is connected, or failed, or --timeout passes:

  {"state": "connected"|"failed", "iceState": ..., "connectionState": ..., "dtlsState": ...,
   "selectedPair": {"local": {...}, "remote": {...}} | null, "connectMs": ..., "error": ...}

"connected" means the browser's DTLS transport is connected: ICE selected a pair and the
handshake finished with the certificate natscope's a=fingerprint names. The data channel
itself never opens (natscope does not speak SCTP), and that is not checked.

The offerer (--controlling) writes first, then reads; the answerer (--controlled) reads the
offer first. Files may be FIFOs. Every wait is bounded. Exit 0 connected, 2 not connected,
1 usage or bad input. The TURN password comes from --turn-password or NATSCOPE_TURN_PASSWORD;
it reaches the page through a request on 127.0.0.1 (never its URL) and is never printed.

Needs Chromium (Debian `chromium`); runs it headless with --no-sandbox (root in a lab
namespace) and kills it, by process group, on every way out (SIGTERM and SIGINT too;
--pid-file leaves its PID for a caller that must be sure).
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>natscope chromium peer</title>
<script>
async function post(path, body) {
  await fetch(path, {method: "POST", body: JSON.stringify(body)});
}
function waitGathered(pc, ms) {
  return new Promise(resolve => {
    if (pc.iceGatheringState === "complete") return resolve();
    const t = setTimeout(resolve, ms);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(t); resolve(); }
    });
  });
}
async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach(s => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const end = id => {
    const c = stats.get(id);
    return c ? {type: c.candidateType, address: c.address, port: c.port, protocol: c.protocol} : null;
  };
  return {local: end(pair.localCandidateId), remote: end(pair.remoteCandidateId)};
}
async function main() {
  const config = await (await fetch("/config")).json();
  const pc = new RTCPeerConnection({iceServers: config.iceServers});
  pc.createDataChannel("natscope");
  let started = null;
  let done = false;
  async function finish(state, error) {
    if (done) return;
    done = true;
    const dtls = pc.sctp ? pc.sctp.transport.state : null;
    await post("/result", {
      state, error, iceState: pc.iceConnectionState, connectionState: pc.connectionState,
      dtlsState: dtls, selectedPair: await selectedPair(pc),
      connectMs: started === null ? null : Math.round(performance.now() - started)});
  }
  function watch() {
    const dtls = pc.sctp ? pc.sctp.transport.state : null;
    if (dtls === "connected") finish("connected", null);
    else if (dtls === "failed" || pc.connectionState === "failed") finish("failed", null);
  }
  pc.addEventListener("connectionstatechange", watch);
  pc.addEventListener("iceconnectionstatechange", watch);
  try {
    if (config.controlling) {
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathered(pc, config.gatherMs);
      await post("/local", {sdp: pc.localDescription.sdp});
      const remote = await (await fetch("/remote")).json();
      if (remote.error) return finish("failed", remote.error);
      started = performance.now();
      await pc.setRemoteDescription({type: "answer", sdp: remote.sdp});
    } else {
      const remote = await (await fetch("/remote")).json();
      if (remote.error) return finish("failed", remote.error);
      started = performance.now();
      await pc.setRemoteDescription({type: "offer", sdp: remote.sdp});
      await pc.setLocalDescription(await pc.createAnswer());
      await waitGathered(pc, config.gatherMs);
      await post("/local", {sdp: pc.localDescription.sdp});
    }
    if (pc.sctp) pc.sctp.transport.addEventListener("statechange", watch);
    watch();
  } catch (e) {
    finish("failed", String(e));
  }
}
main();
</script>
"""


def hostport(text, default_port=3478):
    """`host[:port]`, with an optional stun:/turn: scheme; keeps a ?transport= query."""
    t = text
    for scheme in ("stun:", "turn:"):
        if t.startswith(scheme):
            t = t[len(scheme):]
    query = ""
    if "?" in t:
        t, query = t.split("?", 1)
        query = "?" + query
    if ":" not in t:
        t = f"{t}:{default_port}"
    return t, query


def read_lines(path, limit=1000):
    """Reads lines up to an empty line or the end (a FIFO blocks until a writer comes)."""
    lines = []
    with open(path, "r") as f:
        for _ in range(limit):
            line = f.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                if lines:
                    break
                continue
            lines.append(line)
    return lines


def natscope_lines(sdp):
    """The lines natscope reads, from the browser's whole description."""
    keep = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:", "a=candidate:")
    out = []
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith(keep) and line not in out:
            out.append(line)
    out.append("a=end-of-candidates")
    return out


def altered(line):
    """The fingerprint line with its last byte changed (a description altered on the way)."""
    head, last = line.rsplit(":", 1)
    return f"{head}:{(int(last, 16) ^ 0xFF):02X}"


def browser_description(lines, offer):
    """A whole description for the browser from natscope's lines: one BUNDLEd data section."""
    values = {}
    candidates = []
    for line in lines:
        if line.startswith("a=candidate:"):
            candidates.append(line)
            continue
        for key in ("ice-ufrag", "ice-pwd", "fingerprint", "setup"):
            if line.startswith(f"a={key}:"):
                values[key] = line[len(f"a={key}:"):].strip()
    missing = [k for k in ("ice-ufrag", "ice-pwd", "fingerprint") if k not in values]
    if missing:
        raise ValueError("natscope's description has no " + ", ".join(f"a={k}" for k in missing))
    setup = values.get("setup", "actpass" if offer else "active")
    sdp = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{values['ice-ufrag']}",
        f"a=ice-pwd:{values['ice-pwd']}",
        f"a=fingerprint:{values['fingerprint']}",
        f"a=setup:{setup}",
        "a=mid:0",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
    ]
    sdp += candidates
    sdp.append("a=end-of-candidates")
    return "\r\n".join(sdp) + "\r\n"


class Bridge:
    def __init__(self, args, ice_servers):
        self.args = args
        self.ice_servers = ice_servers
        self.remote = None  # {"sdp": ...} or {"error": ...}
        self.remote_ready = threading.Event()
        self.result = None
        self.result_ready = threading.Event()
        self.local_written = threading.Event()
        self.failure = None

    def take_local(self, sdp):
        lines = natscope_lines(sdp)
        if self.args.wrong_fingerprint:
            lines = [altered(l) if l.startswith("a=fingerprint:") else l for l in lines]
        with open(self.args.output, "w") as f:
            f.write("\n".join(lines) + "\n\n")
        self.local_written.set()

    def fetch_remote(self):
        """Reads natscope's lines (after the browser's went out, for the offerer)."""
        try:
            if self.args.controlling and not self.local_written.wait(self.args.timeout):
                raise ValueError("the browser wrote no description in time")
            lines = read_lines(self.args.input)
            if not lines:
                raise ValueError("natscope's description is empty")
            self.remote = {"sdp": browser_description(lines, offer=not self.args.controlling)}
        except (OSError, ValueError) as e:
            self.remote = {"error": str(e)}
        self.remote_ready.set()


def handler_for(bridge):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet: nothing the page sends is logged
            pass

        def reply(self, body, kind="application/json"):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/":
                self.reply(PAGE, "text/html; charset=utf-8")
            elif self.path == "/config":
                self.reply(json.dumps({
                    "iceServers": bridge.ice_servers,
                    "controlling": bridge.args.controlling,
                    "gatherMs": int(bridge.args.gather_timeout * 1000),
                }))
            elif self.path == "/remote":
                if not bridge.remote_ready.wait(bridge.args.timeout):
                    self.reply(json.dumps({"error": "no description came from natscope in time"}))
                else:
                    self.reply(json.dumps(bridge.remote))
            else:
                self.send_error(404)

        def do_POST(self):
            length = min(int(self.headers.get("Content-Length", "0") or 0), 1 << 20)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self.send_error(400)
                return
            if self.path == "/local":
                bridge.take_local(str(body.get("sdp", "")))
                self.reply("{}")
            elif self.path == "/result":
                bridge.result = body
                bridge.result_ready.set()
                self.reply("{}")
            else:
                self.send_error(404)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    role = ap.add_mutually_exclusive_group(required=True)
    role.add_argument("--controlling", action="store_true", help="offer (the browser writes first)")
    role.add_argument("--controlled", action="store_true", help="answer (the browser reads first)")
    ap.add_argument("--in", dest="input", required=True, help="natscope's description (file or FIFO)")
    ap.add_argument("--out", dest="output", required=True, help="where the browser's goes")
    ap.add_argument("--stun", help="host[:port] of a STUN server")
    ap.add_argument("--turn", help="host[:port][?transport=udp|tcp] of a TURN server")
    ap.add_argument("--turn-user")
    ap.add_argument("--turn-password", help="or NATSCOPE_TURN_PASSWORD")
    ap.add_argument("--timeout", type=float, default=30, help="seconds for the whole session")
    ap.add_argument("--gather-timeout", type=float, default=5, help="seconds for gathering")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--pid-file", help="write the browser's process ID here (its group is its PID)")
    ap.add_argument("--wrong-fingerprint", action="store_true",
                    help="give natscope a fingerprint that is not the browser's (for tests)")
    args = ap.parse_args()

    ice_servers = []
    if args.stun:
        hp, _ = hostport(args.stun)
        ice_servers.append({"urls": f"stun:{hp}"})
    if args.turn:
        password = args.turn_password or os.environ.get("NATSCOPE_TURN_PASSWORD")
        if not args.turn_user or not password:
            print(json.dumps({"state": "failed", "error": "--turn needs --turn-user and a password"}))
            return 1
        hp, query = hostport(args.turn)
        ice_servers.append({"urls": f"turn:{hp}{query}", "username": args.turn_user,
                            "credential": password})
    if not os.access(args.chromium, os.X_OK):
        print(json.dumps({"state": "failed", "error": f"no Chromium at {args.chromium}"}))
        return 1

    bridge = Bridge(args, ice_servers)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), handler_for(bridge))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=bridge.fetch_remote, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="natscope-chromium-")
    browser = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--mute-audio",
         "--disable-features=WebRtcHideLocalIpsWithMdns", f"--user-data-dir={profile}",
         f"http://127.0.0.1:{server.server_address[1]}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{browser.pid}\n")

    def stop(signum, _frame):
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        got = bridge.result_ready.wait(args.timeout)
        result = bridge.result if got else {
            "state": "failed", "error": f"no verdict from the browser within {args.timeout:.0f} s"}
    finally:
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.wait(timeout=10)
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    out = {
        "state": result.get("state", "failed"),
        "iceState": result.get("iceState"),
        "connectionState": result.get("connectionState"),
        "dtlsState": result.get("dtlsState"),
        "selectedPair": result.get("selectedPair"),
        "connectMs": result.get("connectMs"),
        "error": result.get("error"),
    }
    print(json.dumps(out))
    return 0 if out["state"] == "connected" else 2


if __name__ == "__main__":
    sys.exit(main())
