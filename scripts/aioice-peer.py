#!/usr/bin/env python3
"""An aioice ICE peer that speaks natscope's SDP form (`natscope connect --sdp`).

It gathers candidates, writes `a=ice-ufrag`, `a=ice-pwd`, `a=candidate:` lines,
`a=end-of-candidates` (left out with --no-end-of-candidates, as regular ICE agents such as
libnice and aioice itself write SDP) and an empty line to --out, reads the peer's lines (up to an empty
line or the end) from --in, runs ICE and prints one JSON object on stdout:

  {"state": "connected"|"failed", "selectedPair": {"local": {...}, "remote": {...}} | null,
   "connectMs": ms from holding the peer's description to a nominated pair, "error": ...}

The offerer (--controlling) writes first, then reads; the answerer (--controlled) reads the
offer first. Files may be FIFOs. Every wait is bounded (--timeout). Exit 0 connected, 2 no
path, 1 usage or bad input. The TURN password comes from --turn-password or
NATSCOPE_TURN_PASSWORD and is never printed.

Needs aioice (pip install aioice; 0.13 tested).
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time

try:
    import aioice
except ImportError as e:  # pragma: no cover - reported to the caller
    print(json.dumps({"state": "failed", "error": f"aioice is not importable: {e}"}))
    sys.exit(1)


def hostport(text, default_port=3478):
    """`host[:port]`, with an optional stun:/turn: scheme and ?transport= query."""
    t = text
    for scheme in ("stun:", "turn:"):
        if t.startswith(scheme):
            t = t[len(scheme):]
    transport = None
    if "?" in t:
        t, q = t.split("?", 1)
        for item in q.split("&"):
            k, _, v = item.partition("=")
            if k == "transport":
                transport = v
    if ":" in t:
        h, p = t.rsplit(":", 1)
        return (h, int(p)), transport
    return (t, default_port), transport


def read_lines(path, limit):
    """Reads lines up to an empty line or the end (a FIFO blocks until a writer comes)."""
    lines = []
    f = sys.stdin if path == "-" else open(path, "r")
    try:
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
    finally:
        if f is not sys.stdin:
            f.close()
    return lines


def write_lines(path, lines):
    text = "\n".join(lines) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open(path, "w") as f:
        f.write(text)


def endpoint(c):
    return {"type": c.type, "address": c.host, "port": c.port}


async def run(args):
    stun = hostport(args.stun)[0] if args.stun else None
    turn = None
    transport = args.turn_transport
    if args.turn:
        turn, t = hostport(args.turn)
        transport = t or transport
    password = args.turn_password or os.environ.get("NATSCOPE_TURN_PASSWORD")
    conn = aioice.Connection(
        ice_controlling=args.controlling,
        stun_server=stun,
        turn_server=turn,
        turn_username=args.turn_user if turn else None,
        turn_password=password if turn else None,
        turn_transport=transport,
        use_ipv6=False,
    )
    loop = asyncio.get_running_loop()
    result = {"state": "failed", "selectedPair": None, "connectMs": None, "error": None}
    try:
        peer = None
        if not args.controlling:
            peer_task = loop.run_in_executor(None, read_lines, args.input, 1000)
        await asyncio.wait_for(conn.gather_candidates(), args.timeout)
        mine = [f"a=ice-ufrag:{conn.local_username}", f"a=ice-pwd:{conn.local_password}"]
        mine += [f"a=candidate:{c.to_sdp()}" for c in conn.local_candidates]
        if not args.no_end_of_candidates:
            mine.append("a=end-of-candidates")
        mine.append("")
        if args.controlling:
            await loop.run_in_executor(None, write_lines, args.output, mine)
            peer = await asyncio.wait_for(
                loop.run_in_executor(None, read_lines, args.input, 1000), args.read_timeout)
        else:
            peer = await asyncio.wait_for(peer_task, args.read_timeout)
            await loop.run_in_executor(None, write_lines, args.output, mine)
        ufrag = pwd = None
        candidates = []
        for line in peer:
            if line.startswith("a="):
                line = line[2:]
            if line.startswith("ice-ufrag:"):
                ufrag = line[len("ice-ufrag:"):].strip()
            elif line.startswith("ice-pwd:"):
                pwd = line[len("ice-pwd:"):].strip()
            elif line.startswith("candidate:"):
                candidates.append(aioice.Candidate.from_sdp(line[len("candidate:"):]))
        if not ufrag or not pwd:
            result["error"] = "the peer's description has no ice-ufrag or ice-pwd"
            return result, 1
        conn.remote_username = ufrag
        conn.remote_password = pwd
        for c in candidates:
            if c.transport.lower() == "udp":
                await conn.add_remote_candidate(c)
        await conn.add_remote_candidate(None)
        start = time.monotonic()
        try:
            await asyncio.wait_for(conn.connect(), args.timeout)
        except (ConnectionError, asyncio.TimeoutError) as e:
            result["error"] = f"{type(e).__name__}: {e}"
            result["failedMs"] = round((time.monotonic() - start) * 1000, 1)
            return result, 2
        result["connectMs"] = round((time.monotonic() - start) * 1000, 1)
        pair = conn._nominated.get(1)
        if pair is not None:
            result["selectedPair"] = {
                "local": endpoint(pair.local_candidate),
                "remote": endpoint(pair.remote_candidate),
            }
        result["state"] = "connected"
        # Keep the pair alive briefly so the peer can finish its nomination.
        await asyncio.sleep(args.hold)
        return result, 0
    except asyncio.TimeoutError:
        result["error"] = "timed out waiting for gathering or the peer's description"
        return result, 2
    finally:
        try:
            await asyncio.wait_for(conn.close(), 5)
        except Exception:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--controlling", action="store_true", help="offerer")
    role.add_argument("--controlled", action="store_true", help="answerer")
    p.add_argument("--stun", help="stun:host[:port]")
    p.add_argument("--turn", help="turn:host[:port][?transport=udp|tcp]")
    p.add_argument("--turn-user")
    p.add_argument("--turn-password")
    p.add_argument("--turn-transport", default="udp", choices=["udp", "tcp"])
    p.add_argument("--in", dest="input", required=True, help="peer's SDP (file, FIFO, -)")
    p.add_argument("--out", dest="output", required=True, help="our SDP (file, FIFO, -)")
    p.add_argument("--timeout", type=float, default=20, help="gathering/check bound, s")
    p.add_argument("--read-timeout", type=float, default=60, help="wait for the peer, s")
    p.add_argument("--hold", type=float, default=1.0, help="keep the pair alive, s")
    p.add_argument("--log", help="write aioice's DEBUG log here (as `natscope explain` reads it)")
    p.add_argument("--no-end-of-candidates", action="store_true",
                   help="write no a=end-of-candidates (regular, non-trickle ICE SDP)")
    args = p.parse_args()
    if args.log:
        logging.basicConfig(level=logging.DEBUG, filename=args.log,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    result, code = asyncio.run(run(args))
    print(json.dumps(result), flush=True)
    # Executor threads blocked on a FIFO must not keep the process alive.
    os._exit(code)


if __name__ == "__main__":
    main()
