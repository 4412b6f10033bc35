#!/usr/bin/env python3
"""An aiortc WebRTC peer (ICE, DTLS) for side-by-side DTLS timings (scripts/bench-dtls).

It makes an RTCPeerConnection with one data channel and exchanges descriptions through --in and
--out (files or FIFOs): with --form natscope the lines `natscope connect --sdp` reads and writes
(a=ice-ufrag, a=ice-pwd, a=fingerprint, a=setup, a=candidate, an empty line), with --form full
whole SDP descriptions (aiortc against aiortc). The offerer (--controlling) writes first.

It prints one JSON object on stdout:

  {"state": "connected"|"failed", "dtlsRole": "client"|"server"|null,
   "dtlsMs": ms from DTLS starting (ICE done) to DTLS connected, "connectMs": ms from holding
   the peer's description to DTLS connected, "error": ...}

Every wait is bounded (--timeout). Exit 0 connected, 2 not, 1 usage or bad input.
Needs aiortc (pip install aiortc; 1.16 tested).
"""

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import time

try:
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
except ImportError as e:  # pragma: no cover - reported to the caller
    print(json.dumps({"state": "failed", "error": f"aiortc is not importable: {e}"}))
    sys.exit(1)

# The conversions between a whole description and natscope's lines are the Chromium bridge's.
_spec = importlib.util.spec_from_file_location(
    "chromium_peer", os.path.join(os.path.dirname(os.path.abspath(__file__)), "chromium-peer.py"))
_bridge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bridge)


def read_text(path, full):
    """natscope form: lines up to an empty line. Full form: everything up to a line `.`."""
    lines = []
    with open(path, "r") as f:
        for _ in range(2000):
            line = f.readline()
            if not line:
                break
            line = line.rstrip("\r\n")
            if full:
                if line == ".":
                    break
            elif not line.strip():
                if lines:
                    break
                continue
            lines.append(line)
    return lines


def write_text(path, lines, full):
    with open(path, "w") as f:
        f.write("\n".join(lines) + ("\n.\n" if full else "\n\n"))


async def run(args):
    servers = [RTCIceServer(urls=f"stun:{args.stun}")] if args.stun else []
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
    pc.createDataChannel("natscope")
    full = args.form == "full"
    result = {"state": "failed", "dtlsRole": None, "dtlsMs": None, "connectMs": None,
              "error": None}
    marks = {}
    connected = asyncio.Event()

    def watch_dtls():
        dtls = pc.sctp.transport if pc.sctp else None
        if dtls is None or "watched" in marks:
            return
        marks["watched"] = True

        @dtls.on("statechange")
        def _():
            now = time.monotonic()
            if dtls.state == "connecting":
                marks.setdefault("dtls-start", now)
            elif dtls.state == "connected":
                marks["dtls-end"] = now
                connected.set()
            elif dtls.state in ("failed", "closed"):
                connected.set()

    loop = asyncio.get_running_loop()
    try:
        if args.controlling:
            await pc.setLocalDescription(await pc.createOffer())
            watch_dtls()
            mine = pc.localDescription.sdp
            out = mine.splitlines() if full else _bridge.natscope_lines(mine)
            await loop.run_in_executor(None, write_text, args.output, out, full)
            peer = await asyncio.wait_for(
                loop.run_in_executor(None, read_text, args.input, full), args.timeout)
            marks["described"] = time.monotonic()
            sdp = "\r\n".join(peer) + "\r\n" if full else _bridge.browser_description(peer, False)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        else:
            peer = await asyncio.wait_for(
                loop.run_in_executor(None, read_text, args.input, full), args.timeout)
            marks["described"] = time.monotonic()
            sdp = "\r\n".join(peer) + "\r\n" if full else _bridge.browser_description(peer, True)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            watch_dtls()
            mine = pc.localDescription.sdp
            out = mine.splitlines() if full else _bridge.natscope_lines(mine)
            await loop.run_in_executor(None, write_text, args.output, out, full)
        await asyncio.wait_for(connected.wait(), args.timeout)
        dtls = pc.sctp.transport
        result["dtlsRole"] = getattr(dtls, "_role", None)
        if dtls.state == "connected":
            result["state"] = "connected"
            if "dtls-start" in marks:
                result["dtlsMs"] = round((marks["dtls-end"] - marks["dtls-start"]) * 1000, 1)
            result["connectMs"] = round((marks["dtls-end"] - marks["described"]) * 1000, 1)
        else:
            result["error"] = f"DTLS {dtls.state}"
    except asyncio.TimeoutError:
        result["error"] = f"no verdict within {args.timeout:.0f} s"
    except (OSError, ValueError) as e:
        result["error"] = str(e)
    finally:
        # The peer may still be finishing its side: give it a moment before closing.
        await asyncio.sleep(args.linger)
        await pc.close()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    role = ap.add_mutually_exclusive_group(required=True)
    role.add_argument("--controlling", action="store_true", help="offer (writes first)")
    role.add_argument("--controlled", action="store_true", help="answer (reads first)")
    ap.add_argument("--in", dest="input", required=True)
    ap.add_argument("--out", dest="output", required=True)
    ap.add_argument("--form", choices=["natscope", "full"], default="natscope")
    ap.add_argument("--stun", help="host:port of a STUN server")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--linger", type=float, default=1.0,
                    help="seconds to stay up after the verdict (the peer may still be checking)")
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 0 if result["state"] == "connected" else 2


if __name__ == "__main__":
    sys.exit(main())
