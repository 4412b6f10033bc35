#!/usr/bin/env python3
"""A small WHIP/WHEP endpoint on aiortc (a full WebRTC stack: ICE, DTLS, SRTP) for natscope's
lab tests: it answers an SDP offer POSTed to /whip or /whep with 201 Created, a Location and
Link headers, and ends the session on DELETE. Plain HTTP/1.1 on asyncio streams (no HTTP
framework needed for four routes). Every event goes, one JSON object a line, to --events.

  whip-server.py --host ADDR --port N --events FILE [--token T] [--refuse-offer REASON]
                [--ice-address ADDR ...] [--link VALUE ...]

--token: requests without `Authorization: Bearer T` get 401. --refuse-offer: every POST gets
400 with REASON as its text body. The server uses no STUN or TURN server of its own (aiortc
would otherwise ask a public one): its only candidates are its own addresses, or only the
--ice-address ones when given (aioice leaves out 127.0.0.1 by itself: a loopback test names it
here). --link: a Link header field value sent with each 201 (e.g. a lab TURN server's
`<turn:ADDR:3478?transport=udp>; rel="ice-server"; username="u"; credential="p"`).
--options-links: the OPTIONS answer (204) carries the --link values too (else only the 201).
--blackhole: the answer's candidates name the port of a UDP socket that reads and drops
everything, and so do the offer's candidates aiortc is given (its checks, which would
make a peer-reflexive path, are dropped too): the server's candidates are unreachable. --port 0 takes a free port; the
"listening" event names it.
"""

import argparse
import asyncio
import json
import re
import socket
import sys
import time
import uuid

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

sessions = {}
args = None
blackhole = None


def event(what, **fields):
    fields.update(event=what, t=time.time())
    with open(args.events, "a") as f:
        f.write(json.dumps(fields) + "\n")


async def respond(writer, status, reason, headers=(), body=b""):
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode() + body)
    await writer.drain()
    writer.close()


def to_blackhole(sdp):
    """Every candidate's port replaced by the blackhole's."""
    port = blackhole.getsockname()[1]
    return re.sub(r"^(a=candidate:\S+ \d+ \S+ \d+ \S+) \d+ ", lambda m: f"{m.group(1)} {port} ",
                  sdp, flags=re.M)


async def answer(offer_sdp, kind):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sid = uuid.uuid4().hex[:12]
    sessions[sid] = pc

    @pc.on("connectionstatechange")
    async def on_state():
        event("connection", session=sid, state=pc.connectionState)

    @pc.on("iceconnectionstatechange")
    async def on_ice():
        event("ice", session=sid, state=pc.iceConnectionState)

    if blackhole is not None:
        offer_sdp = to_blackhole(offer_sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    local = await pc.createAnswer()
    await pc.setLocalDescription(local)
    dtls = [t.receiver.transport.state for t in pc.getTransceivers()]
    event("answered", session=sid, kind=kind, dtls=dtls)
    sdp = pc.localDescription.sdp
    if blackhole is not None:
        sdp = to_blackhole(sdp)
    event("answer-sdp", session=sid, sdp=sdp)
    return sid, sdp


async def dtls_watch(sid):
    # aiortc has no DTLS state event: poll (bounded, 30 s) and record when it connects.
    for _ in range(300):
        pc = sessions.get(sid)
        if pc is None:
            return
        states = {t.receiver.transport.state for t in pc.getTransceivers()}
        if "connected" in states:
            event("dtls", session=sid, state="connected")
            return
        if "failed" in states:
            event("dtls", session=sid, state="failed")
            return
        await asyncio.sleep(0.1)


async def handle(reader, writer):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        authorized = args.token is None or headers.get("authorization") == f"Bearer {args.token}"
        event("request", method=method, path=path, authorized=authorized,
              bearer="authorization" in headers)
        if method == "POST":
            event("offer", sdp=body.decode(errors="replace"))
        if method == "POST" and path in ("/whip", "/whep"):
            if not authorized:
                return await respond(writer, 401, "Unauthorized", [("WWW-Authenticate", "Bearer")])
            if args.refuse_offer:
                return await respond(writer, 400, "Bad Request", [("Content-Type", "text/plain")],
                                     args.refuse_offer.encode())
            if headers.get("content-type", "").split(";")[0].strip() != "application/sdp":
                return await respond(writer, 415, "Unsupported Media Type")
            sid, sdp = await answer(body.decode(), path[1:])
            asyncio.ensure_future(dtls_watch(sid))
            return await respond(writer, 201, "Created", [
                ("Content-Type", "application/sdp"),
                ("Location", f"/session/{sid}"),
                ("ETag", f'"{sid}"'),
                ("Accept-Patch", "application/trickle-ice-sdpfrag"),
            ] + [("Link", v) for v in args.link], sdp.encode())
        if method == "OPTIONS" and path in ("/whip", "/whep"):
            links = [("Link", v) for v in args.link] if args.options_links else []
            return await respond(writer, 204, "No Content",
                                 [("Accept-Post", "application/sdp")] + links)
        if method == "DELETE" and path.startswith("/session/"):
            sid = path.rsplit("/", 1)[1]
            pc = sessions.pop(sid, None)
            if pc is None:
                return await respond(writer, 404, "Not Found")
            if not authorized:
                sessions[sid] = pc
                return await respond(writer, 401, "Unauthorized")
            event("delete", session=sid)
            await pc.close()
            return await respond(writer, 200, "OK")
        return await respond(writer, 404, "Not Found")
    except Exception as e:  # a test fixture: say what broke, keep serving
        event("error", detail=repr(e))
        try:
            await respond(writer, 500, "Internal Server Error", [("Content-Type", "text/plain")],
                          repr(e).encode())
        except Exception:
            pass


async def main():
    global blackhole
    if args.blackhole:
        blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blackhole.bind((args.ice_address[0] if args.ice_address else args.host, 0))
        blackhole.setblocking(False)
        asyncio.get_running_loop().add_reader(blackhole, lambda: blackhole.recv(65536))
    server = await asyncio.start_server(handle, args.host, args.port)
    event("listening", host=args.host, port=server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--token")
    p.add_argument("--refuse-offer")
    p.add_argument("--ice-address", action="append", default=[])
    p.add_argument("--link", action="append", default=[])
    p.add_argument("--blackhole", action="store_true")
    p.add_argument("--options-links", action="store_true")
    args = p.parse_args()
    if args.ice_address:
        chosen = list(args.ice_address)
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: chosen
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
